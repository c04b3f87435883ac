/**
 * Volume anomalies and arrival records (docs/operations.md, "Volume anomalies"), run by the
 * `reconcile` action for the batch's normalized files (duplicates excluded):
 *
 * 1. each file is split into its shares, one per source (SourceConfig: the manifest's `sources`
 *    for a column, the landing sub-folder for a prefix, '' otherwise) under the file's template;
 * 2. per share, one arrival record (what the late-data check reads) and one volume record (the
 *    history) are written to the control bucket: one object per file, template and source, so
 *    concurrent executions never write the same object and a re-run rewrites the same bytes;
 * 3. per share, the `historyFiles` volume records of the same dataset, template and source that
 *    landed before it (one List call: the keys sort newest first, StartAfter its own key excludes
 *    it and every later file) give the medians its rows and measure totals are checked against
 *    (lambdas/reconcile/volume-band.ts). Fewer than `minHistory` previous files: no verdict.
 */
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { ResolvedDataset, VolumeBand } from '../../lib/config/types';
import type { AlertReceipt } from '../../lib/contracts/alerts';
import type { NormalizerManifest } from '../../lib/contracts/manifest';
import {
  type ArrivalRecord,
  arrivalKey,
  landingSource,
  type VolumeRecord,
  volumeHistoryKey,
  volumeHistoryPrefix,
} from '../../lib/contracts/operations';
import type { VolumeCheckSummary } from '../../lib/contracts/reconcile';
import type { VolumeFinding, VolumeMetricFinding } from '../common/alerts';
import { Decimal } from '../common/decimal';
import { getJson, mapLimit, putJson } from '../common/s3';
import type { ReconcileDeps } from './deps';
import { ControlDocumentError } from './errors';
import { checkBand } from './volume-band';

const CONCURRENCY = 16;

/** One file's share of one source, under its template: what is recorded and compared. */
export interface VolumeShare {
  readonly record: VolumeRecord;
  readonly recordKey: string;
}

/** A share with too little history for a verdict. */
export interface NoVerdict {
  readonly key: string;
  readonly template: string | null;
  readonly source: string;
  readonly history: number;
}

export interface VolumeCheckOutput {
  readonly summary: VolumeCheckSummary;
  readonly anomalies: readonly VolumeFinding[];
  readonly noVerdict: readonly NoVerdict[];
  /** Files that could not be split by source (a manifest without per-source totals). */
  readonly skipped: readonly { readonly key: string; readonly reason: string }[];
}

/** When a file landed: the S3 event's time, or when it was normalized for manifests without one. */
export const landedAtOf = (manifest: NormalizerManifest) =>
  manifest.source.eventTime ?? manifest.normalizedAt;

/**
 * A file's shares: per source, its rows and exact measure sums. Null when the dataset's source is
 * a column and the manifest has no per-source totals (written before they were recorded).
 */
export function sharesOf(dataset: ResolvedDataset, manifest: NormalizerManifest): VolumeShare[] | null {
  const template = manifest.template.name;
  const landedAt = landedAtOf(manifest);
  const { key, versionId, sourceId } = manifest.source;
  const sums = (measures: NormalizerManifest['measures']) =>
    Object.fromEntries(dataset.measures.flatMap((m) => (measures[m] ? [[m, measures[m].sum]] : [])));
  const share = (source: string, rowCount: number, measures: NormalizerManifest['measures']): VolumeShare => {
    const record: VolumeRecord = {
      schemaVersion: 1,
      dataset: dataset.name,
      template,
      source,
      key,
      versionId,
      sourceId,
      landedAt,
      rowCount,
      measures: sums(measures),
    };
    return { record, recordKey: volumeHistoryKey(dataset.name, template, source, landedAt, sourceId) };
  };
  const config = dataset.source;
  if (config && 'column' in config) {
    if (!manifest.sources) return null;
    return manifest.sources.map((s) => share(s.value, s.rowCount, s.measures));
  }
  const source = config && 'prefix' in config ? landingSource(dataset.landingPrefix, key) : '';
  return [share(source, manifest.rowCount, manifest.measures)];
}

/** The arrival record of a share, under the UTC date it landed on. */
export function arrivalOf(share: VolumeShare): { key: string; record: ArrivalRecord } {
  const r = share.record;
  const date = new Date(Date.parse(r.landedAt)).toISOString().slice(0, 10);
  return {
    key: arrivalKey(r.dataset, date, r.source, r.sourceId),
    record: {
      schemaVersion: 1,
      dataset: r.dataset,
      source: r.source,
      template: r.template,
      key: r.key,
      versionId: r.versionId,
      sourceId: r.sourceId,
      landedAt: r.landedAt,
      rowCount: r.rowCount,
    },
  };
}

/**
 * Compares a share with its previous files: null when in band (or no verdict), else the values
 * outside the band. Measures a previous record lacks (a measure added later) are compared over
 * the records that have them, with the same minimum.
 */
