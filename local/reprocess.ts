/**
 * Targeted reprocessing of one partition (issue 15 part 5, docs/operations.md): the dataset's
 * curate job run on one partition with its push-down predicate and without the processed
 * markers that stand in for job bookmarks, for corrections to the ETL's own logic.
 * `npm run pipeline -- replay --dataset NAME --partition COL=VALUE [--dry-run] [--state DIR | --stack NAME]`.
 *
 * The job does the work (`--reprocess_partition <column>=<value>`, docs/etl.md "Reprocessing one
 * partition"): it reads every normalized object of the partition, recomputes the partition's rows
 * with its current logic and the dataset's restatement rules, commits the difference in one
 * Iceberg commit (nothing when nothing differs), and rewrites the partition's markers, aggregates
 * and registry entries and a run report (`mode: reprocess`). This module starts that run:
 *
 * - locally, on the state folder's pipeline: the real Glue script on local Spark, in the job's
 *   role (local IAM), as the state machine's RunEtl runs it; the state is saved only when the run
 *   succeeds;
 * - on AWS (`stack`), with the SDK: `StartJobRun` with the same argument, `GetJobRun` until the
 *   run ends, then the run report from the control bucket.
 *
 * `dryRun` changes nothing: it lists the partition's normalized objects (and which have a marker)
 * and, locally, the partition's rows in curated.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetJobRunCommand, GetPartitionsCommand, GlueClient, StartJobRunCommand } from '@aws-sdk/client-glue';
import { KMSClient } from '@aws-sdk/client-kms';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { loadDatasets } from '../lib/config';
import type { ResolvedDataset } from '../lib/config/types';
import {
  controlPrefixes,
  etlRunReportKey,
  NORMALIZED_EXTENSION,
  normalizedObjectKey,
  partitionPredicate,
  processedMarkerKey,
} from '../lib/contracts/layout';
import { pipelineNames } from '../lib/contracts/naming';
import type { EtlReprocessSummary, EtlRunReport, ProcessedMarker } from '../lib/contracts/run-report';
import { STACK_OUTPUTS } from '../lib/contracts/stack-outputs';
import { ACCOUNT, exportObjects, LocalCloud, REGION } from './cloud';
import { startEmulator } from './emulator';
import { LocalGlueJobs } from './glue-job';
import { ADMIN_CREDENTIALS, LocalIam } from './iam';
import { RunIam } from './iam/run';
import { InputError } from './inputs';
import { JobServer } from './job-server';
import { queryPipeline } from './query';
import { readStateJson, type StateFolder } from './state';
import { openStateFolder } from './state-dir';
import { synthesize } from './synth-cache';

const PIPELINE = 'ingestion';

export interface ReprocessOptions {
  readonly dataset: string;
  /** `<partition column>=<value>`, e.g. `billing_period=2024-10`. */
  readonly partition: string;
  readonly dryRun: boolean;
  /** Local runtime state folder (docs/local-runtime.md). */
  readonly stateDir?: string;
  /** A state folder the caller already holds (the demo); else `stateDir` is opened here. */
  readonly state?: StateFolder;
  readonly lockWaitMs?: number;
  /** A deployed stack: the job run is started with the SDK instead of locally. */
  readonly stack?: string;
  readonly region?: string;
  readonly onProgress: (line: string) => void;
  /** AWS clients (tests pass stubs); else made from `region` and the default credential chain. */
  readonly awsClients?: ReprocessAwsClients;
  /** How often `GetJobRun` is called on AWS. @default 15 seconds */
  readonly pollMs?: number;
}

export interface ReprocessAwsClients {
  readonly cloudFormation: Pick<CloudFormationClient, 'send'>;
  readonly glue: Pick<GlueClient, 'send'>;
  readonly s3: Pick<S3Client, 'send'>;
}

/** A normalized object of the partition, and its processed marker. */
export interface ReprocessObject {
  readonly key: string;
  /** Whether it has a processed marker (an object without one is read by the reprocessing too). */
  readonly marked: boolean;
  /** The run its marker names (locally; on AWS a dry run does not read the markers: null). */
  readonly markerRunId: string | null;
}

