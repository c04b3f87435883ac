/** The discrepancy alert: failed reconciliation checks, grouped by file and partition, with how to investigate. */
import type { Alert } from '../../../lib/contracts/alerts';
import { manifestKey as manifestKeyOf } from '../../../lib/contracts/layout';
import type { ReconciliationCheck, ReconciliationResult } from '../../../lib/contracts/reconciliation';
import {
  capitalize,
  clip,
  consoleLine,
  type InvestigationContext,
  listed,
  plural,
  render,
  signed,
  sqlString,
} from './base';

export interface DiscrepancyAlertInput {
  readonly kind: 'discrepancy';
  readonly result: ReconciliationResult;
  readonly investigate: InvestigationContext;
}

export function discrepancy({ result, investigate }: DiscrepancyAlertInput): Alert {
  const failed = result.checks.filter((c) => c.status === 'fail');
  const pending = result.checks.filter((c) => c.status === 'pending');
  const { summary } = result;
  const resultUri = `s3://${investigate.controlBucket}/${investigate.resultKey}`;
  const groups = groupChecks(failed);
  const files = new Set(failed.flatMap((c) => (c.source ? [c.source.sourceId] : [])));
  const where = [
    files.size > 0 ? plural(files.size, 'file') : '',
    groups.length - countGroupsWithSource(groups) > 0
      ? plural(groups.length - countGroupsWithSource(groups), 'cross-template group')
      : '',
  ].filter(Boolean);
  const lines = [
    `Reconciliation of dataset ${result.dataset} found figures that do not add up between the files that were ` +
      `sent and the curated data${where.length ? ` (${where.join(' and ')})` : ''}.`,
    `${summary.failed} of ${summary.checks} checks failed, ${summary.passed} passed, ${summary.pending} pending.`,
    '',
    'WHAT DID NOT ADD UP',
    ...listed(groups, (group, i) => describeGroup(group, i + 1, investigate.partitionColumn)),
  ];
  if (pending.length > 0) {
    lines.push(
      '',
      'PENDING (not a discrepancy yet: the other side has not arrived)',
      ...listed(pending, (check) => [
        `- ${checkHeadline(check, investigate.partitionColumn)}: ${check.detail}`,
      ]),
    );
  }
  lines.push('', 'HOW TO INVESTIGATE', ...howToInvestigate(failed, result.dataset, investigate));
  const snapshotId = result.snapshotIds?.[result.dataset];
  if (snapshotId) {
    lines.push(
      `- Curated as checked is snapshot ${snapshotId} of the table (time travel, until snapshot expiry removes it; Athena):`,
      `    SELECT * FROM "${investigate.database}"."${investigate.curatedTable}" FOR VERSION AS OF ${snapshotId};`,
    );
  }
  lines.push(
    `- Every check of this run (expected, actual, delta, status): ${resultUri}`,
    `- Execution: ${result.executionId}`,
    ...consoleLine(result.executionId).map((line) => `- ${line}`),
  );
  return render({
    kind: 'discrepancy',
    severity: 'critical',
    dataset: result.dataset,
    subject: `${failed.length} reconciliation check${failed.length === 1 ? '' : 's'} failed`,
    lines,
    data: {
      executionId: result.executionId,
      status: result.status,
      summary: result.summary,
      snapshotIds: result.snapshotIds ?? {},
      result: resultUri,
      failedChecks: failed,
      pendingChecks: pending,
    },
  });
}

/** Failed checks of one file and partition (rows and measures together), or one other check. */
interface CheckGroup {
  readonly checks: ReconciliationCheck[];
}

function groupChecks(checks: readonly ReconciliationCheck[]): CheckGroup[] {
  const groups = new Map<string, CheckGroup>();
  checks.forEach((check, i) => {
    const tabular = check.check === 'rows' || check.check.startsWith('measure:');
    const id =
      tabular && check.source ? `${check.source.sourceId}|${JSON.stringify(check.scope ?? {})}` : `#${i}`;
    const group = groups.get(id) ?? { checks: [] };
    group.checks.push(check);
    groups.set(id, group);
  });
  return [...groups.values()];
}

function countGroupsWithSource(groups: readonly CheckGroup[]): number {
  return groups.filter((g) => g.checks[0]!.source).length;
}

const CHECK_LABELS: Record<string, string> = {
  rows: 'row count',
  unprocessed: 'not merged into curated',
  marker: 'processed marker',
  run_report: 'ETL run report',
};

function checkLabel(check: string): string {
  if (check.startsWith('measure:')) return `sum of ${check.slice('measure:'.length)}`;
  if (check.startsWith('cross_template:')) return `rule ${check.slice('cross_template:'.length)}`;
  return CHECK_LABELS[check] ?? check;
}

function scopeText(scope: Readonly<Record<string, string>> | undefined): string {
  if (!scope) return '';
  return Object.entries(scope)
    .map(([column, value]) => `${column.replace(/_/g, ' ')} ${value === '' ? '(blank)' : value}`)
    .join(', ');
}

