/**
 * What the batch's ETL runs say beyond per-file totals (pure): the snapshot the reconciliation
 * checked, and which files restated or collided with which (for the restatement notice).
 */
import type {
  EtlConflict,
  EtlRestatement,
  EtlRunReport,
  ProcessedMarker,
} from '../../lib/contracts/run-report';
import { markerProblem } from './control-totals';

/** A run of the batch that restated or rejected rows, with the snapshots before and after it. */
export interface RestatingRun {
  readonly runId: string;
  readonly snapshotId: string | null;
  readonly previousSnapshotId: string | null;
  readonly finishedAt: string;
}

export interface BatchRestatements {
  readonly runs: readonly RestatingRun[];
  readonly restatements: readonly (EtlRestatement & { readonly runId: string })[];
  readonly conflicts: readonly (EtlConflict & { readonly runId: string })[];
}

/** The runs named by the (readable) markers, oldest first: runs of one job never overlap. */
function runsInOrder(
  markers: ReadonlyMap<string, ProcessedMarker | undefined>,
  reports: ReadonlyMap<string, EtlRunReport | undefined>,
): { runId: string; report: EtlRunReport | undefined; markers: ProcessedMarker[] }[] {
  const byRun = new Map<string, ProcessedMarker[]>();
  for (const marker of markers.values()) {
    if (!marker || markerProblem(marker)) continue;
    byRun.set(marker.runId, [...(byRun.get(marker.runId) ?? []), marker]);
  }
  const finished = (runId: string) => reports.get(runId)?.finishedAt ?? '';
  return [...byRun]
    .map(([runId, runMarkers]) => ({ runId, report: reports.get(runId), markers: runMarkers }))
    .sort((a, b) => finished(a.runId).localeCompare(finished(b.runId)) || a.runId.localeCompare(b.runId));
}

/**
 * The snapshot the checks refer to: the table's snapshot after the latest run that merged the
 * batch's objects (as its markers name it; a run that committed nothing names the snapshot it
 * left current). Null when no object was merged or the table has no snapshot.
 */
export function checkedSnapshot(
  markers: ReadonlyMap<string, ProcessedMarker | undefined>,
  reports: ReadonlyMap<string, EtlRunReport | undefined>,
): string | null {
  const runs = runsInOrder(markers, reports);
  for (const run of runs.reverse()) {
    const snapshot = run.markers.find((m) => m.snapshotId)?.snapshotId ?? run.report?.snapshotId ?? null;
    if (snapshot) return snapshot;
  }
  return null;
}

/**
 * Restatements and conflicts that involve a file of the batch (on either side), from the
 * reports of the runs that merged the batch's objects. A newer file of another batch that
 * replaced a file of this one in the same run is named here and in that batch's notice.
 */
export function batchRestatements(
  sourceIds: ReadonlySet<string>,
  markers: ReadonlyMap<string, ProcessedMarker | undefined>,
  reports: ReadonlyMap<string, EtlRunReport | undefined>,
): BatchRestatements {
  const runs: RestatingRun[] = [];
  const restatements: (EtlRestatement & { runId: string })[] = [];
  const conflicts: (EtlConflict & { runId: string })[] = [];
  for (const { runId, report } of runsInOrder(markers, reports)) {
    if (!report) continue;
    const restated = (report.restatements ?? []).filter(
      (r) => sourceIds.has(r.sourceId) || sourceIds.has(r.supersededSourceId),
    );
    const collided = (report.conflicts ?? []).filter(
      (c) => sourceIds.has(c.sourceId) || sourceIds.has(c.conflictsWithSourceId),
    );
    if (restated.length + collided.length === 0) continue;
    runs.push({
      runId,
      snapshotId: report.snapshotId ?? null,
      previousSnapshotId: report.previousSnapshotId ?? null,
      finishedAt: report.finishedAt,
    });
    restatements.push(...restated.map((r) => ({ ...r, runId })));
    conflicts.push(...collided.map((c) => ({ ...c, runId })));
  }
  return { runs, restatements, conflicts };
}
