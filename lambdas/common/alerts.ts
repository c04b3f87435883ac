/**
 * The one alert formatter: every alert the pipeline publishes (reconciliation discrepancies,
 * stage failures, quarantined files and rejected rows, schema-drift notices, files landed with
 * an unknown template, restatement notices) is rendered here
 * as an `Alert` {kind, severity, dataset, subject, message}. The state machine publishes
 * `subject` and `message` and sets the SNS message attributes `severity`, `dataset` and
 * `kind` from the same object, so subscribers can filter.
 *
 * Message layout: human-readable text for the data owner first, then a line
 * `--- machine-readable (JSON) ---` and one JSON document (see `parseAlertData`). The whole
 * message stays under `MAX_MESSAGE_BYTES` so that it fits both the SNS limit (256 KiB) and
 * the Step Functions state it travels in (256 KiB with the batch); long lists are cut and
 * the cut is recorded (`omitted`), never the JSON itself.
 */
import type { Alert, AlertKind, AlertSeverity, NoticeOutcomes } from '../../lib/contracts/alerts';
import type { FileFlag, FileStatus, StatesError } from '../../lib/contracts/batch';
import { manifestKey as manifestKeyOf, quarantineRowsKey } from '../../lib/contracts/layout';
import type { ReconciliationCheck, ReconciliationResult } from '../../lib/contracts/reconciliation';

/**
 * SNS subjects must be ASCII without control characters and, per the Publish API reference,
 * "less than 100 characters": 99 keeps within both that and the contract's "at most 100".
 */
export const MAX_SUBJECT = 99;
/** Upper bound of a message in UTF-8 bytes (well under SNS's 256 KiB and the state payload). */
export const MAX_MESSAGE_BYTES = 32 * 1024;
/** The line that separates the human text from the JSON document. */
export const JSON_MARKER = '--- machine-readable (JSON) ---';
/** Items listed one by one in the human text before "... and N more". */
const MAX_LISTED = 20;
/** Longest single free-text value (an error cause, a detail) kept in an alert. */
const MAX_TEXT = 2000;

// ---------------------------------------------------------------------------------------------
// Inputs, one per kind
// ---------------------------------------------------------------------------------------------

/** Where the analyst can look: names used to build S3 locations and Athena queries. */
export interface InvestigationContext {
  /** Control bucket (manifests, run reports, reconciliation results). */
  readonly controlBucket: string;
  /** Glue database of the curated table (Athena). */
  readonly database: string;
  /** Curated table name. */
  readonly curatedTable: string;
  /** Partition column of the dataset, e.g. `quarter`. */
  readonly partitionColumn: string;
  /** Measures of the dataset, for the suggested queries. */
  readonly measures: readonly string[];
  /** Measure of each cross-template rule, by rule name. */
  readonly ruleMeasures: Readonly<Record<string, string>>;
  /** Key of the reconciliation result document in the control bucket. */
  readonly resultKey: string;
}

export interface DiscrepancyAlertInput {
  readonly kind: 'discrepancy';
  readonly result: ReconciliationResult;
  readonly investigate: InvestigationContext;
}

/** A file as the state machine knows it: a BatchFile (before Normalize) or a FileOutcome (after). */
export interface AlertFile {
  readonly key: string;
  readonly versionId?: string | null;
  readonly status?: FileStatus;
  readonly sourceId?: string;
  readonly rows?: number;
  readonly rejectedRows?: number;
  readonly quarantineKey?: string;
  readonly errorName?: string;
  readonly reason?: string;
  /** A normalized file that landed but needs review (see FileOutcome.flag). */
  readonly flag?: FileFlag;
  readonly manifestKey?: string;
}

export interface FailureAlertInput {
  readonly kind: 'failure';
  readonly dataset: string;
  /** State that failed, e.g. `workforce_capacity.RunEtl`. */
  readonly stage: string;
  /** Execution ARN (`$$.Execution.Id`). */
  readonly executionId: string;
  readonly error: StatesError;
  readonly files?: readonly AlertFile[];
  /** Outcome of each notice the execution sent (`$.notices`): those not published are listed. */
  readonly notices?: NoticeOutcomes;
  /**
   * Set by the backstop (the EventBridge rule on execution status changes): the execution ended
   * without its own failure alert (a failure no Catch sees, a timeout, an abort).
   */
  readonly backstop?: { readonly status: string };
  /** Region for the console link when the execution id is not an ARN. */
  readonly region?: string;
  /** Quarantine bucket, to print full S3 locations when known. */
  readonly quarantineBucket?: string;
}