/** What a reprocessing did (or, with dryRun, would do); JSON-serializable. */
export interface ReprocessReport {
  readonly dataset: string;
  readonly partition: string;
  readonly dryRun: boolean;
  readonly ok: boolean;
  /** `local` (a state folder) or `aws` (a stack). */
  readonly target: 'local' | 'aws';
  readonly jobName: string;
  /** The partition's normalized objects: listed by a dry run; read by the run. */
  readonly objects: readonly ReprocessObject[];
  readonly objectsRead: number;
  /** The partition's rows in curated before and after; null where not known (a dry run on AWS, a failed run). */
  readonly rowsBefore: number | null;
  readonly rowsAfter: number | null;
  /** What the run's commit changed (the run report's `reprocess` block); null for a dry run or a failed run. */
  readonly changes: Pick<
    EtlReprocessSummary,
    'rowsInserted' | 'rowsUpdated' | 'rowsDeleted' | 'rowsUnchanged' | 'committed'
  > | null;
  /** The snapshot the run committed; null when it committed nothing (nothing differed) or did not run. */
  readonly snapshotId: string | null;
  readonly previousSnapshotId: string | null;
  /** The Glue job run; null for a dry run. */
  readonly runId: string | null;
  /** `s3://<control>/etl/runs/<dataset>/<runId>.json`; null for a dry run or a failed run. */
  readonly runReport: string | null;
  /** Why the run failed (ok false). */
  readonly error?: string;
}

export class ReprocessError extends Error {
  override readonly name = 'ReprocessError';
}

/** `<column>=<value>` of the dataset's partition column, or InputError naming the rule. */
export function parsePartition(
  dataset: ResolvedDataset,
  partition: string,
): { column: string; value: string } {
  const pc = dataset.partition.column;
  const text = partition.trim();
  const at = text.indexOf('=');
  if (at <= 0 || at === text.length - 1)
    throw new InputError(
      `--partition must be <partition column>=<value>, e.g. ${pc}=<value>; got "${partition}"`,
    );
  const column = text.slice(0, at).trim();
  const value = text.slice(at + 1);
  if (column !== pc)
    throw new InputError(
      `--partition names column "${column}", but ${dataset.name} is partitioned by "${pc}": pass ${pc}=<value>`,
    );
  if (value !== value.trim())
    throw new InputError(`--partition value "${value}" has leading or trailing spaces`);
  return { column, value };
}

function datasetOf(name: string): ResolvedDataset {
  const datasets = loadDatasets();
  const found = datasets.find((d) => d.name === name);
  if (!found)
    throw new InputError(`unknown dataset "${name}" (datasets: ${datasets.map((d) => d.name).join(', ')})`);
  return found;
}

export async function reprocessPartition(options: ReprocessOptions): Promise<ReprocessReport> {
  const dataset = datasetOf(options.dataset);
  const { column, value } = parsePartition(dataset, options.partition);
  if (options.stack) return reprocessOnAws(options, dataset, column, value);
  return options.dryRun
    ? dryRunLocally(options, dataset, column, value)
    : reprocessLocally(options, dataset, column, value);
}

// --- locally -----------------------------------------------------------------------------------

/** Bucket role -> folder below `<state>/current/s3/` (as LocalCloud.save names them). */
const FOLDERS = { normalized: 'normalized', control: 'control' } as const;

function files(root: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const full = path.join(root, entry);
    return statSync(full).isDirectory() ? files(full) : [full];
  });
}

/** The partition's normalized objects in a saved state, each with the run its marker names. */
function savedObjects(dir: string, dataset: ResolvedDataset, value: string): ReprocessObject[] {
  const prefix = path.dirname(normalizedObjectKey(dataset.name, dataset.partition.column, value, 'x'));
  const root = path.join(dir, 's3', FOLDERS.normalized, ...prefix.split('/'));
  return files(root)
    .filter((f) => f.endsWith(NORMALIZED_EXTENSION) && !path.basename(f).startsWith('_'))
    .map((f) => `${prefix}/${path.relative(root, f).split(path.sep).join('/')}`)
    .sort()
    .map((key) => {
      const markerFile = path.join(dir, 's3', FOLDERS.control, ...processedMarkerKey(key).split('/'));
      let markerRunId: string | null = null;
      try {
        markerRunId = (JSON.parse(readFileSync(markerFile, 'utf8')) as ProcessedMarker).runId;
      } catch {
        markerRunId = null;
      }
      return { key, marked: markerRunId !== null, markerRunId };
    });
}