export function compareShare(
  dataset: ResolvedDataset,
  record: VolumeRecord,
  history: readonly VolumeRecord[],
): VolumeMetricFinding[] {
  const { minHistory, rows, measures } = dataset.volume;
  const outside: VolumeMetricFinding[] = [];
  const check = (metric: string, value: Decimal, previous: Decimal[], band: VolumeBand) => {
    if (previous.length < minHistory) return;
    const result = checkBand(value, previous, band);
    if (!result.inBand) {
      outside.push({ metric, value: result.value, median: result.median, ratio: result.ratio, band });
    }
  };
  const decimal = (n: number) => Decimal.parse(String(n));
  check(
    'rows',
    decimal(record.rowCount),
    history.map((h) => decimal(h.rowCount)),
    rows,
  );
  if (measures) {
    for (const measure of dataset.measures) {
      const value = record.measures[measure];
      if (value === undefined) continue;
      const previous = history.flatMap((h) =>
        h.measures[measure] !== undefined ? [Decimal.parse(h.measures[measure])] : [],
      );
      check(measure, Decimal.parse(value), previous, measures);
    }
  }
  return outside;
}

/** Records every share of the batch's normalized files, then checks each against its history. */
export async function checkVolumes(
  deps: ReconcileDeps,
  dataset: ResolvedDataset,
  manifests: readonly NormalizerManifest[],
): Promise<VolumeCheckOutput> {
  const bucket = deps.env.controlBucket;
  const skipped: { key: string; reason: string }[] = [];
  const shares: VolumeShare[] = [];
  for (const manifest of manifests) {
    if (manifest.status !== 'normalized') continue;
    const split = sharesOf(dataset, manifest);
    if (split) shares.push(...split);
    else {
      skipped.push({
        key: manifest.source.key,
        reason: `its manifest has no per-source totals (source column ${JSON.stringify(dataset.source)})`,
      });
    }
  }
  // Every share is recorded before any is compared, so a file compares with the batch's files
  // that landed before it whatever order they are in.
  await mapLimit(shares, CONCURRENCY, async (share) => {
    const arrival = arrivalOf(share);
    await putJson(deps.s3, bucket, arrival.key, arrival.record);
    await putJson(deps.s3, bucket, share.recordKey, share.record);
  });
  const known = new Map<string, Promise<VolumeRecord>>(
    shares.map((s) => [s.recordKey, Promise.resolve(s.record)]),
  );
  const read = (key: string): Promise<VolumeRecord> => {
    let record = known.get(key);
    if (!record) {
      record = getJson<VolumeRecord>(deps.s3, bucket, key).then((r) => {
        if (!r || typeof r.rowCount !== 'number' || typeof r.measures !== 'object' || r.measures === null) {
          throw new ControlDocumentError(`volume record s3://${bucket}/${key} is missing or malformed`);
        }
        return r;
      });
      known.set(key, record);
    }
    return record;
  };
  const { historyFiles, minHistory } = dataset.volume;
  const anomalies: VolumeFinding[] = [];
  const noVerdict: NoVerdict[] = [];
  await mapLimit(shares, CONCURRENCY, async (share) => {
    const { record } = share;
    const prefix = volumeHistoryPrefix(dataset.name, record.template, record.source);
    // ListObjectsV2 returns keys "sorted in an ascending order of the respective key names" and
    // starts "after this specified key" (StartAfter; Amazon S3 API Reference, ListObjectsV2):
    // with inverted landing times the first MaxKeys keys after a file's own are the files that
    // landed just before it, newest first, never the file itself.
    const listed = await deps.s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        StartAfter: share.recordKey,
        MaxKeys: historyFiles,
      }),
    );
    const keys = (listed.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : [])).slice(0, historyFiles);
    const history = await Promise.all(keys.map(read));
    if (history.length < minHistory) {
      noVerdict.push({
        key: record.key,
        template: record.template,
        source: record.source,
        history: history.length,
      });
      return;
    }
    const outside = compareShare(dataset, record, history);
    if (outside.length === 0) return;
    anomalies.push({
      key: record.key,
      versionId: record.versionId,
      sourceId: record.sourceId,
      template: record.template,
      source: record.source,
      landedAt: record.landedAt,
      history: history.length,
      historyPrefix: prefix,
      outside,
    });
  });
  // One order for the alert whatever order the checks finished in: by landing, key, source.
  const order = (a: { key: string; source: string; landedAt?: string }, b: typeof a) =>
    (a.landedAt ?? '').localeCompare(b.landedAt ?? '') ||
    a.key.localeCompare(b.key) ||
    a.source.localeCompare(b.source);
  anomalies.sort(order);
  noVerdict.sort(order);
  return {
    summary: {
      recorded: shares.length,
      checked: shares.length - noVerdict.length,
      anomalies: anomalies.length,
      noVerdict: noVerdict.length,
      skippedFiles: skipped.length,
    },
    anomalies,
    noVerdict,
    skipped,
  };
}

/**
 * The receipt of a volume check that could not run: recorded as a notice not published, so the
 * batch, merged and reconciled, still succeeds and the backstop alerts with the error.
 */
export function volumeCheckFailed(error: string): AlertReceipt {
  return {
    kind: 'volume_anomaly',
    severity: 'warning',
    subject: 'volume check failed',
    published: false,
    error: error.slice(0, 300),
  };
}
