/**
 * A cross-template rule that is `pending` waits for the other template's data. When the
 * late-data check has an open finding for that template and the group's source (lambdas/late,
 * docs/operations.md "Expected arrivals"), the check's detail says that side is late, by when it
 * was due and since when it is missing; otherwise the detail is left as it is.
 */
import type { ResolvedDataset } from '../../lib/config/types';
import type { LateFinding } from '../../lib/contracts/operations';
import type { ReconciliationCheck } from '../../lib/contracts/reconciliation';
import { readOpenFindings } from '../late/store';
import type { ReconcileDeps } from './deps';

const PREFIX = 'cross_template:';

/** The late side of one pending check, if a finding covers its missing template and group. */
export function lateSideOf(
  dataset: Pick<ResolvedDataset, 'source' | 'reconciliation'>,
  check: ReconciliationCheck,
  findings: readonly LateFinding[],
): LateFinding | undefined {
  if (check.status !== 'pending' || !check.check.startsWith(PREFIX)) return undefined;
  const rule = dataset.reconciliation.crossTemplateRules.find(
    (r) => r.name === check.check.slice(PREFIX.length),
  );
  if (!rule) return undefined;
  // The side with no sum is the one waited for.
  const missing = check.actual === null ? rule.left.template : rule.right.template;
  const column = dataset.source && 'column' in dataset.source ? dataset.source.column : undefined;
  return findings.find(
    (f) =>
      f.template === missing &&
      (f.source === '' || (column !== undefined && check.scope?.[column] === f.source)),
  );
}

export function lateDetail(finding: LateFinding, sourceColumn: string | undefined): string {
  const who = finding.source === '' ? '' : ` for ${sourceColumn ?? 'source'} ${finding.source}`;
  return `${finding.template ?? 'data'}${who} is late: expected by ${finding.dueAt} (expectation ${finding.expectation}), missing since ${finding.since}.`;
}

/**
 * The checks with the late side named in each pending cross-template check's detail. Reading the
 * findings is best effort: the checks' statuses never depend on it.
 */
export async function withLateDetail(
  deps: Pick<ReconcileDeps, 's3' | 'env'>,
  dataset: ResolvedDataset,
  checks: readonly ReconciliationCheck[],
): Promise<ReconciliationCheck[]> {
  const pending = checks.some((c) => c.status === 'pending' && c.check.startsWith(PREFIX));
  if (!pending || (dataset.expectedArrivals ?? []).length === 0) return [...checks];
  let findings: LateFinding[];
  try {
    findings = await readOpenFindings(deps.s3, deps.env.controlBucket, dataset.name);
  } catch {
    return [...checks];
  }
  const column = dataset.source && 'column' in dataset.source ? dataset.source.column : undefined;
  return checks.map((c) => {
    const late = lateSideOf(dataset, c, findings);
    return late ? { ...c, detail: `${c.detail} ${lateDetail(late, column)}` } : c;
  });
}
