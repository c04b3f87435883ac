/**
 * Source -> curated control totals, per source file and partition (pure: documents in,
 * checks out).
 *
 * Accounting rules (docs/reconciliation.md):
 *  - Expected: the rows the normalizer wrote for the file and partition (manifest
 *    `partitions[].rowCount`) and their exact measure sums. Rows the normalizer rejected are in
 *    quarantine: accounted for, never expected in curated, never "lost".
 *  - Actual: what the ETL accounts for in the object's processed marker (schema version 2):
 *    rows in curated as of the marker's snapshot, rows superseded by a newer file (which file,
 *    why) and rows rejected to quarantine for colliding with another file's rows. The check
 *    passes when the ETL read every row and `rowsWritten + supersededRows + rejectedRows` is
 *    the source's row count, and per measure `measures + supersededMeasures + rejectedMeasures`
 *    is the source's sum (within the tolerance). A row lost without explanation, a row written
 *    twice and a changed measure fail, each with its own explanation.
 *  - The marker is cross-checked against the run report of the run it names, which may belong
 *    to another execution.
 */
import type { ResolvedDataset } from '../../lib/config/types';
import type { ManifestPartition, NormalizerManifest } from '../../lib/contracts/manifest';
import type { AccountedFile, CheckAccounting, ReconciliationCheck } from '../../lib/contracts/reconciliation';
import {
  type Displaced,
  type DisplacedReason,
  ETL_DOCUMENT_VERSION,
  type EtlRunReport,
  type ProcessedMarker,
  schemaVersionOf,
} from '../../lib/contracts/run-report';
import { Decimal } from '../common/decimal';

export interface SourceEvidence {
  readonly manifest: NormalizerManifest;
  /** Processed marker per normalized object key (`undefined`: not merged into curated). */
  readonly markers: ReadonlyMap<string, ProcessedMarker | undefined>;
  /** Run report per run id named by the markers (`undefined`: the report does not exist). */
  readonly reports: ReadonlyMap<string, EtlRunReport | undefined>;
}

type Source = NonNullable<ReconciliationCheck['source']>;

/** Files named in one sentence before "and N more". */
const MAX_NAMED = 5;

const COUNTS = ['rowsRead', 'rowsWritten', 'identicalRows', 'supersededRows', 'rejectedRows'] as const;
const SUMS = ['measures', 'identicalMeasures', 'supersededMeasures', 'rejectedMeasures'] as const;

export function sourceChecks(dataset: ResolvedDataset, evidence: SourceEvidence): ReconciliationCheck[] {
  const { manifest } = evidence;
  const source: Source = {
    key: manifest.source.key,
    versionId: manifest.source.versionId,
    sourceId: manifest.source.sourceId,
  };
  const quarantineNote =
    manifest.rejectedRowCount > 0
      ? ` The file's ${manifest.rejectedRowCount} row(s) rejected by the normalizer are in quarantine` +
        `${manifest.rejectedRowsKey ? ` (${manifest.rejectedRowsKey})` : ''}: accounted for, not expected in curated.`
      : '';
  const checks: ReconciliationCheck[] = [];
  if (manifest.partitions.length === 0) {
    checks.push({
      check: 'rows',
      status: 'pass',
      source,
      expected: '0',
      actual: '0',
      delta: '0',
      tolerance: '0',
      detail: `The normalizer wrote no rows for this file, so none are expected in curated.${quarantineNote}`,
    });
    return checks;
  }
  const laterNote = laterRestatementNote(evidence, source.sourceId);
  for (const partition of manifest.partitions) {
    const scope = { [dataset.partition.column]: partition.value };
    const marker = evidence.markers.get(partition.key);
    // A failing check for an object whose marker cannot be compared: the expected row count, nothing actual.
    const uncompared = (check: 'unprocessed' | 'marker', detail: string) =>
      checks.push({
        check,
        status: 'fail',
        source,
        scope,
        expected: String(partition.rowCount),
        actual: null,
        delta: null,
        tolerance: '0',
        detail,
      });
    if (!marker) {
      uncompared(
        'unprocessed',
        `The ETL has not merged normalized object ${partition.key} (${partition.rowCount} row(s)) into curated: ` +
          'no processed marker exists for it.',
      );
      continue;
    }
    const unreadable = markerProblem(marker);
    if (unreadable) {
      uncompared(
        'marker',
        `The processed marker of normalized object ${partition.key} cannot be reconciled: ${unreadable}.`,
      );
      continue;
    }
    checks.push(rowsCheck(dataset, source, scope, partition, marker, quarantineNote + laterNote));
    for (const measure of dataset.measures) {
      checks.push(measureCheck(dataset, source, scope, partition, marker, measure));
    }
  }
  checks.push(...runReportChecks(dataset, source, evidence));
  return checks;
}

