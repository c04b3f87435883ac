/** The failure alert: a stage failed (a Lambda, the crawler, the Glue job or the execution), with its cause. */
import type { Alert, FailureAlertInput, NoticeOutcomes } from '../../../lib/contracts/alerts';
import { clip, consoleLine, consoleUrl, fileData, fileLine, listed, render } from './base';
import { quarantinedLines } from './quarantine';

/** The input is a contract with the state machine (lib/contracts/alerts.ts). */
export type { FailureAlertInput };

export function failure(input: FailureAlertInput): Alert {
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
      // A Lambda error's cause already starts with its type (`<Error>: <message>`): named once.
      const cause = typeof o.Cause === 'string' ? explainCause(o.Cause).text : '';
      unsent.push({
        name,
        why: cause.startsWith(`${o.Error}: `) ? cause : `${o.Error}${cause ? `: ${cause}` : ''}`,
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
