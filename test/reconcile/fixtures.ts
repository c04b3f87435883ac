/**
 * Control documents for reconciliation tests, built exactly per the TypeScript contracts
 * (NormalizerManifest, ProcessedMarker, EtlRunReport, PartitionAggregates; schema version 2)
 * and written as JSON
 * to the emulator's control bucket, as the normalizer and the Glue ETL write them.
 *
 * A test describes source rows (what the normalizer wrote) and curated rows (what the ETL
 * wrote for them); manifests, markers, run reports and aggregates are derived from those rows
 * with exact decimals, so each scenario tampers with data, not with totals.
 */
import { GlueClient } from '@aws-sdk/client-glue';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { PublishCommandInput, SNSClient } from '@aws-sdk/client-sns';
import { Decimal } from '../../lambdas/common/decimal';
import type { PipelineEnv } from '../../lambdas/common/env';
import { getJson, putJson } from '../../lambdas/common/s3';
import { datasetByName, type ResolvedDataset } from '../../lib/config';
import type { Alert, AlertKind, AlertSeverity } from '../../lib/contracts/alerts';
import type { FileOutcome } from '../../lib/contracts/batch';
import {
  aggregatesKey,
  etlRunReportKey,
  manifestKey,
  normalizedObjectKey,
  processedMarkerKey,
  quarantineRowsKey,
  sourceIdOf,
} from '../../lib/contracts/layout';
import type { MeasureTotal, NormalizerManifest } from '../../lib/contracts/manifest';
import type {
  Displaced,
  DisplacedReason,
  EtlConflict,
  EtlRestatement,
  EtlRunReport,
  EtlSourceTotals,
  PartitionAggregates,
  ProcessedMarker,
} from '../../lib/contracts/run-report';
import { type Emulator, startEmulator } from '../../local/emulator';

export const DATASET = 'workforce_capacity';
export const dataset = (): ResolvedDataset => datasetByName(DATASET)!;

/** One normalized row of the workforce_capacity dataset (measures as decimal strings). */
export interface Row {
  readonly template: 'capacity_plan' | 'org_roster';
  readonly org_unit: string;
  readonly quarter: string;
  readonly cost_center?: string;
  readonly job_family?: string;
  readonly location?: string;
  readonly headcount?: string;
  readonly fte?: string;
  readonly planned_hires?: string;
  readonly attrition?: string;
  readonly cost_usd?: string;
}

export const plan = (
  org_unit: string,
  quarter: string,
  job_family: string,
  headcount: string,
  cost_usd: string,
): Row => ({
  template: 'capacity_plan',
  org_unit,
  quarter,
  cost_center: `CC-${org_unit.toUpperCase()}`,
  job_family,
  location: 'Berlin',
  headcount,
  fte: headcount,
  planned_hires: '1',
  attrition: '0.5',
  cost_usd,
});

export const roster = (org_unit: string, quarter: string, headcount: string): Row => ({
  template: 'org_roster',
  org_unit,
  quarter,
  headcount,
});

export interface SourceFile {
  readonly key: string;
  readonly versionId: string | null;
  readonly sourceId: string;
  readonly rows: readonly Row[];
  readonly manifest: NormalizerManifest;
  readonly manifestKey: string;
  readonly outcome: FileOutcome;
  /** Normalized object key per partition value. */
  readonly objects: ReadonlyMap<string, string>;
}

function totals(rows: readonly Row[], measures: readonly string[]): Record<string, MeasureTotal> {
  return Object.fromEntries(
    measures.map((m) => {
      const values = rows.map((r) => (r as unknown as Record<string, string | undefined>)[m]);
      return [
        m,
        {
          sum: Decimal.sum(values.flatMap((v) => (v === undefined ? [] : [Decimal.parse(v)]))).toString(),
          nullCount: values.filter((v) => v === undefined).length,
        },
      ];
    }),
  );
}

const byPartition = (rows: readonly Row[]) => {
  const groups = new Map<string, Row[]>();
  for (const row of rows) groups.set(row.quarter, [...(groups.get(row.quarter) ?? []), row]);
  return new Map([...groups].sort(([a], [b]) => (a < b ? -1 : 1)));
};

/** When fixture files landed unless a test says otherwise (14 minutes before writeEtlRun's finishedAt). */
export const LANDED_AT = '2025-01-15T09:55:00Z';

