import type { FileOutcome } from '../../lib/contracts/batch';
import { placeholderResolver } from '../../local/cfn';
import {
  type ExecutionResult,
  executeStateMachine,
  type GlueCrawlerView,
  type GlueJobRunView,
  type LoadedStateMachine,
  loadStateMachine,
  localFunctionArn,
  type SnsPublishInput,
  type TaskBackends,
} from '../../local/state-machine';
import { synthesize } from '../helpers/synth';

/** The synthesized definition, with Lambda ARNs resolvable to the handler each function runs. */
export function loadSynthesizedStateMachine(): LoadedStateMachine {
  const { json } = synthesize();
  return loadStateMachine(
    json,
    placeholderResolver({
      getAtt: (id, attribute) =>
        attribute === 'Arn' && json.Resources[id]?.Type === 'AWS::Lambda::Function'
          ? localFunctionArn(id)
          : `${id}.${attribute}`,
    }),
  );
}

export class NamedError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export interface BatchFileInput {
  dataset: string;
  bucket: string;
  key: string;
  versionId: string;
  size: number;
}

export function batch(dataset: string, count: number, prefix = 'file'): BatchFileInput[] {
  return Array.from({ length: count }, (_, i) => ({
    dataset,
    bucket: 'landing',
    key: `${dataset}/${prefix}-${i + 1}.csv`,
    versionId: `v${i + 1}`,
    size: 100,
  }));
}

type LambdaCall = { handler: string; payload: Record<string, unknown> };

/**
 * Scriptable test doubles for every task. Defaults describe a healthy pipeline: every file
 * normalizes, the crawler runs once then succeeds, one ETL run processes everything, the
 * reconciliation passes and the schema did not change.
 */
export class FakeBackends implements TaskBackends {
  readonly lambdaCalls: LambdaCall[] = [];
  readonly crawlerStarts: string[] = [];
  readonly jobRuns: { JobName: string; Arguments?: Record<string, string> }[] = [];
  readonly published: SnsPublishInput[] = [];

  /** Per file key: throw this error from Normalize. */
  normalizeFailures = new Map<string, Error>();
  /** Errors thrown by successive StartCrawler calls before it succeeds. */
  startCrawlerErrors: Error[] = [];
  /** Successive GetCrawler answers; the last one repeats. */
  crawlerStates: GlueCrawlerView[] = [
    { Name: 'crawler', State: 'RUNNING' },
    { Name: 'crawler', State: 'READY', LastCrawl: { Status: 'SUCCEEDED' } },
  ];
  /** Errors thrown by successive job starts before one starts. */
  jobStartErrors: Error[] = [];
  /** Final states of successive job runs; the last one repeats. */
  jobStates: GlueJobRunView['JobRunState'][] = ['SUCCEEDED'];
  /** Remaining normalized objects reported by successive progress checks (the plan included). */
  remaining: number[] | undefined;
  reconcileResult: Record<string, unknown> = {
    status: 'pass',
    failedChecks: 0,
    pendingChecks: 0,
    resultKey: 'r',
    alert: null,
  };
  reconcileError: Error | undefined;
  drift: Record<string, unknown> = { changed: false, alert: null };
  private polls = 0;
  private progressCalls = 0;

