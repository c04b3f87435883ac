import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDatasets } from '../../lib/config';
import { securityConfigurationName } from '../../lib/constructs/glue-catalog';
import { STATE } from '../../lib/constructs/ingestion-state-machine';
import { CRAWLER_CONFIGURATION } from '../../lib/constructs/normalized-crawler';
import { pipeInputTemplate } from '../../lib/contracts/pipe';
import type { EtlJobConfig } from '../../lib/glue/job-config';
import { placeholderResolver, resolveIntrinsics } from '../../local/cfn';
import {
  expectDatasetResources,
  queueRoles,
  referencedId,
  stateMachineDefinition,
} from '../helpers/dataset-resources';
import { type Synthesized, synthesize } from '../helpers/synth';

/** The shipped datasets (DATASET_DEFINITIONS, validated): every per-dataset expectation derives from them. */
const datasets = loadDatasets();
let synth: Synthesized;
let resources: [string, { Type: string; Properties?: Record<string, unknown>; DeletionPolicy?: string }][];

beforeAll(() => {
  synth = synthesize({ alertEmails: 'finops@example.com,hr-data@example.com' });
  resources = Object.entries(synth.json.Resources) as typeof resources;
});

const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);
/** The logical id of a zone's bucket (`Quarantine` -> `QuarantineBucket…`). */
const bucketId = (zone: string) =>
  ofType('AWS::S3::Bucket').find(([id]) => id.startsWith(`${zone}Bucket`))![0];

describe('buckets', () => {
  it('creates landing, normalized, curated, quarantine, control and access-log buckets, all retained', () => {
    const buckets = ofType('AWS::S3::Bucket');
    expect(buckets.map(([id]) => id.replace(/Bucket[0-9A-F]{8}$/, '')).sort()).toEqual(
      ['AccessLogs', 'Control', 'Curated', 'Landing', 'Normalized', 'Quarantine'].sort(),
    );
    for (const [, bucket] of buckets) expect(bucket.DeletionPolicy).toBe('Retain');
  });

  it('blocks public access and encrypts every bucket at rest', () => {
    synth.template.allResourcesProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
    });
  });

  it('denies every non-TLS request on every bucket', () => {
    const policies = ofType('AWS::S3::BucketPolicy');
    expect(policies).toHaveLength(6);
    for (const [, policy] of policies) {
      const statements = (policy.Properties!.PolicyDocument as { Statement: Record<string, unknown>[] })
        .Statement;
      expect(statements).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    }
  });

  it('versions the landing bucket and sends its events to EventBridge', () => {
    const [landingId] = ofType('AWS::S3::Bucket').find(([id]) => id.startsWith('LandingBucket'))!;
    expect(synth.json.Resources[landingId]!.Properties).toMatchObject({
      VersioningConfiguration: { Status: 'Enabled' },
    });
    // CDK puts the bucket's notification configuration through its notifications resource.
    synth.template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: { Ref: landingId },
      NotificationConfiguration: { EventBridgeConfiguration: {} },
    });
  });

  it('sends the normalized zone object events of each dataset prefix to its crawler queue', () => {
    const [normalizedId] = ofType('AWS::S3::Bucket').find(([id]) => id.startsWith('NormalizedBucket'))!;
    const [, notifications] = ofType('Custom::S3BucketNotifications').find(
      ([, r]) => (r.Properties!.BucketName as { Ref: string }).Ref === normalizedId,
    )!;
    const configurations = (
      notifications.Properties!.NotificationConfiguration as {
        QueueConfigurations: { Events: string[]; Filter: { Key: { FilterRules: { Value: string }[] } } }[];
      }
    ).QueueConfigurations;
    expect(configurations.map((c) => `${c.Events[0]} ${c.Filter.Key.FilterRules[0]!.Value}`).sort()).toEqual(
      datasets.flatMap((d) => [`s3:ObjectCreated:* ${d.name}/`, `s3:ObjectRemoved:* ${d.name}/`]).sort(),
    );
  });
});

