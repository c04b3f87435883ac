import type { ResolvedDataset } from '../../lib/config/types';
import type { FileOutcome } from '../../lib/contracts/batch';
import { etlRunReportKey, partitionPredicate, processedMarkerKey } from '../../lib/contracts/layout';
import type { NormalizerManifest } from '../../lib/contracts/manifest';
import type { EtlRunReport } from '../../lib/contracts/run-report';
import type { Progress } from '../../lib/contracts/workflow';
import { CONTRACTS, readDocument } from '../common/contract';
import { mapLimit, objectExists } from '../common/s3';
import type { ReconcileDeps } from './deps';
import { loadManifests } from './inputs';

/** The predicate is a contract with the Glue job (lib/contracts/layout.ts), re-exported for the reconcile code. */
export { partitionPredicate } from '../../lib/contracts/layout';
/** The drain loop's progress: a workflow contract (lib/contracts/workflow.ts), re-exported for the reconcile code. */
export type { Progress } from '../../lib/contracts/workflow';

/** One normalized object of the batch: what the ETL must merge. */
export interface BatchObject {
  readonly sourceId: string;
  readonly partition: string;
  readonly normalizedKey: string;
}

export function batchObjects(manifests: readonly NormalizerManifest[]): BatchObject[] {
  return manifests.flatMap((m) =>
    m.partitions.map((p) => ({ sourceId: m.source.sourceId, partition: p.value, normalizedKey: p.key })),
  );
}

/**
 * Pure part of the progress decision: given which objects are processed, what remains,
 * the predicate for the next run and whether the last run made progress.
 */
export function progressOf(
  dataset: ResolvedDataset,
  files: readonly FileOutcome[],
  objects: readonly BatchObject[],
  processed: readonly boolean[],
  previous?: Pick<Progress, 'round' | 'remainingObjects'>,
  lastRunFilesRead?: number,
): Progress {
  const remaining = objects.filter((_, i) => !processed[i]);
  const partitions = [...new Set(remaining.map((o) => o.partition))].sort();
  return {
    round: (previous?.round ?? 0) + 1,
    totalObjects: objects.length,
    processedObjects: objects.length - remaining.length,
    remainingObjects: remaining.length,
    remainingFiles: new Set(remaining.map((o) => o.sourceId)).size,
    partitions,
    pushDownPredicate: partitionPredicate(dataset.partition.column, partitions),
    madeProgress:
      previous === undefined ||
      remaining.length < previous.remainingObjects ||
      (lastRunFilesRead !== undefined && lastRunFilesRead > 0),
    ...(lastRunFilesRead !== undefined ? { lastRunFilesRead } : {}),
    quarantinedFiles: files.filter((f) => f.status === 'quarantined').length,
    failedFiles: files.filter((f) => f.status === 'failed').length,
    rejectedRows: files.reduce((sum, f) => sum + (f.status === 'normalized' ? (f.rejectedRows ?? 0) : 0), 0),
    flaggedFiles: files.filter((f) => f.status === 'normalized' && f.flag === 'unknown_template').length,
  };
}

/** The drain loop's progress, and the run report of the run that just ended (when one is named and found). */
export interface BatchProgress {
  readonly progress: Progress;
  /** The ETL run report of `lastRunId` (its duration and files left are metrics). */
  readonly lastRun?: EtlRunReport;
}

/**
 * Which of the batch's normalized objects the ETL has not merged yet: an object is processed
 * when its processed marker exists. The state machine's drain loop runs on this, and so does
 * the reconciler's `unprocessed` check: one place decides "unprocessed".
 */
export async function batchProgress(
  deps: ReconcileDeps,
  dataset: ResolvedDataset,
  files: readonly FileOutcome[],
  previous?: Pick<Progress, 'round' | 'remainingObjects'>,
  lastRunId?: string,
): Promise<BatchProgress> {
  const manifests = await loadManifests(deps, files);
  const objects = batchObjects(manifests);
  const processed = await mapLimit(objects, 16, (o) =>
    objectExists(deps.s3, deps.env.controlBucket, processedMarkerKey(o.normalizedKey)),
  );
  // The job writes its run report before its markers: a finished run always has one.
  const report = lastRunId
    ? await readDocument(
        deps.s3,
        deps.env.controlBucket,
        etlRunReportKey(dataset.name, lastRunId),
        CONTRACTS.runReport,
      )
    : undefined;
  return {
    progress: progressOf(dataset, files, objects, processed, previous, report?.filesRead),
    ...(report ? { lastRun: report } : {}),
  };
}
