/**
 * The purchase-order intake end to end on the local runtime, through the CLI a user runs:
 * intake forms in both shapes checked by the compliance rules in the ETL, recorded by the
 * approvals Lambda, reconciled; decisions from the command line (and the invalid ones); a
 * resubmission that fixes a flagged form; the request table and the status history.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { RequestState, StatusChange } from '../../lib/contracts/approvals';
import { REPO_ROOT } from '../../local/emulator';

vi.setConfig({ testTimeout: 900_000, hookTimeout: 900_000 });

const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const CLI = path.join(REPO_ROOT, 'bin', 'pipeline.ts');
const sample = (...parts: string[]) => path.join(REPO_ROOT, 'samples', 'purchase_orders', ...parts);

interface Report {
  files: { source: string; status: string; template: string | null; rows: number | null }[];
  reconciliation: { check: string; status: string; expected: string | null; detail?: string }[];
  alerts: { kind: string; severity: string; subject: string; message: string }[];
}

const stateDir = mkdtempSync(path.join(tmpdir(), 'pipeline-approvals-'));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

function cli(args: string[]) {
  return spawnSync(TSX, [CLI, ...args, '--state', stateDir], {
    cwd: REPO_ROOT,
    encoding: 'utf-8',
    timeout: 600_000,
  });
}

function run(files: string[]): Report {
  const reportFile = `${stateDir}-report.json`;
  rmSync(reportFile, { force: true });
  const result = cli(['run', ...files, '--report', reportFile]);
  expect(result.status, result.stderr.slice(-3000)).toBe(0);
  return JSON.parse(readFileSync(reportFile, 'utf-8')) as Report;
}

function requests(...args: string[]): { requests: RequestState[]; history?: StatusChange[] } {
  const result = cli(['requests', '--json', ...args]);
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout);
}

const statuses = () => Object.fromEntries(requests().requests.map((r) => [r.requestId, r.status]));

describe('purchase-order intake', () => {
  it('checks both shapes against the rules, queues the compliant and returns the flagged, and reconciles', () => {
    const report = run([
      sample('intake_export_2025-03.csv'),
      sample('intake_export_2025-03_v2.xlsx'),
      sample('request_form_PO-1008.xlsx'),
      sample('request_form_PO-1009.xlsx'),
    ]);
    expect(report.files.map((f) => [path.basename(f.source), f.status, f.template, f.rows])).toEqual([
      ['intake_export_2025-03.csv', 'processed', 'form_export', 5],
      ['intake_export_2025-03_v2.xlsx', 'processed', 'form_export', 2],
      ['request_form_PO-1008.xlsx', 'processed', 'request_form', 1],
      ['request_form_PO-1009.xlsx', 'processed', 'request_form', 1],
    ]);
    expect(report.reconciliation.filter((c) => c.status !== 'pass')).toEqual([]);
    const check = (name: string) => report.reconciliation.find((c) => c.check === name)!;
    expect(check('requests')).toMatchObject({ status: 'pass', expected: '9' });
    expect(check('line_items')).toMatchObject({ status: 'pass', expected: '2' });

    expect(statuses()).toEqual({
      'PO-1001': 'pending_approval',
      'PO-1002': 'needs_correction',
      'PO-1003': 'needs_correction',
      'PO-1004': 'pending_approval',
      'PO-1005': 'pending_approval',
      'PO-1006': 'pending_approval',
      'PO-1007': 'needs_correction',
      'PO-1008': 'pending_approval',
      'PO-1009': 'needs_correction',
    });
    const query = cli([
      'query',
      'select request_id, compliance_status, compliance_findings, line_items from purchase_orders order by request_id',
      '--json',
    ]);
    expect(query.status, query.stderr).toBe(0);
    const rows = JSON.parse(query.stdout) as Record<string, string>[];
    const rules = Object.fromEntries(
      rows.map((r) => [
        r.request_id,
        [...new Set((JSON.parse(r.compliance_findings!) as { rule: string }[]).map((f) => f.rule))].sort(),
      ]),
    );
    expect(rules).toEqual({
      'PO-1001': ['possible_duplicate'],
      'PO-1002': ['approved_vendor_for_category', 'justification_for_large_amounts', 'vendor_not_on_list'],
      'PO-1003': ['cost_center_exists', 'currency_iso4217', 'need_by_lead_time'],
      'PO-1004': [],
      'PO-1005': ['possible_duplicate'],
      'PO-1006': [],
      'PO-1007': ['amount_positive', 'requester_email_valid'],
      'PO-1008': [],
      'PO-1009': ['line_items_add_up'],
    });
    expect(JSON.parse(rows.find((r) => r.request_id === 'PO-1008')!.line_items!)).toEqual([
      { item: 'Orchestrator seat', quantity: '5', unit_price: '450' },
      { item: 'Support plan', quantity: '1', unit_price: '900' },
    ]);

    // Every status change is notified: the requester's and the approver's notices.
    const notices = report.alerts.filter((a) => a.kind === 'request_status');
    expect(notices.filter((n) => n.subject.endsWith('received'))).toHaveLength(9);
    expect(
      notices.filter((n) => n.subject.startsWith('Approval needed')).map((n) => n.subject.split(' ')[2]),
    ).toEqual(['PO-1001', 'PO-1004', 'PO-1005', 'PO-1006', 'PO-1008']);
    const corrections = notices.find((n) => n.subject === 'Request PO-1009 needs correction')!;
    expect(corrections.message).toContain('Line items add up to 4550.00, not 5000.00.');
  });

  it('approves and rejects from the command line; refuses the invalid decisions and changes nothing', () => {
    const approved = cli(['approve', 'PO-1001', '--as', 'alex@example.com']);
    expect(approved.status, approved.stderr).toBe(0);
    expect(approved.stdout).toMatch(/^PO-1001: pending_approval -> approved by alex@example.com at /);
    expect(approved.stdout).toContain('[notice to ["requester","approver"]] Request PO-1001 approved');

    const again = cli(['approve', 'PO-1001']);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(
      /error: request PO-1001 was already approved by alex@example.com at .*; nothing changed/,
    );
    const flagged = cli(['approve', 'PO-1002']);
    expect(flagged.status).toBe(1);
    expect(flagged.stderr).toContain(
      'error: request PO-1002 is needs_correction, not pending approval; nothing changed',
    );
    const unknown = cli(['approve', 'PO-4040']);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('error: there is no request PO-4040 in purchase_orders');
    const noReason = cli(['approve', 'PO-1004', '--reject']);
    expect(noReason.status).toBe(2);
    expect(noReason.stderr).toContain('--reject needs --reason');

    const rejected = cli([
      'approve',
      'PO-1004',
      '--reject',
      '--reason',
      'Use the framework agreement',
      '--as',
      'alex',
    ]);
    expect(rejected.status, rejected.stderr).toBe(0);
    expect(rejected.stdout).toContain('Reason: Use the framework agreement');
    expect(statuses()).toMatchObject({
      'PO-1001': 'approved',
      'PO-1002': 'needs_correction',
      'PO-1004': 'rejected',
    });
    expect(requests('--status', 'approved').requests.map((r) => r.requestId)).toEqual(['PO-1001']);
    // Pending approval for more than N days: none is 10 years old, all are older than 0 days.
    expect(requests('--overdue', '3650').requests).toEqual([]);
    expect(requests('--overdue', '0').requests.map((r) => r.requestId)).toEqual([
      'PO-1005',
      'PO-1006',
      'PO-1008',
    ]);
  });

  it('a resubmission that fixes the findings moves on to approval, with its history', () => {
    const report = run([sample('resubmissions', 'request_form_PO-1009.xlsx')]);
    expect(report.reconciliation.filter((c) => c.status !== 'pass')).toEqual([]);
    const {
      history,
      requests: [state],
    } = requests('--history', 'PO-1009');
    expect(state).toMatchObject({ status: 'pending_approval', findings: [] });
    expect(history!.map((c) => [c.from, c.to])).toEqual([
      [null, 'submitted'],
      ['submitted', 'needs_correction'],
      ['needs_correction', 'submitted'],
      ['submitted', 'pending_approval'],
    ]);
    expect(history![2]!.reason).toBe(
      'Resubmitted in purchase_orders/resubmissions/request_form_PO-1009.xlsx',
    );
    // Curated holds the new version only.
    const query = cli([
      'query',
      "select amount, compliance_status from purchase_orders where request_id = 'PO-1009'",
      '--json',
    ]);
    expect(JSON.parse(query.stdout)).toEqual([{ amount: '4550.000000', compliance_status: 'compliant' }]);
  });
});
