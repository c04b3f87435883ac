import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { ETL, PATH, PROGRESS, STATE } from '../../contracts/workflow';
import { BoundedGlueStartJobRun } from './bounded-glue-start-job-run';
import type { FailureAlert } from './failure-alert';
import { ForwardExit } from './forward-exit';
import { lambdaTask } from './lambda-task';
import { progressPayload } from './payloads';

/** Seconds an execution waits, at random in this range, for the job's single run slot. */
export const ETL_SLOT_WAIT_SECONDS = { min: 60, max: 180 } as const;
/** Minutes the RunEtl state waits past the job run's own timeout for its final status. */
export const RUN_ETL_GRACE_MINUTES = 10;

export interface EtlDrainLoopProps {
  readonly datasetName: string;
  /** The dataset's curate job (MaxConcurrentRuns 1). */
  readonly jobName: string;
  /** The job run's own timeout (`etl.timeoutMinutes` of the dataset). */
  readonly runTimeoutMinutes: number;
  /** Answers CheckProgress and EtlBusy (its `progress` action). */
  readonly reconcile: lambda.IFunction;
  readonly failure: FailureAlert;
}

/**
 * RunEtl (the job on the partitions of the batch's unmerged objects; a failed run once more) ->
 * CheckProgress -> Drained?: again while objects remain and the last run made progress,
 * NoProgressError when it made none, and on to the next fragment (Reconcile) when none remain.
 * While another execution's run holds the job's only slot: EtlBusy (progress) -> on when that
 * run merged this batch's objects, or JitterEtlWait -> WaitForEtlSlot -> RunEtl.
 */
export class EtlDrainLoop extends sfn.StateMachineFragment {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[];

  constructor(scope: Construct, id: string, props: EtlDrainLoopProps) {
    super(scope, id);
    const { failure } = props;
    const s = STATE.of(props.datasetName);
    const etl = props.runTimeoutMinutes;

    const runEtl = new BoundedGlueStartJobRun(
      this,
      s.runEtl,
      {
        glueJobName: props.jobName,
        integrationPattern: sfn.IntegrationPattern.RUN_JOB,
        // The job run's own Timeout: exactly the configured one.
        taskTimeout: sfn.Timeout.duration(Duration.minutes(etl)),
        arguments: sfn.TaskInput.fromObject({
          '--push_down_predicate': sfn.JsonPath.stringAt(PROGRESS.pushDownPredicate),
          '--execution_id': sfn.JsonPath.executionId,
        }),
        resultSelector: {
          id: sfn.JsonPath.stringAt(ETL.idOfResult),
          state: sfn.JsonPath.stringAt(ETL.stateOfResult),
        },
        resultPath: PATH.etl,
      },
      // The state waits a little longer than the run for its final status.
      (etl + RUN_ETL_GRACE_MINUTES) * 60,
    );
    runEtl.addRetry({
      errors: ['Glue.ConcurrentRunsExceededException'],
      interval: Duration.seconds(30),
      backoffRate: 2,
      maxAttempts: 2,
      jitterStrategy: sfn.JitterType.FULL,
    });
    // A run that failed (an executor lost mid-write): once more, then the failure alert. Safe:
    // the merge is idempotent per normalized object (markers, staged swap).
    runEtl.addRetry({
      errors: [sfn.Errors.TASKS_FAILED],
      interval: Duration.minutes(1),
      maxAttempts: 1,
    });
    const checkProgress = lambdaTask(this, s.checkProgress, props.reconcile, {
      payload: progressPayload(true, true),
      resultPath: PATH.progress,
    });
    failure.catchStage(checkProgress, s.checkProgress);
    const noProgress = new sfn.Pass(this, s.noProgress, {
      parameters: {
        Error: 'NoProgressError',
        Cause: sfn.JsonPath.format(
          'ETL run read no file and left {} of {} normalized objects of this batch unprocessed, no fewer than the run before',
          sfn.JsonPath.stringAt(PROGRESS.remainingObjects),
          sfn.JsonPath.stringAt(PROGRESS.totalObjects),
        ),
      },
      resultPath: PATH.error,
    });
    noProgress.next(failure.stageFailed(s.runEtl));
    const drained = new sfn.Choice(this, s.drained);

    // The job runs one at a time (MaxConcurrentRuns 1). While another execution's run holds the
    // slot, this execution checks whether that run merged its objects (the job reads every new
    // object of the partitions it is given), waits a random 1-3 minutes and tries again; the
    // execution timeout bounds the wait, and waiting is not "no progress" (finding 4).
    const etlBusy = lambdaTask(this, s.etlBusy, props.reconcile, {
      payload: progressPayload(true),
      resultPath: PATH.progress,
    });
    failure.catchStage(etlBusy, s.runEtl);
    const jitter = new sfn.Pass(this, s.jitterEtlWait, {
      parameters: {
        seconds: sfn.JsonPath.mathRandom(ETL_SLOT_WAIT_SECONDS.min, ETL_SLOT_WAIT_SECONDS.max),
      },
      resultPath: PATH.etlWait,
    });
    const waitForSlot = new sfn.Wait(this, s.waitForEtlSlot, {
      time: sfn.WaitTime.secondsPath(ETL.waitSeconds),
    });
    const drainedWhileBusy = new sfn.Choice(this, s.drainedWhileBusy);
    runEtl.addCatch(etlBusy, { errors: ['Glue.ConcurrentRunsExceededException'], resultPath: PATH.etlBusy });
    failure.catchStage(runEtl, s.runEtl);
    etlBusy.next(drainedWhileBusy);
    jitter.next(waitForSlot);
    waitForSlot.next(runEtl);
    runEtl.next(checkProgress);
    checkProgress.next(drained);

    this.startState = runEtl;
    const noneRemain = sfn.Condition.numberEquals(PROGRESS.remainingObjects, 0);
    this.endStates = [
      new ForwardExit(drained, (afterEtl) =>
        drained
          .when(noneRemain, afterEtl)
          .when(sfn.Condition.booleanEquals(PROGRESS.madeProgress, true), runEtl)
          .otherwise(noProgress),
      ),
      new ForwardExit(drainedWhileBusy, (afterEtl) =>
        drainedWhileBusy.when(noneRemain, afterEtl).otherwise(jitter),
      ),
    ];
  }
}
