/** The parts every alert kind shares: limits, the investigation context, files as alerts list them,
 * rendering (human text, then the JSON document, kept under MAX_MESSAGE_BYTES) and small text helpers. */
import type { Alert, AlertFile, AlertKind, AlertSeverity } from '../../../lib/contracts/alerts';
import { PIPELINE_ENV_VARS } from '../../../lib/contracts/env';
import { RUNBOOK_SECTIONS, runbookLink } from '../../../lib/contracts/runbook';

/** The input is a contract with the state machine (lib/contracts/alerts.ts). */
export type { AlertFile };

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

interface RenderInput {
  readonly kind: AlertKind;
  readonly severity: AlertSeverity;
  readonly dataset: string;
  /** Subject text after the `[dataset] ` prefix. */
  readonly subject: string;
  readonly lines: readonly string[];
  readonly data: Record<string, unknown>;
}

/**
 * The runbook section of an alert kind (lib/contracts/runbook.ts), under the deployment's runbook
 * URL: the stack sets RUNBOOK_URL on every handler from the context key `runbookUrl`.
 */
export function alertRunbook(
  kind: AlertKind,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  return runbookLink(RUNBOOK_SECTIONS[kind], env[PIPELINE_ENV_VARS.runbookUrl]);
}

export function render(input: RenderInput): Alert {
  const { kind, severity } = input;
  const dataset = input.dataset || 'unknown';
  const runbook = alertRunbook(kind);
  const head = { kind, severity, dataset };
  let data: Record<string, unknown> = { ...head, ...input.data, runbook };
  let text = input.lines.join('\n');
  // The runbook line stays outside the text, so that cutting a long text never loses it.
  const tail = () => `\n\nRunbook: ${runbook}\n\n${JSON_MARKER}\n${JSON.stringify(data, null, 2)}`;
  const assemble = () => `${text}${tail()}`;
  let message = assemble();
  // Shrink the longest lists of the JSON first, then the human text; the JSON always stays whole.
  for (let guard = 0; bytes(message) > MAX_MESSAGE_BYTES && guard < 64; guard++) {
    const shrunk = shrinkLargestArray(data);
    if (shrunk) data = shrunk;
    else {
      const budget = MAX_MESSAGE_BYTES - bytes(tail()) - 100;
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

export function consoleLine(executionId: string, region?: string): string[] {
  const url = consoleUrl(executionId, region);
  return url ? [`Console: ${url}`] : [];
}

export function listed<T>(items: readonly T[], line: (item: T, index: number) => string[]): string[] {
  const out = items.slice(0, MAX_LISTED).flatMap((item, i) => line(item, i));
  if (items.length > MAX_LISTED) out.push(`... and ${items.length - MAX_LISTED} more (see the JSON below)`);
  return out;
}

export function fileLine(f: AlertFile): string {
  const status = f.status ? ` [${f.status}]` : '';
  return `${f.key}${f.versionId ? ` (version ${f.versionId})` : ''}${status}`;
}

export function fileData(f: AlertFile): Record<string, unknown> {
  return {
    key: f.key,
    versionId: f.versionId ?? null,
    ...(f.status ? { status: f.status } : {}),
    ...(f.errorName ? { errorName: f.errorName } : {}),
    ...(f.reason ? { reason: clip(f.reason) } : {}),
    ...(f.quarantineKey ? { quarantineKey: f.quarantineKey } : {}),
  };
}

export function location(bucket: string | undefined, key: string): string {
  return bucket ? `s3://${bucket}/${key}` : `${key} (quarantine bucket)`;
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

export function signed(delta: string | null): string {
  if (delta === null) return 'n/a';
  return delta.startsWith('-') || /^0(\.0*)?$/.test(delta) ? delta : `+${delta}`;
}

export function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function sqlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export function clip(text: string, max = MAX_TEXT): string {
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
