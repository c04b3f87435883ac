import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import * as normalizeErrors from '../../lambdas/normalize/errors';
import type { ResolvedDataset } from '../config/types';
import { BACKSTOP_STATUSES, EXECUTION_STATUS_CHANGE, type NoticeName } from '../contracts/alerts';
import { acknowledgeFindings, functionVersionsFinding, WILDCARD_RESOURCE_FINDING } from './nag';
import { KMS_PUBLISH_ACTIONS } from './pipeline-key';
import { secureQueue } from './secure-queue';

/** The crawler and job of one dataset, addressed by the dataset's branch of the state machine. */
export interface DatasetWorkflow {
  readonly dataset: ResolvedDataset;
  readonly crawlerName: string;
  readonly jobName: string;
}

export interface IngestionStateMachineProps {
  readonly datasets: readonly DatasetWorkflow[];
  readonly normalize: lambda.IFunction;
  readonly quarantine: lambda.IFunction;
  readonly reconcile: lambda.IFunction;
  /** Formats and publishes alerts; also the target of the backstop rule. */
  readonly notify: lambda.IFunction;
  readonly topic: sns.ITopic;
  /** Key the alert topic is encrypted with; the state machine's plain fallback alert publishes to it. */
  readonly topicKey: kms.IKey;
  /** Wait between GetCrawler polls. @default 30 seconds */
  readonly crawlerPollInterval?: Duration;
  /** Polls before a crawl that has not finished is a timeout failure. @default 60 (30 minutes at 30 s) */
  readonly maxCrawlerPolls?: number;
  /** Execution timeout; it also bounds the wait for the Glue job's single run slot. @default 12 hours */
  readonly timeout?: Duration;
}

/**
 * Names of the errors of `lambdas/normalize/errors.ts`: each class there sets `name`, and a
 * file failing with one of them is bad in itself, so it is quarantined. Listed from the module
 * (every exported Error class with a name of its own), so a new named error is picked up
 * without touching the state machine. Any other error (Lambda throttling, service errors,
 * timeouts, S3 errors that outlasted the SDK's retries) is retried and then marks the file
 * `failed`, never quarantined.
 */
export const FILE_ERROR_NAMES: readonly string[] = (Object.values(normalizeErrors) as unknown[])
  .filter(
    (value): value is new (message?: string) => Error =>
      typeof value === 'function' && (value as { prototype?: unknown }).prototype instanceof Error,
  )
  .map((ErrorClass) => {
    try {
      return new ErrorClass('').name;
    } catch {
      return 'Error';
    }
  })
  .filter((name) => name !== 'Error')
  .sort();

/**
 * Lambda service exceptions Step Functions reports for a failed invocation (a 500 from Lambda),
 * to be retried: https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html
 * ("When Lambda hits the maximum number of invocations, the error is
 * Lambda.TooManyRequestsException", retried on its own, longer).
 */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
];
export const LAMBDA_THROTTLED = 'Lambda.TooManyRequestsException';
/** A function that ran out of time or memory ("Unhandled errors ... are reported as Lambda.Unknown"). */
export const LAMBDA_UNHANDLED = ['States.Timeout', 'Lambda.Unknown'];

/** Crawls of one batch (the first and the re-crawls) before a missing table is a failure. */
export const MAX_CRAWLS = 3;
/** Seconds an execution waits, at random in this range, for the job's single run slot. */
export const ETL_SLOT_WAIT_SECONDS = { min: 60, max: 180 } as const;
/** Minutes the RunEtl state waits past the job run's own timeout for its final status. */
export const RUN_ETL_GRACE_MINUTES = 10;