/** What the normalizer produces for a file: its manifest and its FileOutcome. */
export function sourceFile(
  key: string,
  rows: readonly Row[],
  options: {
    readonly versionId?: string | null;
    readonly rejectedRows?: number;
    /** The S3 event's time in the manifest (null: none, as manifests written before it). */
    readonly eventTime?: string | null;
  } = {},
): SourceFile {
  const ds = dataset();
  const versionId = options.versionId === undefined ? `v-${key.length}` : options.versionId;
  const sourceId = sourceIdOf(key, versionId);
  const template = rows[0]?.template ?? 'capacity_plan';
  const rejected = options.rejectedRows ?? 0;
  const partitions = [...byPartition(rows)].map(([value, partitionRows]) => ({
    value,
    key: normalizedObjectKey(ds.name, ds.partition.column, value, sourceId),
    rowCount: partitionRows.length,
    measures: totals(partitionRows, ds.measures),
  }));
  const manifest: NormalizerManifest = {
    schemaVersion: 1,
    dataset: ds.name,
    status: 'normalized',
    source: {
      bucket: 'landing',
      key,
      versionId,
      sourceId,
      size: 1000,
      etag: '"etag"',
      contentSha256: sourceId.padEnd(64, '0'),
      ...(options.eventTime === null ? {} : { eventTime: options.eventTime ?? LANDED_AT }),
    },
    duplicateOf: null,
    template: { name: template, version: 'v1', match: 'exact' },
    format: { kind: 'csv', compression: null, encoding: 'utf-8', delimiter: ',', sheets: null },
    columns: ['org_unit', 'cost_center', 'quarter', 'job_family', 'location', ...ds.measures],
    unknownColumns: [],
    rowCount: rows.length,
    rejectedRowCount: rejected,
    measures: totals(rows, ds.measures),
    partitions,
    normalizedKeys: partitions.map((p) => p.key),
    rejectedRowsKey: rejected > 0 ? quarantineRowsKey(ds.name, sourceId) : null,
    normalizedAt: '2025-01-15T10:00:00.000Z',
  };
  const mKey = manifestKey(ds.name, sourceId);
  return {
    key,
    versionId,
    sourceId,
    rows,
    manifest,
    manifestKey: mKey,
    objects: new Map(partitions.map((p) => [p.value, p.key])),
    outcome: {
      status: 'normalized',
      dataset: ds.name,
      key,
      versionId,
      sourceId,
      manifestKey: mKey,
      template,
      rows: rows.length,
      rejectedRows: rejected,
      partitions: partitions.map((p) => p.value),
    },
  };
}

/** The file that displaced rows (a newer file, or the file they collided with). */
export interface DisplacingFile {
  readonly sourceId: string;
  readonly key: string;
}

/** Rows of one object that left (or never entered) curated, and why. */
export interface Displacement {
  readonly by: DisplacingFile;
  readonly reason: DisplacedReason;
  readonly rows: readonly Row[];
}

/** What the ETL did with one source file in a run. */
export interface EtlFileResult {
  readonly file: SourceFile;
  /**
   * Rows in curated per partition (default: the source rows minus the displaced ones). A test
   * that loses or duplicates rows gives them here.
   */
  readonly curated?: ReadonlyMap<string, readonly Row[]>;
  /** Of the rows in curated, rows already there before the run, per partition (default none). */
  readonly identical?: ReadonlyMap<string, readonly Row[]>;
  /** Rows superseded by newer files or rejected as conflicts (`reason: 'conflict'`), per partition. */
  readonly displaced?: ReadonlyMap<string, readonly Displacement[]>;
  /** Partitions this run merged (default: all of the file's). */
  readonly partitions?: readonly string[];
}

export interface WrittenRun {
  readonly report: EtlRunReport;
  readonly markers: readonly ProcessedMarker[];
}

/** A run's snapshot id unless a test gives one: a 63-bit decimal string derived from the run id. */
export function snapshotOf(runId: string): string {
  let hash = 1469598103934665603n;
  for (const char of runId) hash = BigInt.asUintN(63, (hash ^ BigInt(char.charCodeAt(0))) * 1099511628211n);
  return hash.toString();
}

const sumsOf = (rows: readonly Row[]): Record<string, string> =>
  Object.fromEntries(Object.entries(totals(rows, dataset().measures)).map(([m, t]) => [m, t.sum]));