describe('intake per dataset', () => {
  it.each(datasets.map((d) => [d.name, d] as const))(
    '%s: rule on Object Created under its prefix -> buffer queue',
    (_name, dataset) => {
      synth.template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.s3'],
          'detail-type': ['Object Created'],
          detail: { object: { key: [{ prefix: dataset.landingPrefix }] } },
        },
        Targets: [Match.objectLike({ DeadLetterConfig: Match.anyValue() })],
      });
    },
  );

  it.each(datasets.map((d) => [d.name, d] as const))(
    '%s: pipe batches the queue into the state machine',
    (_name, dataset) => {
      synth.template.hasResourceProperties('AWS::Pipes::Pipe', {
        SourceParameters: {
          SqsQueueParameters: {
            BatchSize: dataset.batching.batchSize,
            MaximumBatchingWindowInSeconds: dataset.batching.windowSeconds,
          },
        },
        TargetParameters: {
          InputTemplate: pipeInputTemplate(dataset.name),
          StepFunctionStateMachineParameters: { InvocationType: 'FIRE_AND_FORGET' },
        },
      });
    },
  );

  it('gives every queue a dead-letter queue or makes it one, encrypted', () => {
    const queues = ofType('AWS::SQS::Queue');
    for (const [, queue] of queues) expect(queue.Properties?.SqsManagedSseEnabled).toBe(true);
    const { withDlq, deadLetter } = queueRoles(synth.json);
    expect([...withDlq, ...deadLetter].sort()).toEqual(queues.map(([id]) => id).sort());
    // Per dataset: the intake's buffer queue and the crawler's event queue, each with its own DLQ;
    // the execution backstop's DLQ and the late-data check schedule's.
    expect(withDlq).toHaveLength(2 * datasets.length);
    expect(deadLetter).toHaveLength(2 * datasets.length + 2);
  });
});

describe('per dataset', () => {
  it.each(datasets.map((d) => [d.name, d] as const))(
    '%s: rule, buffer queue and DLQ, Pipe, crawler with its event queues, job, state machine branch and DLQ alarms, wired together',
    (_name, dataset) => {
      expectDatasetResources(synth.json, dataset);
    },
  );

  it('routes every dataset, and only those, from SelectDataset to its branch', () => {
    const choices = stateMachineDefinition(synth.json).States[STATE.selectDataset]!.Choices as {
      StringEquals: string;
    }[];
    expect(choices.map((c) => c.StringEquals).sort()).toEqual(datasets.map((d) => d.name).sort());
  });
});