/** Names of the states the tests, the local runtime and the README refer to. */
export const STATE = {
  validateBatch: 'ValidateBatch',
  invalidBatch: 'InvalidBatch',
  prepareBatch: 'PrepareBatch',
  selectDataset: 'SelectDataset',
  unknownDataset: 'UnknownDataset',
  reconcile: 'Reconcile',
  recordDiscrepancyNotice: 'RecordDiscrepancyNotice',
  recordRestatementNotice: 'RecordRestatementNotice',
  filesQuarantined: 'FilesQuarantined?',
  notifyQuarantine: 'NotifyQuarantine',
  templatesFlagged: 'TemplatesFlagged?',
  notifyUnknownTemplate: 'NotifyUnknownTemplate',
  filesFailed: 'FilesFailed?',
  failFiles: 'FilesFailed',
  /** The stage a failure alert for failed files names. */
  failedFilesStage: 'Normalize',
  noticesPublished: 'NoticesPublished?',
  noticesNotPublished: 'DoneNoticesNotPublished',
  notifyFailure: 'NotifyFailure',
  publishPlainFailureAlert: 'PublishPlainFailureAlert',
  pipelineFailed: 'PipelineFailed',
  done: 'Done',
  /** States of one dataset's branch are prefixed with `<dataset>.`. */
  of: (dataset: string) => ({
    normalizeFiles: `${dataset}.NormalizeFiles`,
    normalize: `${dataset}.Normalize`,
    compactOutcome: `${dataset}.CompactOutcome`,
    normalizedOutcome: `${dataset}.NormalizedOutcome`,
    flaggedOutcome: `${dataset}.FlaggedOutcome`,
    duplicateOutcome: `${dataset}.DuplicateOutcome`,
    normalizeFailed: `${dataset}.NormalizeFailed`,
    quarantine: `${dataset}.Quarantine`,
    quarantineFailed: `${dataset}.QuarantineFailed`,
    planEtl: `${dataset}.PlanEtl`,
    hasWork: `${dataset}.HasWork?`,
    initCrawl: `${dataset}.InitCrawl`,
    startCrawler: `${dataset}.StartCrawler`,
    initCrawlerPoll: `${dataset}.InitCrawlerPoll`,
    waitForCrawler: `${dataset}.WaitForCrawler`,
    getCrawler: `${dataset}.GetCrawler`,
    countCrawlerPoll: `${dataset}.CountCrawlerPoll`,
    crawlerFinished: `${dataset}.CrawlerFinished?`,
    crawlerFailed: `${dataset}.CrawlerFailed`,
    crawlerTimedOut: `${dataset}.CrawlerTimedOut`,
    ensurePartitions: `${dataset}.EnsurePartitions`,
    tableCrawled: `${dataset}.TableCrawled?`,
    countCrawl: `${dataset}.CountCrawl`,
    waitBeforeRecrawl: `${dataset}.WaitBeforeRecrawl`,
    tableMissing: `${dataset}.TableMissing`,
    detectSchemaDrift: `${dataset}.DetectSchemaDrift`,
    runEtl: `${dataset}.RunEtl`,
    checkProgress: `${dataset}.CheckProgress`,
    drained: `${dataset}.Drained?`,
    noProgress: `${dataset}.NoProgress`,
    etlBusy: `${dataset}.EtlBusy`,
    drainedWhileBusy: `${dataset}.DrainedWhileBusy?`,
    jitterEtlWait: `${dataset}.JitterEtlWait`,
    waitForEtlSlot: `${dataset}.WaitForEtlSlot`,
  }),
} as const;

/** Where each notice's outcome is kept in the execution state (see lib/contracts/alerts.ts). */
export const NOTICE_PATHS: Readonly<Record<NoticeName, string>> = {
  schemaDrift: '$.notices.schemaDrift',
  discrepancy: '$.notices.discrepancy',
  restatement: '$.notices.restatement',
  quarantine: '$.notices.quarantine',
  unknownTemplate: '$.notices.unknownTemplate',
};

const ALL = [sfn.Errors.ALL];
/** No Lambda runs longer than 15 minutes; the state gives up at the same bound. */
const LAMBDA_TASK_TIMEOUT = sfn.Timeout.duration(Duration.minutes(15));

/**
 * CDK's GlueStartJobRun renders `taskTimeout` as the job run's `Timeout` and strips the state's
 * own `TimeoutSeconds`. This task gives the run exactly the configured timeout and the state a
 * slightly longer deadline, so a hung run still ends the state (States.Timeout -> alert).
 */
class BoundedGlueStartJobRun extends tasks.GlueStartJobRun {
  constructor(
    scope: Construct,
    id: string,
    props: tasks.GlueStartJobRunProps,
    private readonly stateTimeoutSeconds: number,
  ) {
    super(scope, id, props);
  }

  protected override _renderTask(topLevelQueryLanguage?: sfn.QueryLanguage): unknown {
    return {
      ...(super._renderTask(topLevelQueryLanguage) as Record<string, unknown>),
      TimeoutSeconds: this.stateTimeoutSeconds,
    };
  }
}

/**
 * One Standard state machine for every dataset. An execution receives one Pipe batch (the
 * files of one dataset) and runs:
 *
 *   ValidateBatch -> PrepareBatch -> SelectDataset -> <dataset>.NormalizeFiles (Map: Lambda
 *   errors retried with backoff and jitter; a named file error quarantines the file, any other
 *   error marks it `failed`; outcomes kept compact) -> PlanEtl -> StartCrawler (retried while
 *   another crawl runs) -> Wait/GetCrawler loop -> EnsurePartitions (registers partitions the
 *   crawl missed; re-crawls a bounded number of times when the table is missing) ->
 *   DetectSchemaDrift (publishes its own notice) -> RunEtl (while another execution holds the
 *   job's only run slot: check progress, wait with jitter, try again, bounded by the execution
 *   timeout) -> CheckProgress -> drain loop -> Reconcile (publishes its own discrepancy alert)
 *   -> quarantine notice -> unknown-template notice -> failed files? (failure alert, FAILED)
 *   -> notices not published? (FAILED; the backstop alerts) -> Done.
 *
 * Alert text never enters the execution state: the notify and reconcile Lambdas publish and
 * return receipts. Every stage has a Catch that leads to the failure alert and then to Fail; an
 * EventBridge rule on the execution's status alerts for failures no Catch sees.
 */
