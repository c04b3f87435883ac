import { Duration, RemovalPolicy } from 'aws-cdk-lib';
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
import { Construct } from 'constructs';
import type { ResolvedDataset } from '../config/types';
import { BACKSTOP_STATUSES, EXECUTION_STATUS_CHANGE } from '../contracts/alerts';
import { acknowledgeFindings, functionVersionsFinding, WILDCARD_RESOURCE_FINDING } from './nag';
import { KMS_PUBLISH_ACTIONS } from './pipeline-key';
import { secureQueue } from './secure-queue';
import { AlertTail } from './workflow/alert-tail';
import { DatasetBranch } from './workflow/dataset-branch';
import { FailureAlert } from './workflow/failure-alert';
import { ReceiveBatch } from './workflow/receive-batch';

// State names and payload paths are the workflow's contract (lib/contracts/workflow.ts); the
// limits are the fragments'. Re-exported here for the code that reads them with the construct.
export { NOTICE_PATHS, STATE } from '../contracts/workflow';
export { MAX_CRAWLS } from './workflow/crawl-and-wait';
export { ETL_SLOT_WAIT_SECONDS, RUN_ETL_GRACE_MINUTES } from './workflow/etl-drain-loop';
export { LAMBDA_SERVICE_ERRORS, LAMBDA_THROTTLED, LAMBDA_UNHANDLED } from './workflow/lambda-task';
export { FILE_ERROR_NAMES } from './workflow/normalize-files';

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
  /** The approvals Lambda, when a dataset has an approval workflow. @default none */
  readonly approvals?: lambda.IFunction;
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
 *   -> notices not published? (SUCCEEDED, recorded in the output; the backstop alerts) -> Done.
 *
 * The definition is composed of StateMachineFragments (lib/constructs/workflow/) chained in
 * the order they run: ReceiveBatch -> per dataset a DatasetBranch (NormalizeFiles ->
 * CrawlAndWait -> EtlDrainLoop) -> AlertTail; every stage's Catch leads to FailureAlert. State
 * names and the paths the states read come from lib/contracts/workflow.ts.
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

  constructor(scope: Construct, id: string, props: IngestionStateMachineProps) {
    super(scope, id);
    const definition = this.buildDefinition(props);
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
      ...[
        props.normalize,
        props.quarantine,
        props.reconcile,
        props.notify,
        ...(props.approvals ? [props.approvals] : []),
      ].map(functionVersionsFinding),
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

  /** The fragments in the order they run; every stage's Catch leads to the failure alert. */
  private buildDefinition(props: IngestionStateMachineProps): sfn.IChainable {
    const failure = new FailureAlert(this, 'FailureAlert', { notify: props.notify, topic: props.topic });
    const batch = new ReceiveBatch(this, 'ReceiveBatch', { failure });
    for (const workflow of props.datasets) {
      batch.addDataset(
        workflow.dataset.name,
        new DatasetBranch(this, `Branch-${workflow.dataset.name}`, {
          dataset: workflow.dataset,
          crawlerName: workflow.crawlerName,
          jobName: workflow.jobName,
          normalize: props.normalize,
          quarantine: props.quarantine,
          reconcile: props.reconcile,
          ...(props.approvals ? { approvals: props.approvals } : {}),
          crawlerPollInterval: props.crawlerPollInterval ?? Duration.seconds(30),
          maxCrawlerPolls: props.maxCrawlerPolls ?? 60,
          failure,
        }),
      );
    }
    return batch.next(
      new AlertTail(this, 'AlertTail', { reconcile: props.reconcile, notify: props.notify, failure }),
    );
  }
}
