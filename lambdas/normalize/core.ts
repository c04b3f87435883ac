/**
 * Normalizing one landing object end to end: the key resolved to its dataset, the object checked
 * (size, version), its content claimed in the content index (lambdas/normalize/content.ts, so
 * the same bytes landing twice are a duplicate), its tables read by a FileRun
 * (lambdas/normalize/file-run.ts), and the manifest written last, as the commit point.
 */
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ResolvedDataset } from '../../lib/config/types';
import type { BatchFile, FileOutcome } from '../../lib/contracts/batch';
import { manifestKey, sourceIdOf } from '../../lib/contracts/layout';
import type { NormalizerManifest } from '../../lib/contracts/manifest';
import { CONTRACTS, readDocument } from '../common/contract';
import type { PipelineEnv } from '../common/env';
import { putJson } from '../common/s3';
import { claimContent } from './content';
import {
  EmptyFileError,
  FileTooLargeError,
  KeyOutsideDatasetError,
  SourceObjectNotFoundError,
} from './errors';
import { FileRun } from './file-run';
import { datasetForKey, decodeS3EventKey } from './keys';
import { openParquet } from './parquet';
import { type ClassifiedKey, classifyKey, type FormatInfo, openTextSource } from './readers';
import type { SourceTable } from './records';
import {
  ContentDigest,
  digestObject,
  getObjectStream,
  type ObjectRef,
  S3ZipReader,
  s3AsyncBuffer,
} from './source';
import type { LineWriterOptions } from './writer';
import { openXlsx } from './xlsx';

export {
  MAX_HELD_CHARS,
  MAX_HELD_ROWS,
  MAX_PARTITIONS_PER_FILE,
  MAX_SOURCES_PER_FILE,
  type ManifestDetails,
  SHEET_COLUMN,
} from './file-run';

export interface NormalizeInput {
  readonly dataset: string;
  readonly file: BatchFile;
  /** The Step Functions execution normalizing the file (two copies in one execution are duplicates). */
  readonly executionId?: string | null;
}

export interface NormalizeDeps {
  readonly s3: S3Client;
  readonly env: Pick<PipelineEnv, 'normalizedBucket' | 'quarantineBucket' | 'controlBucket'>;
  readonly datasets: readonly ResolvedDataset[];
  readonly now?: () => Date;
  /** Output tuning (the benchmark compares settings). @default gzip level 1, 5 MiB parts */
  readonly output?: Pick<LineWriterOptions, 'gzipLevel' | 'partSize' | 'queueSize'>;
}

export type WrittenManifest = NormalizerManifest;