/** The partition's rows in the saved state's curated table (the local query engine). */
async function curatedRows(state: StateFolder, dataset: ResolvedDataset, value: string): Promise<number> {
  const literal = `'${value.replace(/'/g, "''")}'`;
  const column = `"${dataset.partition.column.replace(/"/g, '""')}"`;
  const { rows } = await queryPipeline(
    `SELECT count(*) AS n FROM "${dataset.name}" WHERE ${column} = ${literal}`,
    { state },
  );
  return Number(rows[0]?.[0] ?? 0);
}

function noState(state: StateFolder): InputError {
  return new InputError(
    `no local pipeline state in ${state.root}: run "npm run pipeline -- run <files>" first`,
  );
}

async function dryRunLocally(
  options: ReprocessOptions,
  dataset: ResolvedDataset,
  column: string,
  value: string,
): Promise<ReprocessReport> {
  const state = await openStateFolder({
    ...(options.state ? { state: options.state } : {}),
    stateDir: options.stateDir,
    mode: 'read',
    command: 'reprocess --dry-run',
    lockWaitMs: options.lockWaitMs,
    onWait: options.onProgress,
  });
  try {
    const dir = state.currentDir;
    try {
      statSync(path.join(dir, 'catalog.json'));
    } catch {
      throw noState(state);
    }
    const objects = savedObjects(dir, dataset, value);
    const rows = objects.length > 0 || hasTable(dir, dataset) ? await curatedRows(state, dataset, value) : 0;
    options.onProgress(
      `${dataset.name} ${column}=${value}: ${objects.length} normalized object(s), ${rows} row(s) in curated; dry run, nothing changed`,
    );
    return {
      ...base(options, dataset, column, value, 'local'),
      ok: objects.length > 0,
      objects,
      rowsBefore: rows,
      ...(objects.length === 0 ? { error: emptyPartition(dataset, column, value) } : {}),
    };
  } finally {
    if (!options.state) await state.release();
  }
}

function hasTable(dir: string, dataset: ResolvedDataset): boolean {
  const catalog = readStateJson(path.join(dir, 'catalog.json')) as {
    tables?: { versions: { Name?: string }[] }[];
  };
  return (catalog.tables ?? []).some((t) => t.versions.at(-1)?.Name === dataset.name);
}

function emptyPartition(dataset: ResolvedDataset, column: string, value: string): string {
  return `partition ${column}=${value} of ${dataset.name} has no normalized objects; nothing to reprocess`;
}

function base(
  options: ReprocessOptions,
  dataset: ResolvedDataset,
  column: string,
  value: string,
  target: 'local' | 'aws',
  pipeline = PIPELINE,
): ReprocessReport {
  return {
    dataset: dataset.name,
    partition: `${column}=${value}`,
    dryRun: options.dryRun,
    ok: false,
    target,
    jobName: pipelineNames(pipeline).job(dataset.name),
    objects: [],
    objectsRead: 0,
    rowsBefore: null,
    rowsAfter: null,
    changes: null,
    snapshotId: null,
    previousSnapshotId: null,
    runId: null,
    runReport: null,
  };
}

/** The report of a job run that ended, from its run report (`undefined`: the run failed). */
function fromRunReport(
  start: ReprocessReport,
  runId: string,
  control: string,
  report: EtlRunReport | undefined,
  error?: string,
): ReprocessReport {
  if (!report?.reprocess) {
    return { ...start, runId, error: error ?? `run ${runId} wrote no reprocessing report` };
  }
  const r = report.reprocess;
  return {
    ...start,
    ok: true,
    objects: report.sources
      .flatMap((s) => s.normalizedKeys)
      .sort()
      .map((key) => ({ key, marked: true, markerRunId: runId })),
    objectsRead: report.filesRead,
    rowsBefore: r.rowsBefore,
    rowsAfter: r.rowsAfter,
    changes: {
      rowsInserted: r.rowsInserted,
      rowsUpdated: r.rowsUpdated,
      rowsDeleted: r.rowsDeleted,
      rowsUnchanged: r.rowsUnchanged,
      committed: r.committed,
    },
    snapshotId: report.snapshotId,
    previousSnapshotId: report.previousSnapshotId,
    runId,
    runReport: `s3://${control}/${etlRunReportKey(start.dataset, runId)}`,
  };
}

