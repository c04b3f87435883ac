import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { ResolvedDataset } from '../config/types';
import { acknowledgeFindings, functionVersionsFinding, WILDCARD_RESOURCE_FINDING } from './nag';
import { KMS_PUBLISH_ACTIONS } from './pipeline-key';

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
  readonly notify: lambda.IFunction;
  readonly topic: sns.ITopic;
  /** Key the alert topic is encrypted with; the state machine publishes to it. */
  readonly topicKey: kms.IKey;
  /** Wait between GetCrawler polls. @default 30 seconds */
  readonly crawlerPollInterval?: Duration;
  /** Polls before a crawl that has not finished is a timeout failure. @default 60 (30 minutes at 30 s) */
  readonly maxCrawlerPolls?: number;
  /** Execution timeout. @default 12 hours */
  readonly timeout?: Duration;
}

/** Names of the states the tests, the local runtime and the README refer to. */
export const STATE = {
  validateBatch: 'ValidateBatch',
  invalidBatch: 'InvalidBatch',
  prepareBatch: 'PrepareBatch',
  selectDataset: 'SelectDataset',
  unknownDataset: 'UnknownDataset',
  reconcile: 'Reconcile',
  discrepancies: 'Discrepancies?',
  publishDiscrepancyAlert: 'PublishDiscrepancyAlert',
  filesQuarantined: 'FilesQuarantined?',
  formatQuarantineAlert: 'FormatQuarantineAlert',
  publishQuarantineAlert: 'PublishQuarantineAlert',
  templatesFlagged: 'TemplatesFlagged?',
  formatUnknownTemplateAlert: 'FormatUnknownTemplateAlert',
  publishUnknownTemplateAlert: 'PublishUnknownTemplateAlert',
  formatFailureAlert: 'FormatFailureAlert',
  publishFailureAlert: 'PublishFailureAlert',
  publishPlainFailureAlert: 'PublishPlainFailureAlert',
  pipelineFailed: 'PipelineFailed',
  done: 'Done',
  /** States of one dataset's branch are prefixed with `<dataset>.`. */
  of: (dataset: string) => ({
    normalizeFiles: `${dataset}.NormalizeFiles`,
    normalize: `${dataset}.Normalize`,
    quarantine: `${dataset}.Quarantine`,
    quarantineFailed: `${dataset}.QuarantineFailed`,
    planEtl: `${dataset}.PlanEtl`,
    hasWork: `${dataset}.HasWork?`,
    startCrawler: `${dataset}.StartCrawler`,
    initCrawlerPoll: `${dataset}.InitCrawlerPoll`,
    waitForCrawler: `${dataset}.WaitForCrawler`,
    getCrawler: `${dataset}.GetCrawler`,
    countCrawlerPoll: `${dataset}.CountCrawlerPoll`,
    crawlerFinished: `${dataset}.CrawlerFinished?`,
    crawlerFailed: `${dataset}.CrawlerFailed`,
    crawlerTimedOut: `${dataset}.CrawlerTimedOut`,
    detectSchemaDrift: `${dataset}.DetectSchemaDrift`,
    schemaChanged: `${dataset}.SchemaChanged?`,
    publishSchemaDriftNotice: `${dataset}.PublishSchemaDriftNotice`,
    runEtl: `${dataset}.RunEtl`,
    checkProgress: `${dataset}.CheckProgress`,
    drained: `${dataset}.Drained?`,
    noProgress: `${dataset}.NoProgress`,
  }),
} as const;

const ALL = [sfn.Errors.ALL];
/** No Lambda runs longer than 15 minutes; the state gives up at the same bound. */
const LAMBDA_TASK_TIMEOUT = sfn.Timeout.duration(Duration.minutes(15));

/**
 * One Standard state machine for every dataset. An execution receives one Pipe batch (the
 * files of one dataset) and runs:
 *
 *   ValidateBatch -> PrepareBatch -> SelectDataset -> <dataset>.NormalizeFiles (Map; a file that
 *   fails is quarantined inside the Map and the rest go on) -> PlanEtl -> StartCrawler (retried
 *   while another crawl runs) -> Wait/GetCrawler loop (poll limit -> timeout failure; FAILED or
 *   CANCELLED -> failure) -> DetectSchemaDrift -> RunEtl (startJobRun.sync, retried on
 *   ConcurrentRunsExceeded) -> CheckProgress -> drain loop (run again while files remain and the
 *   last run made progress; no progress fails) -> Reconcile -> discrepancy alert -> quarantine
 *   alert -> unknown-template alert -> Done.
 *
 * Every stage has a Catch that leads to a formatted SNS failure alert and then to Fail.
 */
