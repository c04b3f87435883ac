import * as path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { getJson } from '../lambdas/common/s3';
import { withReasons } from '../lambdas/notify/handler';
import type { FileOutcome } from '../lib/contracts/batch';
import type { ReconciliationResult } from '../lib/contracts/reconciliation';
import { STATE } from '../lib/contracts/workflow';
import type { DatasetEventReportEntry } from './dataset-events';
import type { IamReportEntry } from './iam';
import type { Input } from './inputs';
import { REPO_ROOT } from './processes';
import type { StateFolder } from './state';
import type { ExecutionResult } from './state-machine';

export type ReportFileStatus = 'processed' | 'quarantined' | 'duplicate' | 'failed';

/** The JSON report of `pipeline run --report FILE` (a fixed contract: scripts read it). */
export interface RunReport {
  readonly files: {
    readonly source: string;
    readonly dataset: string;
    readonly status: ReportFileStatus;
    readonly rows: number | null;
    readonly rejectedRows: number | null;
    readonly template: string | null;
    readonly key: string;
    readonly reason?: string;
  }[];
  readonly reconciliation: {
    readonly dataset: string;
    readonly check: string;
    readonly status: 'pass' | 'fail' | 'pending';
    readonly expected: string | null;
    readonly actual: string | null;
    readonly delta?: string | null;
    readonly detail?: string;
  }[];
  readonly alerts: {
    readonly kind: string;
    readonly severity: string;
    readonly subject: string;
    readonly message: string;
    /** Where the locations the alert names are on this machine (S3 links, the console link). */
    readonly local?: { readonly link: string; readonly path: string }[];
  }[];
  /**
   * The DatasetUpdated / DatasetHeld event of each execution that reached Reconcile, as a rule on
   * the default bus delivered it (docs/events.md); `pipeline run` always sets it.
   */
  readonly datasetEvents?: DatasetEventReportEntry[];
  readonly tables: {
    readonly database: string;
    readonly table: string;
    readonly columns: string[];
    readonly rows: number;
  }[];
  readonly executions: {
    readonly name: string;
    readonly dataset: string;
    readonly files: number;
    readonly status: 'SUCCEEDED' | 'FAILED';
    readonly error?: string;
    readonly cause?: string;
    readonly etlRuns: number;
  }[];
  /**
   * Local IAM (local/iam): per principal of the stack (a role, or the EventBridge service for a
   * rule), the AWS calls made during the run and the ones denied, each with the action, the
   * resource and why.
   */
  readonly iam?: IamReportEntry[];
  /** Injected faults (only with a fault plan): each as planned and how many times it fired. */
  readonly faults?: { readonly fault: string; readonly planned: number; readonly injected: number }[];
  /**
   * Dimension seed files landed before this run's files (only when the run landed any): what
   * the stack's deploy lands, each with its execution's status. Their files are not in `files`.
   */
  readonly seeds?: {
    readonly dataset: string;
    /** The seed file (repository path). */
    readonly source: string;
    readonly key: string;
    readonly status: 'SUCCEEDED' | 'FAILED';
    readonly error?: string;
    readonly cause?: string;
  }[];
}

/** An execution the local Pipe started, and what the report says of it. */
export interface ExecutedBatch {
  readonly result: ExecutionResult;
  readonly dataset: string;
  readonly files: number;
  readonly etlRuns: number;
}

const STATUS: Record<FileOutcome['status'], ReportFileStatus> = {
  normalized: 'processed',
  duplicate: 'duplicate',
  quarantined: 'quarantined',
  failed: 'failed',
};

/** The seeds' entries: each seed file with the status of the execution of its dataset. */
export function reportSeeds(
  seedInputs: readonly Input[],
  seeded: readonly ExecutedBatch[],
): NonNullable<RunReport['seeds']> {
  const seeds: NonNullable<RunReport['seeds']> = [];
  for (const input of seedInputs) {
    const execution = seeded.find((e) => e.dataset === input.dataset.name);
    seeds.push({
      dataset: input.dataset.name,
      source: path.relative(REPO_ROOT, input.file),
      key: input.key,
      status: execution?.result.status ?? 'FAILED',
      ...(execution?.result.error ? { error: execution.result.error } : {}),
      ...(execution?.result.cause ? { cause: truncate(execution.result.cause, 2000) } : {}),
    });
  }
  return seeds;
}

/** The alerts published during the run, each with the local paths of what it links to. */
export function reportAlerts(
  published: readonly { subject: string; message: string; attributes: Record<string, string> }[],
  bucketFolders: Record<string, string>,
  state: StateFolder,
): RunReport['alerts'] {
  return published.map((a) => ({
    kind: a.attributes.kind ?? 'unknown',
    severity: a.attributes.severity ?? 'unknown',
    subject: a.subject,
    message: a.message,
    local: localLinks(a.message, bucketFolders, state),
  }));
}

/** Where the report reads what the executions left, and the dropped file each landing key came from. */
export interface BatchReportSources {
  readonly s3: S3Client;
  readonly controlBucket: string;
  readonly quarantineBucket: string;
  /** Landing key -> the file dropped there (as given, relative to the working directory). */
  readonly sources: ReadonlyMap<string, string>;
}