describe('Glue', () => {
  it.each(datasets.map((d) => [d.name] as const))(
    '%s: crawler merges new columns, partitions inherit, event mode',
    (name) => {
      synth.template.hasResourceProperties('AWS::Glue::Crawler', {
        Name: `ingestion-${name}-normalized`,
        DatabaseName: 'ingestion',
        TablePrefix: 'normalized_',
        SchemaChangePolicy: { UpdateBehavior: 'UPDATE_IN_DATABASE', DeleteBehavior: 'LOG' },
        RecrawlPolicy: { RecrawlBehavior: 'CRAWL_EVENT_MODE' },
        Configuration: JSON.stringify(CRAWLER_CONFIGURATION),
        Targets: {
          S3Targets: [
            Match.objectLike({ EventQueueArn: Match.anyValue(), DlqEventQueueArn: Match.anyValue() }),
          ],
        },
        CrawlerSecurityConfiguration: Match.anyValue(),
      });
      expect(CRAWLER_CONFIGURATION.CrawlerOutput).toEqual({
        Partitions: { AddOrUpdateBehavior: 'InheritFromTable' },
        Tables: { AddOrUpdateBehavior: 'MergeNewColumns' },
      });
    },
  );

  it.each(datasets.map((d) => [d.name] as const))(
    '%s: Glue 5.1 job with Iceberg, G.1X, bookmarks off (input selected by markers), one run at a time, cap 450',
    (name) => {
      synth.template.hasResourceProperties('AWS::Glue::Job', {
        Name: `ingestion-${name}-curate`,
        GlueVersion: '5.1',
        WorkerType: 'G.1X',
        ExecutionProperty: { MaxConcurrentRuns: 1 },
        Command: { Name: 'glueetl', PythonVersion: '3', ScriptLocation: Match.anyValue() },
        SecurityConfiguration: Match.anyValue(),
        DefaultArguments: Match.objectLike({
          '--job-bookmark-option': 'job-bookmark-disable',
          '--enable-metrics': 'true',
          '--enable-continuous-cloudwatch-log': 'true',
          '--bounded_files': '450',
          '--extra-py-files': Match.anyValue(),
          '--datalake-formats': 'iceberg',
          '--conf': 'spark.sql.extensions=org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions',
        }),
      });
    },
  );

  it('creates no curated table: each job creates its Iceberg table in the Glue database on its first run', () => {
    synth.template.resourceCountIs('AWS::Glue::Table', 0);
  });

  it('passes each job its dataset configuration as --dataset_config', () => {
    const jobs = ofType('AWS::Glue::Job');
    const configs = jobs.map(([, job]) => {
      const args = job.Properties!.DefaultArguments as Record<string, unknown>;
      return JSON.parse(
        resolveIntrinsics(args['--dataset_config'], placeholderResolver()) as string,
      ) as EtlJobConfig;
    });
    const billing = configs.find((c) => c.dataset === 'cloud_billing')!;
    expect(billing).toMatchObject({
      database: 'ingestion',
      sourceTable: 'normalized_cloud_billing',
      curatedTable: 'cloud_billing',
      curatedBucket: 'CuratedBucket90F6C1E7',
      partitionColumn: 'billing_period',
      keys: ['id', 'charge_period_start'],
    });
    expect(billing.measures).toContainEqual({ name: 'billed_cost', precision: 38, scale: 18 });
    // The account hierarchy is the curated table of its dimension dataset, not a file.
    expect(billing.dimensions).toEqual([
      {
        name: 'account_hierarchy',
        table: 'account_hierarchy',
        joinKeys: { sub_account_id: 'sub_account_id' },
        columns: ['org_unit', 'cost_center', 'owner_email'],
      },
    ]);
    expect(billing).toMatchObject({
      restatement: { replacementScope: [], conflictPolicy: 'latest', keyScope: 'partition' },
      quarantineBucket: bucketId('Quarantine'),
      quarantinePrefixes: { conflicts: 'rows/cloud_billing/conflicts/' },
      controlPrefixes: {
        runs: 'etl/runs/cloud_billing/',
        processed: 'etl/processed/',
        aggregates: 'etl/aggregates/cloud_billing/',
        files: 'etl/files/cloud_billing/',
      },
    });
    expect(Object.keys(billing.controlPrefixes)).not.toContain('swaps');
    expect(Object.keys(billing)).not.toContain('supersededRetentionDays');
    expect(billing.lineageColumns).toEqual(expect.arrayContaining(['ingest_landed_at', 'ingest_sequencer']));
    expect(billing.iceberg).toEqual({
      catalog: 'glue_catalog',
      location: 's3://CuratedBucket90F6C1E7/cloud_billing',
      // Month of the billing period's start: a hidden partition readers prune by that column.
      partitionSpec: [{ transform: 'month', column: 'billing_period_start' }],
      tableProperties: {
        'format-version': '2',
        'write.format.default': 'parquet',
        'write.parquet.compression-codec': 'snappy',
        'write.delete.mode': 'merge-on-read',
        'write.update.mode': 'merge-on-read',
        'write.merge.mode': 'merge-on-read',
        'write.distribution-mode': 'hash',
        'write.metadata.delete-after-commit.enabled': 'true',
        'write.metadata.previous-versions-max': '100',
        'write.target-file-size-bytes': String(128 * 1024 * 1024),
      },
      snapshotRetentionDays: 7,
      retainLastSnapshots: 10,
      compactionMinInputFiles: 10,
      targetFileSizeBytes: 134_217_728,
    });
    const workforce = configs.find((c) => c.dataset === 'workforce_capacity')!;
    expect(workforce.restatement).toEqual({
      replacementScope: ['ingest_template', 'org_unit', 'quarter'],
      conflictPolicy: 'reject',
      keyScope: 'partition',
    });
    // Quarters (`2025-Q1`) have no Iceberg transform: the partition column as it is.
    expect(workforce.iceberg.partitionSpec).toEqual([{ transform: 'identity', column: 'quarter' }]);
    expect(workforce.iceberg.location).toBe('s3://CuratedBucket90F6C1E7/workforce_capacity');
    expect(workforce.crossTemplateRules).toEqual([
      {
        name: 'headcount_matches_roster',
        measure: 'headcount',
        groupBy: ['org_unit', 'quarter'],
        templates: ['capacity_plan', 'org_roster'],
      },
    ]);
  });

  it('encrypts Glue logs and job bookmarks with the pipeline key', () => {
    synth.template.hasResourceProperties('AWS::Glue::SecurityConfiguration', {
      EncryptionConfiguration: {
        CloudWatchEncryption: { CloudWatchEncryptionMode: 'SSE-KMS' },
        JobBookmarksEncryption: { JobBookmarksEncryptionMode: 'CSE-KMS' },
        S3Encryptions: [{ S3EncryptionMode: 'SSE-S3' }],
      },
    });
  });
});