/** Why a marker cannot be read as schema version 2, or null when it can. */
export function markerProblem(marker: ProcessedMarker): string | null {
  const version = schemaVersionOf(marker);
  if (version !== ETL_DOCUMENT_VERSION) {
    return version === 1
      ? 'it has schemaVersion 1, written by the ETL before curated tables became Apache Iceberg tables; ' +
          'its counts describe the old table layout and have no superseded or rejected rows, so this ' +
          'reconciler (schemaVersion 2) refuses it rather than guess'
      : `it has schemaVersion ${JSON.stringify(version)}; this reconciler reads schemaVersion ${ETL_DOCUMENT_VERSION}`;
  }
  const missing = [
    ...COUNTS.filter((f) => !Number.isInteger(marker[f]) || marker[f] < 0),
    ...(['supersededBy', 'conflictsWith'] as const).filter((f) => !Array.isArray(marker[f])),
    ...(typeof marker.runId === 'string' ? [] : ['runId']),
  ];
  return missing.length > 0 ? `it has no valid ${missing.join(', ')}` : null;
}

function rowsCheck(
  dataset: ResolvedDataset,
  source: Source,
  scope: Record<string, string>,
  partition: ManifestPartition,
  marker: ProcessedMarker,
  notes: string,
): ReconciliationCheck {
  const expected = partition.rowCount;
  const { rowsRead, rowsWritten, identicalRows, supersededRows, rejectedRows } = marker;
  const accounted = rowsWritten + supersededRows + rejectedRows;
  const problems: string[] = [];
  if (rowsRead !== expected) {
    problems.push(`the ETL read ${rowsRead} of the ${expected} row(s) the normalizer wrote`);
  }
  const unaccounted = rowsRead - accounted;
  if (unaccounted > 0) {
    problems.push(
      `${unaccounted} row(s) were read but are neither in curated nor superseded nor rejected: lost`,
    );
  } else if (unaccounted < 0) {
    problems.push(
      `${-unaccounted} more row(s) were accounted for than read: rows were duplicated in curated`,
    );
  }
  if (identicalRows > rowsWritten) {
    problems.push(`the ETL reported ${identicalRows} identical row(s) of ${rowsWritten} in curated`);
  }
  const breakdown = (list: readonly Displaced[], total: number, what: string) => {
    const listed = list.reduce((n, d) => n + (Number.isInteger(d?.rows) ? d.rows : 0), 0);
    if (listed !== total)
      problems.push(`the ETL names the files of ${listed} of its ${total} ${what} row(s)`);
  };
  breakdown(marker.supersededBy, supersededRows, 'superseded');
  breakdown(marker.conflictsWith, rejectedRows, 'rejected');
  if (problems.length === 0 && accounted !== expected) {
    problems.push(`the ETL accounts for ${accounted} row(s)`);
  }
  const pass = problems.length === 0;
  const where = whereText(dataset, source.sourceId, marker);
  const run = `(ETL run ${marker.runId}${marker.snapshotId ? `, snapshot ${marker.snapshotId}` : ''})`;
  const identicalNote =
    identicalRows > 0
      ? ` ${identicalRows} of the rows in curated were already there with the same values (the same data delivered again) and are kept once.`
      : '';
  let detail: string;
  if (pass) {
    detail =
      supersededRows + rejectedRows === 0
        ? `All ${expected} row(s) are in curated ${run}.`
        : `All ${expected} row(s) are accounted for: ${where} ${run}.`;
  } else {
    detail = `${capitalize(problems.join('; '))}. The ETL accounts for them as: ${where} ${run}.`;
  }
  return {
    check: 'rows',
    status: pass ? 'pass' : 'fail',
    source,
    scope,
    expected: String(expected),
    actual: String(accounted),
    delta: String(accounted - expected),
    tolerance: '0',
    accounting: accountingOf(marker, {
      curated: String(rowsWritten),
      identical: String(identicalRows),
      superseded: String(supersededRows),
      rejected: String(rejectedRows),
      amount: (d) => String(d.rows),
    }),
    detail: `${detail}${identicalNote}${notes}`,
  };
}

