import type { FileOutcome } from '../lib/contracts/batch';
import type { ReconcileResult } from '../lib/contracts/reconcile';
import { STATE } from '../lib/contracts/workflow';
import type { EventLog } from './state-machine';

/** One readable line per stage of interest: the progress `pipeline run` prints. */
export function describeEvent(
  dataset: string,
  event: EventLog,
  progress: (line: string) => void,
  label = dataset,
  /** Job runs already reported for this execution (a run's result stays in the state after a Catch). */
  reportedRuns: Set<string> = new Set(),
): void {
  const name = event.state?.name ?? '';
  const branch = STATE.of(dataset);
  const output = event.state?.output as Record<string, unknown> | undefined;
  if (event.type === 'MapIterationSucceeded') {
    const o = event.output as Partial<FileOutcome> | undefined;
    const detail =
      o?.status === 'normalized'
        ? `${o.rows} rows, ${o.rejectedRows} rejected, template ${o.template ?? 'unknown'}`
        : (o?.reason ?? o?.duplicateOf ?? '');
    progress(`[${label}]   ${o?.status ?? '?'}: ${o?.key ?? ''}${detail ? ` (${detail})` : ''}`);
    return;
  }
  if (event.index !== undefined) return;
  if (event.type === 'StateEntered') {
    const input = event.state?.input as Record<string, unknown> | undefined;
    if (name === branch.normalizeFiles)
      progress(`[${label}] normalizing ${(input?.files as unknown[] | undefined)?.length ?? 0} file(s)`);
    if (name === branch.startCrawler) progress(`[${label}] crawling the normalized zone`);
    if (name === branch.runEtl) {
      const p = input?.progress as { remainingObjects?: number; pushDownPredicate?: string } | undefined;
      progress(
        `[${label}] ETL run: ${p?.remainingObjects} normalized object(s) left, predicate ${p?.pushDownPredicate}`,
      );
    }
    if (name === STATE.reconcile) progress(`[${label}] reconciling control totals`);
  }
  if (event.type === 'StateExited') {
    if (name === branch.crawlerFinished) return;
    if (name === branch.detectSchemaDrift) {
      const drift = (output?.notices as { schemaDrift?: unknown } | undefined)?.schemaDrift as
        | {
            changed?: boolean;
            firstSighting?: boolean;
            table?: string;
            alert?: { published?: boolean } | null;
          }
        | undefined;
      // `firstSighting`: no schema was recorded for the table before this crawl, which created it.
      const outcome = drift?.firstSighting
        ? `table ${drift.table ? `${drift.table} ` : ''}created (its schema is the baseline for drift notices)`
        : `schema ${drift?.changed ? `CHANGED (notice ${drift.alert?.published ? 'published' : 'NOT published'})` : 'unchanged'}`;
      progress(`[${label}] crawl done; ${outcome}`);
    }
    const etl = output?.etl as { id?: string; state?: string } | undefined;
    if (name === branch.runEtl && etl?.id && !reportedRuns.has(etl.id)) {
      reportedRuns.add(etl.id);
      progress(`[${label}] ETL run ${etl.id} ${etl.state}`);
    }
    if (name === STATE.reconcile) {
      const r = output?.reconciliation as
        | { status?: string; failedChecks?: number; pendingChecks?: number }
        | undefined;
      progress(
        `[${label}] reconciliation ${r?.status}: ${r?.failedChecks} failed, ${r?.pendingChecks} pending`,
      );
      const volume = volumeLine(output?.reconciliation as VolumeOutput | undefined);
      if (volume) progress(`[${label}] ${volume}`);
    }
  }
  if (event.type === 'StateFailed' || event.type === 'StateCaught') {
    progress(`[${label}] ${name}: ${event.Error ?? 'error'}`);
  }
}

/** What the progress line reads of Reconcile's result (lib/contracts/reconcile.ts). */
type VolumeOutput = Partial<Pick<ReconcileResult, 'volume' | 'volumeAlert'>>;

/**
 * The volume check's line (docs/operations.md, "Volume anomalies"): what it compared and whether
 * its warning went out; null for a result without one.
 */
export function volumeLine(r: VolumeOutput | undefined): string | null {
  if (!r) return null;
  const alert = r.volumeAlert;
  if (!r.volume) return alert?.error ? `volume check FAILED (${alert.error}); the backstop alerts` : null;
  const { recorded, checked, anomalies, noVerdict } = r.volume;
  const warning = alert
    ? `, warning ${alert.published ? 'published' : `NOT published (${alert.error ?? 'refused'})`}`
    : '';
  return `volume: ${recorded} file share(s) recorded, ${checked} compared (${noVerdict} with too little history), ${anomalies} outside the band${warning}`;
}