function placeOf(check: ReconciliationCheck, partitionColumn: string): string {
  const where: string[] = [];
  if (check.source) {
    where.push(
      `File ${check.source.key}${check.source.versionId ? ` (version ${check.source.versionId})` : ''}`,
    );
  }
  const scope = scopeText(check.scope);
  if (scope) where.push(check.source ? scope : capitalize(scope));
  if (where.length === 0) where.push(`Dataset-wide (${partitionColumn})`);
  return where.join(', ');
}

function checkHeadline(check: ReconciliationCheck, partitionColumn: string): string {
  return `${placeOf(check, partitionColumn)}: ${checkLabel(check.check)}`;
}

function describeGroup(group: CheckGroup, n: number, partitionColumn: string): string[] {
  const [first] = group.checks as [ReconciliationCheck];
  const tabular = first.check === 'rows' || first.check.startsWith('measure:');
  if (!tabular) {
    const lines = [`${n}. ${checkHeadline(first, partitionColumn)}`];
    if (first.check === 'run_report' && (first.expected !== null || first.actual !== null)) {
      lines.push(`   Rows in markers: ${first.expected ?? 'n/a'}   in run report: ${first.actual ?? 'n/a'}`);
    }
    lines.push(`   ${clip(first.detail)}`);
    return lines;
  }
  const table = [
    ['', 'Source file', 'Accounted for', 'Difference', 'Tolerance'],
    ...group.checks.map((c) => [
      c.check === 'rows' ? 'rows' : c.check.slice('measure:'.length),
      c.expected ?? 'n/a',
      c.actual ?? 'n/a',
      signed(c.delta),
      c.tolerance,
    ]),
  ];
  const widths = table[0]!.map((_, col) => Math.max(...table.map((row) => row[col]!.length)));
  const why = group.checks.find((c) => c.check === 'rows') ?? first;
  return [
    `${n}. ${placeOf(first, partitionColumn)}`,
    ...table.map(
      (row) =>
        `   ${row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join('   ')}`,
    ),
    `   Why: ${clip(why.detail)}`,
  ];
}

function howToInvestigate(
  failed: readonly ReconciliationCheck[],
  dataset: string,
  ctx: InvestigationContext,
): string[] {
  const table = `"${ctx.database}"."${ctx.curatedTable}"`;
  const lines: string[] = [];
  const sums = ctx.measures.map((m) => `SUM(${m}) AS ${m}`).join(', ');
  const sources = new Map<string, NonNullable<ReconciliationCheck['source']>>();
  for (const check of failed) if (check.source) sources.set(check.source.sourceId, check.source);
  const files = [...sources.values()];
  for (const source of files.slice(0, 5)) {
    lines.push(
      `- File ${source.key}: its source totals (normalizer manifest) are in s3://${ctx.controlBucket}/${manifestKeyOf(dataset, source.sourceId)}; ` +
        'what curated holds for it (Athena):',
      `    SELECT ${ctx.partitionColumn}, COUNT(*) AS row_count${sums ? `, ${sums}` : ''} FROM ${table} ` +
        `WHERE ingest_source_id = ${sqlString(source.sourceId)} GROUP BY ${ctx.partitionColumn} ORDER BY 1;`,
    );
  }
  if (files.length > 5) lines.push(`- ... and ${files.length - 5} more file(s): see the result document.`);
  const crossTemplate = failed.filter((c) => c.check.startsWith('cross_template:') && c.scope);
  for (const check of crossTemplate.slice(0, 3)) {
    const measure =
      ctx.ruleMeasures[check.check.slice('cross_template:'.length)] ?? ctx.measures[0] ?? 'value';
    const conditions = Object.entries(check.scope!)
      .map(([column, value]) => (value === '' ? `${column} IS NULL` : `${column} = ${sqlString(value)}`))
      .join(' AND ');
    lines.push(
      `- ${capitalize(scopeText(check.scope))}: compare the templates' totals and the files behind them (Athena):`,
      `    SELECT ingest_template, ingest_source_key, SUM(${measure}) AS ${measure} FROM ${table} ` +
        `WHERE ${conditions} GROUP BY ingest_template, ingest_source_key ORDER BY 1, 2;`,
    );
  }
  if (crossTemplate.length > 3) lines.push(`- ... and ${crossTemplate.length - 3} more group(s).`);
  if (failed.some((c) => c.check === 'rows')) {
    lines.push(
      '- "Accounted for" counts the rows in curated plus the rows superseded by a newer file and the rows ' +
        'rejected for colliding with another file (each check in the result document breaks them down, ' +
        'with the files): a difference is a row the ETL cannot account for.',
    );
  }
  if (failed.some((c) => c.check === 'run_report' || c.check === 'unprocessed' || c.check === 'marker')) {
    lines.push(
      '- A missing or inconsistent ETL run report or processed marker points at the Glue job: check its run in ' +
        'the Glue console and its logs.',
    );
  }
  return lines;
}