const addSums = (list: readonly Readonly<Record<string, string>>[]): Record<string, string> =>
  Object.fromEntries(
    dataset().measures.map((m) => [m, Decimal.sum(list.map((x) => Decimal.parse(x[m] ?? '0'))).toString()]),
  );

/** One Displaced entry per (file, reason), rows and sums added up, as the job writes them. */
function displacedEntries(list: readonly Displacement[]): Displaced[] {
  const entries = new Map<string, { d: Displacement; rows: Row[] }>();
  for (const d of list) {
    const id = `${d.by.sourceId}|${d.reason}`;
    const entry = entries.get(id) ?? { d, rows: [] };
    entry.rows.push(...d.rows);
    entries.set(id, entry);
  }
  return [...entries.values()].map(({ d, rows }) => ({
    sourceId: d.by.sourceId,
    sourceKey: d.by.key,
    reason: d.reason,
    rows: rows.length,
    measures: sumsOf(rows),
  }));
}

/**
 * Writes what a Glue ETL run writes (schema version 2): the run report, then one processed
 * marker per merged object. Restatements and conflicts of the report are derived from the
 * displaced rows; `restatements` adds rows of files curated by earlier runs.
 */
export async function writeEtlRun(
  s3: S3Client,
  bucket: string,
  runId: string,
  results: readonly EtlFileResult[],
  options: {
    readonly writeReport?: boolean;
    readonly reportOverride?: (r: EtlRunReport) => EtlRunReport;
    readonly markerOverride?: (m: ProcessedMarker) => unknown;
    readonly snapshotId?: string | null;
    readonly previousSnapshotId?: string | null;
    readonly finishedAt?: string;
    readonly restatements?: readonly EtlRestatement[];
  } = {},
): Promise<WrittenRun> {
  const ds = dataset();
  const snapshotId = options.snapshotId === undefined ? snapshotOf(runId) : options.snapshotId;
  const quarantineKey = `rows/${ds.name}/conflicts/${runId}/`;
  const markers: ProcessedMarker[] = [];
  const sources: EtlSourceTotals[] = [];
  const restatements: EtlRestatement[] = [...(options.restatements ?? [])];
  const conflicts: EtlConflict[] = [];
  for (const result of results) {
    const sourceRows = byPartition(result.file.rows);
    const merged = result.partitions ?? [...sourceRows.keys()];
    const fileMarkers: ProcessedMarker[] = [];
    const fileDisplaced: Displacement[] = [];
    for (const partition of merged) {
      const read = sourceRows.get(partition) ?? [];
      const displaced = result.displaced?.get(partition) ?? [];
      fileDisplaced.push(...displaced);
      const out = new Set(displaced.flatMap((d) => d.rows));
      const written = result.curated?.get(partition) ?? read.filter((r) => !out.has(r));
      const identical = result.identical?.get(partition) ?? [];
      const superseded = displaced.filter((d) => d.reason !== 'conflict');
      const rejected = displaced.filter((d) => d.reason === 'conflict');
      const supersededRows = superseded.flatMap((d) => d.rows);
      const rejectedRows = rejected.flatMap((d) => d.rows);
      const marker: ProcessedMarker = {
        schemaVersion: 2,
        dataset: ds.name,
        runId,
        normalizedKey: result.file.objects.get(partition)!,
        sourceId: result.file.sourceId,
        snapshotId,
        rowsRead: read.length,
        rowsWritten: written.length,
        identicalRows: identical.length,
        supersededRows: supersededRows.length,
        supersededMeasures: sumsOf(supersededRows),
        supersededBy: displacedEntries(superseded),
        rejectedRows: rejectedRows.length,
        rejectedMeasures: sumsOf(rejectedRows),
        conflictsWith: displacedEntries(rejected),
        rejectedKey: rejectedRows.length > 0 ? quarantineKey : null,
        duplicateRows: supersededRows.length + rejectedRows.length,
        measures: sumsOf(written),
        identicalMeasures: sumsOf(identical),
      };
      const stored = options.markerOverride ? options.markerOverride(marker) : marker;
      await putJson(s3, bucket, processedMarkerKey(marker.normalizedKey), stored);
      fileMarkers.push(marker);
    }
    markers.push(...fileMarkers);
    for (const d of displacedEntries(fileDisplaced)) {
      if (d.reason === 'conflict') {
        conflicts.push({
          sourceId: result.file.sourceId,
          sourceKey: result.file.key,
          conflictsWithSourceId: d.sourceId,
          conflictsWithSourceKey: d.sourceKey,
          rows: d.rows,
          quarantineKey,
        });
      } else {
        restatements.push({
          sourceId: d.sourceId,
          sourceKey: d.sourceKey,
          supersededSourceId: result.file.sourceId,
          supersededSourceKey: result.file.key,
          reason: d.reason,
          rows: d.rows,
        });
      }
    }
    const count = (field: 'rowsRead' | 'rowsWritten' | 'identicalRows' | 'supersededRows' | 'rejectedRows') =>
      fileMarkers.reduce((n, m) => n + m[field], 0);
    sources.push({
      sourceId: result.file.sourceId,
      sourceKey: result.file.key,
      sourceVersion: result.file.versionId,
      normalizedKeys: fileMarkers.map((m) => m.normalizedKey),
      rowsRead: count('rowsRead'),
      rowsWritten: count('rowsWritten'),
      identicalRows: count('identicalRows'),
      supersededRows: count('supersededRows'),
      supersededMeasures: addSums(fileMarkers.map((m) => m.supersededMeasures)),
      supersededBy: displacedEntries(fileDisplaced.filter((d) => d.reason !== 'conflict')),
      rejectedRows: count('rejectedRows'),
      rejectedMeasures: addSums(fileMarkers.map((m) => m.rejectedMeasures)),
      conflictsWith: displacedEntries(fileDisplaced.filter((d) => d.reason === 'conflict')),
      duplicateRows: count('supersededRows') + count('rejectedRows'),
      measures: addSums(fileMarkers.map((m) => m.measures)),
      identicalMeasures: addSums(fileMarkers.map((m) => m.identicalMeasures)),
    });
  }
  const partitions = [...new Set(markers.map((m) => m.normalizedKey.split('/')[1]!.split('=')[1]!))];
  let report: EtlRunReport = {
    schemaVersion: 2,
    dataset: ds.name,
    runId,
    jobName: 'test-pipeline-workforce_capacity-curate',
    executionId: null,
    startedAt: '2025-01-15T10:05:00.000Z',
    finishedAt: options.finishedAt ?? '2025-01-15T10:09:00.000Z',
    pushDownPredicate: null,
    boundedFiles: 450,
    filesRead: markers.length,
    capReached: false,
    filesLeft: 0,
    snapshotId,
    previousSnapshotId: options.previousSnapshotId ?? null,
    sources,
    restatements,
    conflicts,
    partitionsWritten: partitions.map((value) => ({
      value,
      rowsAdded: markers
        .filter((m) => m.normalizedKey.includes(`=${value}/`))
        .reduce((n, m) => n + m.rowsWritten - m.identicalRows, 0),
      rowsDeleted: 0,
    })),
    curatedTable: ds.name,
    tableLocation: `s3://curated/${ds.name}`,
    addedColumns: [],
    dimensions: [],
  };
  if (options.reportOverride) report = options.reportOverride(report);
  if (options.writeReport !== false) await putJson(s3, bucket, etlRunReportKey(ds.name, runId), report);
  return { report, markers };
}