export class IngestionStateMachine extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly logGroup: logs.LogGroup;
  /** The backstop: FAILED, TIMED_OUT and ABORTED executions -> notify. */
  public readonly backstopRule: events.Rule;
  /** Backstop events (and notify invocations) that could not be delivered or handled. */
  public readonly backstopDeadLetterQueue: sqs.Queue;
  private readonly props: IngestionStateMachineProps;
  private notifyFailure!: sfn.IChainable;
  private readonly stagePasses = new Map<string, sfn.Pass>();

  constructor(scope: Construct, id: string, props: IngestionStateMachineProps) {
    super(scope, id);
    this.props = props;
    const definition = this.buildDefinition();
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      timeout: props.timeout ?? Duration.hours(12),
      tracingEnabled: true,
      // ALL events without execution data: every transition, error name and cause is logged (an
      // audit trail, and what cdk-nag's SF1 asks for), but not the state's input and output,
      // which hold file keys (often names of people or customers) and alert text. The execution
      // history keeps the data for 90 days for whoever may read it.
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({ actions: KMS_PUBLISH_ACTIONS, resources: [props.topicKey.keyArn] }),
    );
    acknowledgeFindings(
      this.stateMachine,
      'Added by the CDK integrations: lambda:InvokeFunction on "<function>:*" covers versions and aliases of our own functions; CloudWatch log delivery and X-Ray actions do not support resource-level permissions.',
      ...[props.normalize, props.quarantine, props.reconcile, props.notify].map(functionVersionsFinding),
      WILDCARD_RESOURCE_FINDING,
    );

    // The backstop: Step Functions sends "Step Functions Execution Status Change" events to the
    // default bus (best effort; https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html).
    // notify alerts for these unless the execution's own failure alert went out (its marker).
    this.backstopDeadLetterQueue = secureQueue(this, 'BackstopDlq');
    acknowledgeFindings(
      this.backstopDeadLetterQueue,
      "This queue is a dead-letter queue: of the backstop rule target and of the notify function's asynchronous invocations (an alarm watches it).",
      'AwsSolutions-SQS3',
    );
    this.backstopRule = new events.Rule(this, 'ExecutionEnded', {
      description:
        'Ingestion executions that ended (FAILED, TIMED_OUT, ABORTED; SUCCEEDED with notices not sent): the notify Lambda alerts',
      eventPattern: {
        source: ['aws.states'],
        detailType: [EXECUTION_STATUS_CHANGE],
        detail: {
          stateMachineArn: [this.stateMachine.stateMachineArn],
          status: [...BACKSTOP_STATUSES],
        },
      },
      targets: [
        new targets.LambdaFunction(props.notify, {
          deadLetterQueue: this.backstopDeadLetterQueue,
          maxEventAge: Duration.hours(24),
          retryAttempts: 185,
        }),
      ],
    });
    // EventBridge invokes Lambda asynchronously: an error in the function is retried by Lambda
    // (twice) and then sent to the same dead-letter queue, which has an alarm.
    new lambda.EventInvokeConfig(this, 'NotifyAsync', {
      function: props.notify,
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new destinations.SqsDestination(this.backstopDeadLetterQueue),
    });
  }

  private buildDefinition(): sfn.IChainable {
    const { props } = this;
    const failed = new sfn.Fail(this, STATE.pipelineFailed, {
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });
    const publishPlain = new tasks.SnsPublish(this, STATE.publishPlainFailureAlert, {
      topic: props.topic,
      subject: 'Ingestion pipeline failure',
      message: sfn.TaskInput.fromText(
        sfn.JsonPath.format(
          'The ingestion pipeline failed at stage {} ({}). Execution: {}',
          sfn.JsonPath.stringAt('$.failedStage'),
          sfn.JsonPath.stringAt('$.error.Error'),
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
    publishPlain.addCatch(failed, { errors: ALL, resultPath: '$.alertError' });
    publishPlain.next(failed);
    const notifyFailure = this.lambdaTask(STATE.notifyFailure, props.notify, {
      payload: sfn.TaskInput.fromObject({
        kind: 'failure',
        dataset: sfn.JsonPath.stringAt('$.dataset'),
        stage: sfn.JsonPath.stringAt('$.failedStage'),
        executionId: sfn.JsonPath.executionId,
        error: sfn.JsonPath.objectAt('$.error'),
        files: sfn.JsonPath.listAt('$.files'),
        notices: sfn.JsonPath.objectAt('$.notices'),
      }),
      resultPath: '$.alert',
    });
    notifyFailure.addCatch(publishPlain, { errors: ALL, resultPath: '$.alertError' });
    notifyFailure.next(failed);
    this.notifyFailure = notifyFailure;

    // The tail, after the data is merged and reconciled: notices, then how the execution ends.
    const done = new sfn.Succeed(this, STATE.done);
    // A notice that could not be sent does not fail a batch that was merged and reconciled: its
    // failure stays recorded in $.notices (the execution output) and the backstop, which also
    // sees SUCCEEDED executions, alerts from there.
    const noticesNotPublished = new sfn.Succeed(this, STATE.noticesNotPublished, {
      comment: 'Merged and reconciled; a notice could not be sent ($.notices). The backstop alerts.',
    });
    const noticesPublished = new sfn.Choice(this, STATE.noticesPublished)
      .when(sfn.Condition.or(...Object.values(NOTICE_PATHS).map(noticeNotSent)), noticesNotPublished)
      .otherwise(done);
    const failFiles = new sfn.Pass(this, STATE.failFiles, {
      parameters: {
        Error: 'FilesFailedError',
        Cause: sfn.JsonPath.format(
          '{} file(s) of the batch were neither normalized nor quarantined after retries (marked failed; the landing objects are untouched). The rest of the batch was merged and reconciled.',
          sfn.JsonPath.stringAt('$.progress.failedFiles'),
        ),
      },
      resultPath: '$.error',
    });
    failFiles.next(this.stageFailed(STATE.failedFilesStage));
    const filesFailed = new sfn.Choice(this, STATE.filesFailed)
      .when(
        sfn.Condition.and(
          sfn.Condition.isPresent('$.progress.failedFiles'),
          sfn.Condition.numberGreaterThan('$.progress.failedFiles', 0),
        ),
        failFiles,
      )
      .otherwise(noticesPublished);

    // Files that landed flagged (a header no template matched): their own warning.
    const notifyUnknownTemplate = this.lambdaTask(STATE.notifyUnknownTemplate, props.notify, {
      payload: sfn.TaskInput.fromObject({
        kind: 'unknown_template',
        dataset: sfn.JsonPath.stringAt('$.dataset'),
        executionId: sfn.JsonPath.executionId,
        files: sfn.JsonPath.listAt('$.files'),
      }),
      resultPath: NOTICE_PATHS.unknownTemplate,
    });
    notifyUnknownTemplate.addCatch(filesFailed, { errors: ALL, resultPath: NOTICE_PATHS.unknownTemplate });
    notifyUnknownTemplate.next(filesFailed);
    const templatesFlagged = new sfn.Choice(this, STATE.templatesFlagged)
      .when(
        sfn.Condition.and(
          sfn.Condition.isPresent('$.progress.flaggedFiles'),
          sfn.Condition.numberGreaterThan('$.progress.flaggedFiles', 0),
        ),
        notifyUnknownTemplate,
      )
      .otherwise(filesFailed);
    const notifyQuarantine = this.lambdaTask(STATE.notifyQuarantine, props.notify, {
      payload: sfn.TaskInput.fromObject({
        kind: 'quarantine',
        dataset: sfn.JsonPath.stringAt('$.dataset'),
        executionId: sfn.JsonPath.executionId,
        files: sfn.JsonPath.listAt('$.files'),
      }),
      resultPath: NOTICE_PATHS.quarantine,
    });
    notifyQuarantine.addCatch(templatesFlagged, { errors: ALL, resultPath: NOTICE_PATHS.quarantine });
    notifyQuarantine.next(templatesFlagged);
    const filesQuarantined = new sfn.Choice(this, STATE.filesQuarantined)
      .when(
        sfn.Condition.or(
          sfn.Condition.numberGreaterThan('$.progress.quarantinedFiles', 0),
          sfn.Condition.numberGreaterThan('$.progress.rejectedRows', 0),
        ),
        notifyQuarantine,
      )
      .otherwise(templatesFlagged);

    const recordDiscrepancy = new sfn.Pass(this, STATE.recordDiscrepancyNotice, {
      comment: 'Reconcile published its discrepancy alert; its receipt joins the other notices.',
      inputPath: '$.reconciliation.alert',
      resultPath: NOTICE_PATHS.discrepancy,
    });
    const recordRestatement = new sfn.Pass(this, STATE.recordRestatementNotice, {
      comment:
        'Reconcile published its restatement notice (or had none); its receipt joins the other notices.',
      inputPath: '$.reconciliation.restatementAlert',
      resultPath: NOTICE_PATHS.restatement,
    });
    recordDiscrepancy.next(recordRestatement);
    recordRestatement.next(filesQuarantined);
    const reconcile = this.lambdaTask(STATE.reconcile, props.reconcile, {
      payload: sfn.TaskInput.fromObject({
        action: 'reconcile',
        dataset: sfn.JsonPath.stringAt('$.dataset'),
        executionId: sfn.JsonPath.executionId,
        files: sfn.JsonPath.listAt('$.files'),
      }),
      resultPath: '$.reconciliation',
    });
    this.catchStage(reconcile, STATE.reconcile);
    reconcile.next(recordDiscrepancy);

    const unknownDataset = new sfn.Pass(this, STATE.unknownDataset, {
      parameters: {
        Error: 'UnknownDatasetError',
        Cause: sfn.JsonPath.format('No dataset named {} is configured', sfn.JsonPath.stringAt('$.dataset')),
      },
      resultPath: '$.error',
    });
    unknownDataset.next(this.stageFailed(STATE.selectDataset));
    const selectDataset = new sfn.Choice(this, STATE.selectDataset);
    for (const workflow of props.datasets) {
      selectDataset.when(
        sfn.Condition.stringEquals('$.dataset', workflow.dataset.name),
        this.datasetBranch(workflow, reconcile),
      );
    }
    selectDataset.otherwise(unknownDataset);

    const prepare = new sfn.Pass(this, STATE.prepareBatch, {
      comment: 'The Pipe delivers an array of files of one dataset.',
      parameters: {
        dataset: sfn.JsonPath.stringAt('$[0].dataset'),
        files: sfn.JsonPath.listAt('$'),
        notices: {},
      },
    });
    prepare.next(selectDataset);
    const invalidBatch = new sfn.Pass(this, STATE.invalidBatch, {
      parameters: {
        dataset: 'unknown',
        files: [],
        notices: {},
        failedStage: STATE.validateBatch,
        error: {
          Error: 'InvalidBatchError',
          Cause: 'The execution input must be a non-empty array of {dataset, bucket, key, versionId, size}.',
        },
      },
    });
    invalidBatch.next(notifyFailure);
    return new sfn.Choice(this, STATE.validateBatch)
      .when(sfn.Condition.isPresent('$[0].dataset'), prepare)
      .otherwise(invalidBatch);
  }

  /** Normalize -> crawl -> partitions -> drift -> bounded ETL drain loop for one dataset; ends at Reconcile. */
  private datasetBranch(workflow: DatasetWorkflow, reconcile: sfn.IChainable): sfn.IChainable {
    const { props } = this;
    const { dataset } = workflow;
    const s = STATE.of(dataset.name);
    const stack = Stack.of(this);
    const crawlerArn = stack.formatArn({
      service: 'glue',
      resource: 'crawler',
      resourceName: workflow.crawlerName,
    });

    // Normalize every file. Transient errors are retried; a named file error quarantines the
    // file; anything else marks it failed. Each outcome is kept compact (no reasons, no
    // partition lists, no manifest keys): reason documents and manifests hold the rest
    // (lib/contracts/batch.ts).
    const normalize = this.lambdaTask(s.normalize, props.normalize, { fileErrors: FILE_ERROR_NAMES });
    const quarantine = this.lambdaTask(s.quarantine, props.quarantine, {
      payload: sfn.TaskInput.fromObject({
        dataset: sfn.JsonPath.stringAt('$.dataset'),
        file: sfn.JsonPath.objectAt('$.file'),
        error: sfn.JsonPath.objectAt('$.error'),
        executionId: sfn.JsonPath.stringAt('$.executionId'),
      }),
      resultSelector: {
        status: sfn.JsonPath.stringAt('$.status'),
        dataset: sfn.JsonPath.stringAt('$.dataset'),
        key: sfn.JsonPath.stringAt('$.key'),
        versionId: sfn.JsonPath.stringAt('$.versionId'),
        sourceId: sfn.JsonPath.stringAt('$.sourceId'),
        errorName: sfn.JsonPath.stringAt('$.errorName'),
      },
      retryAll: true,
    });
    const quarantineFailed = new sfn.Pass(this, s.quarantineFailed, {
      comment: 'The file could not be quarantined either; the landing object is untouched.',
      parameters: {
        status: 'failed',
        dataset: sfn.JsonPath.stringAt('$.dataset'),
        key: sfn.JsonPath.stringAt('$.file.key'),
        versionId: sfn.JsonPath.stringAt('$.file.versionId'),
        sourceId: '',
        errorName: sfn.JsonPath.stringAt('$.error.Error'),
        reason: sfn.JsonPath.format(
          'normalize failed ({}) and quarantine failed ({})',
          sfn.JsonPath.stringAt('$.error.Error'),
          sfn.JsonPath.stringAt('$.quarantineError.Error'),
        ),
      },
    });
    quarantine.addCatch(quarantineFailed, { errors: ALL, resultPath: '$.quarantineError' });
    const normalizeFailed = new sfn.Pass(this, s.normalizeFailed, {
      comment:
        'Not a bad file: a transient error outlasted the retries. Not quarantined; the landing object is untouched.',
      parameters: {
        status: 'failed',
        dataset: sfn.JsonPath.stringAt('$.dataset'),
        key: sfn.JsonPath.stringAt('$.file.key'),
        versionId: sfn.JsonPath.stringAt('$.file.versionId'),
        sourceId: '',
        errorName: sfn.JsonPath.stringAt('$.error.Error'),
        reason: sfn.JsonPath.format(
          'not normalized: {} outlasted the retries (not quarantined; drop the file again)',
          sfn.JsonPath.stringAt('$.error.Error'),
        ),
      },
    });
    normalize.addCatch(quarantine, { errors: [...FILE_ERROR_NAMES], resultPath: '$.error' });
    normalize.addCatch(normalizeFailed, { errors: ALL, resultPath: '$.error' });
    const compactFields = {
      status: sfn.JsonPath.stringAt('$.status'),
      dataset: sfn.JsonPath.stringAt('$.dataset'),
      key: sfn.JsonPath.stringAt('$.key'),
      versionId: sfn.JsonPath.stringAt('$.versionId'),
      sourceId: sfn.JsonPath.stringAt('$.sourceId'),
    };
    const counted = {
      template: sfn.JsonPath.stringAt('$.template'),
      rows: sfn.JsonPath.numberAt('$.rows'),
      rejectedRows: sfn.JsonPath.numberAt('$.rejectedRows'),
    };
    const compact = new sfn.Choice(this, s.compactOutcome)
      .when(
        sfn.Condition.stringEquals('$.status', 'duplicate'),
        new sfn.Pass(this, s.duplicateOutcome, {
          parameters: { ...compactFields, duplicateOf: sfn.JsonPath.stringAt('$.duplicateOf') },
        }),
      )
      .when(
        sfn.Condition.isPresent('$.flag'),
        new sfn.Pass(this, s.flaggedOutcome, {
          parameters: { ...compactFields, ...counted, flag: sfn.JsonPath.stringAt('$.flag') },
        }),
      )
      .otherwise(new sfn.Pass(this, s.normalizedOutcome, { parameters: { ...compactFields, ...counted } }));
    normalize.next(compact);
    const normalizeFiles = new sfn.Map(this, s.normalizeFiles, {
      itemsPath: '$.files',
      maxConcurrency: dataset.batching.normalizeConcurrency,
      itemSelector: {
        dataset: sfn.JsonPath.stringAt('$.dataset'),
        file: sfn.JsonPath.objectAt('$$.Map.Item.Value'),
        executionId: sfn.JsonPath.executionId,
      },
      resultPath: '$.files',
    });
    normalizeFiles.itemProcessor(normalize);
    this.catchStage(normalizeFiles, s.normalizeFiles);

    const progressPayload = (withPrevious: boolean, afterRun = false) =>
      sfn.TaskInput.fromObject({
        action: 'progress',
        dataset: sfn.JsonPath.stringAt('$.dataset'),
        files: sfn.JsonPath.listAt('$.files'),
        ...(withPrevious ? { previous: sfn.JsonPath.objectAt('$.progress') } : {}),
        // A run that read files made progress even if none of them was this batch's.
        ...(afterRun ? { lastRunId: sfn.JsonPath.stringAt('$.etl.id') } : {}),
      });
    const planEtl = this.lambdaTask(s.planEtl, props.reconcile, {
      payload: progressPayload(false),
      resultPath: '$.progress',
    });
    this.catchStage(planEtl, s.planEtl);

    // Crawl: start (waiting out another batch's crawl), then poll until READY or the limit.
    const initCrawl = new sfn.Pass(this, s.initCrawl, {
      result: sfn.Result.fromObject({ count: 1 }),
      resultPath: '$.crawl',
    });
    const startCrawler = new tasks.CallAwsService(this, s.startCrawler, {
      service: 'glue',
      action: 'startCrawler',
      parameters: { Name: workflow.crawlerName },
      iamResources: [crawlerArn],
      resultPath: sfn.JsonPath.DISCARD,
    });
    startCrawler.addRetry({
      errors: ['Glue.CrawlerRunningException'],
      interval: Duration.seconds(30),
      backoffRate: 1.5,
      maxDelay: Duration.minutes(5),
      maxAttempts: 20,
      jitterStrategy: sfn.JitterType.FULL,
    });
    startCrawler.addRetry({
      errors: ['Glue.ThrottlingException', 'Glue.OperationTimeoutException', 'Glue.InternalServiceException'],
      interval: Duration.seconds(5),
      maxAttempts: 3,
      backoffRate: 2,
      jitterStrategy: sfn.JitterType.FULL,
    });
    this.catchStage(startCrawler, s.startCrawler);
    const initPoll = new sfn.Pass(this, s.initCrawlerPoll, {
      result: sfn.Result.fromObject({ count: 0 }),
      resultPath: '$.poll',
    });
    const pollInterval = props.crawlerPollInterval ?? Duration.seconds(30);
    const wait = new sfn.Wait(this, s.waitForCrawler, { time: sfn.WaitTime.duration(pollInterval) });
    const getCrawler = new tasks.CallAwsService(this, s.getCrawler, {
      service: 'glue',
      action: 'getCrawler',
      parameters: { Name: workflow.crawlerName },
      iamResources: [crawlerArn],
      resultSelector: { Crawler: sfn.JsonPath.objectAt('$.Crawler') },
      resultPath: '$.crawler',
    });
    getCrawler.addRetry({
      errors: ['Glue.ThrottlingException', 'Glue.OperationTimeoutException', 'Glue.InternalServiceException'],
      interval: Duration.seconds(5),
      maxAttempts: 3,
      backoffRate: 2,
    });
    this.catchStage(getCrawler, s.getCrawler);
    const countPoll = new sfn.Pass(this, s.countCrawlerPoll, {
      parameters: { count: sfn.JsonPath.mathAdd(sfn.JsonPath.numberAt('$.poll.count'), 1) },
      resultPath: '$.poll',
    });
    const crawlerFailed = new sfn.Pass(this, s.crawlerFailed, {
      parameters: {
        Error: 'CrawlerFailedError',
        Cause: sfn.JsonPath.format(
          'Crawler {} ended its crawl with {}',
          workflow.crawlerName,
          sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.crawler.Crawler.LastCrawl')),
        ),
      },
      resultPath: '$.error',
    });
    crawlerFailed.next(this.stageFailed(s.getCrawler));
    const maxPolls = props.maxCrawlerPolls ?? 60;
    const crawlerTimedOut = new sfn.Pass(this, s.crawlerTimedOut, {
      parameters: {
        Error: 'CrawlerTimeoutError',
        Cause: sfn.JsonPath.format(
          'Crawler {} was still {} after {} polls',
          workflow.crawlerName,
          sfn.JsonPath.stringAt('$.crawler.Crawler.State'),
          sfn.JsonPath.stringAt('$.poll.count'),
        ),
      },
      resultPath: '$.error',
    });
    crawlerTimedOut.next(this.stageFailed(s.getCrawler));

    // Every partition of the batch in the catalog before the job reads it (finding 5).
    const ensurePartitions = this.lambdaTask(s.ensurePartitions, props.reconcile, {
      payload: sfn.TaskInput.fromObject({
        action: 'partitions',
        dataset: sfn.JsonPath.stringAt('$.dataset'),
        files: sfn.JsonPath.listAt('$.files'),
      }),
      resultPath: '$.catalog',
    });
    this.catchStage(ensurePartitions, s.ensurePartitions);
    const tableMissing = new sfn.Pass(this, s.tableMissing, {
      parameters: {
        Error: 'TableMissingError',
        Cause: sfn.JsonPath.format(
          'Table {} is still not in the catalog after {} crawls',
          sfn.JsonPath.stringAt('$.catalog.table'),
          sfn.JsonPath.stringAt('$.crawl.count'),
        ),
      },
      resultPath: '$.error',
    });
    tableMissing.next(this.stageFailed(s.ensurePartitions));
    const countCrawl = new sfn.Pass(this, s.countCrawl, {
      parameters: { count: sfn.JsonPath.mathAdd(sfn.JsonPath.numberAt('$.crawl.count'), 1) },
      resultPath: '$.crawl',
    });
    const waitBeforeRecrawl = new sfn.Wait(this, s.waitBeforeRecrawl, {
      comment: "Gives the new objects' S3 events time to reach the crawler's queue.",
      time: sfn.WaitTime.duration(pollInterval),
    });
    countCrawl.next(waitBeforeRecrawl);
    waitBeforeRecrawl.next(startCrawler);

    // Schema drift notice (informational; published by the Lambda): its failure never blocks the merge.
    const detectDrift = this.lambdaTask(s.detectSchemaDrift, props.reconcile, {
      payload: sfn.TaskInput.fromObject({
        action: 'schema-drift',
        dataset: sfn.JsonPath.stringAt('$.dataset'),
        executionId: sfn.JsonPath.executionId,
        files: [],
      }),
      resultPath: NOTICE_PATHS.schemaDrift,
    });

    const etl = dataset.etl.timeoutMinutes;
    const runEtl = new BoundedGlueStartJobRun(
      this,
      s.runEtl,
      {
        glueJobName: workflow.jobName,
        integrationPattern: sfn.IntegrationPattern.RUN_JOB,
        // The job run's own Timeout: exactly the configured one.
        taskTimeout: sfn.Timeout.duration(Duration.minutes(etl)),
        arguments: sfn.TaskInput.fromObject({
          '--push_down_predicate': sfn.JsonPath.stringAt('$.progress.pushDownPredicate'),
          '--execution_id': sfn.JsonPath.executionId,
        }),
        resultSelector: { id: sfn.JsonPath.stringAt('$.Id'), state: sfn.JsonPath.stringAt('$.JobRunState') },
        resultPath: '$.etl',
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
    const checkProgress = this.lambdaTask(s.checkProgress, props.reconcile, {
      payload: progressPayload(true, true),
      resultPath: '$.progress',
    });
    this.catchStage(checkProgress, s.checkProgress);
    const noProgress = new sfn.Pass(this, s.noProgress, {
      parameters: {
        Error: 'NoProgressError',
        Cause: sfn.JsonPath.format(
          'ETL run read no file and left {} of {} normalized objects of this batch unprocessed, no fewer than the run before',
          sfn.JsonPath.stringAt('$.progress.remainingObjects'),
          sfn.JsonPath.stringAt('$.progress.totalObjects'),
        ),
      },
      resultPath: '$.error',
    });
    noProgress.next(this.stageFailed(s.runEtl));
    const drained = new sfn.Choice(this, s.drained)
      .when(sfn.Condition.numberEquals('$.progress.remainingObjects', 0), reconcile)
      .when(sfn.Condition.booleanEquals('$.progress.madeProgress', true), runEtl)
      .otherwise(noProgress);

    // The job runs one at a time (MaxConcurrentRuns 1). While another execution's run holds the
    // slot, this execution checks whether that run merged its objects (the job reads every new
    // object of the partitions it is given), waits a random 1-3 minutes and tries again; the
    // execution timeout bounds the wait, and waiting is not "no progress" (finding 4).
    const etlBusy = this.lambdaTask(s.etlBusy, props.reconcile, {
      payload: progressPayload(true),
      resultPath: '$.progress',
    });
    this.catchStage(etlBusy, s.runEtl);
    const jitter = new sfn.Pass(this, s.jitterEtlWait, {
      parameters: {
        seconds: sfn.JsonPath.mathRandom(ETL_SLOT_WAIT_SECONDS.min, ETL_SLOT_WAIT_SECONDS.max),
      },
      resultPath: '$.etlWait',
    });
    const waitForSlot = new sfn.Wait(this, s.waitForEtlSlot, {
      time: sfn.WaitTime.secondsPath('$.etlWait.seconds'),
    });
    const drainedWhileBusy = new sfn.Choice(this, s.drainedWhileBusy)
      .when(sfn.Condition.numberEquals('$.progress.remainingObjects', 0), reconcile)
      .otherwise(jitter);
    runEtl.addCatch(etlBusy, { errors: ['Glue.ConcurrentRunsExceededException'], resultPath: '$.etlBusy' });
    this.catchStage(runEtl, s.runEtl);
    etlBusy.next(drainedWhileBusy);
    jitter.next(waitForSlot);
    waitForSlot.next(runEtl);
    runEtl.next(checkProgress);
    checkProgress.next(drained);

    detectDrift.addCatch(runEtl, { errors: ALL, resultPath: NOTICE_PATHS.schemaDrift });
    detectDrift.next(runEtl);
    const tableCrawled = new sfn.Choice(this, s.tableCrawled)
      .when(
        sfn.Condition.and(
          sfn.Condition.booleanEquals('$.catalog.tableMissing', true),
          sfn.Condition.numberLessThan('$.crawl.count', MAX_CRAWLS),
        ),
        countCrawl,
      )
      .when(sfn.Condition.booleanEquals('$.catalog.tableMissing', true), tableMissing)
      .otherwise(detectDrift);
    ensurePartitions.next(tableCrawled);

    const crawlerFinished = new sfn.Choice(this, s.crawlerFinished)
      .when(
        sfn.Condition.and(
          sfn.Condition.stringEquals('$.crawler.Crawler.State', 'READY'),
          sfn.Condition.isPresent('$.crawler.Crawler.LastCrawl.Status'),
          sfn.Condition.stringEquals('$.crawler.Crawler.LastCrawl.Status', 'SUCCEEDED'),
        ),
        ensurePartitions,
      )
      .when(
        sfn.Condition.and(
          sfn.Condition.stringEquals('$.crawler.Crawler.State', 'READY'),
          sfn.Condition.isPresent('$.crawler.Crawler.LastCrawl.Status'),
        ),
        crawlerFailed,
      )
      .when(sfn.Condition.numberGreaterThanEquals('$.poll.count', maxPolls), crawlerTimedOut)
      .otherwise(wait);
    wait.next(getCrawler);
    getCrawler.next(countPoll);
    countPoll.next(crawlerFinished);
    startCrawler.next(initPoll);
    initPoll.next(wait);
    initCrawl.next(startCrawler);

    const hasWork = new sfn.Choice(this, s.hasWork)
      .when(sfn.Condition.numberGreaterThan('$.progress.remainingObjects', 0), initCrawl)
      .otherwise(reconcile);
    planEtl.next(hasWork);
    normalizeFiles.next(planEtl);
    return normalizeFiles;
  }

  /**
   * A Lambda task with the pipeline's retries: Lambda's service exceptions (2 s, x2, 6 times)
   * and throttling (5 s, x2, up to 2 minutes apart, 8 times), with full jitter. `fileErrors`
   * (Normalize) are never retried (the file is bad; the Catch quarantines it); `retryAll` and
   * `fileErrors` also retry a timeout or an unhandled error once and any other error twice,
   * so only an error that outlasts the retries marks a file failed.
   */
  private lambdaTask(
    id: string,
    fn: lambda.IFunction,
    options: {
      readonly payload?: sfn.TaskInput;
      readonly resultPath?: string;
      readonly resultSelector?: Record<string, unknown>;
      readonly fileErrors?: readonly string[];
      readonly retryAll?: boolean;
    } = {},
  ): tasks.LambdaInvoke {
    const task = new tasks.LambdaInvoke(this, id, {
      lambdaFunction: fn,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      taskTimeout: LAMBDA_TASK_TIMEOUT,
      ...(options.payload ? { payload: options.payload } : {}),
      ...(options.resultPath ? { resultPath: options.resultPath } : {}),
      ...(options.resultSelector ? { resultSelector: options.resultSelector } : {}),
    });
    if (options.fileErrors?.length) task.addRetry({ errors: [...options.fileErrors], maxAttempts: 0 });
    task.addRetry({
      errors: LAMBDA_SERVICE_ERRORS,
      interval: Duration.seconds(2),
      backoffRate: 2,
      maxAttempts: 6,
      jitterStrategy: sfn.JitterType.FULL,
    });
    task.addRetry({
      errors: [LAMBDA_THROTTLED],
      interval: Duration.seconds(5),
      backoffRate: 2,
      maxDelay: Duration.minutes(2),
      maxAttempts: 8,
      jitterStrategy: sfn.JitterType.FULL,
    });
    if (options.fileErrors || options.retryAll) {
      task.addRetry({ errors: LAMBDA_UNHANDLED, interval: Duration.seconds(30), maxAttempts: 1 });
      task.addRetry({
        errors: ALL,
        interval: Duration.seconds(10),
        backoffRate: 3,
        maxAttempts: 2,
        jitterStrategy: sfn.JitterType.FULL,
      });
    }
    return task;
  }

  /** A Pass that records the failed stage, then formats and publishes the failure alert. */
  private stageFailed(stage: string): sfn.Pass {
    let pass = this.stagePasses.get(stage);
    if (!pass) {
      pass = new sfn.Pass(this, `Failed at ${stage}`, {
        result: sfn.Result.fromString(stage),
        resultPath: '$.failedStage',
      });
      pass.next(this.notifyFailure);
      this.stagePasses.set(stage, pass);
    }
    return pass;
  }

  private catchStage(state: sfn.TaskStateBase | sfn.Map, stage: string): void {
    state.addCatch(this.stageFailed(stage), { errors: ALL, resultPath: '$.error' });
  }
}

/** A notice at `path` that did not go out: its task failed, or its receipt says unpublished. */
function noticeNotSent(path: string): sfn.Condition {
  const unpublished = (at: string) =>
    sfn.Condition.and(sfn.Condition.isPresent(at), sfn.Condition.booleanEquals(at, false));
  return sfn.Condition.or(
    sfn.Condition.isPresent(`${path}.Error`),
    unpublished(`${path}.published`),
    unpublished(`${path}.alert.published`),
  );
}
