import { createHash } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { ColumnConfig, ResolvedDataset } from '../../lib/config/types';
import { LINEAGE_COLUMNS } from '../../lib/config/validate';
import type { BatchFile, FileOutcome } from '../../lib/contracts/batch';
import {
  contentIndexKey,
  manifestKey,
  normalizedObjectKey,
  quarantineRowsKey,
  sourceIdOf,
} from '../../lib/contracts/layout';
import type { ManifestPartition, MeasureTotal, NormalizerManifest } from '../../lib/contracts/manifest';
import { Decimal } from '../common/decimal';
import type { PipelineEnv } from '../common/env';
import { getJson, putJson } from '../common/s3';
import {
  EmptyFileError,
  FileTooLargeError,
  KeyOutsideDatasetError,
  SourceObjectNotFoundError,
  UnreadableFileError,
} from './errors';
import { datasetForKey, decodeS3EventKey } from './keys';
import { openSource } from './readers';
import { resolveHeader } from './schema';
import { normalizeTemporal, parseMeasure, partitionValue, RowRejection } from './values';
import { S3LineWriter } from './writer';

export interface NormalizeInput {
  readonly dataset: string;
  readonly file: BatchFile;
}

export interface NormalizeDeps {
  readonly s3: S3Client;
  readonly env: Pick<PipelineEnv, 'normalizedBucket' | 'quarantineBucket' | 'controlBucket'>;
  readonly datasets: readonly ResolvedDataset[];
  readonly now?: () => Date;
}

/** Partitions one file may write; each open partition holds an upload buffer. */
export const MAX_PARTITIONS_PER_FILE = 100;

/**
 * Normalizes one landing object: streams it from S3, canonicalizes the header, detects the
 * template, normalizes values, writes one gzip JSON Lines object per partition value to the
 * normalized zone, rejected rows to quarantine, and the manifest last (the commit point).
 * Re-running for the same object version returns the existing manifest's outcome.
 */
export async function normalizeFile(deps: NormalizeDeps, input: NormalizeInput): Promise<FileOutcome> {
  const { s3, env } = deps;
  const key = decodeS3EventKey(input.file.key);
  const dataset = datasetForKey(deps.datasets, key);
  if (dataset.name !== input.dataset) {
    throw new KeyOutsideDatasetError(`"${key}" belongs to dataset "${dataset.name}", not "${input.dataset}"`);
  }
  const versionId = input.file.versionId ?? null;
  const sourceId = sourceIdOf(key, versionId);
  const manifestObjectKey = manifestKey(dataset.name, sourceId);

  const existing = await getJson<NormalizerManifest>(s3, env.controlBucket, manifestObjectKey);
  if (existing) return outcomeOf(existing, manifestObjectKey);

  const head = await headSource(s3, input.file.bucket, key, versionId);
  if (head.size === 0) throw new EmptyFileError(`"${key}" is empty (0 bytes)`);
  if (head.size > dataset.maxFileBytes) {
    throw new FileTooLargeError(
      `"${key}" is ${head.size} bytes; the limit for ${dataset.name} is ${dataset.maxFileBytes}`,
    );
  }

  const response = await s3.send(
    new GetObjectCommand({
      Bucket: input.file.bucket,
      Key: key,
      ...(versionId ? { VersionId: versionId } : {}),
    }),
  );
  const hash = createHash('sha256');
  let bytesRead = 0;
  const body = response.Body as Readable;
  const tapped = new PassThrough();
  body.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    bytesRead += chunk.length;
    if (bytesRead > dataset.maxFileBytes) {
      body.destroy(new FileTooLargeError(`"${key}" exceeds ${dataset.maxFileBytes} bytes while reading`));
    }
  });
  body.on('error', (error) => tapped.destroy(error));
  body.pipe(tapped);

  const source = openSource(key, dataset.fileKinds, tapped);
  const run = new FileRun(deps, dataset, key, versionId, sourceId);
  try {
    await run.consume(source.records);
  } catch (error) {
    await run.abort();
    throw error;
  }
  await run.close();

  const contentSha256 = hash.digest('hex');
  const duplicateOf = await claimContent(s3, env.controlBucket, dataset.name, contentSha256, {
    key,
    versionId,
    sourceId,
  });
  if (duplicateOf) await run.discardOutputs();

  const manifest: NormalizerManifest = {
    schemaVersion: 1,
    dataset: dataset.name,
    status: duplicateOf ? 'duplicate' : 'normalized',
    source: {
      bucket: input.file.bucket,
      key,
      versionId,
      sourceId,
      size: head.size,
      etag: head.etag,
      contentSha256,
    },
    duplicateOf,
    template: run.template!,
    format: source.format,
    columns: run.outputColumns,
    unknownColumns: run.unknownColumns,
    rowCount: run.rowCount,
    rejectedRowCount: run.rejectedCount,
    measures: run.totals(),
    partitions: duplicateOf ? [] : run.partitionSummaries(),
    normalizedKeys: duplicateOf ? [] : run.partitionSummaries().map((p) => p.key),
    rejectedRowsKey: duplicateOf ? null : run.rejectedRowsKey,
    normalizedAt: (deps.now?.() ?? new Date()).toISOString(),
  };
  await putJson(s3, env.controlBucket, manifestObjectKey, manifest);
  return outcomeOf(manifest, manifestObjectKey);
}

