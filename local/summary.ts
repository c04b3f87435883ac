import { datasetEventLine } from './dataset-events';
import type { RunReport } from './report';

export function timestamp(): string {
  return new Date().toISOString().slice(11, 19);
}

/** A plain-text table (column widths fitted to the values, long values cut). */
export function formatTable(
  columns: readonly string[],
  rows: readonly (readonly unknown[])[],
  maxWidth = 48,
): string {
  const text = (value: unknown) => {
    const s =
      value === null || value === undefined
        ? 'NULL'
        : typeof value === 'object'
          ? JSON.stringify(value)
          : String(value);
    return s.length > maxWidth ? `${s.slice(0, maxWidth - 1)}…` : s;
  };
  const cells = rows.map((row) => row.map(text));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return `${[line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n')}\n(${rows.length} row${rows.length === 1 ? '' : 's'})\n`;
}

/** The readable summary `pipeline run` prints: files, reconciliation, alerts, tables. */
export function formatRunSummary(report: RunReport): string {
  const out: string[] = [];
  const failed = report.executions.filter((e) => e.status === 'FAILED');
  out.push(
    `\n== Run: ${report.executions.length} execution(s), ${report.executions.reduce((n, e) => n + e.etlRuns, 0)} ETL run(s), ${
      failed.length === 0 ? 'all succeeded' : `${failed.length} FAILED`
    }`,
  );
  for (const e of failed) out.push(`   ${e.name} (${e.dataset}): ${e.error}: ${e.cause ?? ''}`.slice(0, 400));
  // Seeds landed first, as the deploy lands them (their files are not among the run's).
  for (const seed of report.seeds ?? []) {
    out.push(
      `   seeded ${seed.dataset} from ${seed.source} (s3 key ${seed.key}): ${
        seed.status === 'SUCCEEDED'
          ? 'succeeded'
          : `FAILED: ${seed.error ?? ''}: ${seed.cause ?? ''}`.slice(0, 400)
      }`,
    );
  }
  out.push(`\n== Files (${report.files.length})`);
  out.push(
    formatTable(
      ['status', 'dataset', 'source', 'template', 'rows', 'rejected'],
      report.files.map((f) => [
        f.status,
        f.dataset,
        f.source,
        f.template ?? '-',
        f.rows ?? '-',
        f.rejectedRows ?? '-',
      ]),
      70,
    ),
  );
  const checks = report.reconciliation;
  const count = (status: string) => checks.filter((c) => c.status === status).length;
  out.push(`== Reconciliation: ${count('pass')} pass, ${count('fail')} fail, ${count('pending')} pending`);
  const notable = checks.filter((c) => c.status !== 'pass');
  if (notable.length > 0) {
    out.push(
      formatTable(
        ['status', 'dataset', 'check', 'expected', 'actual'],
        notable.map((c) => [c.status, c.dataset, c.check, c.expected, c.actual]),
        80,
      ),
    );
    // A pending check waits for the other side of a cross-template rule: say which one.
    for (const check of notable.filter((c) => c.status === 'pending' && c.detail)) {
      out.push(`   pending ${check.check}: ${check.detail}`);
    }
  }
  out.push(`\n== Alerts published (${report.alerts.length})`);
  for (const alert of report.alerts) {
    out.push(`   [${alert.severity}] ${alert.kind}: ${alert.subject}`);
    out.push(...localLines(alert, '     '));
  }
  if (report.datasetEvents) {
    out.push(`\n== Dataset events (${report.datasetEvents.length})`);
    for (const event of report.datasetEvents) out.push(`   ${datasetEventLine(event)}`);
  }
  out.push(...iamLines(report));
  out.push(`\n== Curated tables`);
  out.push(
    formatTable(
      ['table', 'rows', 'columns'],
      report.tables.map((t) => [`${t.database}.${t.table}`, t.rows, t.columns.length]),
    ),
  );
  return `${out.join('\n')}\n`;
}

/**
 * Local IAM: how many calls each principal made, and every call denied (action, resource and
 * why) — a denial means the deployed stack would fail the same way.
 */
function iamLines(report: RunReport): string[] {
  if (!report.iam) return [];
  const calls = report.iam.reduce((n, p) => n + p.calls, 0);
  const denials = report.iam.flatMap((p) =>
    p.denied.map((d) => ({ ...d, principal: p.principal, role: p.role })),
  );
  const denied = denials.reduce((n, d) => n + d.count, 0);
  const lines = [
    `\n== IAM: ${calls} AWS call(s) by ${report.iam.length} principal(s), checked against the template's policies; ${
      denied === 0 ? 'none denied' : `${denied} DENIED`
    }`,
  ];
  for (const d of denials) {
    lines.push(
      `   DENIED ${d.principal}${d.role ? ` (role ${d.role})` : ''}: ${d.action} on ${d.resource}${
        d.count > 1 ? ` (${d.count} times)` : ''
      }`,
      `     why: ${d.reason}`,
    );
  }
  return lines;
}

type Alert = RunReport['alerts'][number];

/** Lines naming where an alert's links are on this machine (the alert text itself is AWS's). */
function localLines(alert: Alert, indent: string): string[] {
  return (alert.local ?? []).map(
    (l) => `${indent}local: ${l.link.startsWith('https://') ? 'console link' : l.link} -> ${l.path}`,
  );
}

/** One alert in full, as published, then the local paths of what it links to. */
export function formatAlert(alert: Alert): string {
  const local = localLines(alert, '');
  return `\n---- ${alert.kind} alert: ${alert.subject}\n${alert.message}\n${
    local.length > 0 ? `\n(on this machine)\n${local.join('\n')}\n` : ''
  }`;
}

/** Rows as a JSON array of objects keyed by column name (`--json` output). */
export function formatJsonRows(columns: readonly string[], rows: readonly (readonly unknown[])[]): string {
  return `${JSON.stringify(rows.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i]]))))}\n`;
}
