import type { Alert, AlertKind, AlertSeverity } from '../../lib/contracts/alerts';
import type { FileOutcome, StatesError } from '../../lib/contracts/batch';
import type { ReconciliationResult } from '../../lib/contracts/reconciliation';

/** SNS email subjects are limited to 100 characters. */
export const MAX_SUBJECT = 100;

function subjectOf(text: string): string {
  const clean = text.replace(/[\r\n]+/g, ' ').trim();
  return clean.length <= MAX_SUBJECT ? clean : `${clean.slice(0, MAX_SUBJECT - 3)}...`;
}

function render(
  kind: AlertKind,
  severity: AlertSeverity,
  dataset: string,
  subject: string,
  lines: string[],
  data: unknown,
): Alert {
  const message = [
    ...lines,
    '',
    '--- machine-readable ---',
    JSON.stringify({ kind, severity, dataset, ...(data as object) }, null, 2),
  ].join('\n');
  return { kind, severity, dataset, subject: subjectOf(subject), message };
}

export function executionConsoleUrl(executionArn: string, region: string): string {
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

export function formatDiscrepancyAlert(result: ReconciliationResult): Alert {
  const failed = result.checks.filter((c) => c.status === 'fail');
  const lines = [
    `Reconciliation found ${failed.length} discrepanc${failed.length === 1 ? 'y' : 'ies'} in dataset ${result.dataset}.`,
    '',
    ...failed.map(
      (c) =>
        `- ${c.check}${c.source ? ` for ${c.source.key}` : ''}${
          c.scope
            ? ` for ${Object.entries(c.scope)
                .map(([k, v]) => `${k}=${v}`)
                .join(', ')}`
            : ''
        }: expected ${c.expected}, actual ${c.actual}, delta ${c.delta}. ${c.detail}`,
    ),
    '',
    `Execution: ${result.executionId}`,
  ];
  return render(
    'discrepancy',
    'critical',
    result.dataset,
    `[${result.dataset}] ${failed.length} reconciliation check${failed.length === 1 ? '' : 's'} failed`,
    lines,
    { executionId: result.executionId, checks: failed },
  );
}

export interface FailureAlertInput {
  readonly dataset: string;
  readonly stage: string;
  readonly executionId: string;
  readonly region: string;
  readonly error: StatesError;
  readonly files?: readonly { key: string }[];
}

export function formatFailureAlert(input: FailureAlertInput): Alert {
  const lines = [
    `The ingestion pipeline failed at stage ${input.stage} for dataset ${input.dataset}.`,
    '',
    `Error: ${input.error.Error}`,
    `Cause: ${input.error.Cause ?? '(none)'}`,
    ...(input.files?.length ? ['', 'Files in the batch:', ...input.files.map((f) => `- ${f.key}`)] : []),
    '',
    `Execution: ${input.executionId}`,
    `Console: ${executionConsoleUrl(input.executionId, input.region)}`,
  ];
  return render(
    'failure',
    'critical',
    input.dataset,
    `[${input.dataset}] pipeline failed at ${input.stage}: ${input.error.Error}`,
    lines,
    {
      stage: input.stage,
      executionId: input.executionId,
      error: input.error,
      files: input.files?.map((f) => f.key) ?? [],
    },
  );
}

export function formatQuarantineAlert(
  dataset: string,
  executionId: string,
  files: readonly FileOutcome[],
): Alert {
  const quarantined = files.filter((f) => f.status === 'quarantined');
  const lines = [
    `${quarantined.length} file${quarantined.length === 1 ? '' : 's'} of dataset ${dataset} could not be ingested and were quarantined. The other files of the batch were processed.`,
    '',
    ...quarantined.map(
      (f) =>
        `- ${f.key}: ${f.reason ?? f.errorName ?? 'unknown reason'} (quarantine: ${f.quarantineKey ?? 'n/a'})`,
    ),
    '',
    `Execution: ${executionId}`,
  ];
  return render(
    'quarantine',
    'warning',
    dataset,
    `[${dataset}] ${quarantined.length} file${quarantined.length === 1 ? '' : 's'} quarantined`,
    lines,
    {
      executionId,
      files: quarantined.map((f) => ({
        key: f.key,
        versionId: f.versionId,
        reason: f.reason,
        quarantineKey: f.quarantineKey,
      })),
    },
  );
}