export function outcomeOf(manifest: NormalizerManifest, manifestObjectKey: string): FileOutcome {
  return {
    status: manifest.status,
    dataset: manifest.dataset,
    key: manifest.source.key,
    versionId: manifest.source.versionId,
    sourceId: manifest.source.sourceId,
    manifestKey: manifestObjectKey,
    template: manifest.template.name,
    rows: manifest.rowCount,
    rejectedRows: manifest.rejectedRowCount,
    partitions: manifest.partitions.map((p) => p.value),
    ...(manifest.duplicateOf ? { duplicateOf: manifest.duplicateOf.key } : {}),
  };
}

async function headSource(s3: S3Client, bucket: string, key: string, versionId: string | null) {
  try {
    const head = await s3.send(
      new HeadObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }),
    );
    return { size: head.ContentLength ?? 0, etag: head.ETag ?? null };
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404 || (error as Error).name === 'NotFound') {
      throw new SourceObjectNotFoundError(
        `s3://${bucket}/${key} (version ${versionId ?? 'null'}) does not exist`,
      );
    }
    throw error;
  }
}

/**
 * Records which source first delivered this content; returns that source when it was
 * another one (the file is a duplicate), or null. A conditional put makes two concurrent
 * uploads of the same content agree on one first source.
 */
async function claimContent(
  s3: S3Client,
  bucket: string,
  dataset: string,
  sha256: string,
  source: { key: string; versionId: string | null; sourceId: string },
): Promise<NormalizerManifest['duplicateOf']> {
  const indexKey = contentIndexKey(dataset, sha256);
  try {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: indexKey,
        Body: JSON.stringify(source),
        ContentType: 'application/json',
        IfNoneMatch: '*',
      }),
    );
    return null;
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status !== 412 && (error as Error).name !== 'PreconditionFailed') throw error;
  }
  const first = await getJson<{ key: string; versionId: string | null; sourceId: string }>(
    s3,
    bucket,
    indexKey,
  );
  if (!first || first.sourceId === source.sourceId) return null;
  return first;
}

interface PartitionState {
  readonly value: string;
  readonly key: string;
  readonly writer: S3LineWriter;
  rowCount: number;
  readonly sums: Map<string, Decimal>;
  readonly nulls: Map<string, number>;
}

/** The state of normalizing one file: header resolution, per-partition writers and totals. */
class FileRun {
  template: NormalizerManifest['template'] | undefined;
  outputColumns: string[] = [];
  unknownColumns: string[] = [];
  rowCount = 0;
  rejectedCount = 0;
  rejectedRowsKey: string | null = null;
  private readonly partitions = new Map<string, PartitionState>();
  private rejectedWriter: S3LineWriter | undefined;
  private readonly ingestTime: string;

  constructor(
    private readonly deps: NormalizeDeps,
    private readonly dataset: ResolvedDataset,
    private readonly key: string,
    private readonly versionId: string | null,
    private readonly sourceId: string,
  ) {
    this.ingestTime = (deps.now?.() ?? new Date()).toISOString();
  }