async function reprocessLocally(
  options: ReprocessOptions,
  dataset: ResolvedDataset,
  column: string,
  value: string,
): Promise<ReprocessReport> {
  const progress = options.onProgress;
  const state = await openStateFolder({
    ...(options.state ? { state: options.state } : {}),
    stateDir: options.stateDir,
    mode: 'write',
    command: 'reprocess',
    lockWaitMs: options.lockWaitMs,
    onWait: progress,
  });
  try {
    try {
      statSync(path.join(state.currentDir, 'catalog.json'));
    } catch {
      throw noState(state);
    }
    const start = base(options, dataset, column, value, 'local');
    const next = state.prepareNext();
    progress(
      'starting local Spark and the local AWS emulator; synthesizing the CDK app (cached until a source changes)',
    );
    const server = new JobServer({ AWSGLUE_LOCAL_TMPDIR: state.tmpDir });
    server.start().catch(() => undefined);
    const emulator = await startEmulator({ region: REGION });
    let iam: LocalIam | undefined;
    try {
      const { template, assets } = await synthesize();
      iam = await LocalIam.start(emulator.endpoint, { onDenied: (m) => progress(`[iam] denied: ${m}`) });
      const config = { region: REGION, endpoint: iam.endpoint, credentials: ADMIN_CREDENTIALS };
      const s3 = new S3Client({ ...config, forcePathStyle: true });
      // The workflow tables (DynamoDB, KMS) are restored and saved with the rest of the state.
      const tables = { dynamodb: new DynamoDBClient(config), kms: new KMSClient(config) };
      const cloud = new LocalCloud(
        template,
        { s3, glue: new GlueClient(config), sns: new SNSClient(config), sqs: new SQSClient(config), tables },
        PIPELINE,
      );
      await cloud.provision();
      iam.attach(template, cloud.resolver, { account: ACCOUNT, region: REGION });
      const runIam = new RunIam(iam, REGION);
      progress(`restoring the local state (${state.currentDir})`);
      await cloud.restore(state.currentDir, { setObjectMetadata: (o) => emulator.setObjectMetadata(o) });
      // What `cdk deploy` publishes: the files the job reads (script assets, dimension files).
      for (const bucket of new Set(assets.map((a) => a.bucket)))
        await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      for (const asset of assets)
        await s3.send(
          new PutObjectCommand({ Bucket: asset.bucket, Key: asset.key, Body: readFileSync(asset.file) }),
        );
      const jobs = new LocalGlueJobs(template, cloud.resolver, {
        env: { ...emulator.env, AWS_ENDPOINT_URL: iam.endpoint, AWSGLUE_LOCAL_TMPDIR: state.tmpDir },
        envOf: runIam.jobEnv,
        server,
        bookmarks: path.join(next, 'glue-bookmarks'),
        logDir: state.logDir,
      });
      progress(`running ${start.jobName} with --reprocess_partition ${column}=${value}`);
      // The same job and arguments as on AWS; the run's Arguments replace the job's defaults.
      const run = await jobs.run({
        JobName: start.jobName,
        Arguments: { '--reprocess_partition': `${column}=${value}` },
      });
      const control = cloud.bucket('Control');
      if (run.JobRunState !== 'SUCCEEDED') {
        progress(`job run ${run.Id} ${run.JobRunState}: nothing saved`);
        return fromRunReport(
          start,
          run.Id,
          control,
          undefined,
          `${run.JobRunState}: ${run.ErrorMessage ?? ''}`.trim(),
        );
      }
      const body = await s3.send(
        new GetObjectCommand({ Bucket: control, Key: etlRunReportKey(dataset.name, run.Id) }),
      );
      const report = JSON.parse(await body.Body!.transformToString()) as EtlRunReport;
      progress('saving the local state');
      await cloud.save(next, {
        previous: state.currentDir,
        exportObjects: (buckets, root, unchanged) =>
          exportObjects(emulator.endpoint, { buckets, root, unchanged }),
      });
      state.commit(next, 'reprocess');
      const done = fromRunReport(start, run.Id, control, report);
      // Every object of the partition (objects without rows have no entry in the report's sources).
      return { ...done, objects: savedObjects(state.currentDir, dataset, value) };
    } finally {
      await iam?.stop().catch(() => undefined);
      await emulator.stop().catch(() => undefined);
      await server.stop();
      state.discard(next);
    }
  } finally {
    if (!options.state) await state.release();
  }
}

