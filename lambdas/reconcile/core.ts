/**
 * Reconciliation of one execution's batch: loads the control documents, evaluates the
 * source -> curated control totals and the cross-template rules, writes the result document
 * (the audit trail, with the snapshot it checked) and formats the discrepancy alert when a
 * check failed and the restatement notice when files of the batch restated or collided with
 * other files.
 */
import type { ResolvedDataset } from '../../lib/config/types';
import type { Alert } from '../../lib/contracts/alerts';
import type { FileOutcome } from '../../lib/contracts/batch';
import { reconciliationResultKey } from '../../lib/contracts/layout';
import type { NormalizerManifest } from '../../lib/contracts/manifest';
import { pipelineNames } from '../../lib/contracts/naming';
import type { ReconcileResult } from '../../lib/contracts/reconcile';
import type { ReconciliationCheck, ReconciliationResult } from '../../lib/contracts/reconciliation';
import { formatAlert } from '../common/alerts';
import { putJson } from '../common/s3';
import { sourceChecks } from './control-totals';
import { crossTemplateChecks } from './cross-template';
import type { ReconcileDeps } from './deps';
import { loadAggregates, loadManifests, loadMarkers, loadRunReports } from './inputs';
import { withLateDetail } from './late-pending';
import { endToEndLatencies, type FileLatency } from './latency';
import { requestChecks } from './requests';
import { batchRestatements, checkedSnapshot } from './restatements';
import { checkVolumes } from './volume';

export type { ReconcileDeps, SchemaDriftDeps } from './deps';
export { ControlDocumentError, ManifestMissingError, UnknownDatasetError } from './errors';
export { type BatchProgress, batchProgress, type Progress, partitionPredicate, progressOf } from './progress';
export { detectSchemaDrift, diffSchemas, type SchemaDriftOutput, type SchemaState } from './schema-drift';

/**
 * What reconcileBatch returns: the workflow's result (lib/contracts/reconcile.ts) with the alerts
 * themselves; the handler publishes them and returns their receipts instead.
 */
export type ReconcileOutput = Omit<ReconcileResult, 'alert' | 'restatementAlert' | 'volumeAlert'> & {
  /** The discrepancy alert, when a check failed. */
  readonly alert: Alert | null;
  /** The restatement notice, when files of the batch restated or collided with other files. */
  readonly notice: Alert | null;
  /** Landing to curated commit of each file of the batch that reached curated (the handler's metric). */
  readonly latencies: readonly FileLatency[];
  /** The volume-anomaly warning, when a file of the batch is outside its source's band. */
  readonly volumeNotice: Alert | null;
  /**
   * Why the volume check failed (`<name>: <message>`), null when it ran: a failed check never
   * undoes a reconciled batch; the handler reports it as an unpublished notice (the backstop alerts).
   */
  readonly volumeError: string | null;
};

/** Overall status and counts of a list of checks. */
export function summarize(
  dataset: string,
  executionId: string,
  checks: readonly ReconciliationCheck[],
  evaluatedAt: Date,
  snapshotIds: Readonly<Record<string, string | null>> = {},
): ReconciliationResult {
  const failed = checks.filter((c) => c.status === 'fail').length;
  const pending = checks.filter((c) => c.status === 'pending').length;
  return {
    schemaVersion: 2,
    dataset,
    executionId,
    evaluatedAt: evaluatedAt.toISOString(),
    status: failed > 0 ? 'fail' : pending > 0 ? 'pending' : 'pass',
    snapshotIds,
    summary: { checks: checks.length, passed: checks.length - failed - pending, failed, pending },
    checks: checks.map(canonical),
  };
}

/** One key order for every check, so the result document reads the same from check to check. */
function canonical(c: ReconciliationCheck): ReconciliationCheck {
  return {
    check: c.check,
    status: c.status,
    ...(c.source ? { source: c.source } : {}),
    ...(c.scope ? { scope: c.scope } : {}),
    expected: c.expected,
    actual: c.actual,
    delta: c.delta,
    tolerance: c.tolerance,
    ...(c.accounting ? { accounting: c.accounting } : {}),
    detail: c.detail,
  };
}

/** The execution's name (last segment of its ARN): the result document's file name. */
export function executionNameOf(executionId: string): string {
  return executionId.split(':').pop() || executionId;
}