/**
 * Normalizes one landing object: reads it (streamed, or by ranges for XLSX and Parquet),
 * canonicalizes each table's header, detects the template, normalizes values, writes one
 * gzip JSON Lines object per partition value to the normalized zone, rejected rows to
 * quarantine, and the manifest last (the commit point). Re-running for the same object
 * version returns the existing manifest's outcome.
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

  const existing = await readDocument(s3, env.controlBucket, manifestObjectKey, CONTRACTS.manifest);
  if (existing) return outcomeOf(existing, manifestObjectKey);

  const classified = classifyKey(key, dataset.fileKinds);
  const head = await headSource(s3, input.file.bucket, key, versionId);
  if (head.size === 0) throw new EmptyFileError(`"${key}" is empty (0 bytes)`);
  if (head.size > dataset.maxFileBytes) {
    throw new FileTooLargeError(
      `"${key}" is ${head.size} bytes; the limit for ${dataset.name} is ${dataset.maxFileBytes}`,
    );
  }
  const ref: ObjectRef = { bucket: input.file.bucket, key, versionId, size: head.size };

  // One pass: a text file's encoding is decided while it streams (text.ts), never by reading it again.
  const run = new FileRun(deps, dataset, {
    key,
    versionId,
    sourceId,
    eventTime: input.file.eventTime,
    sequencer: input.file.sequencer,
  });
  let digest: ContentDigest;
  let format: FormatInfo;
  try {
    const opened = await openSource(deps.s3, ref, dataset, classified);
    digest = opened.digest;
    format = opened.format;
    await run.consume(opened.tables, opened.skippedSheets);
    await run.close();
  } catch (error) {
    await run.abort();
    throw error;
  }

  try {
    const contentSha256 = digest.hex();
    const duplicateOf = await claimContent(
      s3,
      env.controlBucket,
      dataset.name,
      contentSha256,
      { key, versionId, sourceId },
      input.executionId ?? null,
    );
    if (duplicateOf) await run.discardOutputs();
    const partitions = duplicateOf ? [] : run.partitionSummaries();
    const manifest: WrittenManifest = {
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
        eventTime: input.file.eventTime,
      },
      duplicateOf,
      template: run.template(),
      // For workbooks: the sheets whose rows were read (skipped ones are in skippedSheets).
      format: {
        ...format,
        ...(format.kind === 'xlsx' ? { sheets: run.tables.map((t) => t.sheet!) } : {}),
        decimalMark: run.numbers.mark,
      },
      columns: run.outputColumns,
      unknownColumns: run.unknownColumns,
      rowCount: run.rowCount,
      rejectedRowCount: run.rejectedCount,
      measures: run.totals(),
      partitions,
      ...run.sourceSummaries(),
      normalizedKeys: partitions.map((p) => p.key),
      rejectedRowsKey: duplicateOf ? null : run.rejectedRowsKey,
      normalizedAt: (deps.now?.() ?? new Date()).toISOString(),
      tables: run.tables,
      skippedSheets: run.skippedSheets,
      unknownTemplate: run.unknownTemplate,
    };
    await putJson(s3, env.controlBucket, manifestObjectKey, manifest);
    return outcomeOf(manifest, manifestObjectKey);
  } catch (error) {
    await run.discardOutputs().catch(() => undefined);
    throw error;
  }
}

interface OpenedSource {
  readonly format: FormatInfo;
  readonly tables: AsyncIterable<SourceTable>;
  readonly skippedSheets: { sheet: string; reason: string }[];
  readonly digest: ContentDigest;
}

/** Opens the object with the reader its kind needs; text kinds are hashed as they stream. */
async function openSource(
  s3: S3Client,
  ref: ObjectRef,
  dataset: ResolvedDataset,
  classified: ClassifiedKey,
): Promise<OpenedSource> {
  const label = `"${ref.key}"`;
  if (classified.reader === 'xlsx') {
    const digest = await digestObject(s3, ref, dataset.maxFileBytes);
    const workbook = await openXlsx(new S3ZipReader(s3, ref), ref.size, {
      ...(dataset.sheet !== undefined ? { sheet: dataset.sheet } : {}),
      maxExpansionRatio: dataset.maxXlsxExpansionRatio,
      label,
    });
    return {
      format: { kind: 'xlsx', compression: null, encoding: null, delimiter: null, sheets: workbook.sheets },
      tables: workbook.tables,
      skippedSheets: workbook.skippedSheets as { sheet: string; reason: string }[],
      digest,
    };
  }
  if (classified.reader === 'parquet') {
    const digest = await digestObject(s3, ref, dataset.maxFileBytes);
    const parquet = await openParquet(s3AsyncBuffer(s3, ref), label);
    return {
      format: { kind: 'parquet', compression: null, encoding: null, delimiter: null, sheets: null },
      tables: single(parquet.table),
      skippedSheets: [],
      digest,
    };
  }
  const digest = new ContentDigest(dataset.maxFileBytes, label);
  const body = await getObjectStream(s3, ref);
  const text = await openTextSource(digest.tap(body as AsyncIterable<Buffer>), {
    dataset,
    classified,
    label,
  });
  return { format: text.format, tables: single(text.table), skippedSheets: [], digest };
}

async function* single(table: SourceTable): AsyncIterable<SourceTable> {
  yield table;
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
    ...(manifest.status === 'normalized' && manifest.unknownTemplate
      ? { flag: 'unknown_template' as const, reason: manifest.unknownTemplate.detail.slice(0, 500) }
      : {}),
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