// --- on AWS --------------------------------------------------------------------------------------

/** Job run states that end a run (Glue API, JobRun `JobRunState`). */
const FINAL_STATES = new Set(['SUCCEEDED', 'FAILED', 'TIMEOUT', 'STOPPED', 'ERROR', 'EXPIRED']);

async function reprocessOnAws(
  options: ReprocessOptions,
  dataset: ResolvedDataset,
  column: string,
  value: string,
): Promise<ReprocessReport> {
  const progress = options.onProgress;
  const region = options.region ? { region: options.region } : {};
  const clients: ReprocessAwsClients = options.awsClients ?? {
    cloudFormation: new CloudFormationClient(region),
    glue: new GlueClient(region),
    s3: new S3Client(region),
  };
  const stacks = await clients.cloudFormation.send(new DescribeStacksCommand({ StackName: options.stack }));
  const outputs = Object.fromEntries(
    (stacks.Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']),
  );
  const database = outputs[STACK_OUTPUTS.glueDatabase];
  const control = outputs[STACK_OUTPUTS.controlBucket];
  if (!database || !control)
    throw new ReprocessError(
      `stack ${options.stack} has no ${!database ? STACK_OUTPUTS.glueDatabase : STACK_OUTPUTS.controlBucket} output: is it this pipeline's stack?`,
    );
  // The database is the pipeline name with '-' as '_' (lib/contracts/naming.ts); pipeline names have no '_'.
  const names = pipelineNames(database.replace(/_/g, '-'));
  const start = base(options, dataset, column, value, 'aws', names.pipeline);
  if (options.dryRun) {
    const objects = await listOnAws(
      clients,
      names.database,
      names.normalizedTable(dataset.name),
      control,
      column,
      value,
    );
    progress(
      `${dataset.name} ${column}=${value}: ${objects.length} normalized object(s); dry run, nothing changed. ` +
        `Rows in curated (Athena): SELECT count(*) FROM "${names.database}"."${names.curatedTable(dataset.name)}" WHERE ${column} = '${value.replace(/'/g, "''")}'`,
    );
    return {
      ...start,
      ok: objects.length > 0,
      objects,
      ...(objects.length === 0 ? { error: emptyPartition(dataset, column, value) } : {}),
    };
  }
  let runId: string;
  try {
    const started = await clients.glue.send(
      new StartJobRunCommand({
        JobName: start.jobName,
        Arguments: { '--reprocess_partition': `${column}=${value}` },
      }),
    );
    runId = started.JobRunId!;
  } catch (error) {
    // The job allows one run at a time (MaxConcurrentRuns 1): "ConcurrentRunsExceededException:
    // Too many jobs are being run concurrently" while an execution's RunEtl holds the slot.
    if ((error as Error).name === 'ConcurrentRunsExceededException')
      throw new ReprocessError(
        `${start.jobName} is running for an execution (one run at a time): start the reprocessing again when it has ended`,
      );
    throw error;
  }
  progress(`started ${start.jobName} run ${runId} (--reprocess_partition ${column}=${value})`);
  const pollMs = options.pollMs ?? 15_000;
  for (;;) {
    const { JobRun: jobRun } = await clients.glue.send(
      new GetJobRunCommand({ JobName: start.jobName, RunId: runId }),
    );
    const status = jobRun?.JobRunState ?? 'UNKNOWN';
    if (FINAL_STATES.has(status)) {
      if (status !== 'SUCCEEDED') {
        progress(`run ${runId} ${status}`);
        return fromRunReport(
          start,
          runId,
          control,
          undefined,
          `${status}: ${jobRun?.ErrorMessage ?? ''}`.trim(),
        );
      }
      break;
    }
    progress(`run ${runId}: ${status}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  const body = await clients.s3.send(
    new GetObjectCommand({ Bucket: control, Key: etlRunReportKey(dataset.name, runId) }),
  );
  const report = JSON.parse((await body.Body?.transformToString()) ?? '{}') as EtlRunReport;
  return fromRunReport(start, runId, control, report);
}

/** The partition's normalized objects on AWS: its catalog partition's location, listed, and the markers. */
async function listOnAws(
  clients: ReprocessAwsClients,
  database: string,
  table: string,
  control: string,
  column: string,
  value: string,
): Promise<ReprocessObject[]> {
  const partitions = await clients.glue.send(
    new GetPartitionsCommand({
      DatabaseName: database,
      TableName: table,
      Expression: partitionPredicate(column, [value]),
    }),
  );
  const keys: string[] = [];
  for (const partition of partitions.Partitions ?? []) {
    const location = partition.StorageDescriptor?.Location ?? '';
    const [bucket, ...rest] = location.replace(/^s3:\/\//, '').split('/');
    const prefix = rest.join('/').replace(/\/?$/, '/');
    keys.push(...(await listKeys(clients, bucket!, prefix)).filter((k) => k.endsWith(NORMALIZED_EXTENSION)));
  }
  const markers = new Set(
    keys[0]
      ? await listKeys(clients, control, `${controlPrefixes.etlProcessed}${path.posix.dirname(keys[0])}/`)
      : [],
  );
  return keys.sort().map((key) => ({ key, marked: markers.has(processedMarkerKey(key)), markerRunId: null }));
}

async function listKeys(clients: ReprocessAwsClients, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await clients.s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    keys.push(...(page.Contents ?? []).map((c) => c.Key!));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/** The report for a person (`--json` and `--report` give the JSON): the summary, then the objects. */
export function formatReprocessReport(report: ReprocessReport): string {
  const shown = report.objects
    .slice(0, 20)
    .map(
      (o) =>
        `  ${o.key}  ${o.markerRunId ? `marker of ${o.markerRunId}` : o.marked ? 'marked' : 'no marker yet'}`,
    );
  if (report.objects.length > shown.length)
    shown.push(`  ... and ${report.objects.length - shown.length} more`);
  return `${[describeReprocessReport(report), ...shown].join('\n')}\n`;
}

/**
 * One line for a person: `reprocessed cloud_billing billing_period=2024-09: 1 object(s) read,
 * 999 row(s) before, 999 after (0 inserted, 0 updated, 0 deleted, 999 unchanged); nothing
 * committed (nothing differed); run jr_...`.
 */
export function describeReprocessReport(report: ReprocessReport): string {
  const what = `${report.dataset} ${report.partition}`;
  if (report.dryRun)
    return (
      `dry run of ${what}: ${report.objects.length} normalized object(s) ` +
      `(${report.objects.filter((o) => o.marked).length} with a marker)` +
      `${report.rowsBefore === null ? '' : `, ${report.rowsBefore} row(s) in curated`}; nothing changed` +
      (report.error ? `; ${report.error}` : '')
    );
  if (!report.ok)
    return `reprocessing ${what} FAILED${report.runId ? ` (run ${report.runId})` : ''}: ${report.error}; nothing changed`;
  const c = report.changes!;
  return (
    `reprocessed ${what}: ${report.objectsRead} object(s) read, ${report.rowsBefore} row(s) before, ` +
    `${report.rowsAfter} after (${c.rowsInserted} inserted, ${c.rowsUpdated} updated, ${c.rowsDeleted} deleted, ` +
    `${c.rowsUnchanged} unchanged); ${c.committed ? `snapshot ${report.snapshotId} committed` : 'nothing committed (nothing differed)'}; ` +
    `run ${report.runId}, report ${report.runReport}`
  );
}