/** Writes the ETL's partition aggregates for the cross-template rule over a curated partition's rows. */
export async function writeAggregates(
  s3: S3Client,
  bucket: string,
  partition: string,
  curatedRows: readonly Row[],
  runId = 'jr_aggregates',
): Promise<PartitionAggregates> {
  const ds = dataset();
  const rules = ds.reconciliation.crossTemplateRules.map((rule) => {
    const sums = new Map<string, { template: string; group: Record<string, string | null>; sum: Decimal }>();
    for (const row of curatedRows.filter((r) => r.quarter === partition)) {
      const group = Object.fromEntries(
        rule.groupBy.map((c) => [c, (row as unknown as Record<string, string | undefined>)[c] ?? null]),
      );
      const id = JSON.stringify([row.template, group]);
      const value = (row as unknown as Record<string, string | undefined>)[rule.measure];
      const entry = sums.get(id) ?? { template: row.template, group, sum: Decimal.ZERO };
      entry.sum = entry.sum.add(value === undefined ? Decimal.ZERO : Decimal.parse(value));
      sums.set(id, entry);
    }
    return {
      rule: rule.name,
      measure: rule.measure,
      groupBy: rule.groupBy,
      sums: [...sums.values()].map((s) => ({ template: s.template, group: s.group, sum: s.sum.toString() })),
    };
  });
  const document: PartitionAggregates = {
    schemaVersion: 2,
    dataset: ds.name,
    partition,
    runId,
    snapshotId: '7001',
    rules,
  };
  await putJson(s3, bucket, aggregatesKey(ds.name, partition), document);
  return document;
}

