/**
 * Source -> curated control totals, per source file and partition (pure: documents in,
 * checks out).
 *
 * Accounting rules (docs/reconciliation.md):
 *  - Expected in curated: the rows the normalizer wrote for the file and partition
 *    (manifest `partitions[].rowCount`) and their exact measure sums. Rows the normalizer
 *    rejected are in quarantine: accounted for, never expected in curated, never "lost".
 *  - Actual: what the ETL says it wrote to curated for that normalized object (its processed
 *    marker), cross-checked against the run report of the run named by the marker, which may
 *    belong to another execution.
 *  - Rows dropped by the ETL as duplicates (`duplicateRows`) are NOT counted as delivered:
 *    curated must hold every row of the file, so a duplicate key makes the file fail with a
 *    detail that names the duplicates. The exception is `identicalRows`: rows dropped for a
 *    kept row with the same value in every data column (the same data delivered twice, e.g. a
 *    retry of a file whose first execution failed). Their values are in curated: delivered. A row lost without explanation, a row written twice
 *    and a changed measure fail the same checks, each with its own explanation.
 */
import type { ResolvedDataset } from '../../lib/config/types';
import type { ManifestPartition, NormalizerManifest } from '../../lib/contracts/manifest';
import type { ReconciliationCheck } from '../../lib/contracts/reconciliation';
import type { EtlRunReport, ProcessedMarker } from '../../lib/contracts/run-report';
import { Decimal } from '../common/decimal';

export interface SourceEvidence {
  readonly manifest: NormalizerManifest;
  /** Processed marker per normalized object key (`undefined`: not merged into curated). */
  readonly markers: ReadonlyMap<string, ProcessedMarker | undefined>;
  /** Run report per run id named by the markers (`undefined`: the report does not exist). */
  readonly reports: ReadonlyMap<string, EtlRunReport | undefined>;
}

type Source = NonNullable<ReconciliationCheck['source']>;

export function sourceChecks(dataset: ResolvedDataset, evidence: SourceEvidence): ReconciliationCheck[] {
  const { manifest } = evidence;
  const source: Source = {
    key: manifest.source.key,
    versionId: manifest.source.versionId,
    sourceId: manifest.source.sourceId,
  };
  const quarantineNote =
    manifest.rejectedRowCount > 0
      ? ` The file's ${manifest.rejectedRowCount} rejected row(s) are in quarantine` +
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
  for (const partition of manifest.partitions) {
    const scope = { [dataset.partition.column]: partition.value };
    const marker = evidence.markers.get(partition.key);
    if (!marker) {
      checks.push({
        check: 'unprocessed',
        status: 'fail',
        source,
        scope,
        expected: String(partition.rowCount),
        actual: null,
        delta: null,
        tolerance: '0',
        detail:
          `The ETL has not merged normalized object ${partition.key} (${partition.rowCount} row(s)) into curated: ` +
          'no processed marker exists for it.',
      });
      continue;
    }
    checks.push(rowsCheck(dataset, source, scope, partition, marker, quarantineNote));
    for (const measure of dataset.measures) {
      checks.push(measureCheck(dataset, source, scope, partition, marker, measure));
    }
  }
  checks.push(...runReportChecks(dataset, source, evidence));
  return checks;
}