describe('handlers', () => {
  it('runs every function on Node.js 22, arm64, with tracing, source maps and the pipeline environment', () => {
    // (Not CDK's own handlers: bucket notifications, and the seed deployment.)
    const functions = ofType('AWS::Lambda::Function').filter(
      ([id]) => !id.startsWith('BucketNotificationsHandler') && !id.startsWith('CustomCDKBucketDeployment'),
    );
    expect(
      functions
        .map(
          ([, f]) =>
            (f.Properties!.Environment as { Variables: Record<string, string> }).Variables.PIPELINE_HANDLER,
        )
        .sort(),
    ).toEqual([
      'approval-link',
      'approvals',
      'ask',
      'late',
      'normalize',
      'notify',
      'quarantine',
      'reconcile',
    ]);
    for (const [, fn] of functions) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: expect.objectContaining({ LogGroup: expect.anything() }),
        Environment: {
          Variables: expect.objectContaining({
            NODE_OPTIONS: '--enable-source-maps',
            POWERTOOLS_SERVICE_NAME: expect.any(String),
            LANDING_BUCKET: expect.anything(),
            CONTROL_BUCKET: expect.anything(),
            GLUE_DATABASE: 'ingestion',
          }),
        },
      });
    }
  });

  it('keeps each handler log group with a retention', () => {
    synth.template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 30 }, 8);
  });
});

describe('alerting', () => {
  it('encrypts the alert topic and subscribes the emails from context', () => {
    synth.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    synth.template.resourceCountIs('AWS::SNS::Subscription', 2);
    synth.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'finops@example.com',
    });
  });

  it('alarms on failed and timed-out executions and on every dead-letter queue, to the topic', () => {
    // The stack's own alarms, on one metric each; the dashboard's alarms on the handlers' metrics
    // (a metric stat each) are test/stack/dashboard.test.ts's.
    const alarms = ofType('AWS::CloudWatch::Alarm').filter(([, a]) => a.Properties!.MetricName !== undefined);
    const { deadLetter } = queueRoles(synth.json);
    // Two dead-letter queues per dataset (intake, crawler events), the backstop's and the late-data
    // check schedule's, one alarm each.
    expect(deadLetter).toHaveLength(2 * datasets.length + 2);
    const alarmedQueues = alarms.flatMap(([, a]) =>
      ((a.Properties!.Dimensions ?? []) as { Name: string; Value: unknown }[])
        .filter((d) => d.Name === 'QueueName')
        .map((d) => referencedId(d.Value)),
    );
    expect(alarmedQueues.sort()).toEqual([...deadLetter].sort());
    expect(alarms.map(([, a]) => a.Properties!.MetricName).sort()).toEqual(
      [
        'ExecutionsFailed',
        'ExecutionsTimedOut',
        ...deadLetter.map(() => 'ApproximateNumberOfMessagesVisible'),
      ].sort(),
    );
    for (const [, alarm] of alarms) expect(alarm.Properties!.AlarmActions).toHaveLength(1);
  });

  it('rotates the pipeline key and grants no kms:* in its policy', () => {
    synth.template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    const [, key] = ofType('AWS::KMS::Key')[0]!;
    const actions = (
      key.Properties!.KeyPolicy as { Statement: { Action: string | string[] }[] }
    ).Statement.flatMap((s) => s.Action);
    expect(actions.filter((a) => a.includes('*'))).toEqual([]);
  });
});