/**
 * Aggregates for every quarter of `planRows` as if the org units' rosters had arrived earlier
 * with the same headcount: the cross-template rule passes, so a test can focus on the
 * source -> curated checks.
 */
export async function writeBalancedAggregates(
  s3: S3Client,
  bucket: string,
  planRows: readonly Row[],
): Promise<void> {
  const rosters = new Map<string, Decimal>();
  for (const row of planRows) {
    const id = JSON.stringify([row.org_unit, row.quarter]);
    rosters.set(id, (rosters.get(id) ?? Decimal.ZERO).add(Decimal.parse(row.headcount ?? '0')));
  }
  const rosterRows = [...rosters].map(([id, headcount]) => {
    const [orgUnit, quarter] = JSON.parse(id) as [string, string];
    return roster(orgUnit, quarter, headcount.toString());
  });
  for (const quarter of new Set(planRows.map((r) => r.quarter))) {
    await writeAggregates(s3, bucket, quarter, [...planRows, ...rosterRows]);
  }
}

export async function writeManifests(
  s3: S3Client,
  bucket: string,
  files: readonly SourceFile[],
): Promise<void> {
  for (const file of files) await putJson(s3, bucket, file.manifestKey, file.manifest);
}

/** The emulator, clients and a fresh control bucket per test. */
export interface TestAws {
  readonly emulator: Emulator;
  readonly s3: S3Client;
  readonly glue: GlueClient;
  newEnv(): Promise<PipelineEnv>;
  read<T>(bucket: string, key: string): Promise<T | undefined>;
}

let bucketCounter = 0;

export async function startTestAws(): Promise<TestAws> {
  const emulator = await startEmulator();
  const common = {
    endpoint: emulator.endpoint,
    region: emulator.env.AWS_REGION!,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };
  const s3 = new S3Client({ ...common, forcePathStyle: true });
  const glue = new GlueClient(common);
  return {
    emulator,
    s3,
    glue,
    async newEnv() {
      const controlBucket = `control-${process.pid}-${++bucketCounter}`;
      await s3.send(new CreateBucketCommand({ Bucket: controlBucket }));
      return {
        pipelineName: 'test-pipeline',
        landingBucket: 'landing',
        normalizedBucket: 'normalized',
        curatedBucket: 'curated',
        quarantineBucket: 'quarantine',
        controlBucket,
        glueDatabase: 'test_pipeline',
        alertTopicArn: TEST_TOPIC,
        endpointUrl: emulator.endpoint,
        region: common.region,
      };
    },
    read: <T>(bucket: string, key: string) => getJson<T>(s3, bucket, key),
  };
}

export const EXECUTION = 'arn:aws:states:eu-west-1:123456789012:execution:test-pipeline-ingestion:batch-0001';

export const TEST_TOPIC = 'arn:aws:sns:eu-west-1:123456789012:test-alerts';

/** An SNS client that records what the handlers publish (or refuses it, like a disabled key). */
export class RecordingSns {
  readonly published: PublishCommandInput[] = [];
  refuse: Error | undefined;

  async send(command: { input: PublishCommandInput }): Promise<{ MessageId: string }> {
    if (this.refuse) throw this.refuse;
    this.published.push(command.input);
    return { MessageId: `m-${this.published.length}` };
  }

  get client(): SNSClient {
    return this as unknown as SNSClient;
  }

  /** The published messages as alerts (subject, message and the kind/severity/dataset attributes). */
  alerts(): Alert[] {
    return this.published.map((p) => ({
      kind: p.MessageAttributes?.kind?.StringValue as AlertKind,
      severity: p.MessageAttributes?.severity?.StringValue as AlertSeverity,
      dataset: p.MessageAttributes?.dataset?.StringValue ?? '',
      subject: p.Subject ?? '',
      message: p.Message ?? '',
    }));
  }
}