export interface QuarantineAlertInput {
  readonly kind: 'quarantine';
  readonly dataset: string;
  readonly executionId: string;
  readonly files: readonly AlertFile[];
  readonly region?: string;
  readonly quarantineBucket?: string;
}

export interface ColumnType {
  readonly name: string;
  readonly type: string;
}

export interface SchemaDriftAlertInput {
  readonly kind: 'schema_drift';
  readonly dataset: string;
  readonly executionId: string;
  readonly database: string;
  readonly table: string;
  /** Catalog table version last seen, and the current one. */
  readonly fromVersion: string | null;
  readonly toVersion: string | null;
  readonly added: readonly (ColumnType & { readonly declared: boolean })[];
  readonly removed: readonly ColumnType[];
  readonly retyped: readonly { readonly name: string; readonly from: string; readonly to: string }[];
  readonly region?: string;
}

/** Normalized files whose header matched no template, landed because the dataset says `flag`. */
export interface UnknownTemplateAlertInput {
  readonly kind: 'unknown_template';
  readonly dataset: string;
  readonly executionId: string;
  readonly files: readonly AlertFile[];
  readonly region?: string;
}

/** A file of a restatement or conflict, as the run reports name it. */
export interface RestatedFile {
  readonly sourceId: string;
  readonly sourceKey: string;
}

/**
 * Files of the batch that replaced rows of other files, or whose rows collided with another
 * file's on the dataset key (from the run reports of the runs that merged the batch).
 */
export interface RestatementAlertInput {
  readonly kind: 'restatement';
  readonly dataset: string;
  readonly executionId: string;
  /** The dataset key and restatement settings, to say why rows were replaced. */
  readonly keys: readonly string[];
  readonly replacementScope: readonly string[];
  readonly conflictPolicy: string;
  /** Runs that restated or rejected rows, oldest first, with the snapshots before and after. */
  readonly runs: readonly {
    readonly runId: string;
    readonly snapshotId: string | null;
    readonly previousSnapshotId: string | null;
  }[];
  readonly restatements: readonly {
    readonly runId: string;
    readonly sourceId: string;
    readonly sourceKey: string;
    readonly supersededSourceId: string;
    readonly supersededSourceKey: string;
    readonly reason: 'same_object' | 'scope' | 'key';
    readonly rows: number;
  }[];
  readonly conflicts: readonly {
    readonly runId: string;
    readonly sourceId: string;
    readonly sourceKey: string;
    readonly conflictsWithSourceId: string;
    readonly conflictsWithSourceKey: string;
    readonly rows: number;
    readonly quarantineKey: string | null;
  }[];
  /** The snapshot the reconciliation checked (its result's `snapshotIds[dataset]`). */
  readonly snapshotId: string | null;
  /** Where to look: the result document, the table for time travel, the quarantine bucket. */
  readonly investigate: {
    readonly controlBucket: string;
    readonly resultKey: string;
    readonly database: string;
    readonly curatedTable: string;
    readonly quarantineBucket?: string;
  };
  readonly region?: string;
}

export type AlertInput =
  | DiscrepancyAlertInput
  | FailureAlertInput
  | QuarantineAlertInput
  | SchemaDriftAlertInput
  | UnknownTemplateAlertInput
  | RestatementAlertInput;

/** Formats any alert kind. */
export function formatAlert(input: AlertInput): Alert {
  switch (input.kind) {
    case 'discrepancy':
      return discrepancy(input);
    case 'failure':
      return failure(input);
    case 'quarantine':
      return quarantine(input);
    case 'schema_drift':
      return schemaDrift(input);
    case 'unknown_template':
      return unknownTemplate(input);
    case 'restatement':
      return restatement(input);
  }
}

/** The SNS message attributes of an alert (what the state machine sets on Publish). */
export function alertMessageAttributes(
  alert: Alert,
): Record<'severity' | 'dataset' | 'kind', { DataType: 'String'; StringValue: string }> {
  const attribute = (value: string) => ({ DataType: 'String' as const, StringValue: value });
  return {
    severity: attribute(alert.severity),
    dataset: attribute(alert.dataset),
    kind: attribute(alert.kind),
  };
}