export class IngestionStateMachine extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly logGroup: logs.LogGroup;
  private readonly props: IngestionStateMachineProps;
  private formatFailure!: sfn.IChainable;
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
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
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
  }

  private buildDefinition(): sfn.IChainable {
    const { props } = this;
    const failed = new sfn.Fail(this, STATE.pipelineFailed, {
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });
    const publishFailure = this.publish(STATE.publishFailureAlert, '$.alert');
    publishFailure.addCatch(failed, { errors: ALL, resultPath: '$.alertError' });
    publishFailure.next(failed);
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
    publishPlain.addCatch(failed, { errors: ALL, resultPath: '$.alertError' });
    publishPlain.next(failed);
    const formatFailure = new tasks.LambdaInvoke(this, STATE.formatFailureAlert, {
      lambdaFunction: props.notify,
      payloadResponseOnly: true,
      taskTimeout: LAMBDA_TASK_TIMEOUT,
      payload: sfn.TaskInput.fromObject({
        kind: 'failure',
        dataset: sfn.JsonPath.stringAt('$.dataset'),
        stage: sfn.JsonPath.stringAt('$.failedStage'),
        executionId: sfn.JsonPath.executionId,
        error: sfn.JsonPath.objectAt('$.error'),
        files: sfn.JsonPath.listAt('$.files'),
      }),
      resultPath: '$.alert',
    });
    formatFailure.addCatch(publishPlain, { errors: ALL, resultPath: '$.alertError' });
    formatFailure.next(publishFailure);
    this.formatFailure = formatFailure;

    const done = new sfn.Succeed(this, STATE.done);
    // Files that landed flagged (a header no template matched): their own warning, after the quarantine notice.
    const formatUnknownTemplate = new tasks.LambdaInvoke(this, STATE.formatUnknownTemplateAlert, {
      lambdaFunction: props.notify,
      payloadResponseOnly: true,
      taskTimeout: LAMBDA_TASK_TIMEOUT,
      payload: sfn.TaskInput.fromObject({
        kind: 'unknown_template',
        dataset: sfn.JsonPath.stringAt('$.dataset'),
        executionId: sfn.JsonPath.executionId,
        files: sfn.JsonPath.listAt('$.files'),
      }),
      resultPath: '$.alert',
    });
    this.catchStage(formatUnknownTemplate, STATE.formatUnknownTemplateAlert);
    const publishUnknownTemplate = this.publish(STATE.publishUnknownTemplateAlert, '$.alert');
    this.catchStage(publishUnknownTemplate, STATE.publishUnknownTemplateAlert);
    formatUnknownTemplate.next(publishUnknownTemplate);
    publishUnknownTemplate.next(done);
    const templatesFlagged = new sfn.Choice(this, STATE.templatesFlagged)
      .when(
        sfn.Condition.and(
          sfn.Condition.isPresent('$.progress.flaggedFiles'),
          sfn.Condition.numberGreaterThan('$.progress.flaggedFiles', 0),
        ),
        formatUnknownTemplate,
      )
      .otherwise(done);
    const formatQuarantine = new tasks.LambdaInvoke(this, STATE.formatQuarantineAlert, {
      lambdaFunction: props.notify,
      payloadResponseOnly: true,
      taskTimeout: LAMBDA_TASK_TIMEOUT,
      payload: sfn.TaskInput.fromObject({
        kind: 'quarantine',
        dataset: sfn.JsonPath.stringAt('$.dataset'),
        executionId: sfn.JsonPath.executionId,
        files: sfn.JsonPath.listAt('$.files'),
      }),
      resultPath: '$.alert',
    });
    this.catchStage(formatQuarantine, STATE.formatQuarantineAlert);
    const publishQuarantine = this.publish(STATE.publishQuarantineAlert, '$.alert');
    this.catchStage(publishQuarantine, STATE.publishQuarantineAlert);
    formatQuarantine.next(publishQuarantine);
    publishQuarantine.next(templatesFlagged);
    const filesQuarantined = new sfn.Choice(this, STATE.filesQuarantined)
      .when(
        sfn.Condition.or(
          sfn.Condition.numberGreaterThan('$.progress.quarantinedFiles', 0),
          sfn.Condition.numberGreaterThan('$.progress.rejectedRows', 0),
        ),
        formatQuarantine,
      )
      .otherwise(templatesFlagged);

    const publishDiscrepancy = this.publish(STATE.publishDiscrepancyAlert, '$.reconciliation.alert');
    this.catchStage(publishDiscrepancy, STATE.publishDiscrepancyAlert);
    publishDiscrepancy.next(filesQuarantined);
    const discrepancies = new sfn.Choice(this, STATE.discrepancies)
      .when(sfn.Condition.stringEquals('$.reconciliation.status', 'fail'), publishDiscrepancy)
      .otherwise(filesQuarantined);
    const reconcile = new tasks.LambdaInvoke(this, STATE.reconcile, {
      lambdaFunction: props.reconcile,
      payloadResponseOnly: true,
      taskTimeout: LAMBDA_TASK_TIMEOUT,
      payload: sfn.TaskInput.fromObject({
        action: 'reconcile',
        dataset: sfn.JsonPath.stringAt('$.dataset'),
        executionId: sfn.JsonPath.executionId,
        files: sfn.JsonPath.listAt('$.files'),
      }),
      resultPath: '$.reconciliation',
    });
    this.catchStage(reconcile, STATE.reconcile);
    reconcile.next(discrepancies);

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
      parameters: { dataset: sfn.JsonPath.stringAt('$[0].dataset'), files: sfn.JsonPath.listAt('$') },
    });
    prepare.next(selectDataset);
    const invalidBatch = new sfn.Pass(this, STATE.invalidBatch, {
      parameters: {
        dataset: 'unknown',
        files: [],
        failedStage: STATE.validateBatch,
        error: {
          Error: 'InvalidBatchError',
          Cause: 'The execution input must be a non-empty array of {dataset, bucket, key, versionId, size}.',
        },
      },
    });
    invalidBatch.next(formatFailure);
    return new sfn.Choice(this, STATE.validateBatch)
      .when(sfn.Condition.isPresent('$[0].dataset'), prepare)
      .otherwise(invalidBatch);
  }

  /** Normalize -> crawl -> drift -> bounded ETL drain loop for one dataset; ends at Reconcile. */
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

    // Normalize every file; a failure is quarantined and recorded so the batch goes on.
    const normalize = new tasks.LambdaInvoke(this, s.normalize, {
      lambdaFunction: props.normalize,
      payloadResponseOnly: true,
      taskTimeout: LAMBDA_TASK_TIMEOUT,
    });
    const quarantine = new tasks.LambdaInvoke(this, s.quarantine, {
      lambdaFunction: props.quarantine,
      payloadResponseOnly: true,
      taskTimeout: LAMBDA_TASK_TIMEOUT,
      payload: sfn.TaskInput.fromObject({
        dataset: sfn.JsonPath.stringAt('$.dataset'),
        file: sfn.JsonPath.objectAt('$.file'),
        error: sfn.JsonPath.objectAt('$.error'),
        executionId: sfn.JsonPath.stringAt('$.executionId'),
      }),
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
    normalize.addCatch(quarantine, { errors: ALL, resultPath: '$.error' });
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

    const progressPayload = (withPrevious: boolean) =>
      sfn.TaskInput.fromObject({
        action: 'progress',
        dataset: sfn.JsonPath.stringAt('$.dataset'),
        files: sfn.JsonPath.listAt('$.files'),
        ...(withPrevious ? { previous: sfn.JsonPath.objectAt('$.progress') } : {}),
      });
    const planEtl = new tasks.LambdaInvoke(this, s.planEtl, {
      lambdaFunction: props.reconcile,
      payloadResponseOnly: true,
      taskTimeout: LAMBDA_TASK_TIMEOUT,
      payload: progressPayload(false),
      resultPath: '$.progress',
    });
    this.catchStage(planEtl, s.planEtl);

    // Crawl: start (waiting out another batch's crawl), then poll until READY or the limit.
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
    this.catchStage(startCrawler, s.startCrawler);
    const initPoll = new sfn.Pass(this, s.initCrawlerPoll, {
      result: sfn.Result.fromObject({ count: 0 }),
      resultPath: '$.poll',
    });
    const wait = new sfn.Wait(this, s.waitForCrawler, {
      time: sfn.WaitTime.duration(props.crawlerPollInterval ?? Duration.seconds(30)),
    });
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

    // Schema drift notice (informational), then the bounded ETL drain loop.
    const detectDrift = new tasks.LambdaInvoke(this, s.detectSchemaDrift, {
      lambdaFunction: props.reconcile,
      payloadResponseOnly: true,
      taskTimeout: LAMBDA_TASK_TIMEOUT,
      payload: sfn.TaskInput.fromObject({
        action: 'schema-drift',
        dataset: sfn.JsonPath.stringAt('$.dataset'),
        executionId: sfn.JsonPath.executionId,
        files: [],
      }),
      resultPath: '$.drift',
    });
    this.catchStage(detectDrift, s.detectSchemaDrift);
    const publishDrift = this.publish(s.publishSchemaDriftNotice, '$.drift.alert');
    this.catchStage(publishDrift, s.publishSchemaDriftNotice);

    const runEtl = new tasks.GlueStartJobRun(this, s.runEtl, {
      glueJobName: workflow.jobName,
      integrationPattern: sfn.IntegrationPattern.RUN_JOB,
      // The job's own timeout ends a run; the state waits a little longer for the final status.
      taskTimeout: sfn.Timeout.duration(Duration.minutes(dataset.etl.timeoutMinutes + 10)),
      arguments: sfn.TaskInput.fromObject({
        '--push_down_predicate': sfn.JsonPath.stringAt('$.progress.pushDownPredicate'),
        '--execution_id': sfn.JsonPath.executionId,
      }),
      resultSelector: { id: sfn.JsonPath.stringAt('$.Id'), state: sfn.JsonPath.stringAt('$.JobRunState') },
      resultPath: '$.etl',
    });
    runEtl.addRetry({
      errors: ['Glue.ConcurrentRunsExceededException'],
      interval: Duration.seconds(60),
      backoffRate: 2,
      maxDelay: Duration.minutes(10),
      maxAttempts: 8,
      jitterStrategy: sfn.JitterType.FULL,
    });
    this.catchStage(runEtl, s.runEtl);
    const checkProgress = new tasks.LambdaInvoke(this, s.checkProgress, {
      lambdaFunction: props.reconcile,
      payloadResponseOnly: true,
      taskTimeout: LAMBDA_TASK_TIMEOUT,
      payload: progressPayload(true),
      resultPath: '$.progress',
    });
    this.catchStage(checkProgress, s.checkProgress);
    const noProgress = new sfn.Pass(this, s.noProgress, {
      parameters: {
        Error: 'NoProgressError',
        Cause: sfn.JsonPath.format(
          'ETL run left {} of {} normalized objects of this batch unprocessed, no fewer than the run before',
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
    runEtl.next(checkProgress);
    checkProgress.next(drained);

    const schemaChanged = new sfn.Choice(this, s.schemaChanged)
      .when(sfn.Condition.booleanEquals('$.drift.changed', true), publishDrift)
      .otherwise(runEtl);
    publishDrift.next(runEtl);
    detectDrift.next(schemaChanged);

    const crawlerFinished = new sfn.Choice(this, s.crawlerFinished)
      .when(
        sfn.Condition.and(
          sfn.Condition.stringEquals('$.crawler.Crawler.State', 'READY'),
          sfn.Condition.isPresent('$.crawler.Crawler.LastCrawl.Status'),
          sfn.Condition.stringEquals('$.crawler.Crawler.LastCrawl.Status', 'SUCCEEDED'),
        ),
        detectDrift,
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

    const hasWork = new sfn.Choice(this, s.hasWork)
      .when(sfn.Condition.numberGreaterThan('$.progress.remainingObjects', 0), startCrawler)
      .otherwise(reconcile);
    planEtl.next(hasWork);
    normalizeFiles.next(planEtl);
    return normalizeFiles;
  }

  /** SNS publish of an alert object ({subject, message, severity, dataset, kind}) at `path`. */
  private publish(id: string, path: string): tasks.SnsPublish {
    return new tasks.SnsPublish(this, id, {
      topic: this.props.topic,
      subject: sfn.JsonPath.stringAt(`${path}.subject`),
      message: sfn.TaskInput.fromJsonPathAt(`${path}.message`),
      messageAttributes: {
        severity: { value: sfn.JsonPath.stringAt(`${path}.severity`) },
        dataset: { value: sfn.JsonPath.stringAt(`${path}.dataset`) },
        kind: { value: sfn.JsonPath.stringAt(`${path}.kind`) },
      },
      resultPath: sfn.JsonPath.DISCARD,
    });
  }

  /** A Pass that records the failed stage, then formats and publishes the failure alert. */
  private stageFailed(stage: string): sfn.Pass {
    let pass = this.stagePasses.get(stage);
    if (!pass) {
      pass = new sfn.Pass(this, `Failed at ${stage}`, {
        result: sfn.Result.fromString(stage),
        resultPath: '$.failedStage',
      });
      pass.next(this.formatFailure);
      this.stagePasses.set(stage, pass);
    }
    return pass;
  }

  private catchStage(state: sfn.TaskStateBase | sfn.Map, stage: string): void {
    state.addCatch(this.stageFailed(stage), { errors: ALL, resultPath: '$.error' });
  }
}