  async consume(records: AsyncIterable<{ recordNumber: number; values: readonly string[] }>): Promise<void> {
    const { dataset } = this;
    let columns: readonly string[] | undefined;
    let plan: ColumnPlan[] = [];
    let partitionIndex = -1;
    const nullTokens = new Set(dataset.nullTokens);
    for await (const record of records) {
      if (!columns) {
        const header = resolveHeader(dataset, record.values);
        columns = header.columns;
        this.template = header.template;
        this.unknownColumns = [...header.unknownColumns];
        partitionIndex = columns.indexOf(dataset.partition.sourceColumn);
        if (partitionIndex < 0) {
          throw new UnreadableFileError(
            `"${this.key}" has no column for partition source "${dataset.partition.sourceColumn}" (header: ${record.values.slice(0, 20).join(', ')})`,
          );
        }
        plan = planColumns(dataset, columns);
        this.outputColumns = plan.filter((c) => c.output).map((c) => c.name);
        continue;
      }
      const rowNumber = record.recordNumber;
      try {
        if (record.values.length !== columns.length) {
          throw new RowRejection(
            'field_count',
            `expected ${columns.length} fields, found ${record.values.length}`,
          );
        }
        const cells = record.values.map((raw) => {
          const trimmed = raw.trim();
          return nullTokens.has(trimmed) ? null : raw;
        });
        const measures = new Map<string, Decimal | null>();
        const parts: string[] = [];
        for (let i = 0; i < plan.length; i++) {
          const column = plan[i]!;
          let value = cells[i] ?? null;
          if (value !== null) {
            if (column.measure) {
              const parsed = parseMeasure(column.name, value.trim());
              measures.set(column.name, parsed);
              value = parsed!.toString();
            } else if (column.temporal) {
              value = normalizeTemporal(column.temporal, value.trim());
            }
          } else if (column.measure) {
            measures.set(column.name, null);
          }
          cells[i] = value;
          if (column.output) parts.push(`${column.jsonKey}${JSON.stringify(value)}`);
        }
        const partition = partitionValue(
          dataset.partition.transform,
          dataset.partition.sourceColumn,
          cells[partitionIndex] ?? null,
        );
        parts.push(
          `"ingest_source_key":${JSON.stringify(this.key)}`,
          `"ingest_source_version":${JSON.stringify(this.versionId)}`,
          `"ingest_source_id":"${this.sourceId}"`,
          `"ingest_time":"${this.ingestTime}"`,
          `"ingest_template":${JSON.stringify(this.template?.name ?? null)}`,
          `"ingest_template_version":${JSON.stringify(this.template?.version ?? null)}`,
          `"ingest_row_number":${rowNumber}`,
        );
        const state = await this.partitionFor(partition);
        await state.writer.write(`{${parts.join(',')}}`);
        state.rowCount += 1;
        this.rowCount += 1;
        for (const [name, value] of measures) {
          if (value === null) state.nulls.set(name, (state.nulls.get(name) ?? 0) + 1);
          else state.sums.set(name, (state.sums.get(name) ?? Decimal.ZERO).add(value));
        }
      } catch (error) {
        if (!(error instanceof RowRejection)) throw error;
        await this.reject(rowNumber, error, record.values);
      }
    }
    if (!columns) throw new EmptyFileError(`"${this.key}" has no header row`);
    if (this.rowCount === 0 && this.rejectedCount === 0)
      throw new EmptyFileError(`"${this.key}" has no data rows`);
  }

  private async partitionFor(value: string): Promise<PartitionState> {
    const existing = this.partitions.get(value);
    if (existing) return existing;
    if (this.partitions.size >= MAX_PARTITIONS_PER_FILE) {
      throw new UnreadableFileError(
        `"${this.key}" spans more than ${MAX_PARTITIONS_PER_FILE} values of ${this.dataset.partition.column}; split the file`,
      );
    }
    const key = normalizedObjectKey(this.dataset.name, this.dataset.partition.column, value, this.sourceId);
    const writer = new S3LineWriter(this.deps.s3, this.deps.env.normalizedBucket, key, {
      gzip: true,
      contentType: 'application/x-ndjson',
    });
    const state: PartitionState = { value, key, writer, rowCount: 0, sums: new Map(), nulls: new Map() };
    this.partitions.set(value, state);
    return state;
  }