describe('state machine resource', () => {
  it('is a Standard workflow logging ALL events without execution data (file keys, alert text) to its own log group, with tracing', () => {
    synth.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false, Destinations: [Match.anyValue()] },
      TracingConfiguration: { Enabled: true },
    });
  });

  it('has a backstop: every end of an execution of this state machine goes to notify (which alerts failures, timeouts, stops and unsent notices), with a dead-letter queue', () => {
    const [stateMachine] = ofType('AWS::StepFunctions::StateMachine')[0]!;
    const notify = ofType('AWS::Lambda::Function').find(
      ([, f]) =>
        (f.Properties!.Environment as { Variables?: Record<string, string> } | undefined)?.Variables
          ?.PIPELINE_HANDLER === 'notify',
    )![0];
    const rules = ofType('AWS::Events::Rule').filter(([, r]) =>
      ((r.Properties!.EventPattern as { source?: string[] }).source ?? []).includes('aws.states'),
    );
    expect(rules).toHaveLength(1);
    const rule = rules[0]![1].Properties!;
    expect(rule.EventPattern).toEqual({
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: {
        stateMachineArn: [{ Ref: stateMachine }],
        status: ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'],
      },
    });
    const [target] = rule.Targets as {
      Arn: unknown;
      DeadLetterConfig?: { Arn: unknown };
      RetryPolicy?: unknown;
    }[];
    expect(referencedId(target!.Arn)).toBe(notify);
    const dlq = referencedId(target!.DeadLetterConfig?.Arn);
    expect(synth.json.Resources[dlq!]?.Type).toBe('AWS::SQS::Queue');
    expect(target!.RetryPolicy).toEqual({ MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 });
    synth.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: notify },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [dlq, 'Arn'] } } },
    });
  });

  it('gives the Glue job run exactly etl.timeoutMinutes and the RunEtl state 10 minutes more', () => {
    const states = stateMachineDefinition(synth.json).States;
    for (const dataset of datasets) {
      const runEtl = states[STATE.of(dataset.name).runEtl] as {
        Parameters: { Timeout: number };
        TimeoutSeconds: number;
      };
      expect(runEtl.Parameters.Timeout).toBe(dataset.etl.timeoutMinutes);
      expect(runEtl.TimeoutSeconds).toBe((dataset.etl.timeoutMinutes + 10) * 60);
    }
  });
});

describe('intake logging and the Glue security configuration', () => {
  it('logs each Pipe’s failures (ERROR, no execution data) to a log group with a retention its role may write to', () => {
    const pipes = ofType('AWS::Pipes::Pipe');
    expect(pipes).toHaveLength(datasets.length);
    for (const [, pipe] of pipes) {
      const config = pipe.Properties!.LogConfiguration as {
        Level: string;
        IncludeExecutionData?: unknown;
        CloudwatchLogsLogDestination: { LogGroupArn: unknown };
      };
      expect(config.Level).toBe('ERROR');
      expect(config.IncludeExecutionData).toBeUndefined();
      const logGroup = referencedId(config.CloudwatchLogsLogDestination.LogGroupArn)!;
      expect(synth.json.Resources[logGroup]).toMatchObject({
        Type: 'AWS::Logs::LogGroup',
        Properties: { RetentionInDays: 90 },
      });
      const role = referencedId(pipe.Properties!.RoleArn)!;
      const statements = ofType('AWS::IAM::Policy')
        .filter(([, p]) => (p.Properties!.Roles as unknown[]).some((r) => referencedId(r) === role))
        .flatMap(
          ([, p]) =>
            (p.Properties!.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] })
              .Statement,
        );
      expect(statements).toContainEqual(
        expect.objectContaining({
          Action: expect.arrayContaining(['logs:CreateLogStream', 'logs:PutLogEvents']),
          Resource: { 'Fn::GetAtt': [logGroup, 'Arn'] },
        }),
      );
    }
  });

  it('names the security configuration after a hash of its encryption, so a change deploys as a new name', () => {
    const [[, config]] = ofType('AWS::Glue::SecurityConfiguration') as unknown as [
      [string, { Properties: { Name: string } }],
    ];
    expect(config.Properties.Name).toMatch(/^ingestion-glue-security-[0-9a-f]{10}$/);
    for (const [, job] of ofType('AWS::Glue::Job'))
      expect(job.Properties!.SecurityConfiguration).toBe(config.Properties.Name);
    for (const [, crawler] of ofType('AWS::Glue::Crawler'))
      expect(crawler.Properties!.CrawlerSecurityConfiguration).toBe(config.Properties.Name);
    const base = { CloudWatchEncryption: { CloudWatchEncryptionMode: 'SSE-KMS' } };
    expect(securityConfigurationName('ingestion', base)).toBe(
      securityConfigurationName('ingestion', { ...base }),
    );
    expect(securityConfigurationName('ingestion', base)).not.toBe(
      securityConfigurationName('ingestion', {
        CloudWatchEncryption: { CloudWatchEncryptionMode: 'DISABLED' },
      }),
    );
  });
});

