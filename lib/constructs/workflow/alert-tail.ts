import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { DATASET_EVENT_NOT_PUBLISHED } from '../../contracts/dataset-events';
import {
  NOTICE_OUTCOME,
  NOTICE_PATHS,
  PATH,
  PROGRESS,
  RECONCILIATION,
  STATE,
} from '../../contracts/workflow';
import type { FailureAlert } from './failure-alert';
import { ALL, lambdaTask } from './lambda-task';

export interface AlertTailProps {
  /** Reconciles the batch and publishes its discrepancy alert and restatement notice. */
  readonly reconcile: lambda.IFunction;
  /** Publishes the quarantine and unknown-template notices. */
  readonly notify: lambda.IFunction;
  readonly failure: FailureAlert;
}

/**
 * After the data is merged (every dataset's branch ends here): Reconcile (publishes its own
 * discrepancy alert, restatement notice and volume-anomaly warning) -> their receipts join the notices -> quarantine
 * notice -> unknown-template notice -> the DatasetUpdated/DatasetHeld event -> failed files?
 * (failure alert, FAILED) -> a notice not
 * published? (DoneNoticesNotPublished: SUCCEEDED, the backstop alerts) -> Done. Ends the
 * execution; nothing is chained after it.
 */
export class AlertTail extends sfn.StateMachineFragment {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[] = [];

