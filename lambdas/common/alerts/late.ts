/**
 * The late-data alerts of the scheduled check (lambdas/late, docs/operations.md "Expected
 * arrivals"): `late` (warning) when an expected arrival is missing at its due time, naming the
 * expectation, the sources missing, what is missing, the due time and since when; `recovered`
 * (info) when the data of an open finding came.
 */
import type { Alert } from '../../../lib/contracts/alerts';
import type { LateArrivalRef, LateFinding } from '../../../lib/contracts/operations';
import { listed, plural, render } from './base';

/** The expectation as the alerts describe it. */
export interface ExpectationSummary {
  readonly name: string;
  readonly description?: string;
  /** `every day by 23:59 UTC`, `every quarter by day 15 of month 2, 23:59 UTC`. */
  readonly cadence: string;
  readonly template: string | null;
  readonly minFiles: number;
  /** What a source value is (`provider_name`, `landing folder`); null when the dataset is one source. */
  readonly sourceName: string | null;
}

export interface LateAlertInput {
  readonly kind: 'late';
  readonly dataset: string;
  readonly expectation: ExpectationSummary;
  /** The findings this alert reports: newly late or, once per UTC day, still late. */
  readonly findings: readonly LateFinding[];
  readonly checkedAt: string;
  /** The control bucket (the findings are kept there), for the locations printed. */
  readonly controlBucket?: string;
}

export interface Recovery {
  readonly finding: LateFinding;
  /** The files that satisfied the latest due period. */
  readonly files: readonly LateArrivalRef[];
}

export interface RecoveredAlertInput {
  readonly kind: 'recovered';
  readonly dataset: string;
  readonly expectation: ExpectationSummary;
  readonly recoveries: readonly Recovery[];
  readonly checkedAt: string;
}

const sourceText = (e: ExpectationSummary, source: string) =>
  source === '' ? 'the dataset (any source)' : `${e.sourceName ?? 'source'} "${source}"`;

const filesText = (e: ExpectationSummary) =>
  `${e.minFiles === 1 ? 'a file' : `${e.minFiles} files`}${e.template ? ` of template ${e.template}` : ''}`;

function lastArrivalText(ref: LateArrivalRef | null): string {
  return ref ? `last arrival ${ref.landedAt}: ${ref.key}` : 'no earlier arrival in the lookback window';
}

export function late(input: LateAlertInput): Alert {
  const e = input.expectation;
  const findings = [...input.findings].sort((a, b) => a.source.localeCompare(b.source));
  // A reminder: a finding alerted on an earlier day and still open.
  const still = findings.some((f) => f.alerts > 0);
  const sources = findings.map((f) => f.source);
  const lines = [
    `Dataset ${input.dataset} expects ${filesText(e)} ${e.cadence}` +
      `${e.sourceName ? ` from each ${e.sourceName}` : ''} (expectation ${e.name}${e.description ? `: ${e.description}` : ''}).`,
    `${plural(findings.length, 'source is', 'sources are')} late as of ${input.checkedAt}:`,
    '',
    ...listed(findings, (f) => [
      `- ${sourceText(e, f.source)}: ${f.filesSeen} of ${f.minFiles} file(s) for the period from ${f.periodStart}, due ${f.dueAt}`,
      `  missing since ${f.since}; ${lastArrivalText(f.lastArrival)}`,
    ]),
    '',
    'WHAT TO CHECK',
    `- Did the sender deliver? Look for the files under the dataset's landing prefix${e.template ? ` (template ${e.template})` : ''}.`,
    '- Did they land but fail? Quarantine alerts and failed executions of the dataset name them.',
    '- Once the files land and are processed, the next check sends a `recovered` notice and closes the finding.',
    `This finding is re-alerted at most once per UTC day while it stays open${input.controlBucket ? ` (open findings: s3://${input.controlBucket}/operations/late/open/${input.dataset}/)` : ''}.`,
  ];
  const what = sources.length === 1 ? sourceText(e, sources[0]!) : plural(sources.length, 'source');
  return render({
    kind: 'late',
    severity: 'warning',
    dataset: input.dataset,
    subject: `${still ? 'Still late' : 'Late'}: ${e.name}, ${what}`,
    lines,
    data: {
      expectation: e.name,
      cadence: e.cadence,
      template: e.template,
      minFiles: e.minFiles,
      sourceName: e.sourceName,
      checkedAt: input.checkedAt,
      reminder: still,
      late: findings.map((f) => ({
        source: f.source,
        filesSeen: f.filesSeen,
        periodStart: f.periodStart,
        dueAt: f.dueAt,
        missingSince: f.since,
        lastArrival: f.lastArrival,
        alertsBefore: f.alerts,
      })),
    },
  });
}

export function recovered(input: RecoveredAlertInput): Alert {
  const e = input.expectation;
  const recoveries = [...input.recoveries].sort((a, b) => a.finding.source.localeCompare(b.finding.source));
  const lines = [
    `Dataset ${input.dataset}: the data expectation ${e.name} was waiting for has arrived (${filesText(e)} ${e.cadence}).`,
    `${plural(recoveries.length, 'late source has', 'late sources have')} recovered as of ${input.checkedAt}:`,
    '',
    ...listed(recoveries, (r) => [
      `- ${sourceText(e, r.finding.source)}: missing since ${r.finding.since}, now ${plural(r.files.length, 'file')}`,
      ...r.files.slice(0, 5).map((f) => `  landed ${f.landedAt}: ${f.key}`),
    ]),
    '',
    'Nothing to do: the finding is closed. The files go through the pipeline as any other.',
  ];
  const what =
    recoveries.length === 1
      ? sourceText(e, recoveries[0]!.finding.source)
      : plural(recoveries.length, 'source');
  return render({
    kind: 'recovered',
    severity: 'info',
    dataset: input.dataset,
    subject: `Recovered: ${e.name}, ${what}`,
    lines,
    data: {
      expectation: e.name,
      cadence: e.cadence,
      checkedAt: input.checkedAt,
      recovered: recoveries.map((r) => ({
        source: r.finding.source,
        missingSince: r.finding.since,
        dueAt: r.finding.dueAt,
        files: r.files,
      })),
    },
  });
}