describe('alert publishing rights', () => {
  const policyOf = (handler: string) => {
    const fn = ofType('AWS::Lambda::Function').find(
      ([, f]) =>
        (f.Properties!.Environment as { Variables?: Record<string, string> } | undefined)?.Variables
          ?.PIPELINE_HANDLER === handler,
    )![1];
    const role = referencedId(fn.Properties!.Role)!;
    return ofType('AWS::IAM::Policy')
      .filter(([, p]) => (p.Properties!.Roles as unknown[]).some((r) => referencedId(r) === role))
      .flatMap(
        ([, p]) =>
          (p.Properties!.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] })
            .Statement,
      )
      .map((st) => ({ actions: [st.Action].flat(), resources: [st.Resource].flat() }));
  };
  const topicId = () => ofType('AWS::SNS::Topic')[0]![0];

  it('lets notify and reconcile (only) publish to the alert topic, named in their environment', () => {
    const topic = topicId();
    for (const handler of ['notify', 'reconcile']) {
      const publish = policyOf(handler).filter((st) => st.actions.includes('sns:Publish'));
      expect(publish, handler).toEqual([{ actions: ['sns:Publish'], resources: [{ Ref: topic }] }]);
      expect(
        policyOf(handler).some((st) => st.actions.includes('kms:GenerateDataKey')),
        handler,
      ).toBe(true);
    }
    for (const handler of ['normalize', 'quarantine'])
      expect(
        policyOf(handler).some((st) => st.actions.includes('sns:Publish')),
        handler,
      ).toBe(false);
    for (const [, fn] of ofType('AWS::Lambda::Function').filter(
      ([id]) => !id.startsWith('BucketNotificationsHandler') && !id.startsWith('CustomCDKBucketDeployment'),
    ))
      expect(
        (fn.Properties!.Environment as { Variables: Record<string, unknown> }).Variables.ALERT_TOPIC_ARN,
      ).toEqual({
        Ref: topic,
      });
  });

  it('lets reconcile read and write the volume history and write (only) the arrival records', () => {
    // Statements with the same actions are merged (CDK's minimizePolicies): one per action set.
    const on = (prefix: string) =>
      policyOf('reconcile').filter((st) => JSON.stringify(st.resources).includes(`/${prefix}*`));
    const volume = on('operations/volume/');
    expect(volume.map((st) => st.actions.sort())).toEqual([['s3:GetObject', 's3:PutObject']]);
    const arrivals = on('operations/arrivals/');
    expect(arrivals.map((st) => st.actions)).toEqual([['s3:PutObject']]);
    // Never the whole operations prefix; the late-data check's state is read at most.
    expect(JSON.stringify(policyOf('reconcile'))).not.toContain('/operations/*');
    const writes = policyOf('reconcile').filter((st) => st.actions.includes('s3:PutObject'));
    expect(JSON.stringify(writes)).not.toContain('operations/late/');
    expect(policyOf('reconcile').some((st) => st.actions.includes('s3:ListBucket'))).toBe(true);
  });

  it('lets reconcile register partitions of the normalized tables only', () => {
    const [partitions] = policyOf('reconcile').filter((st) =>
      st.actions.includes('glue:BatchCreatePartition'),
    );
    expect(partitions!.actions.sort()).toEqual(['glue:BatchCreatePartition', 'glue:BatchGetPartition']);
    const tables = JSON.stringify(partitions!.resources.slice(2));
    for (const dataset of datasets) expect(tables).toContain(`ingestion/normalized_${dataset.name}`);
    expect(tables).not.toMatch(/ingestion\/(cloud_billing|workforce_capacity)"/);
    expect(partitions!.resources).toHaveLength(2 + datasets.length);
  });
});