  async invokeLambda(handler: string, payload: unknown): Promise<unknown> {
    const p = payload as Record<string, unknown>;
    this.lambdaCalls.push({ handler, payload: p });
    switch (handler) {
      case 'normalize': {
        const file = p.file as BatchFileInput;
        const failure = this.normalizeFailures.get(file.key);
        if (failure) throw failure;
        return {
          status: 'normalized',
          dataset: String(p.dataset),
          key: file.key,
          versionId: file.versionId,
          sourceId: `id-${file.key}`,
          manifestKey: `manifests/${file.key}.json`,
          template: 'focus',
          rows: 10,
          rejectedRows: 0,
          partitions: ['2024-09'],
        } satisfies FileOutcome;
      }
      case 'quarantine': {
        const file = p.file as BatchFileInput;
        const error = p.error as { Error: string; Cause: string };
        const cause = JSON.parse(error.Cause) as { errorMessage: string };
        return {
          status: 'quarantined',
          dataset: String(p.dataset),
          key: file.key,
          versionId: file.versionId,
          sourceId: `id-${file.key}`,
          quarantineKey: `files/${file.key}/`,
          errorName: error.Error,
          reason: cause.errorMessage,
        } satisfies FileOutcome;
      }
      case 'reconcile':
        return this.reconcile(p);
      case 'notify':
        return {
          kind: p.kind,
          severity: p.kind === 'failure' ? 'critical' : 'warning',
          dataset: String(p.dataset),
          subject: `[${String(p.dataset)}] ${String(p.kind)}${p.stage ? ` at ${String(p.stage)}` : ''}`,
          message: JSON.stringify(p),
        };
      default:
        throw new Error(`no double for handler ${handler}`);
    }
  }

  private reconcile(p: Record<string, unknown>): unknown {
    const files = (p.files as FileOutcome[]) ?? [];
    if (p.action === 'progress') {
      const normalized = files.filter((f) => f.status === 'normalized').length;
      const remaining =
        this.remaining?.[Math.min(this.progressCalls, this.remaining.length - 1)] ??
        (this.progressCalls === 0 ? normalized : 0);
      const previous = p.previous as { remainingObjects: number; round: number } | undefined;
      this.progressCalls += 1;
      return {
        round: (previous?.round ?? 0) + 1,
        totalObjects: normalized,
        processedObjects: normalized - remaining,
        remainingObjects: remaining,
        remainingFiles: remaining,
        partitions: remaining > 0 ? ['2024-09'] : [],
        pushDownPredicate: remaining > 0 ? "billing_period in ('2024-09')" : '',
        madeProgress: previous === undefined || remaining < previous.remainingObjects,
        quarantinedFiles: files.filter((f) => f.status === 'quarantined' || f.status === 'failed').length,
        rejectedRows: files.reduce((sum, f) => sum + (f.rejectedRows ?? 0), 0),
        flaggedFiles: files.filter((f) => f.status === 'normalized' && f.flag === 'unknown_template').length,
      };
    }
    if (p.action === 'schema-drift') return this.drift;
    if (this.reconcileError) throw this.reconcileError;
    return this.reconcileResult;
  }

  async startCrawler(input: { Name: string }): Promise<void> {
    this.crawlerStarts.push(input.Name);
    const error = this.startCrawlerErrors.shift();
    if (error) throw error;
    this.polls = 0;
  }

  async getCrawler(input: { Name: string }): Promise<{ Crawler: GlueCrawlerView }> {
    const state = this.crawlerStates[Math.min(this.polls, this.crawlerStates.length - 1)]!;
    this.polls += 1;
    return { Crawler: { ...state, Name: input.Name } };
  }

  async runJob(input: { JobName: string; Arguments?: Record<string, string> }): Promise<GlueJobRunView> {
    const error = this.jobStartErrors.shift();
    if (error) throw error;
    this.jobRuns.push(input);
    const state = this.jobStates[Math.min(this.jobRuns.length - 1, this.jobStates.length - 1)]!;
    return {
      Id: `jr_${this.jobRuns.length}`,
      JobName: input.JobName,
      JobRunState: state,
      ErrorMessage: state === 'SUCCEEDED' ? undefined : 'boom',
    };
  }

  async publish(input: SnsPublishInput): Promise<{ MessageId: string }> {
    this.published.push(input);
    return { MessageId: `m${this.published.length}` };
  }

  calls(handler: string): Record<string, unknown>[] {
    return this.lambdaCalls.filter((c) => c.handler === handler).map((c) => c.payload);
  }
}

let counter = 0;

export async function run(
  machine: LoadedStateMachine,
  input: unknown,
  backends: FakeBackends,
): Promise<ExecutionResult> {
  counter += 1;
  return executeStateMachine(machine, input, backends, { executionName: `test-${counter}` });
}