function rowsCheck(
  dataset: ResolvedDataset,
  source: Source,
  scope: Record<string, string>,
  partition: ManifestPartition,
  marker: ProcessedMarker,
  quarantineNote: string,
): ReconciliationCheck {
  const expected = partition.rowCount;
  const { rowsRead, rowsWritten, duplicateRows } = marker;
  const identical = identicalRowsOf(marker);
  const delivered = rowsWritten + identical;
  const collisions = duplicateRows - identical;
  const problems: string[] = [];
  if (rowsRead !== expected) {
    problems.push(`the ETL read ${rowsRead} of the ${expected} row(s) the normalizer wrote`);
  }
  if (identical < 0 || collisions < 0) {
    problems.push(
      `the ETL reported ${marker.identicalRows} identical row(s) of ${duplicateRows} duplicate(s)`,
    );
  } else if (collisions > 0) {
    problems.push(
      `${collisions} row(s) were dropped as duplicates: another row with the same key ` +
        `(${dataset.keys.join(', ')}) was kept in their place`,
    );
  }
  const unaccounted = rowsRead - rowsWritten - duplicateRows;
  if (unaccounted > 0) {
    problems.push(`${unaccounted} row(s) were read but neither written nor counted as duplicates: lost`);
  } else if (unaccounted < 0) {
    problems.push(`${-unaccounted} more row(s) were written than read: rows were duplicated in curated`);
  }
  if (problems.length === 0 && delivered !== expected) {
    problems.push(`curated holds ${delivered} row(s) for it`);
  }
  const pass = problems.length === 0;
  const identicalNote =
    identical > 0
      ? ` ${identical} of them were already there with the same values (the same data delivered again) and are kept once.`
      : '';
  return {
    check: 'rows',
    status: pass ? 'pass' : 'fail',
    source,
    scope,
    expected: String(expected),
    actual: String(delivered),
    delta: String(delivered - expected),
    tolerance: '0',
    detail: pass
      ? `All ${expected} row(s) are in curated (ETL run ${marker.runId}).${identicalNote}${quarantineNote}`
      : `${capitalize(problems.join('; '))} (ETL run ${marker.runId}).${quarantineNote}`,
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
  const expectedText = partition.measures[measure]?.sum ?? '0';
  const expected = Decimal.parse(expectedText);
  const reported = marker.measures?.[measure];
  const base = { check: `measure:${measure}`, source, scope, tolerance };
  // Rows dropped for identical kept rows carry their values into curated all the same.
  const identicalSum = sumOf([marker.identicalMeasures?.[measure]]);
  const written =
    typeof reported === 'string' && Decimal.isDecimal(reported) ? Decimal.parse(reported) : null;
  const actual = written !== null && identicalSum !== null ? written.add(identicalSum) : null;
  if (actual === null) {
    // An all-null measure may be left out by the ETL: nothing is missing when the source sum is 0.
    const pass = reported === undefined || reported === null ? expected.isZero() : false;
    return {
      ...base,
      status: pass ? 'pass' : 'fail',
      expected: expected.toString(),
      actual: null,
      delta: null,
      detail: pass
        ? `The ETL reported no sum of ${measure}; the source sum is 0.`
        : `The ETL reported ${reported === undefined || reported === null ? 'no' : `an invalid ("${String(reported)}")`} ` +
          `sum of ${measure} for this object (run ${marker.runId}).`,
    };
  }
  const delta = actual.sub(expected);
  const pass = delta.abs().compare(Decimal.parse(tolerance)) <= 0;
  let detail: string;
  if (pass) {
    detail = delta.isZero()
      ? `Sum of ${measure} in curated equals the source.`
      : `Sum of ${measure} differs by ${delta.toString()}, within the tolerance of ${tolerance}.`;
  } else {
    const collisions = marker.duplicateRows - identicalRowsOf(marker);
    const why =
      collisions > 0
        ? ` ${collisions} row(s) were dropped as duplicates, which accounts for some or all of it.`
        : marker.rowsWritten + identicalRowsOf(marker) !== partition.rowCount
          ? ' The row count differs as well.'
          : ' The row count matches, so values were changed between the source and curated.';
    detail = `Sum of ${measure} in curated differs from the source by ${delta.toString()}.${why}`;
  }
  return {
    ...base,
    status: pass ? 'pass' : 'fail',
    expected: expected.toString(),
    actual: actual.toString(),
    delta: delta.toString(),
    detail,
  };
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
  const byRun = new Map<string, ProcessedMarker[]>();
  for (const partition of evidence.manifest.partitions) {
    const marker = evidence.markers.get(partition.key);
    if (marker) byRun.set(marker.runId, [...(byRun.get(marker.runId) ?? []), marker]);
  }
  const checks: ReconciliationCheck[] = [];
  for (const [runId, markers] of [...byRun].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const written = markers.reduce((n, m) => n + m.rowsWritten, 0);
    const base = { check: 'run_report', source, tolerance: '0', expected: String(written) };
    const report = evidence.reports.get(runId);
    const entry = report?.sources.find((s) => s.sourceId === source.sourceId);
    if (!report || !entry) {
      checks.push({
        ...base,
        status: 'fail',
        actual: null,
        delta: null,
        detail: report
          ? `ETL run ${runId} marked ${markers.length} object(s) of this file processed, but its run report does not list the file.`
          : `ETL run ${runId} marked ${markers.length} object(s) of this file processed, but its run report does not exist.`,
      });
      continue;
    }
    const mismatches: string[] = [];
    const compareCount = (field: 'rowsRead' | 'rowsWritten' | 'duplicateRows' | 'identicalRows') => {
      const fromMarkers = markers.reduce((n, m) => n + (m[field] ?? 0), 0);
      if ((entry[field] ?? 0) !== fromMarkers)
        mismatches.push(`${field} ${entry[field] ?? 0} vs ${fromMarkers} in the markers`);
    };
    compareCount('rowsRead');
    compareCount('rowsWritten');
    compareCount('duplicateRows');
    compareCount('identicalRows');
    for (const measure of dataset.measures) {
      const fromMarkers = sumOf(markers.map((m) => m.measures?.[measure]));
      const reported = sumOf([entry.measures?.[measure]]);
      if (fromMarkers === null || reported === null || !fromMarkers.equals(reported)) {
        mismatches.push(`${measure} ${reported ?? 'invalid'} vs ${fromMarkers ?? 'invalid'} in the markers`);
      }
    }
    const missingKeys = markers.filter((m) => !entry.normalizedKeys.includes(m.normalizedKey));
    if (missingKeys.length > 0) {
      mismatches.push(`it does not list ${missingKeys.map((m) => m.normalizedKey).join(', ')}`);
    }
    checks.push({
      ...base,
      status: mismatches.length === 0 ? 'pass' : 'fail',
      actual: String(entry.rowsWritten),
      delta: String(entry.rowsWritten - written),
      detail:
        mismatches.length === 0
          ? `ETL run ${runId} (job ${report.jobName}, finished ${report.finishedAt}) reports the same totals as its processed markers.`
          : `ETL run ${runId} reports totals that disagree with its processed markers: ${mismatches.join('; ')}.`,
    });
  }
  return checks;
}

/** `identicalRows` of a marker (0 in markers written before the field existed). */
function identicalRowsOf(marker: ProcessedMarker): number {
  return marker.identicalRows ?? 0;
}

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