/** The executions' file outcomes and reconciliation checks, in the order the executions started. */
export async function reportBatches(
  executions: readonly ExecutedBatch[],
  { s3, controlBucket, quarantineBucket, sources }: BatchReportSources,
): Promise<Pick<RunReport, 'files' | 'reconciliation'>> {
  const files: RunReport['files'] = [];
  const reconciliation: RunReport['reconciliation'] = [];
  for (const { result, dataset } of executions) {
    // Outcomes are compact in the state: reasons come from the reason documents and manifests.
    const outcomes = await withReasons(
      {
        env: { controlBucket, quarantineBucket },
        clients: { s3 },
      },
      dataset,
      fileOutcomes(result),
      Number.POSITIVE_INFINITY,
    );
    const batchKeys = new Set(outcomes.map((o) => o.key));
    // An execution that failed after Reconcile (failed files, a notice not sent) merged its batch.
    const merged = reconciliationOf(result) !== undefined;
    for (const outcome of outcomes) {
      // A failed execution fails its normalized files, and duplicates of a file in the same batch.
      const failedWithBatch =
        !merged &&
        (outcome.status === 'normalized' ||
          (outcome.status === 'duplicate' &&
            outcome.duplicateOf !== undefined &&
            batchKeys.has(outcome.duplicateOf)));
      const status = result.status === 'FAILED' && failedWithBatch ? 'failed' : STATUS[outcome.status];
      files.push({
        source: sources.get(outcome.key) ?? outcome.key,
        dataset: outcome.dataset ?? dataset,
        status,
        rows: outcome.rows ?? null,
        rejectedRows: outcome.rejectedRows ?? null,
        template: outcome.template ?? null,
        key: outcome.key,
        ...(outcome.reason ? { reason: outcome.reason } : {}),
      });
    }
    const resultKey = reconciliationOf(result)?.resultKey;
    if (resultKey) {
      const document = await getJson<ReconciliationResult>(s3, controlBucket, resultKey);
      for (const check of document?.checks ?? []) {
        const subject =
          check.source?.key ??
          Object.entries(check.scope ?? {})
            .map(([k, v]) => `${k}=${v}`)
            .join(', ');
        reconciliation.push({
          dataset: document!.dataset,
          check: subject ? `${check.check} [${subject}]` : check.check,
          status: check.status,
          expected: check.expected,
          actual: check.actual,
          delta: check.delta,
          detail: check.detail,
        });
      }
    }
  }
  return { files, reconciliation };
}

/** The executions' entries, in the order they started. */
export function reportExecutions(executions: readonly ExecutedBatch[]): RunReport['executions'] {
  return executions.map(({ result, dataset, files: count, etlRuns }) => ({
    name: result.executionArn.split(':').pop()!,
    dataset,
    files: count,
    status: result.status,
    ...(result.error ? { error: result.error } : {}),
    ...(result.cause ? { cause: truncate(result.cause, 2000) } : {}),
    etlRuns,
  }));
}

/** The batch's file outcomes: the final state's `files`, or the Map's output when it failed later. */
function fileOutcomes(result: ExecutionResult): FileOutcome[] {
  const isOutcomes = (value: unknown): value is FileOutcome[] =>
    Array.isArray(value) && value.every((f) => f && typeof f === 'object' && 'status' in f && 'key' in f);
  const final = (result.output as { files?: unknown } | undefined)?.files;
  if (isOutcomes(final)) return final;
  for (const event of [...result.events].reverse()) {
    const files = (event.state?.output as { files?: unknown } | undefined)?.files;
    if (event.type === 'StateExited' && event.index === undefined && isOutcomes(files)) return files;
  }
  return [];
}

/** What Reconcile returned, also when the execution failed after it. */
function reconciliationOf(result: ExecutionResult): { resultKey?: string } | undefined {
  const exited = result.events.find(
    (e) => e.type === 'StateExited' && e.index === undefined && e.state?.name === STATE.reconcile,
  );
  return (exited?.state?.output as { reconciliation?: { resultKey?: string } } | undefined)?.reconciliation;
}

export function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}

/**
 * Local paths of what an alert links to: each `s3://` location of a saved bucket as the file or
 * folder in the state folder, the console link as the job logs (no console exists locally).
 */
function localLinks(
  message: string,
  bucketFolders: Record<string, string>,
  state: StateFolder,
): { link: string; path: string }[] {
  const links: { link: string; path: string }[] = [];
  for (const match of message.matchAll(/s3:\/\/([a-z0-9.-]+)\/([^\s"'`,;)]*)/g)) {
    const link = match[0].replace(/[.:]+$/, '');
    const folder = bucketFolders[match[1]!];
    if (!folder || links.some((l) => l.link === link)) continue;
    const key = link.slice(`s3://${match[1]}/`.length);
    links.push({ link, path: path.join(state.currentDir, 's3', folder, ...key.split('/').filter(Boolean)) });
  }
  for (const match of message.matchAll(/https:\/\/[^\s]*console[^\s]*/g)) {
    if (links.some((l) => l.link === match[0])) continue;
    links.push({
      link: match[0],
      path: `${state.logDir} (local executions have no console; Glue job run logs)`,
    });
  }
  return links;
}