function measureCheck(
  dataset: ResolvedDataset,
  source: Source,
  scope: Record<string, string>,
  partition: ManifestPartition,
  marker: ProcessedMarker,
  measure: string,
): ReconciliationCheck {
  const tolerance = dataset.reconciliation.tolerances[measure] ?? '0';
  const expected = Decimal.parse(partition.measures[measure]?.sum ?? '0');
  const base = { check: `measure:${measure}`, source, scope, tolerance };
  const curated = sumOf([marker.measures?.[measure]]);
  const identical = sumOf([marker.identicalMeasures?.[measure]]);
  const superseded = sumOf([marker.supersededMeasures?.[measure]]);
  const rejected = sumOf([marker.rejectedMeasures?.[measure]]);
  const reported = [marker.measures, marker.supersededMeasures, marker.rejectedMeasures].map(
    (sums) => sums?.[measure],
  );
  if (curated === null || superseded === null || rejected === null || identical === null) {
    return {
      ...base,
      status: 'fail',
      expected: expected.toString(),
      actual: null,
      delta: null,
      detail: `The ETL reported an invalid sum of ${measure} for this object (${JSON.stringify(reported)}, run ${marker.runId}).`,
    };
  }
  const actual = curated.add(superseded).add(rejected);
  const delta = actual.sub(expected);
  const pass = delta.abs().compare(Decimal.parse(tolerance)) <= 0;
  const displaced =
    !superseded.isZero() || !rejected.isZero() || marker.supersededRows + marker.rejectedRows > 0;
  const parts = `${curated.toString()} in curated${
    displaced ? `, ${superseded.toString()} superseded, ${rejected.toString()} rejected` : ''
  }`;
  let detail: string;
  if (pass) {
    detail = delta.isZero()
      ? displaced
        ? `Sum of ${measure} is accounted for: ${parts}.`
        : `Sum of ${measure} in curated equals the source.`
      : `Sum of ${measure} (${parts}) differs from the source by ${delta.toString()}, within the tolerance of ${tolerance}.`;
  } else if (reported.every((v) => v === undefined || v === null) && !expected.isZero()) {
    detail = `The ETL reported no sum of ${measure} for this object (run ${marker.runId}); the source sum is ${expected.toString()}.`;
  } else {
    const rowsAccounted = marker.rowsWritten + marker.supersededRows + marker.rejectedRows;
    const why =
      rowsAccounted !== partition.rowCount || marker.rowsRead !== partition.rowCount
        ? ' The row count differs as well.'
        : ' Every row is accounted for, so values were changed between the source and curated.';
    detail = `Sum of ${measure} (${parts}) differs from the source by ${delta.toString()}.${why}`;
  }
  return {
    ...base,
    status: pass ? 'pass' : 'fail',
    expected: expected.toString(),
    actual: actual.toString(),
    delta: delta.toString(),
    accounting: accountingOf(marker, {
      curated: curated.toString(),
      identical: identical.toString(),
      superseded: superseded.toString(),
      rejected: rejected.toString(),
      amount: (d) => sumOf([d.measures?.[measure]])?.toString() ?? 'invalid',
    }),
    detail,
  };
}

function accountingOf(
  marker: ProcessedMarker,
  values: Pick<CheckAccounting, 'curated' | 'identical' | 'superseded' | 'rejected'> & {
    readonly amount: (d: Displaced) => string;
  },
): CheckAccounting {
  const files = (list: readonly Displaced[]): AccountedFile[] =>
    list.map((d) => ({
      sourceId: d.sourceId,
      sourceKey: d.sourceKey,
      reason: d.reason,
      amount: values.amount(d),
    }));
  return {
    curated: values.curated,
    identical: values.identical,
    superseded: values.superseded,
    supersededBy: files(marker.supersededBy),
    rejected: values.rejected,
    conflictsWith: files(marker.conflictsWith),
    rejectedKey: marker.rejectedKey ?? null,
    snapshotId: marker.snapshotId ?? null,
    runId: marker.runId,
  };
}

