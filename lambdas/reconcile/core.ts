import type { S3Client } from '@aws-sdk/client-s3';
import type { ResolvedDataset } from '../../lib/config/types';
import type { Alert } from '../../lib/contracts/alerts';
import type { FileOutcome } from '../../lib/contracts/batch';
import { processedMarkerKey, reconciliationResultKey } from '../../lib/contracts/layout';
import type { NormalizerManifest } from '../../lib/contracts/manifest';
import type { ReconciliationCheck, ReconciliationResult } from '../../lib/contracts/reconciliation';
import type { ProcessedMarker } from '../../lib/contracts/run-report';
import { formatDiscrepancyAlert } from '../common/alerts';
import type { PipelineEnv } from '../common/env';
import { getJson, mapLimit, objectExists, putJson } from '../common/s3';

export interface ReconcileDeps {
  readonly s3: S3Client;
  readonly env: Pick<PipelineEnv, 'controlBucket'>;
  readonly now?: () => Date;
}

export class ManifestMissingError extends Error {
  override readonly name = 'ManifestMissingError';
}

/** What the drain loop needs to decide: run the ETL again, stop, or fail for lack of progress. */
export interface Progress {
  readonly round: number;
  readonly totalObjects: number;
  readonly processedObjects: number;
  readonly remainingObjects: number;
  readonly remainingFiles: number;
  /** Partition values that still have unprocessed objects. */
  readonly partitions: readonly string[];
  /** Spark SQL predicate over the partition column for those values ('' when none remain). */
  readonly pushDownPredicate: string;
  /** False when a round left as many objects unprocessed as the round before. */
  readonly madeProgress: boolean;
  /** Files of the batch that were quarantined (or could not even be quarantined). */
  readonly quarantinedFiles: number;
  /** Rows of the batch's normalized files that went to the quarantine rows objects. */
  readonly rejectedRows: number;
}

async function manifestsOf(
  deps: ReconcileDeps,
  files: readonly FileOutcome[],
): Promise<NormalizerManifest[]> {
  const normalized = files.filter((f) => f.status === 'normalized');
  return mapLimit(normalized, 16, async (file) => {
    const manifest = await getJson<NormalizerManifest>(
      deps.s3,
      deps.env.controlBucket,
      file.manifestKey ?? '',
    );
    if (!manifest)
      throw new ManifestMissingError(`manifest ${file.manifestKey} of ${file.key} does not exist`);
    return manifest;
  });
}

export function partitionPredicate(column: string, values: readonly string[]): string {
  if (values.length === 0) return '';
  const literal = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return `${column} in (${values.map(literal).join(', ')})`;
}

/**
 * Which of the batch's normalized objects the ETL has not merged yet (no processed marker).
 * The state machine's drain loop runs on this: one place decides "unprocessed".
 */
export async function batchProgress(
  deps: ReconcileDeps,
  dataset: ResolvedDataset,
  files: readonly FileOutcome[],
  previous?: Pick<Progress, 'round' | 'remainingObjects'>,
): Promise<Progress> {
  const manifests = await manifestsOf(deps, files);
  const objects = manifests.flatMap((m) => m.partitions.map((p) => ({ sourceId: m.source.sourceId, ...p })));
  const processed = await mapLimit(objects, 16, (o) =>
    objectExists(deps.s3, deps.env.controlBucket, processedMarkerKey(o.key)),
  );
  const remaining = objects.filter((_, i) => !processed[i]);
  const partitions = [...new Set(remaining.map((o) => o.value))].sort();
  return {
    round: (previous?.round ?? 0) + 1,
    totalObjects: objects.length,
    processedObjects: objects.length - remaining.length,
    remainingObjects: remaining.length,
    remainingFiles: new Set(remaining.map((o) => o.sourceId)).size,
    partitions,
    pushDownPredicate: partitionPredicate(dataset.partition.column, partitions),
    madeProgress: previous === undefined || remaining.length < previous.remainingObjects,
    quarantinedFiles: files.filter((f) => f.status === 'quarantined' || f.status === 'failed').length,
    rejectedRows: files.reduce((sum, f) => sum + (f.status === 'normalized' ? (f.rejectedRows ?? 0) : 0), 0),
  };
}

export interface ReconcileOutput {
  readonly status: ReconciliationResult['status'];
  readonly failedChecks: number;
  readonly pendingChecks: number;
  readonly resultKey: string;
  readonly alert: Alert | null;
}

/** Source -> curated control totals per file (row counts), written to S3 as the audit trail. */
export async function reconcileBatch(
  deps: ReconcileDeps,
  dataset: ResolvedDataset,
  executionId: string,
  files: readonly FileOutcome[],
): Promise<ReconcileOutput> {
  const manifests = await manifestsOf(deps, files);
  const checks: ReconciliationCheck[] = [];
  for (const manifest of manifests) {
    const markers = await mapLimit(manifest.partitions, 16, (p) =>
      getJson<ProcessedMarker>(deps.s3, deps.env.controlBucket, processedMarkerKey(p.key)),
    );
    const source = {
      key: manifest.source.key,
      versionId: manifest.source.versionId,
      sourceId: manifest.source.sourceId,
    };
    if (markers.some((m) => m === undefined)) {
      checks.push({
        check: 'rows',
        status: 'pending',
        source,
        expected: String(manifest.rowCount),
        actual: null,
        delta: null,
        tolerance: '0',
        detail: 'not all normalized objects of this file have been merged into curated yet',
      });
      continue;
    }
    const actual = markers.reduce((sum, m) => sum + m!.rowsWritten + m!.duplicateRows, 0);
    checks.push({
      check: 'rows',
      status: actual === manifest.rowCount ? 'pass' : 'fail',
      source,
      expected: String(manifest.rowCount),
      actual: String(actual),
      delta: String(actual - manifest.rowCount),
      tolerance: '0',
      detail: `${manifest.rejectedRowCount} rejected row(s) are in quarantine and not expected in curated`,
    });
  }
  const failed = checks.filter((c) => c.status === 'fail').length;
  const pending = checks.filter((c) => c.status === 'pending').length;
  const result: ReconciliationResult = {
    schemaVersion: 1,
    dataset: dataset.name,
    executionId,
    evaluatedAt: (deps.now?.() ?? new Date()).toISOString(),
    status: failed > 0 ? 'fail' : pending > 0 ? 'pending' : 'pass',
    summary: { checks: checks.length, passed: checks.length - failed - pending, failed, pending },
    checks,
  };
  const executionName = executionId.split(':').pop() ?? executionId;
  const resultKey = reconciliationResultKey(dataset.name, executionName);
  await putJson(deps.s3, deps.env.controlBucket, resultKey, result);
  return {
    status: result.status,
    failedChecks: failed,
    pendingChecks: pending,
    resultKey,
    alert: failed > 0 ? formatDiscrepancyAlert(result) : null,
  };
}
