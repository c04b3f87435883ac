import { Aws, Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { ResolvedDataset } from '../config/types';
import { controlPrefixes, quarantineConflictsPrefix } from '../contracts/layout';
import type { PipelineNames } from '../contracts/naming';
import { etlDefaultArguments, etlJobConfig } from '../glue/job-config';
import type { GlueCatalog } from './glue-catalog';
import { acknowledgeFindings, objectPrefixFinding, WILDCARD_RESOURCE_FINDING } from './nag';
import { KMS_USE_ACTIONS } from './pipeline-key';

export interface CurateJobProps {
  readonly dataset: ResolvedDataset;
  readonly names: PipelineNames;
  readonly catalog: GlueCatalog;
  readonly normalizedBucket: s3.IBucket;
  readonly curatedBucket: s3.IBucket;
  readonly controlBucket: s3.IBucket;
  /** Where the job puts rows rejected under the `reject` conflict policy (`rows/<dataset>/conflicts/`). */
  readonly quarantineBucket: s3.IBucket;
  readonly key: kms.IKey;
}

/**
 * Spark SQL extensions of Iceberg (MERGE INTO, CALL procedures). Set at session creation by
 * `--conf`; the job sets the `glue_catalog` catalog's properties itself at run time.
 */
export const ICEBERG_SPARK_EXTENSIONS = 'org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions';

/**
 * The Glue 5.1 Spark job (Spark 3.5.6, Iceberg 1.10.0, Python 3.11) that merges a dataset's new
 * normalized files into its curated Apache Iceberg table: incremental (it reads only
 * normalized objects without a processed marker), one run at a time, bounded to `boundedFiles`
 * files per run, one Iceberg commit per run. The curated table is not a CloudFormation
 * resource: the job creates it in the Glue database on its first run.
 */
export class CurateJob extends Construct {
  public readonly job: glue.CfnJob;
  public readonly role: iam.Role;
  public readonly jobName: string;

  constructor(scope: Construct, id: string, props: CurateJobProps) {
    super(scope, id);
    const { dataset, names, catalog } = props;
    const stack = Stack.of(this);
    this.jobName = names.job(dataset.name);
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('glue.amazonaws.com'),
      description: `Curate job of ${dataset.name}`,
    });

    // Dimensions shipped as CSV assets; dimension datasets are tables (granted below).
    const fileDimensions = dataset.dimensions.filter((d) => d.file !== undefined);
    const dimensionAssets = fileDimensions.map((d) => catalog.dimensions.get(d.name)!);
    const dimensionPaths = Object.fromEntries(
      fileDimensions.map((d) => [d.name, catalog.dimensions.get(d.name)!.s3ObjectUrl]),
    );
    const dimensionDatasets = [
      ...new Set(dataset.dimensions.flatMap((d) => (d.dataset === undefined ? [] : [d.dataset]))),
    ];
    const config = etlJobConfig({
      dataset,
      names,
      curatedBucket: props.curatedBucket.bucketName,
      controlBucket: props.controlBucket.bucketName,
      quarantineBucket: props.quarantineBucket.bucketName,
      dimensionPaths,
    });

    const assets = [catalog.script, catalog.library, ...dimensionAssets];
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadScriptLibraryAndDimensions',
        actions: ['s3:GetObject'],
        resources: assets.map((a) => `arn:${Aws.PARTITION}:s3:::${a.s3BucketName}/${a.s3ObjectKey}`),
      }),
    );
    // Glue's S3 reader lists before it reads, also for a `from_options` path naming one object:
    // the dimension files need s3:ListBucket on the assets bucket (issue 10, finding 1), limited
    // to listings of exactly that object's key (`s3:prefix` = the key, or the key as a "folder",
    // which Hadoop's file-status probe lists). Without it every run fails with AccessDenied.
    // Grouped by the bucket's resolved name: each asset's bucket name is its own token, even
    // when two assets share the bootstrap bucket (one statement per bucket, Sids unique).
    const byBucket = new Map<string, { bucket: string; keys: string[] }>();
    for (const asset of dimensionAssets) {
      const id = JSON.stringify(Stack.of(this).resolve(asset.s3BucketName));
      const entry = byBucket.get(id) ?? { bucket: asset.s3BucketName, keys: [] };
      entry.keys.push(asset.s3ObjectKey);
      byBucket.set(id, entry);
    }
    for (const [i, { bucket, keys }] of [...byBucket.values()].entries()) {
      this.role.addToPolicy(
        new iam.PolicyStatement({
          sid: i === 0 ? 'ListDimensionObjects' : `ListDimensionObjects${i + 1}`,
          actions: ['s3:ListBucket'],
          resources: [`arn:${Aws.PARTITION}:s3:::${bucket}`],
          conditions: { StringEquals: { 's3:prefix': keys.flatMap((key) => [key, `${key}/`]) } },
        }),
      );
    }
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadNormalized',
        actions: ['s3:GetObject'],
        resources: [props.normalizedBucket.arnForObjects(`${dataset.name}/*`)],
      }),
    );
    // The Iceberg table's data and metadata files (S3FileIO): written by commits, deleted by
    // snapshot expiry, compaction and orphan-file removal; multipart uploads of large data files.
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteCuratedTableFiles',
        actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
        resources: [props.curatedBucket.arnForObjects(`${dataset.name}/*`)],
      }),
    );
    const conflictsPrefix = quarantineConflictsPrefix(dataset.name);
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'QuarantineRejectedRows',
        actions: ['s3:PutObject'],
        resources: [props.quarantineBucket.arnForObjects(`${conflictsPrefix}*`)],
      }),
    );
    const controlObjects = [
      `${controlPrefixes.etlRuns}${dataset.name}/*`,
      `${controlPrefixes.etlProcessed}${dataset.name}/*`,
      `${controlPrefixes.etlAggregates}${dataset.name}/*`,
      `${controlPrefixes.etlFiles}${dataset.name}/*`,
      `${controlPrefixes.glueTemp}${dataset.name}/*`,
      `${controlPrefixes.sparkUi}${dataset.name}/*`,
      // The requests document of each run (datasets with an approval workflow).
      ...(dataset.approval ? [`${controlPrefixes.etlRequests}${dataset.name}/*`] : []),
    ];
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteControlDocuments',
        actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
        resources: controlObjects.map((p) => props.controlBucket.arnForObjects(p)),
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ListOwnPrefixes',
        actions: ['s3:ListBucket'],
        resources: [
          props.normalizedBucket.bucketArn,
          props.curatedBucket.bucketArn,
          props.controlBucket.bucketArn,
        ],
        conditions: {
          StringLike: {
            's3:prefix': [`${dataset.name}/*`, ...controlObjects, dataset.name],
          },
        },
      }),
    );
    // Glue authorizes a table call on the catalog, the database and the table (all three).
    const catalogArn = stack.formatArn({ service: 'glue', resource: 'catalog' });
    const databaseArn = stack.formatArn({
      service: 'glue',
      resource: 'database',
      resourceName: catalog.databaseName,
    });
    const tableArn = (table: string) =>
      stack.formatArn({
        service: 'glue',
        resource: 'table',
        resourceName: `${catalog.databaseName}/${table}`,
      });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'CatalogDatabase',
        actions: ['glue:GetDatabase'],
        resources: [catalogArn, databaseArn],
      }),
    );
    // The normalized table (crawled): its schema and partitions, read with a push-down predicate.
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadNormalizedTable',
        actions: ['glue:GetTable', 'glue:GetPartition', 'glue:GetPartitions', 'glue:BatchGetPartition'],
        resources: [catalogArn, databaseArn, tableArn(names.normalizedTable(dataset.name))],
      }),
    );
    // The curated Iceberg table (Iceberg's GlueCatalog): created on the first run, each commit
    // an UpdateTable of its metadata location (optimistic, checked against the version read).
    // Iceberg tracks partitions in its own metadata: no Glue partition calls.
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'CuratedIcebergTable',
        actions: ['glue:GetTable', 'glue:CreateTable', 'glue:UpdateTable'],
        resources: [catalogArn, databaseArn, tableArn(names.curatedTable(dataset.name))],
      }),
    );
    // The curated Iceberg tables of the dimension datasets it joins, read at their current
    // snapshot: the table (Iceberg's GlueCatalog loads it, and DimensionMissingError is raised
    // when it does not exist), then its metadata, manifests and data files (S3FileIO reads them
    // by key, without listing). Read only. No KMS: the curated bucket is SSE-S3.
    if (dimensionDatasets.length > 0) {
      this.role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'ReadDimensionTables',
          actions: ['glue:GetTable'],
          resources: [
            catalogArn,
            databaseArn,
            ...dimensionDatasets.map((d) => tableArn(names.curatedTable(d))),
          ],
        }),
      );
      this.role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'ReadDimensionTableFiles',
          actions: ['s3:GetObject'],
          resources: dimensionDatasets.map((d) => props.curatedBucket.arnForObjects(`${d}/*`)),
        }),
      );
    }
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'JobLogs',
        actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:AssociateKmsKey'],
        resources: [`arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:/aws-glue/*`],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'JobMetrics',
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': 'Glue' } },
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'BookmarkAndLogEncryption',
        actions: KMS_USE_ACTIONS,
        resources: [props.key.keyArn],
      }),
    );

    this.job = new glue.CfnJob(this, 'Job', {
      name: this.jobName,
      description: `Merges new normalized ${dataset.name} files into the curated Iceberg table (incremental by processed markers, bounded)`,
      role: this.role.roleArn,
      // Spark 3.5.6, Iceberg 1.10.0, Python 3.11: the versions the local runtime installs.
      glueVersion: glue.GlueVersion.V5_1,
      workerType: 'G.1X',
      numberOfWorkers: dataset.etl.workers,
      timeout: dataset.etl.timeoutMinutes,
      maxRetries: 0,
      executionProperty: { maxConcurrentRuns: 1 },
      securityConfiguration: catalog.securityConfiguration.name,
      command: { name: 'glueetl', pythonVersion: '3', scriptLocation: catalog.script.s3ObjectUrl },
      defaultArguments: {
        '--job-language': 'python',
        // The job selects its input by processed markers, not by Glue's S3 bookmarks: their
        // modification-time high-water mark skips older files of another partition when runs
        // carry per-batch predicates (docs/etl.md, "Bookmarks and the file cap"). No source of
        // the job has a transformation_ctx, so bookmarks are off rather than on and unused.
        '--job-bookmark-option': 'job-bookmark-disable',
        '--enable-metrics': 'true',
        '--enable-observability-metrics': 'true',
        '--enable-continuous-cloudwatch-log': 'true',
        '--enable-continuous-log-filter': 'true',
        '--enable-glue-datacatalog': 'true',
        // Glue's own Iceberg libraries; the Iceberg SQL extensions must be on at session start.
        '--datalake-formats': 'iceberg',
        '--conf': `spark.sql.extensions=${ICEBERG_SPARK_EXTENSIONS}`,
        '--enable-spark-ui': 'true',
        '--spark-event-logs-path': props.controlBucket.s3UrlForObject(
          `${controlPrefixes.sparkUi}${dataset.name}/`,
        ),
        '--TempDir': props.controlBucket.s3UrlForObject(`${controlPrefixes.glueTemp}${dataset.name}/`),
        '--extra-py-files': catalog.library.s3ObjectUrl,
        ...etlDefaultArguments(stack.toJsonString(config), dataset.etl.boundedFiles),
      },
    });
    this.job.node.addDependency(catalog.securityConfiguration);

    acknowledgeFindings(
      this.role,
      "Object-level access below this dataset's prefixes of the normalized, curated and control buckets and of its rejected-rows prefix of the quarantine bucket, and read-only below the curated prefix of each dimension dataset it joins (keys below them, Iceberg's data and metadata files included, are named at run time); Glue names its log groups below /aws-glue/; cloudwatch:PutMetricData has no resource-level permissions and is limited to the Glue namespace by condition.",
      objectPrefixFinding(props.normalizedBucket, `${dataset.name}/`),
      objectPrefixFinding(props.curatedBucket, `${dataset.name}/`),
      ...dimensionDatasets.map((d) => objectPrefixFinding(props.curatedBucket, `${d}/`)),
      objectPrefixFinding(props.quarantineBucket, conflictsPrefix),
      ...controlObjects.map((pattern) => objectPrefixFinding(props.controlBucket, pattern.slice(0, -1))),
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws-glue/*]',
      WILDCARD_RESOURCE_FINDING,
    );
  }
}