/** "1 in curated, 2 superseded by <file> (a newer version of the same landing object), 0 rejected". */
function whereText(dataset: ResolvedDataset, sourceId: string, marker: ProcessedMarker): string {
  const parts = [`${marker.rowsWritten} in curated`];
  if (marker.supersededRows > 0) {
    parts.push(`${marker.supersededRows} superseded by ${filesText(dataset, sourceId, marker.supersededBy)}`);
  }
  if (marker.rejectedRows > 0) {
    parts.push(
      `${marker.rejectedRows} rejected to quarantine${marker.rejectedKey ? ` (${marker.rejectedKey})` : ''}, ` +
        `colliding on the key (${dataset.keys.join(', ')}) with ${filesText(dataset, sourceId, marker.conflictsWith)}`,
    );
  }
  return parts.join(', ');
}

function filesText(dataset: ResolvedDataset, sourceId: string, list: readonly Displaced[]): string {
  const named = list
    .slice(0, MAX_NAMED)
    .map(
      (d) =>
        `${d.sourceId === sourceId ? 'this file' : d.sourceKey} (${d.rows}: ${reasonText(dataset, d.reason, d.sourceId === sourceId)})`,
    );
  if (list.length > MAX_NAMED) named.push(`${list.length - MAX_NAMED} more file(s) (see accounting)`);
  return named.join(', ') || 'files the ETL does not name';
}

/** Why rows were displaced, in words (also used by the restatement notice). */
export function reasonText(dataset: ResolvedDataset, reason: DisplacedReason, sameFile = false): string {
  switch (reason) {
    case 'same_object':
      return 'a newer version of the same landing object';
    case 'scope':
      return `a newer file covering the same ${dataset.restatement.replacementScope.join(' + ') || 'replacement scope'}`;
    case 'key':
      return sameFile ? 'a later row of the same file with the same key' : 'a newer row with the same key';
    case 'conflict':
      return `rows with the same key already there (conflict policy ${dataset.restatement.conflictPolicy})`;
  }
}

/**
 * Rows of this file that a later run (one that did not merge the file's own objects) replaced,
 * from the run reports the batch's markers name: the file's check still passes (its rows were
 * delivered as of its own snapshot), and the detail says what became of them.
 */
function laterRestatementNote(evidence: SourceEvidence, sourceId: string): string {
  const ownRuns = new Set<string>();
  for (const partition of evidence.manifest.partitions) {
    const marker = evidence.markers.get(partition.key);
    if (marker) ownRuns.add(marker.runId);
  }
  const later: string[] = [];
  for (const [runId, report] of evidence.reports) {
    if (!report || ownRuns.has(runId)) continue;
    for (const r of report.restatements ?? []) {
      if (r.supersededSourceId === sourceId && r.sourceId !== sourceId) {
        later.push(`${r.rows} by ${r.sourceKey} (ETL run ${runId}, ${r.reason})`);
      }
    }
  }
  return later.length > 0 ? ` Since then, rows of this file were superseded: ${later.join('; ')}.` : '';
}

/**
 * The run report(s) that processed the file, found through its markers' run ids (a run of
 * another execution counts): each must exist, list the file and agree with the markers.
 */
