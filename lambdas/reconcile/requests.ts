/**
 * Reconciliation of a dataset with an approval workflow (docs/approvals.md, "Reconciliation"):
 * - `requests`: every request the batch's runs curated has its status in the workflow table —
 *   in the queue (pending_approval), flagged (needs_correction) or decided (approved, rejected)
 *   at that version, or a newer version is recorded — none missing, none in the wrong place
 *   (a flagged request in the queue, a compliant one sent back);
 * - `line_items`: every request with line items has items adding up to its amount within the
 *   rule's tolerance, or carries that rule's finding: an independent check (exact decimals, in
 *   TypeScript) of what the ETL's rule decided.
 */
import type { ComplianceRuleConfig } from '../../lib/config/compliance';
import type { ResolvedDataset } from '../../lib/config/types';
import type { CuratedRequest, RequestState } from '../../lib/contracts/approvals';
import type { FileOutcome } from '../../lib/contracts/batch';
import type { ReconciliationCheck } from '../../lib/contracts/reconciliation';
import { batchRequests } from '../approvals/record';
import type { RequestStore } from '../approvals/store';
import { compareVersions } from '../approvals/workflow';
import { Decimal } from '../common/decimal';
import { mapLimit } from '../common/s3';
import type { ReconcileDeps } from './deps';

const MAX_LISTED = 10;

/** Where a request of this version belongs, by its compliance status. */
function placed(request: CuratedRequest, state: RequestState | undefined): string | null {
  if (!state) return 'has no status (not recorded)';
  const version = {
    sourceId: request.sourceId,
    sourceKey: request.sourceKey,
    landedAt: request.landedAt,
    sequencer: request.sequencer,
  };
  if (state.version.sourceId !== request.sourceId) {
    return compareVersions(state.version, version) > 0
      ? null
      : `is recorded at an older version (${state.version.sourceKey})`;
  }
  const allowed =
    request.complianceStatus === 'flagged'
      ? ['needs_correction']
      : ['pending_approval', 'approved', 'rejected'];
  return allowed.includes(state.status) ? null : `is ${state.status} though ${request.complianceStatus}`;
}

export async function requestChecks(
  deps: ReconcileDeps,
  store: RequestStore,
  dataset: ResolvedDataset,
  files: readonly FileOutcome[],
): Promise<ReconciliationCheck[]> {
  const { requests } = await batchRequests(deps, dataset.name, files);
  const states = await mapLimit(requests, 8, (r) => store.get(dataset.name, r.requestId));
  const misplaced = requests.flatMap((r, i) => {
    const why = placed(r, states[i]);
    return why ? [`${r.requestId} ${why}`] : [];
  });
  const checks: ReconciliationCheck[] = [
    {
      check: 'requests',
      status: misplaced.length === 0 ? 'pass' : 'fail',
      expected: String(requests.length),
      actual: String(requests.length - misplaced.length),
      delta: String(misplaced.length),
      tolerance: '0',
      detail:
        misplaced.length === 0
          ? `${requests.length} curated request(s), each in the queue, flagged or decided`
          : `${misplaced.length} of ${requests.length} curated request(s) not where their checks put them: ${misplaced.slice(0, MAX_LISTED).join('; ')}`,
    },
  ];
  const rule = dataset.compliance?.rules.find(
    (r): r is Extract<ComplianceRuleConfig, { kind: 'lineItemsTotal' }> => r.kind === 'lineItemsTotal',
  );
  if (rule) checks.push(lineItemsCheck(rule, requests));
  return checks;
}

function lineItemsCheck(
  rule: Extract<ComplianceRuleConfig, { kind: 'lineItemsTotal' }>,
  requests: readonly CuratedRequest[],
): ReconciliationCheck {
  const tolerance = Decimal.parse(rule.tolerance);
  let withItems = 0;
  const unreconciled: string[] = [];
  for (const request of requests) {
    const text = request.record[rule.lineItems];
    if (!text) continue;
    const items = JSON.parse(text) as Record<string, string | null>[];
    if (!Array.isArray(items) || items.length === 0) continue;
    withItems += 1;
    const amount = request.record[rule.field];
    let total = Decimal.ZERO;
    let readable = amount !== null && amount !== undefined && Decimal.isDecimal(amount);
    for (const item of items) {
      const q = item[rule.quantity];
      const p = item[rule.unitPrice];
      if (!q || !p || !Decimal.isDecimal(q) || !Decimal.isDecimal(p)) readable = false;
      else total = total.add(Decimal.parse(q).mul(Decimal.parse(p)));
    }
    const flagged = request.findings.some((f) => f.rule === rule.id);
    const adds = readable && Decimal.parse(amount!).sub(total).abs().compare(tolerance) <= 0;
    if (adds === flagged) {
      unreconciled.push(
        `${request.requestId}: items ${total.toString()} vs ${rule.field} ${amount ?? 'null'} ${flagged ? 'flagged though they agree' : 'not flagged'}`,
      );
    }
  }
  return {
    check: 'line_items',
    status: unreconciled.length === 0 ? 'pass' : 'fail',
    expected: String(withItems),
    actual: String(withItems - unreconciled.length),
    delta: String(unreconciled.length),
    tolerance: rule.tolerance,
    detail:
      unreconciled.length === 0
        ? `${withItems} request(s) with line items: each adds up to its ${rule.field} within ${rule.tolerance}, or is flagged by ${rule.id}`
        : `line items and ${rule.field} disagree with rule ${rule.id}: ${unreconciled.slice(0, MAX_LISTED).join('; ')}`,
  };
}
