import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { ResolvedDataset } from './config/types';
import { AlertTopic } from './constructs/alert-topic';
import { ApprovalWorkflow } from './constructs/approval-workflow';
import { AskApi, ATHENA_RESULTS_PREFIX } from './constructs/ask-api';
import { CurateJob } from './constructs/curate-job';
import { DatasetIntake } from './constructs/dataset-intake';
import { DimensionSeeds } from './constructs/dimension-seeds';
import { GlueCatalog } from './constructs/glue-catalog';
import { IngestionStateMachine } from './constructs/ingestion-state-machine';
import { LateCheck } from './constructs/late-check';
import { acknowledgeFindings } from './constructs/nag';
import { NormalizedCrawler } from './constructs/normalized-crawler';
import { PipelineDashboard } from './constructs/pipeline-dashboard';
import { PipelineFunction } from './constructs/pipeline-function';
import { KMS_PUBLISH_ACTIONS, PipelineKey } from './constructs/pipeline-key';
import { SecureBucket } from './constructs/secure-bucket';
import { DATASET_EVENT_TYPES, datasetEventSource } from './contracts/dataset-events';
import { PIPELINE_ENV_VARS } from './contracts/env';
import { controlPrefixes } from './contracts/layout';
import { type PipelineNames, pipelineNames } from './contracts/naming';
import { LATE_SENT_PREFIX, lateOpenPrefix } from './contracts/operations';
import { ALARM_SECTIONS, runbookLink } from './contracts/runbook';
import { STACK_OUTPUTS } from './contracts/stack-outputs';

export interface PipelineStackProps extends StackProps {
  /** Prefix of resource names (Glue database, crawlers, jobs). @default 'ingestion' */
  readonly pipelineName?: string;
  /** Validated datasets (see lib/config). */
  readonly datasets: readonly ResolvedDataset[];
  /** Email addresses subscribed to the alert topic. @default none */
  readonly alertEmails?: readonly string[];
  /** Crawler poll interval of the state machine. @default 30 seconds */
  readonly crawlerPollInterval?: Duration;
  /** Bedrock foundation model id the ask function falls back to (context key askBedrockModel). @default none */
  readonly askBedrockModel?: string;
  /** Per-query data scanned limit of the ask workgroup, in MiB. @default 1024 */
  readonly askBytesScannedCutoffMb?: number;
  /** End-to-end latency SLO in minutes: the p95 latency alarm's threshold (docs/operations.md). @default 15 */
  readonly latencySloMinutes?: number;
  /** The runbook's URL (context key runbookUrl): alerts and alarm descriptions link its sections. @default docs/operations.md (the repository path) */
  readonly runbookUrl?: string;
  /** Minutes between two runs of the late-data check (context key lateCheckMinutes). @default 60 */
  readonly lateCheckMinutes?: number;
}

/** The data buckets of the pipeline, exposed for consumers of the stack. */
export interface PipelineBuckets {
  readonly landing: s3.Bucket;
  readonly normalized: s3.Bucket;
  readonly curated: s3.Bucket;
  readonly quarantine: s3.Bucket;
  readonly control: s3.Bucket;
  readonly accessLogs: s3.Bucket;
}

/**
 * The whole pipeline: zones (S3), intake (EventBridge -> SQS -> Pipe per dataset), the
 * state machine with its Lambda handlers, one crawler and one Glue job per dataset, the
 * alert topic and the alarms.
 */
export class PipelineStack extends Stack {
  public readonly names: PipelineNames;
  public readonly buckets: PipelineBuckets;
  public readonly alerts: AlertTopic;
  public readonly stateMachine: IngestionStateMachine;
  public readonly functions: {
    readonly normalize: PipelineFunction;
    readonly quarantine: PipelineFunction;
    readonly reconcile: PipelineFunction;
    readonly notify: PipelineFunction;
  };
  public readonly crawlers: ReadonlyMap<string, NormalizedCrawler>;
  public readonly jobs: ReadonlyMap<string, CurateJob>;
  public readonly intakes: ReadonlyMap<string, DatasetIntake>;
  /** The approval workflow (none when no dataset has one). */
  public readonly approvals?: ApprovalWorkflow;
  /** The seed files of the dimension datasets, landed on deploy (none when no dataset has one). */
  public readonly seeds?: DimensionSeeds;
  /** Conversational data access on AWS: the ask function, its URL and Athena workgroup (docs/ask.md). */
  public readonly ask: AskApi;
  /** The deployment's dashboard and the alarms on the handlers' metrics (docs/operations.md). */
  public readonly dashboard: PipelineDashboard;
  /** The runbook's URL, when the deployment sets one (alerts and alarms link its sections). */
  public readonly runbookUrl?: string;
  /** The scheduled late-data check (none when no dataset declares expected arrivals). */
  public readonly lateCheck?: LateCheck;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    this.names = pipelineNames(props.pipelineName ?? 'ingestion');
    const { datasets } = props;