  constructor(scope: Construct, id: string, props: AlertTailProps) {
    super(scope, id);
    const { failure } = props;

    const reconcile = lambdaTask(this, STATE.reconcile, props.reconcile, {
      payload: sfn.TaskInput.fromObject({
        action: 'reconcile',
        dataset: sfn.JsonPath.stringAt(PATH.dataset),
        executionId: sfn.JsonPath.executionId,
        files: sfn.JsonPath.listAt(PATH.files),
      }),
      resultPath: PATH.reconciliation,
    });
    failure.catchStage(reconcile, STATE.reconcile);
    const recordDiscrepancy = new sfn.Pass(this, STATE.recordDiscrepancyNotice, {
      comment: 'Reconcile published its discrepancy alert; its receipt joins the other notices.',
      inputPath: RECONCILIATION.alert,
      resultPath: NOTICE_PATHS.discrepancy,
    });
    const recordRestatement = new sfn.Pass(this, STATE.recordRestatementNotice, {
      comment:
        'Reconcile published its restatement notice (or had none); its receipt joins the other notices.',
      inputPath: RECONCILIATION.restatementAlert,
      resultPath: NOTICE_PATHS.restatement,
    });
    const recordVolume = new sfn.Pass(this, STATE.recordVolumeNotice, {
      comment:
        'Reconcile published its volume-anomaly warning (or had none, or its volume check failed: an unpublished receipt); it joins the other notices.',
      inputPath: RECONCILIATION.volumeAlert,
      resultPath: NOTICE_PATHS.volumeAnomaly,
    });

    const notifyQuarantine = lambdaTask(this, STATE.notifyQuarantine, props.notify, {
      payload: sfn.TaskInput.fromObject({
        kind: 'quarantine',
        dataset: sfn.JsonPath.stringAt(PATH.dataset),
        executionId: sfn.JsonPath.executionId,
        files: sfn.JsonPath.listAt(PATH.files),
      }),
      resultPath: NOTICE_PATHS.quarantine,
    });
    const filesQuarantined = new sfn.Choice(this, STATE.filesQuarantined);

    // Files that landed flagged (a header no template matched): their own warning.
    const notifyUnknownTemplate = lambdaTask(this, STATE.notifyUnknownTemplate, props.notify, {
      payload: sfn.TaskInput.fromObject({
        kind: 'unknown_template',
        dataset: sfn.JsonPath.stringAt(PATH.dataset),
        executionId: sfn.JsonPath.executionId,
        files: sfn.JsonPath.listAt(PATH.files),
      }),
      resultPath: NOTICE_PATHS.unknownTemplate,
    });
    const templatesFlagged = new sfn.Choice(this, STATE.templatesFlagged);

    const failFiles = new sfn.Pass(this, STATE.failFiles, {
      parameters: {
        Error: 'FilesFailedError',
        Cause: sfn.JsonPath.format(
          '{} file(s) of the batch were neither normalized nor quarantined after retries (marked failed; the landing objects are untouched). The rest of the batch was merged and reconciled.',
          sfn.JsonPath.stringAt(PROGRESS.failedFiles),
        ),
      },
      resultPath: PATH.error,
    });
    failFiles.next(failure.stageFailed(STATE.failedFilesStage));
    const filesFailed = new sfn.Choice(this, STATE.filesFailed);

    // Publish only what passed (docs/events.md): DatasetUpdated when the reconciliation passed and no
    // file failed, DatasetHeld otherwise. On both paths, before the failed files end the execution.
    // An event that could not be put (DatasetEventNotPublishedError after the handler's own retries
    // of a failed entry) is tried twice more; then, like a notice, it is recorded in $.notices and
    // the backstop alerts: a merged batch is not failed for it.
    const publishDatasetEvent = lambdaTask(this, STATE.publishDatasetEvent, props.reconcile, {
      payload: sfn.TaskInput.fromObject({
        action: 'publish',
        dataset: sfn.JsonPath.stringAt(PATH.dataset),
        executionId: sfn.JsonPath.executionId,
        files: sfn.JsonPath.listAt(PATH.files),
      }),
      resultPath: NOTICE_PATHS.datasetEvent,
    });
    publishDatasetEvent.addRetry({
      errors: [DATASET_EVENT_NOT_PUBLISHED],
      interval: Duration.seconds(5),
      backoffRate: 2,
      maxAttempts: 2,
      jitterStrategy: sfn.JitterType.FULL,
    });
    publishDatasetEvent.addCatch(filesFailed, { errors: ALL, resultPath: NOTICE_PATHS.datasetEvent });
    publishDatasetEvent.next(filesFailed);

    // A notice that could not be sent does not fail a batch that was merged and reconciled: its
    // failure stays recorded in $.notices (the execution output) and the backstop, which also
    // sees SUCCEEDED executions, alerts from there.
    const done = new sfn.Succeed(this, STATE.done);
    const noticesNotPublished = new sfn.Succeed(this, STATE.noticesNotPublished, {
      comment: 'Merged and reconciled; a notice could not be sent ($.notices). The backstop alerts.',
    });
    const noticesPublished = new sfn.Choice(this, STATE.noticesPublished)
      .when(sfn.Condition.or(...Object.values(NOTICE_PATHS).map(noticeNotSent)), noticesNotPublished)
      .otherwise(done);

    reconcile.next(recordDiscrepancy);
    recordDiscrepancy.next(recordRestatement);
    recordRestatement.next(recordVolume);
    recordVolume.next(filesQuarantined);
    filesQuarantined
      .when(
        sfn.Condition.or(
          sfn.Condition.numberGreaterThan(PROGRESS.quarantinedFiles, 0),
          sfn.Condition.numberGreaterThan(PROGRESS.rejectedRows, 0),
        ),
        notifyQuarantine,
      )
      .otherwise(templatesFlagged);
    notifyQuarantine.addCatch(templatesFlagged, { errors: ALL, resultPath: NOTICE_PATHS.quarantine });
    notifyQuarantine.next(templatesFlagged);
    templatesFlagged
      .when(
        sfn.Condition.and(
          sfn.Condition.isPresent(PROGRESS.flaggedFiles),
          sfn.Condition.numberGreaterThan(PROGRESS.flaggedFiles, 0),
        ),
        notifyUnknownTemplate,
      )
      .otherwise(publishDatasetEvent);
    notifyUnknownTemplate.addCatch(publishDatasetEvent, {
      errors: ALL,
      resultPath: NOTICE_PATHS.unknownTemplate,
    });
    notifyUnknownTemplate.next(publishDatasetEvent);
    filesFailed
      .when(
        sfn.Condition.and(
          sfn.Condition.isPresent(PROGRESS.failedFiles),
          sfn.Condition.numberGreaterThan(PROGRESS.failedFiles, 0),
        ),
        failFiles,
      )
      .otherwise(noticesPublished);

    this.startState = reconcile;
  }
}

/** A notice at `path` that did not go out: its task failed, or its receipt says unpublished. */
function noticeNotSent(path: string): sfn.Condition {
  const unpublished = (at: string) =>
    sfn.Condition.and(sfn.Condition.isPresent(at), sfn.Condition.booleanEquals(at, false));
  return sfn.Condition.or(
    sfn.Condition.isPresent(`${path}${NOTICE_OUTCOME.error}`),
    unpublished(`${path}${NOTICE_OUTCOME.published}`),
    unpublished(`${path}${NOTICE_OUTCOME.alertPublished}`),
  );
}