  private async reject(rowNumber: number, rejection: RowRejection, values: readonly string[]): Promise<void> {
    if (!this.rejectedWriter) {
      this.rejectedRowsKey = quarantineRowsKey(this.dataset.name, this.sourceId);
      this.rejectedWriter = new S3LineWriter(
        this.deps.s3,
        this.deps.env.quarantineBucket,
        this.rejectedRowsKey,
        {
          gzip: false,
          contentType: 'application/x-ndjson',
        },
      );
    }
    this.rejectedCount += 1;
    await this.rejectedWriter.write(
      JSON.stringify({
        sourceKey: this.key,
        sourceVersion: this.versionId,
        rowNumber,
        reason: rejection.reason,
        detail: rejection.detail,
        values,
      }),
    );
  }

  totals(): Record<string, MeasureTotal> {
    const totals: Record<string, MeasureTotal> = {};
    for (const measure of this.dataset.measures) {
      let sum = Decimal.ZERO;
      let nullCount = 0;
      for (const state of this.partitions.values()) {
        sum = sum.add(state.sums.get(measure) ?? Decimal.ZERO);
        nullCount += state.nulls.get(measure) ?? 0;
      }
      totals[measure] = { sum: sum.toString(), nullCount };
    }
    return totals;
  }

  partitionSummaries(): ManifestPartition[] {
    return [...this.partitions.values()]
      .sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0))
      .map((state) => ({
        value: state.value,
        key: state.key,
        rowCount: state.rowCount,
        measures: Object.fromEntries(
          this.dataset.measures.map((m) => [
            m,
            { sum: (state.sums.get(m) ?? Decimal.ZERO).toString(), nullCount: state.nulls.get(m) ?? 0 },
          ]),
        ),
      }));
  }

  async close(): Promise<void> {
    await Promise.all([...this.partitions.values()].map((p) => p.writer.close()));
    await this.rejectedWriter?.close();
  }

  async abort(): Promise<void> {
    await Promise.all([...this.partitions.values()].map((p) => p.writer.abort()));
    await this.rejectedWriter?.abort();
  }

  /** A duplicate's outputs are removed: the first source's objects already hold the same rows. */
  async discardOutputs(): Promise<void> {
    const keys = [...this.partitions.values()].map((p) => ({
      bucket: this.deps.env.normalizedBucket,
      key: p.key,
    }));
    if (this.rejectedRowsKey)
      keys.push({ bucket: this.deps.env.quarantineBucket, key: this.rejectedRowsKey });
    await Promise.all(
      keys.map(({ bucket, key }) => this.deps.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))),
    );
  }
}

interface ColumnPlan {
  readonly name: string;
  readonly jsonKey: string;
  /** False for the partition column when it is also the partition source (it lives in the path). */
  readonly output: boolean;
  readonly measure: boolean;
  readonly temporal: ColumnConfig | null;
}

function planColumns(dataset: ResolvedDataset, columns: readonly string[]): ColumnPlan[] {
  const declared = new Map(dataset.columns.map((c) => [c.name, c]));
  const measures = new Set(dataset.measures);
  const reserved = new Set<string>(LINEAGE_COLUMNS);
  const { column: partitionColumn, sourceColumn } = dataset.partition;
  if (partitionColumn !== sourceColumn) reserved.add(partitionColumn);
  return columns.map((name) => {
    const config = declared.get(name);
    // A source column named like a lineage or partition column is kept under another name.
    const outputName = reserved.has(name) ? `source_${name}` : name;
    return {
      name: outputName,
      jsonKey: `${JSON.stringify(outputName)}:`,
      // The partition source column that *is* the partition column lives in the object's path.
      output: !(name === partitionColumn && name === sourceColumn),
      measure: measures.has(name),
      temporal: config && (config.type === 'date' || config.type === 'timestamp') ? config : null,
    };
  });
}