    // Zones. Construct IDs are stable: renaming one would replace a data bucket on deploy.
    const accessLogs = new SecureBucket(this, 'AccessLogs', {
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(365) }],
    }).bucket;
    const landing = new SecureBucket(this, 'Landing', {
      versioned: true,
      eventBridgeEnabled: true,
      accessLogs,
      lifecycleRules: [
        {
          id: 'noncurrent-versions-to-glacier-ir',
          noncurrentVersionTransitions: [
            { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(90) },
          ],
        },
      ],
    }).bucket;
    const normalized = new SecureBucket(this, 'Normalized', { accessLogs }).bucket;
    const curated = new SecureBucket(this, 'Curated', { accessLogs }).bucket;
    const quarantine = new SecureBucket(this, 'Quarantine', {
      accessLogs,
      lifecycleRules: [
        {
          id: 'quarantine-to-infrequent-access',
          transitions: [
            { storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(30) },
          ],
        },
      ],
    }).bucket;
    const control = new SecureBucket(this, 'Control', {
      accessLogs,
      lifecycleRules: [
        { id: 'expire-glue-temp', prefix: controlPrefixes.glueTemp, expiration: Duration.days(7) },
        { id: 'expire-spark-ui-logs', prefix: controlPrefixes.sparkUi, expiration: Duration.days(30) },
      ],
    }).bucket;
    this.buckets = { landing, normalized, curated, quarantine, control, accessLogs };

    const key = new PipelineKey(this, 'Key').key;
    this.alerts = new AlertTopic(this, 'Alerts', { masterKey: key, emails: props.alertEmails });

    // Handlers.
    const environment = {
      [PIPELINE_ENV_VARS.pipelineName]: this.names.pipeline,
      [PIPELINE_ENV_VARS.landingBucket]: landing.bucketName,
      [PIPELINE_ENV_VARS.normalizedBucket]: normalized.bucketName,
      [PIPELINE_ENV_VARS.curatedBucket]: curated.bucketName,
      [PIPELINE_ENV_VARS.quarantineBucket]: quarantine.bucketName,
      [PIPELINE_ENV_VARS.controlBucket]: control.bucketName,
      [PIPELINE_ENV_VARS.glueDatabase]: this.names.database,
      [PIPELINE_ENV_VARS.alertTopicArn]: this.alerts.topic.topicArn,
      ...(props.runbookUrl ? { [PIPELINE_ENV_VARS.runbookUrl]: props.runbookUrl } : {}),
    };
    this.runbookUrl = props.runbookUrl;
    const normalize = new PipelineFunction(this, 'NormalizeHandler', {
      handlerName: 'normalize',
      description: 'Normalizes one landing file into the normalized zone, with a manifest of control totals',
      environment,
      memorySize: 1769,
      timeout: Duration.minutes(15),
    });
    const quarantineFn = new PipelineFunction(this, 'QuarantineHandler', {
      handlerName: 'quarantine',
      description: 'Copies a file that could not be normalized to quarantine, with a reason document',
      environment,
      memorySize: 512,
      timeout: Duration.minutes(5),
    });
    const reconcile = new PipelineFunction(this, 'ReconcileHandler', {
      handlerName: 'reconcile',
      description: 'Batch progress for the ETL drain loop, reconciliation of control totals, schema drift',
      environment,
      timeout: Duration.minutes(5),
    });
    const notify = new PipelineFunction(this, 'NotifyHandler', {
      handlerName: 'notify',
      description:
        'Formats and publishes failure, quarantine and unknown-template alerts; the backstop for executions that ended without one',
      environment,
      memorySize: 256,
      timeout: Duration.seconds(30),
    });
    this.functions = { normalize, quarantine: quarantineFn, reconcile, notify };
    if (datasets.some((d) => d.approval)) {
      this.approvals = new ApprovalWorkflow(this, 'Approvals', {
        environment,
        controlBucket: control,
        topic: this.alerts.topic,
        key,
      });
      // Reconciliation checks that every curated request has its status.
      reconcile.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['dynamodb:GetItem'],
          resources: [this.approvals.table.tableArn],
        }),
      );
      reconcile.function.addEnvironment(PIPELINE_ENV_VARS.requestsTable, this.approvals.table.tableName);
    }
    this.grantHandlers(datasets);
    this.grantAlerts(key, datasets);
    // Expected arrivals (issue 15, docs/operations.md): the scheduled late-data check.
    if (datasets.some((d) => (d.expectedArrivals ?? []).length > 0)) {
      this.lateCheck = new LateCheck(this, 'LateCheck', {
        environment,
        controlBucket: control,
        topic: this.alerts.topic,
        topicKey: key,
        interval: Duration.minutes(props.lateCheckMinutes ?? 60),
      });
      // The claims that keep an alert from going out twice outlive any finding by far.
      control.addLifecycleRule({
        id: 'expire-late-alert-claims',
        prefix: LATE_SENT_PREFIX,
        expiration: Duration.days(90),
      });
      // A cross-template rule waiting for a late template says so (lambdas/reconcile/late-pending.ts).
      reconcile.grantObjects(
        control,
        ['s3:GetObject'],
        datasets.map((d) => lateOpenPrefix(d.name)),
      );
    }

    // Catalog, crawlers, jobs.
    const catalog = new GlueCatalog(this, 'Catalog', { databaseName: this.names.database, key, datasets });
    const crawlers = new Map<string, NormalizedCrawler>();
    const jobs = new Map<string, CurateJob>();
    for (const dataset of datasets) {
      crawlers.set(
        dataset.name,
        new NormalizedCrawler(this, `Crawler-${dataset.name}`, {
          dataset: dataset.name,
          crawlerName: this.names.crawler(dataset.name),
          catalog,
          normalizedBucket: normalized,
          key,
        }),
      );
      jobs.set(
        dataset.name,
        new CurateJob(this, `Job-${dataset.name}`, {
          dataset,
          names: this.names,
          catalog,
          normalizedBucket: normalized,
          curatedBucket: curated,
          quarantineBucket: quarantine,
          controlBucket: control,
          key,
        }),
      );
    }
    this.crawlers = crawlers;
    this.jobs = jobs;

    this.stateMachine = new IngestionStateMachine(this, 'Workflow', {
      datasets: datasets.map((dataset) => ({
        dataset,
        crawlerName: this.names.crawler(dataset.name),
        jobName: this.names.job(dataset.name),
      })),
      normalize: normalize.function,
      quarantine: quarantineFn.function,
      reconcile: reconcile.function,
      notify: notify.function,
      ...(this.approvals ? { approvals: this.approvals.approvals.function } : {}),
      topic: this.alerts.topic,
      topicKey: key,
      crawlerPollInterval: props.crawlerPollInterval,
    });

    const intakes = new Map<string, DatasetIntake>();
    for (const dataset of datasets) {
      intakes.set(
        dataset.name,
        new DatasetIntake(this, `Intake-${dataset.name}`, {
          dataset,
          landingBucket: landing,
          stateMachine: this.stateMachine.stateMachine,
        }),
      );
    }
    this.intakes = intakes;

    // Dimension datasets start from their shipped seed file, landed on deploy like a dropped file.
    const seeded = datasets.filter((d) => d.seedFile !== undefined);
    if (seeded.length > 0) {
      this.seeds = new DimensionSeeds(this, 'DimensionSeeds', { datasets: seeded, landingBucket: landing });
      // Landed only once its event reaches the dataset's intake (the bucket's EventBridge
      // setting, the rule, queue and Pipe) and the workflow, crawler and job can process it.
      this.seeds.node.addDependency(
        landing,
        this.stateMachine,
        ...seeded.flatMap((d) => [intakes.get(d.name)!, crawlers.get(d.name)!, jobs.get(d.name)!]),
      );
    }
    // Conversational data access (issue 14, docs/ask.md "On AWS"): questions over the curated
    // tables through Athena, results kept 30 days under the control bucket's athena-results/.
    control.addLifecycleRule({
      id: 'expire-athena-results',
      prefix: ATHENA_RESULTS_PREFIX,
      expiration: Duration.days(30),
    });
    this.ask = new AskApi(this, 'Ask', {
      environment,
      workGroupName: `${this.names.pipeline}-ask`,
      databaseName: this.names.database,
      tables: datasets.map((d) => this.names.curatedTable(d.name)),
      curatedBucket: curated,
      controlBucket: control,
      normalizedBucket: normalized,
      quarantineBucket: quarantine,
      key,
      bytesScannedCutoffMb: props.askBytesScannedCutoffMb,
      bedrockModelId: props.askBedrockModel,
    });

    const alarms = this.addAlarms();
    // Metrics and dashboard (issue 15, docs/operations.md): the resources' and the handlers'
    // metrics on one dashboard; latency and reconciliation alarms routed to the alert topic.
    this.dashboard = new PipelineDashboard(this, 'Dashboard', {
      pipelineName: this.names.pipeline,
      stateMachine: this.stateMachine.stateMachine,
      functions: {
        ...Object.fromEntries(Object.entries(this.functions).map(([name, fn]) => [name, fn.function])),
        ...(this.lateCheck ? { late: this.lateCheck.handler.function } : {}),
      },
      datasets: datasets.map((d) => ({
        name: d.name,
        intakeQueue: intakes.get(d.name)!.queue,
        intakeDeadLetterQueue: intakes.get(d.name)!.deadLetterQueue,
        crawlerName: this.names.crawler(d.name),
        crawlerEventQueue: crawlers.get(d.name)!.eventQueue,
        crawlerEventDeadLetterQueue: crawlers.get(d.name)!.eventDeadLetterQueue,
        jobName: this.names.job(d.name),
        expectsArrivals: (d.expectedArrivals ?? []).length > 0,
      })),
      lateCheckInterval: this.lateCheck?.interval,
      lateCheckDeadLetterQueue: this.lateCheck?.deadLetterQueue,
      backstopDeadLetterQueue: this.stateMachine.backstopDeadLetterQueue,
      alertTopic: this.alerts.topic,
      latencySlo: Duration.minutes(props.latencySloMinutes ?? 15),
      existingAlarms: alarms,
      runbookUrl: this.runbookUrl,
    });
    this.addOutputs(datasets);

    // CDK's singleton handler that puts the normalized bucket's notification configuration.
    for (const child of this.node.children) {
      if (child.node.id.startsWith('BucketNotificationsHandler')) {
        acknowledgeFindings(
          child,
          "CDK's bucket-notifications custom resource (it breaks the bucket/queue-policy dependency cycle) uses the AWS managed basic execution role for its own logs.",
          'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        );
      }
    }
  }

  /** Each handler gets exactly the S3 prefixes and catalog entries it touches. */
  private grantHandlers(datasets: readonly ResolvedDataset[]): void {
    const { landing, normalized, quarantine, control } = this.buckets;
    const { normalize, quarantine: quarantineFn, reconcile } = this.functions;
    const landingPrefixes = datasets.map((d) => d.landingPrefix);
    // ListBucket turns a missing key into 404 instead of 403, so "not found" can be told apart.
    const list = (bucket: s3.IBucket) =>
      new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] });

    normalize.grantObjects(landing, ['s3:GetObject', 's3:GetObjectVersion'], landingPrefixes);
    normalize.addToRolePolicy(list(landing));
    normalize.grantObjects(
      normalized,
      ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
      datasets.map((d) => `${d.name}/`),
    );
    normalize.grantObjects(
      quarantine,
      ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
      ['rows/'],
    );
    normalize.grantObjects(
      control,
      ['s3:GetObject', 's3:PutObject'],
      [controlPrefixes.manifests, controlPrefixes.contentIndex],
    );
    // A file is a duplicate only of content that reached curated: the ETL's processed markers say so.
    normalize.grantObjects(control, ['s3:GetObject'], [controlPrefixes.etlProcessed]);
    normalize.addToRolePolicy(list(control));

    quarantineFn.grantObjects(landing, ['s3:GetObject', 's3:GetObjectVersion'], landingPrefixes);
    quarantineFn.addToRolePolicy(list(landing));
    // A copy over 5 GB is a multipart upload, aborted if a part fails.
    quarantineFn.grantObjects(quarantine, ['s3:PutObject', 's3:AbortMultipartUpload'], ['files/']);

    reconcile.grantObjects(control, ['s3:GetObject'], [controlPrefixes.manifests, 'etl/']);
    reconcile.grantObjects(
      control,
      ['s3:GetObject', 's3:PutObject'],
      [controlPrefixes.reconciliation, controlPrefixes.schemaState],
    );
    // The volume check (docs/operations.md): reads and writes the volume history, writes the
    // arrival records the late-data check reads (it lists the history with the ListBucket of list(control)).
    reconcile.grantObjects(control, ['s3:GetObject', 's3:PutObject'], [controlPrefixes.volumeHistory]);
    reconcile.grantObjects(control, ['s3:PutObject'], [controlPrefixes.arrivals]);
    reconcile.addToRolePolicy(list(control));
    // The DatasetUpdated/DatasetHeld events (docs/events.md): PutEvents on the default bus only, and
    // only this deployment's source and the two detail types. `events:source` and
    // `events:detail-type` are PutEvents condition keys, multivalued (one value per entry), hence
    // ForAllValues, as in EventBridge's own example policy
    // (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-conditions.html,
    // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-bus-example-policy-cross-account-custom-bus-source.html).
    reconcile.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['events:PutEvents'],
        resources: [this.formatArn({ service: 'events', resource: 'event-bus', resourceName: 'default' })],
        conditions: {
          'ForAllValues:StringEquals': {
            'events:source': [datasetEventSource(this.names.pipeline)],
            'events:detail-type': [...DATASET_EVENT_TYPES],
          },
        },
      }),
    );
    reconcile.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['glue:GetTable', 'glue:GetTableVersions'],
        resources: [
          this.formatArn({ service: 'glue', resource: 'catalog' }),
          this.formatArn({ service: 'glue', resource: 'database', resourceName: this.names.database }),
          ...datasets.flatMap((d) =>
            [this.names.normalizedTable(d.name), this.names.curatedTable(d.name)].map((table) =>
              this.formatArn({
                service: 'glue',
                resource: 'table',
                resourceName: `${this.names.database}/${table}`,
              }),
            ),
          ),
        ],
      }),
    );
  }

  /** Where operators and `npm run smoke` find the pipeline (docs/deploy.md). */
  private addOutputs(datasets: readonly ResolvedDataset[]): void {
    const { landing, control, curated, quarantine } = this.buckets;
    const outputs: Record<keyof typeof STACK_OUTPUTS, [string, string]> = {
      landingBucket: [landing.bucketName, 'Landing bucket: drop files under a dataset landing prefix'],
      controlBucket: [control.bucketName, 'Control bucket: manifests, run reports, reconciliation results'],
      curatedBucket: [curated.bucketName, 'Curated bucket (tables in the Glue database)'],
      quarantineBucket: [quarantine.bucketName, 'Quarantine bucket: rejected files and rows with reasons'],
      stateMachineArn: [this.stateMachine.stateMachine.stateMachineArn, 'Ingestion state machine'],
      glueDatabase: [this.names.database, 'Glue database of the normalized and curated tables'],
      alertTopicArn: [this.alerts.topic.topicArn, 'Alert topic (SNS)'],
      datasetLandingPrefixes: [
        JSON.stringify(Object.fromEntries(datasets.map((d) => [d.name, d.landingPrefix]))),
        'Landing prefix of each dataset (JSON)',
      ],
    };
    for (const [name, [value, description]] of Object.entries(outputs)) {
      new CfnOutput(this, STACK_OUTPUTS[name as keyof typeof STACK_OUTPUTS], { value, description });
    }
    if (this.approvals) {
      new CfnOutput(this, 'RequestsTable', {
        value: this.approvals.table.tableName,
        description:
          'Approval workflow table: current status (index byStatus) and status history of each request',
      });
      new CfnOutput(this, 'ApprovalsFunction', {
        value: this.approvals.approvals.function.functionName,
        description: 'Approvals Lambda: invoke {action: "decide", ...} to approve or reject (IAM-authorized)',
      });
      new CfnOutput(this, 'ApprovalLinkUrl', {
        value: this.approvals.linkUrl.url,
        description: 'Decision links of approver notifications point here (the token is the authorization)',
      });
    }
  }

  /**
   * The notify and reconcile Lambdas publish their alerts themselves (the alert text stays out
   * of the execution state): sns:Publish on the topic and the key actions an encrypted topic
   * needs. Notify also reads the reasons the compact state leaves out (quarantine reason
   * documents, manifests) and keeps the per-execution failure-alert markers.
   */
  private grantAlerts(key: kms.IKey, datasets: readonly ResolvedDataset[]): void {
    const { control, quarantine } = this.buckets;
    const { notify, reconcile } = this.functions;
    for (const fn of [notify, reconcile]) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [this.alerts.topic.topicArn] }),
      );
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: KMS_PUBLISH_ACTIONS, resources: [key.keyArn] }));
    }
    notify.grantObjects(quarantine, ['s3:GetObject'], ['files/']);
    notify.grantObjects(control, ['s3:GetObject'], [controlPrefixes.manifests]);
    notify.grantObjects(control, ['s3:GetObject', 's3:PutObject'], ['alerts/']);
    for (const bucket of [control, quarantine]) {
      notify.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }),
      );
    }
    // Registering the batch's partitions a crawl missed (normalized tables only).
    reconcile.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['glue:BatchGetPartition', 'glue:BatchCreatePartition'],
        resources: [
          this.formatArn({ service: 'glue', resource: 'catalog' }),
          this.formatArn({ service: 'glue', resource: 'database', resourceName: this.names.database }),
          ...datasets.map((d) =>
            this.formatArn({
              service: 'glue',
              resource: 'table',
              resourceName: `${this.names.database}/${this.names.normalizedTable(d.name)}`,
            }),
          ),
        ],
      }),
    );
  }

  /** The stack's alarms on failures and dead-letter queues, routed to the alert topic; returns them. */
  private addAlarms(): cloudwatch.Alarm[] {
    const sm = this.stateMachine.stateMachine;
    const alarms: cloudwatch.Alarm[] = [];
    const alarm = (id: string, metric: cloudwatch.IMetric, description: string, section: string) => {
      const created = new cloudwatch.Alarm(this, id, {
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `${description}. Runbook: ${runbookLink(section, this.runbookUrl)}`,
      });
      this.alerts.route(created);
      alarms.push(created);
      return created;
    };
    alarm(
      'ExecutionsFailedAlarm',
      sm.metricFailed({ period: Duration.minutes(5) }),
      'An ingestion execution failed',
      ALARM_SECTIONS.executions,
    );
    alarm(
      'ExecutionsTimedOutAlarm',
      sm.metricTimedOut({ period: Duration.minutes(5) }),
      'An ingestion execution timed out',
      ALARM_SECTIONS.executions,
    );
    const dlqAlarm = (id: string, queue: sqs.IQueue, what: string) =>
      alarm(
        id,
        queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
        `Messages in the dead-letter queue of ${what}: events that could not be delivered`,
        ALARM_SECTIONS.deadLetterQueue,
      );
    for (const [name, intake] of this.intakes)
      dlqAlarm(`IntakeDlqAlarm-${name}`, intake.deadLetterQueue, `the ${name} intake`);
    dlqAlarm(
      'BackstopDlqAlarm',
      this.stateMachine.backstopDeadLetterQueue,
      'the execution backstop (failure alerts that could not be sent)',
    );
    if (this.lateCheck) {
      dlqAlarm(
        'LateCheckDlqAlarm',
        this.lateCheck.deadLetterQueue,
        'the late-data check schedule (checks that could not run)',
      );
    }
    for (const [name, crawler] of this.crawlers) {
      dlqAlarm(
        `CrawlerEventsDlqAlarm-${name}`,
        crawler.eventDeadLetterQueue,
        `the ${name} crawler's S3 events`,
      );
    }
    return alarms;
  }
}