function runReportChecks(
  dataset: ResolvedDataset,
  source: Source,
  evidence: SourceEvidence,
): ReconciliationCheck[] {
  const byRun = new Map<string, RunCounts[]>();
  const add = (runId: string, counts: RunCounts) => byRun.set(runId, [...(byRun.get(runId) ?? []), counts]);
  for (const partition of evidence.manifest.partitions) {
    const marker = evidence.markers.get(partition.key);
    if (!marker || markerProblem(marker)) continue;
    add(marker.runId, marker);
    // A marker a partition reprocessing wrote keeps the counts of the run that merged the object
    // first (docs/etl.md, "Reprocessing one partition"): that run's report still lists the object,
    // so it is checked against those counts, not against the reprocessing's.
    const origin = marker.origin;
    if (origin && typeof origin.runId === 'string' && origin.runId !== marker.runId)
      add(origin.runId, { ...origin, normalizedKey: marker.normalizedKey });
  }
  const checks: ReconciliationCheck[] = [];
  for (const [runId, markers] of [...byRun].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const written = markers.reduce((n, m) => n + m.rowsWritten, 0);
    const base = { check: 'run_report', source, tolerance: '0', expected: String(written) };
    const report = evidence.reports.get(runId);
    const version = schemaVersionOf(report);
    const entry =
      version === ETL_DOCUMENT_VERSION
        ? report?.sources.find((s) => s.sourceId === source.sourceId)
        : undefined;
    if (!report || !entry) {
      checks.push({
        ...base,
        status: 'fail',
        actual: null,
        delta: null,
        detail: !report
          ? `ETL run ${runId} marked ${markers.length} object(s) of this file processed, but its run report does not exist.`
          : version !== ETL_DOCUMENT_VERSION
            ? `ETL run ${runId} marked ${markers.length} object(s) of this file processed, but its run report has ` +
              `schemaVersion ${JSON.stringify(version)}; this reconciler reads schemaVersion ${ETL_DOCUMENT_VERSION}.`
            : `ETL run ${runId} marked ${markers.length} object(s) of this file processed, but its run report does not list the file.`,
      });
      continue;
    }
    const mismatches: string[] = [];
    for (const field of [...COUNTS, 'duplicateRows'] as const) {
      const fromMarkers = markers.reduce((n, m) => n + (m[field] ?? 0), 0);
      if ((entry[field] ?? 0) !== fromMarkers) {
        mismatches.push(`${field} ${entry[field] ?? 0} vs ${fromMarkers} in the markers`);
      }
    }
    for (const field of SUMS) {
      for (const measure of dataset.measures) {
        const fromMarkers = sumOf(markers.map((m) => m[field]?.[measure]));
        const reported = sumOf([entry[field]?.[measure]]);
        if (fromMarkers === null || reported === null || !fromMarkers.equals(reported)) {
          const label = field === 'measures' ? measure : `${field}.${measure}`;
          mismatches.push(`${label} ${reported ?? 'invalid'} vs ${fromMarkers ?? 'invalid'} in the markers`);
        }
      }
    }
    const missingKeys = markers.filter((m) => !entry.normalizedKeys.includes(m.normalizedKey));
    if (missingKeys.length > 0) {
      mismatches.push(`it does not list ${missingKeys.map((m) => m.normalizedKey).join(', ')}`);
    }
    // A run that committed names its snapshot; the markers name the table's snapshot after the run.
    const otherSnapshots = markers.filter(
      (m) =>
        report.snapshotId !== null && report.snapshotId !== undefined && m.snapshotId !== report.snapshotId,
    );
    if (otherSnapshots.length > 0) {
      mismatches.push(
        `snapshot ${report.snapshotId} vs ${[...new Set(otherSnapshots.map((m) => m.snapshotId))].join(', ')} in the markers`,
      );
    }
    checks.push({
      ...base,
      status: mismatches.length === 0 ? 'pass' : 'fail',
      actual: String(entry.rowsWritten),
      delta: String(entry.rowsWritten - written),
      detail:
        mismatches.length === 0
          ? `ETL run ${runId} (job ${report.jobName}, finished ${report.finishedAt}, ` +
            `${report.snapshotId ? `committed snapshot ${report.snapshotId}` : 'committed nothing'}) ` +
            'reports the same totals as its processed markers.'
          : `ETL run ${runId} reports totals that disagree with its processed markers: ${mismatches.join('; ')}.`,
    });
  }
  return checks;
}

/** What a run said of one object: its marker, or the origin a reprocessing kept of it. */
type RunCounts = Pick<ProcessedMarker, (typeof COUNTS)[number] | (typeof SUMS)[number] | 'duplicateRows'> & {
  readonly normalizedKey: string;
  readonly snapshotId: string | null;
};

/** Sum of decimal strings; a missing value counts as 0, an invalid one makes the sum null. */
function sumOf(values: readonly (string | null | undefined)[]): Decimal | null {
  let total = Decimal.ZERO;
  for (const value of values) {
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string' || !Decimal.isDecimal(value)) return null;
    total = total.add(Decimal.parse(value));
  }
  return total;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