describe('curate job role', () => {
  interface Statement {
    readonly sid: string;
    readonly actions: string[];
    readonly resources: string[];
    readonly condition?: Record<string, Record<string, string[]>>;
  }
  /** The job role's statements, intrinsics resolved to placeholders (`<LogicalId>.Arn`, ARNs in us-east-1). */
  const statementsOf = (dataset: string): Statement[] => {
    const [, job] = ofType('AWS::Glue::Job').find(
      ([, j]) => j.Properties!.Name === `ingestion-${dataset}-curate`,
    )!;
    const role = referencedId(job.Properties!.Role)!;
    return ofType('AWS::IAM::Policy')
      .filter(([, p]) => (p.Properties!.Roles as unknown[]).some((r) => referencedId(r) === role))
      .flatMap(([, p]) => {
        const doc = resolveIntrinsics(p.Properties!.PolicyDocument, placeholderResolver()) as {
          Statement: {
            Sid: string;
            Action: string | string[];
            Resource: string | string[];
            Condition?: never;
          }[];
        };
        return doc.Statement.map((st) => ({
          sid: st.Sid,
          actions: [st.Action].flat(),
          resources: [st.Resource].flat(),
          ...(st.Condition ? { condition: st.Condition } : {}),
        }));
      });
  };
  const glueArn = (resource: string) => `arn:aws:glue:us-east-1:000000000000:${resource}`;

  it.each(datasets.map((d) => [d.name] as const))(
    '%s: reads, creates and commits its curated Iceberg table (catalog, database, table), no Glue partition calls on it',
    (name) => {
      const statements = statementsOf(name);
      const curated = glueArn(`table/ingestion/${name}`);
      expect(statements.filter((st) => st.resources.includes(curated))).toEqual([
        {
          sid: 'CuratedIcebergTable',
          actions: ['glue:CreateTable', 'glue:GetTable', 'glue:UpdateTable'],
          resources: [glueArn('catalog'), glueArn('database/ingestion'), curated],
        },
      ]);
      expect(statements.find((st) => st.sid === 'CatalogDatabase')).toEqual({
        sid: 'CatalogDatabase',
        actions: ['glue:GetDatabase'],
        resources: [glueArn('catalog'), glueArn('database/ingestion')],
      });
    },
  );

  it.each(datasets.map((d) => [d.name] as const))(
    '%s: reads the normalized table and its partitions, and writes no partition anywhere',
    (name) => {
      const statements = statementsOf(name);
      const normalized = glueArn(`table/ingestion/normalized_${name}`);
      expect(statements.filter((st) => st.resources.includes(normalized))).toEqual([
        {
          sid: 'ReadNormalizedTable',
          actions: ['glue:BatchGetPartition', 'glue:GetPartition', 'glue:GetPartitions', 'glue:GetTable'],
          resources: [glueArn('catalog'), glueArn('database/ingestion'), normalized],
        },
      ]);
      const partitionWrites = statements.flatMap((st) =>
        st.actions.filter((a) => /^glue:(Batch)?(Create|Update|Delete)Partition$/.test(a)),
      );
      expect(partitionWrites).toEqual([]);
    },
  );

  it.each(datasets.map((d) => [d.name] as const))(
    "%s: writes, reads and deletes only its own prefix of the curated bucket (the table's files) and lists below it",
    (name) => {
      const statements = statementsOf(name);
      const curated = `${bucketId('Curated')}.Arn`;
      // (Reading the tables of the dimension datasets it joins is checked on its own below.)
      const own = statements.filter((st) => st.sid !== 'ReadDimensionTableFiles');
      expect(own.filter((st) => st.resources.some((r) => r.startsWith(`${curated}/`)))).toEqual([
        {
          sid: 'WriteCuratedTableFiles',
          actions: ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:PutObject'],
          resources: [`${curated}/${name}/*`],
        },
      ]);
      const [list] = statements.filter((st) => st.resources.includes(curated));
      expect(list).toMatchObject({ actions: ['s3:ListBucket'] });
      expect(list!.condition!.StringLike!['s3:prefix']).toContain(`${name}/*`);
      expect(list!.condition!.StringLike!['s3:prefix'].every((p) => !p.startsWith('*'))).toBe(true);
    },
  );

  it.each(datasets.map((d) => [d.name] as const))(
    '%s: puts rejected rows below rows/<dataset>/conflicts/ of the quarantine bucket, and nothing else there',
    (name) => {
      const quarantine = `${bucketId('Quarantine')}.Arn`;
      expect(statementsOf(name).filter((st) => st.resources.some((r) => r.startsWith(quarantine)))).toEqual([
        {
          sid: 'QuarantineRejectedRows',
          actions: ['s3:PutObject'],
          resources: [`${quarantine}/rows/${name}/conflicts/*`],
        },
      ]);
    },
  );

  it("cloud_billing reads the account_hierarchy dimension's Iceberg table, read only: the table and its files", () => {
    const curated = `${bucketId('Curated')}.Arn`;
    expect(statementsOf('cloud_billing').filter((st) => st.sid.startsWith('ReadDimension'))).toEqual([
      {
        sid: 'ReadDimensionTables',
        actions: ['glue:GetTable'],
        resources: [
          glueArn('catalog'),
          glueArn('database/ingestion'),
          glueArn('table/ingestion/account_hierarchy'),
        ],
      },
      {
        sid: 'ReadDimensionTableFiles',
        actions: ['s3:GetObject'],
        resources: [`${curated}/account_hierarchy/*`],
      },
    ]);
    // The datasets that join no dimension dataset read no other table.
    for (const name of ['workforce_capacity', 'account_hierarchy'])
      expect(
        statementsOf(name).filter((st) => st.sid.startsWith('ReadDimension')),
        name,
      ).toEqual([]);
  });

  it('reads and lists exactly the dimension files a dataset declares (purchase_orders: two; the others none)', () => {
    for (const dataset of datasets) {
      const statements = statementsOf(dataset.name);
      const files = dataset.dimensions.filter((d) => d.file !== undefined).length;
      const listed = statements.filter((st) => st.sid?.startsWith('ListDimensionObjects'));
      // The script, the library and each dimension file, read from the assets bucket.
      const [assets] = statements.filter((st) => st.sid === 'ReadScriptLibraryAndDimensions');
      expect(assets!.resources, dataset.name).toHaveLength(2 + files);
      if (files === 0) {
        expect(listed, dataset.name).toEqual([]);
        continue;
      }
      // Both files are in the one bootstrap bucket: one statement, listing only their keys.
      expect(listed).toHaveLength(1);
      const prefixes = (listed[0]!.condition as { StringEquals: { 's3:prefix': string[] } }).StringEquals[
        's3:prefix'
      ];
      expect(prefixes).toHaveLength(2 * files);
      for (const key of prefixes.filter((p) => !p.endsWith('/'))) expect(prefixes).toContain(`${key}/`);
    }
    expect(datasets.find((d) => d.name === 'purchase_orders')!.dimensions.map((d) => d.file)).toEqual([
      'data/dimensions/org_hierarchy.csv',
      'data/dimensions/approved_vendors.csv',
    ]);
  });

  it('keeps no statement of the retired partition swap (etl/swaps/)', () => {
    for (const dataset of datasets) {
      const resourcesOf = statementsOf(dataset.name).flatMap((st) => st.resources);
      expect(resourcesOf.filter((r) => r.includes('etl/swaps/'))).toEqual([]);
    }
  });
});

describe('least privilege', () => {
  it('has no Allow statement with a wildcard action anywhere (only the TLS Deny statements use s3:* / sqs:*)', () => {
    const offenders: string[] = [];
    for (const [id, resource] of resources) {
      const p = resource.Properties ?? {};
      for (const field of ['PolicyDocument', 'KeyPolicy', 'AssumeRolePolicyDocument']) {
        const doc = p[field] as { Statement?: { Effect: string; Action?: string | string[] }[] } | undefined;
        for (const statement of doc?.Statement ?? []) {
          const actions = [statement.Action ?? []].flat();
          if (statement.Effect === 'Allow' && actions.some((a) => a.includes('*')))
            offenders.push(`${id}: ${actions.join(',')}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it("attaches no AWS managed policy except to CDK's bucket-notifications handler", () => {
    const withManaged = ofType('AWS::IAM::Role')
      .filter(([, role]) => (role.Properties?.ManagedPolicyArns as unknown[] | undefined)?.length)
      .map(([id]) => id);
    expect(withManaged).toHaveLength(1);
    expect(withManaged[0]).toMatch(/^BucketNotificationsHandler/);
  });
});