export async function reconcileBatch(
  deps: ReconcileDeps,
  dataset: ResolvedDataset,
  executionId: string,
  files: readonly FileOutcome[],
): Promise<ReconcileOutput> {
  const manifests = await loadManifests(deps, files);
  const markers = await loadMarkers(
    deps,
    manifests.flatMap((m) => m.partitions.map((p) => p.key)),
  );
  const runIds = [...markers.values()].flatMap((m) => (m ? [m.runId] : []));
  const reports = await loadRunReports(deps, dataset.name, runIds);
  const touched = manifests.flatMap((m) => m.partitions.map((p) => p.value));
  const aggregates =
    dataset.reconciliation.crossTemplateRules.length > 0
      ? await loadAggregates(deps, dataset.name, touched)
      : new Map();

  if (dataset.approval && !deps.requestStore) {
    throw new Error(
      `dataset ${dataset.name} has an approval workflow: REQUESTS_TABLE is required to reconcile it`,
    );
  }
  const checks = [
    ...manifests.flatMap((manifest) => sourceChecks(dataset, { manifest, markers, reports })),
    ...(await withLateDetail(deps, dataset, crossTemplateChecks(dataset, aggregates))),
    ...(dataset.approval && deps.requestStore
      ? await requestChecks(deps, deps.requestStore, dataset, files)
      : []),
  ];
  const snapshotIds = { [dataset.name]: checkedSnapshot(markers, reports) };
  const result = summarize(dataset.name, executionId, checks, deps.now?.() ?? new Date(), snapshotIds);
  const resultKey = reconciliationResultKey(dataset.name, executionNameOf(executionId));
  await putJson(deps.s3, deps.env.controlBucket, resultKey, result);
  const database = deps.env.glueDatabase ?? '<database>';
  const curatedTable = deps.env.pipelineName
    ? pipelineNames(deps.env.pipelineName).curatedTable(dataset.name)
    : dataset.name;
  const alert =
    result.summary.failed > 0
      ? formatAlert({
          kind: 'discrepancy',
          result,
          investigate: {
            controlBucket: deps.env.controlBucket,
            database,
            curatedTable,
            partitionColumn: dataset.partition.column,
            measures: dataset.measures,
            ruleMeasures: Object.fromEntries(
              dataset.reconciliation.crossTemplateRules.map((r) => [r.name, r.measure]),
            ),
            resultKey,
          },
        })
      : null;
  const restated = batchRestatements(new Set(manifests.map((m) => m.source.sourceId)), markers, reports);
  const notice =
    restated.restatements.length + restated.conflicts.length > 0
      ? formatAlert({
          kind: 'restatement',
          dataset: dataset.name,
          executionId,
          keys: dataset.keys,
          replacementScope: dataset.restatement.replacementScope,
          conflictPolicy: dataset.restatement.conflictPolicy,
          runs: restated.runs.map(({ runId, snapshotId, previousSnapshotId }) => ({
            runId,
            snapshotId,
            previousSnapshotId,
          })),
          restatements: restated.restatements,
          conflicts: restated.conflicts,
          snapshotId: snapshotIds[dataset.name] ?? null,
          investigate: {
            controlBucket: deps.env.controlBucket,
            resultKey,
            database,
            curatedTable,
            ...(deps.env.quarantineBucket ? { quarantineBucket: deps.env.quarantineBucket } : {}),
          },
        })
      : null;
  const volume = await volumeStep(deps, dataset, executionId, manifests);
  return {
    status: result.status,
    failedChecks: result.summary.failed,
    pendingChecks: result.summary.pending,
    passedChecks: result.summary.passed,
    resultKey,
    snapshotIds,
    alert,
    notice,
    latencies: endToEndLatencies(manifests, markers, reports),
    ...volume,
  };
}

/**
 * The volume check of the batch (lambdas/reconcile/volume.ts), after the result document is
 * written: its records and its warning, or the error it failed with.
 */
async function volumeStep(
  deps: ReconcileDeps,
  dataset: ResolvedDataset,
  executionId: string,
  manifests: readonly NormalizerManifest[],
): Promise<Pick<ReconcileOutput, 'volume' | 'volumeNotice' | 'volumeError'>> {
  try {
    const checked = await checkVolumes(deps, dataset, manifests);
    const volumeNotice =
      checked.anomalies.length > 0
        ? formatAlert({
            kind: 'volume_anomaly',
            dataset: dataset.name,
            executionId,
            anomalies: checked.anomalies,
            historyFiles: dataset.volume.historyFiles,
            minHistory: dataset.volume.minHistory,
            checked: checked.summary.checked,
            noVerdict: checked.summary.noVerdict,
            controlBucket: deps.env.controlBucket,
          })
        : null;
    return { volume: checked.summary, volumeNotice, volumeError: null };
  } catch (error) {
    const e = error as Error;
    return { volume: null, volumeNotice: null, volumeError: `${e.name}: ${e.message}`.slice(0, 300) };
  }
}