/** The JSON document at the end of an alert's message. */
export function parseAlertData(message: string): Record<string, unknown> {
  const at = message.lastIndexOf(`\n${JSON_MARKER}\n`);
  if (at < 0) throw new AlertFormatError('the message has no machine-readable section');
  return JSON.parse(message.slice(at + JSON_MARKER.length + 2)) as Record<string, unknown>;
}

export class AlertFormatError extends Error {
  override readonly name = 'AlertFormatError';
}

// ---------------------------------------------------------------------------------------------
// Discrepancy
// ---------------------------------------------------------------------------------------------

function discrepancy({ result, investigate }: DiscrepancyAlertInput): Alert {
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

// ---------------------------------------------------------------------------------------------
// Failure
// ---------------------------------------------------------------------------------------------

function failure(input: FailureAlertInput): Alert {
  const cause = explainCause(input.error.Cause);
  const files = input.files ?? [];
  const problemFiles = files.filter((f) => f.status === 'quarantined' || f.status === 'failed');
  const failedFiles = files.filter((f) => f.status === 'failed');
  const unsent = unsentNotices(input.notices);
  const lines = [
    input.backstop?.status === 'SUCCEEDED'
      ? `An ingestion execution for dataset ${input.dataset} merged and reconciled its batch, but some of its notices ` +
        'could not be published (listed below): this alert comes from the EventBridge backstop on the execution status.'
      : input.backstop
        ? `An ingestion execution for dataset ${input.dataset} ended ${input.backstop.status} without a failure alert of ` +
          'its own (a failure no Catch of the state machine sees, a timeout or a stop): this alert comes from the ' +
          'EventBridge backstop on the execution status.'
        : `The ingestion pipeline for dataset ${input.dataset} stopped at stage ${input.stage}.`,
    'Landing files are never modified or deleted by the pipeline; files that could not be processed are listed below.',
    '',
    `Error: ${input.error.Error}`,
    `Cause: ${cause.text}`,
  ];
  if (files.length > 0) {
    lines.push('', `FILES IN THE BATCH (${files.length})`, ...listed(files, (f) => [`- ${fileLine(f)}`]));
  }
  if (problemFiles.length > 0) {
    lines.push(
      '',
      'QUARANTINED OR FAILED FILES',
      ...listed(problemFiles, (f) => quarantinedLines(f, input.quarantineBucket)),
    );
  }
  if (failedFiles.length > 0) {
    lines.push(
      '',
      'WHAT TO DO',
      '- Files marked "failed" were not normalized (a transient error outlasted the retries, or the quarantine copy ' +
        'failed); they are untouched in the landing bucket and nothing of them reached curated. The rest of the ' +
        'batch was merged and reconciled. Drop the failed files again (or replay them): a retry of a file that ' +
        'never reached curated is processed again, not taken for a duplicate.',
    );
  }
  if (unsent.length > 0) {
    lines.push(
      '',
      'NOTICES NOT PUBLISHED',
      ...unsent.map((n) => `- ${n.name}: ${clip(n.why, 500)}`),
      'The data these notices describe was processed; their content is in the execution history and the control bucket.',
    );
  }
  lines.push('', `Execution: ${input.executionId}`, ...consoleLine(input.executionId, input.region));
  return render({
    kind: 'failure',
    severity: 'critical',
    dataset: input.dataset,
    subject:
      input.backstop?.status === 'SUCCEEDED'
        ? `notices not published (${unsent.map((n) => n.name).join(', ')})`
        : input.backstop
          ? `execution ${input.backstop.status}: ${input.error.Error}`
          : `failed at ${input.stage}: ${input.error.Error}`,
    lines,
    data: {
      executionId: input.executionId,
      console: consoleUrl(input.executionId, input.region),
      stage: input.stage,
      ...(input.backstop ? { backstop: input.backstop } : {}),
      error: { Error: input.error.Error, Cause: clip(input.error.Cause ?? '') },
      ...(cause.parsed ? { cause: cause.parsed } : {}),
      files: files.map(fileData),
      ...(unsent.length > 0 ? { noticesNotPublished: unsent } : {}),
    },
  });
}

/**
 * Notices of `$.notices` that did not go out: a receipt with `published: false` (directly or as
 * a schema-drift result's `alert`), or the error of a notice task that failed.
 */
export function unsentNotices(notices: NoticeOutcomes | undefined): { name: string; why: string }[] {
  const unsent: { name: string; why: string }[] = [];
  for (const [name, outcome] of Object.entries(notices ?? {})) {
    if (!outcome || typeof outcome !== 'object') continue;
    const o = outcome as {
      published?: unknown;
      error?: unknown;
      Error?: unknown;
      Cause?: unknown;
      alert?: unknown;
    };
    const receipt = (o.alert && typeof o.alert === 'object' ? o.alert : o) as {
      published?: unknown;
      error?: unknown;
    };
    if (typeof o.Error === 'string') {
      unsent.push({
        name,
        why: `${o.Error}${typeof o.Cause === 'string' ? `: ${explainCause(o.Cause).text}` : ''}`,
      });
    } else if (receipt.published === false) {
      unsent.push({ name, why: typeof receipt.error === 'string' ? receipt.error : 'not published' });
    }
  }
  return unsent;
}

/** Lambda errors arrive as `{errorType, errorMessage, trace}`; Glue job runs as the JobRun. */
function explainCause(cause: string | undefined): { text: string; parsed?: Record<string, unknown> } {
  if (!cause) return { text: '(no cause given)' };
  let value: unknown;
  try {
    value = JSON.parse(cause);
  } catch {
    return { text: clip(cause) };
  }
  if (!value || typeof value !== 'object') return { text: clip(cause) };
  const v = value as Record<string, unknown>;
  if (typeof v.errorMessage === 'string') {
    return {
      text: clip(`${typeof v.errorType === 'string' ? `${v.errorType}: ` : ''}${v.errorMessage}`),
      parsed: { errorType: v.errorType ?? null, errorMessage: clip(v.errorMessage) },
    };
  }
  if (typeof v.ErrorMessage === 'string' || typeof v.JobRunState === 'string') {
    const run = [
      v.JobName ? `Glue job ${String(v.JobName)}` : 'Glue job',
      v.Id ? `run ${String(v.Id)}` : '',
      v.JobRunState ? `ended ${String(v.JobRunState)}` : '',
    ]
      .filter(Boolean)
      .join(' ');
    const text = typeof v.ErrorMessage === 'string' ? `${run}: ${v.ErrorMessage}` : run;
    return {
      text: clip(text),
      parsed: {
        jobName: v.JobName ?? null,
        jobRunId: v.Id ?? null,
        jobRunState: v.JobRunState ?? null,
        errorMessage: typeof v.ErrorMessage === 'string' ? clip(v.ErrorMessage) : null,
      },
    };
  }
  return { text: clip(cause) };
}

// ---------------------------------------------------------------------------------------------
// Quarantine
// ---------------------------------------------------------------------------------------------

function quarantine(input: QuarantineAlertInput): Alert {
  const problemFiles = input.files.filter((f) => f.status === 'quarantined' || f.status === 'failed');
  const notQuarantined = problemFiles.filter((f) => f.status === 'failed');
  const withRejects = input.files.filter((f) => f.status === 'normalized' && (f.rejectedRows ?? 0) > 0);
  const rejectedRows = withRejects.reduce((sum, f) => sum + (f.rejectedRows ?? 0), 0);
  const parts: string[] = [];
  if (problemFiles.length > 0) parts.push(`${plural(problemFiles.length, 'file')} quarantined`);
  if (rejectedRows > 0) parts.push(`${plural(rejectedRows, 'row')} rejected`);
  const lines = [
    `Some data of dataset ${input.dataset} was not loaded. The rest of the batch was processed; ` +
      'nothing below was dropped silently: every file and row is kept in quarantine with its reason.',
  ];
  if (problemFiles.length > 0) {
    lines.push(
      '',
      `FILES NOT INGESTED (${problemFiles.length})`,
      ...listed(problemFiles, (f) => quarantinedLines(f, input.quarantineBucket)),
    );
  }
  if (withRejects.length > 0) {
    lines.push(
      '',
      `FILES LOADED WITH REJECTED ROWS (${plural(rejectedRows, 'row')} in ${plural(withRejects.length, 'file')})`,
      ...listed(withRejects, (f) => {
        const rowsKey = f.sourceId ? quarantineRowsKey(input.dataset, f.sourceId) : null;
        return [
          `- ${f.key}: ${f.rows ?? '?'} row(s) loaded, ${f.rejectedRows} rejected.`,
          `  Rejected rows with their reasons: ${rowsKey ? location(input.quarantineBucket, rowsKey) : 'n/a'}`,
        ];
      }),
    );
  }
  lines.push(
    '',
    'WHAT TO DO',
    '- Read the reason; fix the file (or the dataset configuration, e.g. a new column alias) and drop the ' +
      'corrected file into the landing bucket again. Rejected rows are not in curated until resent.',
  );
  if (problemFiles.some((f) => f.errorName === 'UnknownTemplateError')) {
    lines.push(
      '- A header that matches no template: if the file is a new version of a template, declare its headers as a ' +
        'template version (or its new spellings as column aliases) in the dataset configuration and drop it again.',
    );
  }
  if (notQuarantined.length > 0) {
    lines.push(
      '- Files marked "failed" could not even be copied to quarantine; they are untouched in the landing bucket.',
    );
  }
  lines.push('', `Execution: ${input.executionId}`, ...consoleLine(input.executionId, input.region));
  return render({
    kind: 'quarantine',
    severity: notQuarantined.length > 0 ? 'critical' : 'warning',
    dataset: input.dataset,
    subject: parts.length > 0 ? parts.join(', ') : 'nothing quarantined',
    lines,
    data: {
      executionId: input.executionId,
      quarantinedFiles: problemFiles.length,
      rejectedRows,
      files: problemFiles.map(fileData),
      filesWithRejectedRows: withRejects.map((f) => ({
        key: f.key,
        versionId: f.versionId ?? null,
        rows: f.rows ?? null,
        rejectedRows: f.rejectedRows,
        rejectedRowsKey: f.sourceId ? quarantineRowsKey(input.dataset, f.sourceId) : null,
      })),
    },
  });
}

function quarantinedLines(f: AlertFile, bucket: string | undefined): string[] {
  const lines = [
    `- ${f.key}${f.versionId ? ` (version ${f.versionId})` : ''}: ${f.status ?? 'not ingested'}`,
  ];
  lines.push(
    `  Reason: ${clip(f.reason ?? f.errorName ?? 'unknown')}${f.errorName && f.reason ? ` [${f.errorName}]` : ''}`,
  );
  if (f.quarantineKey)
    lines.push(`  Quarantined copy and reason document: ${location(bucket, f.quarantineKey)}`);
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Unknown template (landed and flagged)
// ---------------------------------------------------------------------------------------------

function unknownTemplate(input: UnknownTemplateAlertInput): Alert {
  const flagged = input.files.filter((f) => f.status === 'normalized' && f.flag === 'unknown_template');
  const lines = [
    `Dataset ${input.dataset} received ${plural(flagged.length, 'file')} whose header matches none of its templates. ` +
      'The rows were loaded as they are, without a template (the dataset\'s unknownTemplate setting is "flag"): ' +
      'columns the templates declare may be missing or null, and cross-template checks do not count them.',
    '',
    `FILES LOADED WITH AN UNKNOWN TEMPLATE (${flagged.length})`,
    ...listed(flagged, (f) => [
      `- ${f.key}${f.versionId ? ` (version ${f.versionId})` : ''}: ${f.rows ?? '?'} row(s) loaded`,
      `  ${capitalize(clip(f.reason ?? 'header matches no template'))}`,
      ...(f.manifestKey
        ? [`  Every header, matched or not: manifest ${f.manifestKey} (control bucket)`]
        : []),
    ]),
    '',
    'WHAT TO DO',
    '- A new version of a known template: declare its headers as a template version (or its new spellings as ' +
      'column aliases) in the dataset configuration, then drop the file again; it replaces these rows.',
    '- Not data of this dataset: its rows in curated carry ingest_source_key = the file key above.',
    '',
    `Execution: ${input.executionId}`,
    ...consoleLine(input.executionId, input.region),
  ];
  return render({
    kind: 'unknown_template',
    severity: 'warning',
    dataset: input.dataset,
    subject: `${plural(flagged.length, 'file')} loaded with an unknown template`,
    lines,
    data: {
      executionId: input.executionId,
      flaggedFiles: flagged.length,
      files: flagged.map((f) => ({
        key: f.key,
        versionId: f.versionId ?? null,
        rows: f.rows ?? null,
        reason: clip(f.reason ?? ''),
        manifestKey: f.manifestKey ?? null,
      })),
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Schema drift
// ---------------------------------------------------------------------------------------------

function schemaDrift(input: SchemaDriftAlertInput): Alert {
  const counts = [
    input.added.length ? `${input.added.length} added` : '',
    input.removed.length ? `${input.removed.length} removed` : '',
    input.retyped.length ? `${input.retyped.length} retyped` : '',
  ].filter(Boolean);
  const lines = [
    `The crawler changed the schema of table ${input.database}.${input.table} (dataset ${input.dataset}), ` +
      `catalog version ${input.fromVersion ?? '?'} -> ${input.toVersion ?? '?'}.`,
    'This is a notice, not an error: the pipeline carries on without a code change.',
  ];
  if (input.added.length > 0) {
    lines.push(
      '',
      'COLUMNS ADDED',
      ...listed(input.added, (c) => [
        `- ${c.name} (${c.type})${c.declared ? '' : ': not declared in the dataset configuration, kept as it arrives'}`,
      ]),
    );
  }
  if (input.removed.length > 0) {
    lines.push(
      '',
      'COLUMNS REMOVED',
      ...listed(input.removed, (c) => [`- ${c.name} (was ${c.type}): new rows will have no value for it`]),
    );
  }
  if (input.retyped.length > 0) {
    lines.push('', 'COLUMNS RETYPED', ...listed(input.retyped, (c) => [`- ${c.name}: ${c.from} -> ${c.to}`]));
  }
  lines.push(
    '',
    'WHAT TO DO',
    '- New columns reach the curated table with the next ETL run; reports and queries that need them can use them then.',
    '- An undeclared column that is really a known one under a new header name needs an alias in the dataset configuration.',
    '- Removed or retyped columns can break downstream queries and dashboards: check them.',
    '',
    `Execution: ${input.executionId}`,
    ...consoleLine(input.executionId, input.region),
  );
  return render({
    kind: 'schema_drift',
    severity: 'info',
    dataset: input.dataset,
    subject: `schema change in ${input.table}: ${counts.join(', ') || 'no column change'}`,
    lines,
    data: {
      executionId: input.executionId,
      database: input.database,
      table: input.table,
      fromVersion: input.fromVersion,
      toVersion: input.toVersion,
      added: input.added,
      removed: input.removed,
      retyped: input.retyped,
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Restatement notice
// ---------------------------------------------------------------------------------------------

function restatement(input: RestatementAlertInput): Alert {
  const { restatements, conflicts, investigate } = input;
  const table = `"${investigate.database}"."${investigate.curatedTable}"`;
  const keyText = `(${input.keys.join(', ')})`;
  const why = (r: RestatementAlertInput['restatements'][number]): string => {
    const self = r.sourceId === r.supersededSourceId;
    switch (r.reason) {
      case 'same_object':
        return 'it is a newer version of the same landing object, which replaces every row of the older version';
      case 'scope':
        return `it is newer and covers the same ${input.replacementScope.join(' + ') || 'replacement scope'}`;
      case 'key':
        return self
          ? `the file repeats keys ${keyText}: its later row of each key is kept`
          : `its rows have the same key ${keyText} and it landed later (conflict policy ${input.conflictPolicy})`;
    }
  };
  const restatedFile = (r: RestatementAlertInput['restatements'][number]): string =>
    r.sourceId === r.supersededSourceId
      ? 'itself'
      : r.sourceKey === r.supersededSourceKey
        ? `its older version (source id ${r.supersededSourceId})`
        : r.supersededSourceKey;
  const restating = new Set(restatements.map((r) => r.sourceId));
  const restatedRows = restatements.reduce((n, r) => n + r.rows, 0);
  const colliding = new Set(conflicts.map((c) => c.sourceId));
  const rejectedRows = conflicts.reduce((n, c) => n + c.rows, 0);
  const counts = [
    restatements.length > 0
      ? `${plural(restating.size, 'file')} replaced ${plural(restatedRows, 'row')}`
      : '',
    conflicts.length > 0
      ? `${plural(colliding.size, 'file')} collided, ${plural(rejectedRows, 'row')} rejected`
      : '',
  ].filter(Boolean);
  const resultUri = `s3://${investigate.controlBucket}/${investigate.resultKey}`;
  const lines = [
    `Files of dataset ${input.dataset} replaced rows of other files${conflicts.length > 0 ? ' or collided with them' : ''}.`,
    'This is a notice, not an error: every row is accounted for by the reconciliation ' +
      `(${resultUri}), and curated holds the rows the dataset's restatement rules keep.`,
  ];
  if (restatements.length > 0) {
    lines.push(
      '',
      `RESTATEMENTS (${plural(restatedRows, 'row')} replaced)`,
      ...listed(restatements, (r) => [
        `- ${r.sourceKey} replaced ${plural(r.rows, 'row')} of ${restatedFile(r)}: ${why(r)} (ETL run ${r.runId}).`,
      ]),
    );
  }
  if (conflicts.length > 0) {
    lines.push(
      '',
      `CONFLICTS (${plural(rejectedRows, 'row')} rejected to quarantine, conflict policy ${input.conflictPolicy})`,
      ...listed(conflicts, (c) => [
        `- ${c.sourceKey}: ${plural(c.rows, 'row')} rejected; they have the same key ${keyText} as rows of ` +
          `${c.sourceId === c.conflictsWithSourceId ? 'the same file' : c.conflictsWithSourceKey}, which stay in curated (ETL run ${c.runId}).`,
        ...(c.quarantineKey
          ? [`  Rejected rows: ${location(investigate.quarantineBucket, c.quarantineKey)}`]
          : []),
      ]),
    );
  }
  lines.push('', 'THE TABLE BEFORE AND AFTER (time travel, until snapshot expiry removes the snapshot)');
  if (input.snapshotId) {
    lines.push(
      `- As reconciled: snapshot ${input.snapshotId} (Athena):`,
      `    SELECT * FROM ${table} FOR VERSION AS OF ${input.snapshotId};`,
    );
  }
  lines.push(
    ...listed(input.runs, (run) => [
      `- ETL run ${run.runId}: before it snapshot ${run.previousSnapshotId ?? '(none: the table was created)'}, ` +
        `after it ${run.snapshotId ?? '(no commit)'}.`,
    ]),
    '- The same locally: npm run pipeline -- query "<SQL>" --snapshot <id>',
    '',
    'WHAT TO DO',
    '- A restatement needs nothing when the newer file is the right one: it is the intended way to correct data.',
    '- If the older rows were right, send a corrected file with them: it lands later, so its rows win by the same rules. ' +
      'A byte-for-byte copy of a file already loaded is skipped as a duplicate, so resending the old file unchanged does not restore it.',
  );
  if (conflicts.length > 0) {
    lines.push(
      '- For a conflict, decide which file is right. The rows already in curated stay; the rejected rows are in quarantine, ' +
        'each naming the file it collided with. To have the rejected rows instead, send a corrected version of the other ' +
        "file without them (under the same landing key it replaces all of that file's rows), then a file with the rejected rows.",
    );
  }
  lines.push('', `Execution: ${input.executionId}`, ...consoleLine(input.executionId, input.region));
  return render({
    kind: 'restatement',
    severity: 'info',
    dataset: input.dataset,
    subject: counts.join(', ') || 'no restatement',
    lines,
    data: {
      executionId: input.executionId,
      result: resultUri,
      snapshotId: input.snapshotId,
      runs: input.runs,
      restatements,
      conflicts,
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

interface RenderInput {
  readonly kind: AlertKind;
  readonly severity: AlertSeverity;
  readonly dataset: string;
  /** Subject text after the `[dataset] ` prefix. */
  readonly subject: string;
  readonly lines: readonly string[];
  readonly data: Record<string, unknown>;
}

function render(input: RenderInput): Alert {
  const { kind, severity } = input;
  const dataset = input.dataset || 'unknown';
  const head = { kind, severity, dataset };
  let data: Record<string, unknown> = { ...head, ...input.data };
  let text = input.lines.join('\n');
  const assemble = () => `${text}\n\n${JSON_MARKER}\n${JSON.stringify(data, null, 2)}`;
  let message = assemble();
  // Shrink the longest lists of the JSON first, then the human text; the JSON always stays whole.
  for (let guard = 0; bytes(message) > MAX_MESSAGE_BYTES && guard < 64; guard++) {
    const shrunk = shrinkLargestArray(data);
    if (shrunk) data = shrunk;
    else {
      const budget = MAX_MESSAGE_BYTES - bytes(`\n\n${JSON_MARKER}\n${JSON.stringify(data, null, 2)}`) - 100;
      text = `${truncateBytes(text, Math.max(budget, 0))}\n... (text cut to fit the alert size limit)`;
      message = assemble();
      break;
    }
    message = assemble();
  }
  return { kind, severity, dataset, subject: subjectOf(dataset, input.subject), message };
}

function shrinkLargestArray(data: Record<string, unknown>): Record<string, unknown> | undefined {
  let largest: string | undefined;
  let size = 0;
  for (const [name, value] of Object.entries(data)) {
    if (Array.isArray(value) && value.length > 1) {
      const length = JSON.stringify(value).length;
      if (length > size) {
        largest = name;
        size = length;
      }
    }
  }
  if (!largest) return undefined;
  const values = data[largest] as unknown[];
  const keep = Math.floor(values.length / 2);
  const omitted = { ...((data.omitted as Record<string, number> | undefined) ?? {}) };
  omitted[largest] = (omitted[largest] ?? 0) + values.length - keep;
  return { ...data, [largest]: values.slice(0, keep), omitted };
}

/** `[dataset] text`, ASCII only, at most MAX_SUBJECT characters; the dataset name is shortened first. */
export function subjectOf(dataset: string, text: string): string {
  const clean = (s: string) =>
    s
      .replace(/[\r\n\t]+/g, ' ')
      .replace(/[^\x20-\x7e]/g, '?')
      .trim();
  const body = clean(text);
  let name = clean(dataset);
  const room = MAX_SUBJECT - body.length - 3;
  if (name.length > room) name = room > 6 ? `${name.slice(0, room - 3)}...` : name.slice(0, 20);
  const subject = `[${name}] ${body}`;
  return subject.length <= MAX_SUBJECT ? subject : `${subject.slice(0, MAX_SUBJECT - 3)}...`;
}

/** Link to the execution in the Step Functions console (partition-aware), or null if not an ARN. */
export function consoleUrl(executionId: string, region?: string): string | null {
  const arn = /^arn:(aws[a-z-]*):states:([a-z0-9-]+):\d*:execution:/.exec(executionId);
  const partition = arn?.[1] ?? 'aws';
  const where = arn?.[2] ?? region;
  if (!arn && !region) return null;
  const domain =
    partition === 'aws-cn'
      ? 'console.amazonaws.cn'
      : partition === 'aws-us-gov'
        ? 'console.amazonaws-us-gov.com'
        : 'console.aws.amazon.com';
  return `https://${where}.${domain}/states/home?region=${where}#/v2/executions/details/${executionId}`;
}

function consoleLine(executionId: string, region?: string): string[] {
  const url = consoleUrl(executionId, region);
  return url ? [`Console: ${url}`] : [];
}

function listed<T>(items: readonly T[], line: (item: T, index: number) => string[]): string[] {
  const out = items.slice(0, MAX_LISTED).flatMap((item, i) => line(item, i));
  if (items.length > MAX_LISTED) out.push(`... and ${items.length - MAX_LISTED} more (see the JSON below)`);
  return out;
}

function fileLine(f: AlertFile): string {
  const status = f.status ? ` [${f.status}]` : '';
  return `${f.key}${f.versionId ? ` (version ${f.versionId})` : ''}${status}`;
}

function fileData(f: AlertFile): Record<string, unknown> {
  return {
    key: f.key,
    versionId: f.versionId ?? null,
    ...(f.status ? { status: f.status } : {}),
    ...(f.errorName ? { errorName: f.errorName } : {}),
    ...(f.reason ? { reason: clip(f.reason) } : {}),
    ...(f.quarantineKey ? { quarantineKey: f.quarantineKey } : {}),
  };
}

function location(bucket: string | undefined, key: string): string {
  return bucket ? `s3://${bucket}/${key}` : `${key} (quarantine bucket)`;
}

function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

function signed(delta: string | null): string {
  if (delta === null) return 'n/a';
  return delta.startsWith('-') || /^0(\.0*)?$/.test(delta) ? delta : `+${delta}`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function sqlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function clip(text: string, max = MAX_TEXT): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

function bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function truncateBytes(text: string, max: number): string {
  if (bytes(text) <= max) return text;
  let cut = Math.min(text.length, max);
  while (cut > 0 && bytes(text.slice(0, cut)) > max) cut = Math.floor(cut * 0.9);
  return text.slice(0, cut);
}
