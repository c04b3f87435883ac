import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { ERROR, PATH, STATE } from '../../contracts/workflow';
import { ALL, lambdaTask } from './lambda-task';

export interface FailureAlertProps {
  /** Formats and publishes the failure alert. */
  readonly notify: lambda.IFunction;
  /** Where the plain fallback alert goes when notify cannot publish. */
  readonly topic: sns.ITopic;
}

/**
 * Where every stage's Catch leads: `Failed at <stage>` (records the stage) -> NotifyFailure (the
 * failure alert; when notify fails, PublishPlainFailureAlert straight to SNS) -> PipelineFailed.
 * Ends the execution; nothing is chained after it.
 */
export class FailureAlert extends sfn.StateMachineFragment {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[] = [];
  private readonly stagePasses = new Map<string, sfn.Pass>();

  constructor(scope: Construct, id: string, props: FailureAlertProps) {
    super(scope, id);
    const failed = new sfn.Fail(this, STATE.pipelineFailed, {
      errorPath: ERROR.name,
      causePath: ERROR.cause,
    });
    const publishPlain = new tasks.SnsPublish(this, STATE.publishPlainFailureAlert, {
      topic: props.topic,
      subject: 'Ingestion pipeline failure',
      message: sfn.TaskInput.fromText(
        sfn.JsonPath.format(
          'The ingestion pipeline failed at stage {} ({}). Execution: {}',
          sfn.JsonPath.stringAt(PATH.failedStage),
          sfn.JsonPath.stringAt(ERROR.name),
          sfn.JsonPath.executionId,
        ),
      ),
      messageAttributes: {
        severity: { value: 'critical' },
        kind: { value: 'failure' },
      },
      resultPath: sfn.JsonPath.DISCARD,
    });
    publishPlain.addRetry({
      errors: ['SNS.ThrottledException', 'SNS.InternalErrorException'],
      maxAttempts: 3,
    });
    publishPlain.addCatch(failed, { errors: ALL, resultPath: PATH.alertError });
    publishPlain.next(failed);
    const notifyFailure = lambdaTask(this, STATE.notifyFailure, props.notify, {
      payload: sfn.TaskInput.fromObject({
        kind: 'failure',
        dataset: sfn.JsonPath.stringAt(PATH.dataset),
        stage: sfn.JsonPath.stringAt(PATH.failedStage),
        executionId: sfn.JsonPath.executionId,
        error: sfn.JsonPath.objectAt(PATH.error),
        files: sfn.JsonPath.listAt(PATH.files),
        notices: sfn.JsonPath.objectAt(PATH.notices),
      }),
      resultPath: PATH.alert,
    });
    notifyFailure.addCatch(publishPlain, { errors: ALL, resultPath: PATH.alertError });
    notifyFailure.next(failed);
    this.startState = notifyFailure;
  }

  /** A Pass that records the failed stage, then formats and publishes the failure alert (one per stage). */
  stageFailed(stage: string): sfn.Pass {
    let pass = this.stagePasses.get(stage);
    if (!pass) {
      pass = new sfn.Pass(this, STATE.failedAt(stage), {
        result: sfn.Result.fromString(stage),
        resultPath: PATH.failedStage,
      });
      pass.next(this);
      this.stagePasses.set(stage, pass);
    }
    return pass;
  }

  /** Any error of `state` (its retries spent) ends the execution with a failure alert naming `stage`. */
  catchStage(state: sfn.TaskStateBase | sfn.Map, stage: string): void {
    state.addCatch(this.stageFailed(stage), { errors: ALL, resultPath: PATH.error });
  }
}
