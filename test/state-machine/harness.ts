import { outcomeOf } from '../../lambdas/normalize/core';
import { volumeCheckFailed } from '../../lambdas/reconcile/volume';
import type { AlertKind, AlertReceipt } from '../../lib/contracts/alerts';
import type { FileOutcome } from '../../lib/contracts/batch';
import type { DatasetEventReceipt } from '../../lib/contracts/dataset-events';
import { manifestKey, sourceIdOf } from '../../lib/contracts/layout';
import type { NormalizerManifest } from '../../lib/contracts/manifest';
import { placeholderResolver } from '../../local/cfn';
import {
  type ExecuteOptions,
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

/** A BatchFile as the Pipe renders it (a versioned object). */
export interface BatchFileInput {
  dataset: string;
  bucket: string;
  key: string;
  versionId: string;
  size: number;
  eventTime: string;
  sequencer: string;
}

export function batch(dataset: string, count: number, prefix = 'file'): BatchFileInput[] {
  return Array.from({ length: count }, (_, i) => ({
    dataset,
    bucket: 'landing',
    key: `${dataset}/${prefix}-${i + 1}.csv`,
    versionId: `v${i + 1}`,
    size: 100,
    eventTime: '2025-01-01T00:00:00Z',
    sequencer: (0x67748580a1b2c3d4n + BigInt(i)).toString(16).toUpperCase().padStart(18, '0'),
  }));
}

type LambdaCall = { handler: string; payload: Record<string, unknown> };

/** An alert as the doubles saw it published (by a Lambda, or by the state machine itself). */
export interface PublishedAlert {
  readonly kind: string;
  readonly subject: string;
  readonly by: 'notify' | 'reconcile' | 'state-machine';
  readonly payload?: Record<string, unknown>;
}

/**
 * The normalizer's outcome for a file, built by the real `outcomeOf` from a manifest, so that
 * the state machine's compaction of outcomes meets the normalizer's actual contract.
 */
export function normalizedOutcome(
  dataset: string,
  file: BatchFileInput,
  options: {
    readonly rows?: number;
    readonly rejectedRows?: number;
    readonly unknownTemplate?: string;
    readonly duplicateOf?: string;
    readonly partitions?: readonly string[];
  } = {},
): FileOutcome {
  const sourceId = sourceIdOf(file.key, file.versionId);
  const partitions = (options.partitions ?? ['2024-09']).map((value) => ({
    value,
    key: `${dataset}/billing_period=${value}/${sourceId}.jsonl.gz`,
    rowCount: options.rows ?? 10,
    measures: {},
  }));
  const manifest: NormalizerManifest = {
    schemaVersion: 1,
    dataset,
    status: options.duplicateOf ? 'duplicate' : 'normalized',
    source: {
      bucket: file.bucket,
      key: file.key,
      versionId: file.versionId,
      sourceId,
      size: file.size,
      etag: '"e"',
      contentSha256: sourceId.padEnd(64, '0'),
    },
    duplicateOf: options.duplicateOf
      ? { key: options.duplicateOf, versionId: 'v0', sourceId: sourceIdOf(options.duplicateOf, 'v0') }
      : null,
    template: options.unknownTemplate
      ? { name: null, version: null, match: 'unknown' }
      : { name: 'focus', version: '1.0', match: 'exact' },
    format: { kind: 'csv', compression: null, encoding: 'utf-8', delimiter: ',', sheets: null },
    columns: ['id', 'billed_cost'],
    unknownColumns: [],
    rowCount: options.rows ?? 10,
    rejectedRowCount: options.rejectedRows ?? 0,
    measures: {},
    partitions: options.duplicateOf ? [] : partitions,
    normalizedKeys: options.duplicateOf ? [] : partitions.map((p) => p.key),
    rejectedRowsKey: null,
    normalizedAt: '2025-01-01T00:00:00.000Z',
    unknownTemplate: options.unknownTemplate
      ? {
          sheet: null,
          headers: ['Team', 'People'],
          unmatchedHeaders: ['Team', 'People'],
          closestTemplate: 'focus',
          missingColumns: ['id'],
          detail: options.unknownTemplate,
        }
      : null,
  };
  return outcomeOf(manifest, manifestKey(dataset, sourceId));
}

/**
 * The Glue job of a dataset as several executions see it: one run at a time
 * (MaxConcurrentRuns 1), and a run merges every unmerged object of the partitions its
 * predicate names, whichever execution's batch they belong to (bookmarks).
 */
export class SharedJob {
  private busy = false;
  readonly unmerged = new Set<string>();
  readonly runs: { execution: string; merged: number }[] = [];
  readonly refusals: string[] = [];

  constructor(private readonly runMs = 15) {}

  /** Registers a batch's objects (what its Normalize wrote). */
  add(keys: readonly string[]): void {
    for (const key of keys) this.unmerged.add(key);
  }

  remaining(keys: readonly string[]): number {
    return keys.filter((k) => this.unmerged.has(k)).length;
  }

  /** Refuse this many starts as if another execution's run held the slot. */
  refuseNext = 0;

  async run(execution: string): Promise<GlueJobRunView['JobRunState']> {
    if (this.busy || this.refuseNext > 0) {
      this.refuseNext = Math.max(0, this.refuseNext - 1);
      this.refusals.push(execution);
      throw new NamedError(
        'ConcurrentRunsExceededException',
        'Concurrent runs exceeded for ingestion-cloud_billing-curate',
      );
    }
    this.busy = true;
    try {
      await new Promise((resolve) => setTimeout(resolve, this.runMs));
      const merged = this.unmerged.size;
      this.unmerged.clear();
      this.runs.push({ execution, merged });
      return 'SUCCEEDED';
    } finally {
      this.busy = false;
    }
  }
}

/**
 * Scriptable test doubles for every task. Defaults describe a healthy pipeline: every file
 * normalizes, the crawler runs once then succeeds, the catalog has every partition, one ETL
 * run processes everything, the reconciliation passes and the schema did not change.
 */
export class FakeBackends implements TaskBackends {
  readonly lambdaCalls: LambdaCall[] = [];
  readonly crawlerStarts: string[] = [];
  readonly jobRuns: { JobName: string; Arguments?: Record<string, string>; Timeout?: number }[] = [];
  /** Published by the state machine's own SNS task (the plain failure alert). */
  readonly published: SnsPublishInput[] = [];
  /** Every alert that went out, by whichever component published it, in order. */
  readonly alerts: PublishedAlert[] = [];

  /** Per file key: throw this error from Normalize every time. */
  normalizeFailures = new Map<string, Error>();
  /** Per file key: errors thrown by successive Normalize calls before it succeeds. */
  normalizeErrors = new Map<string, Error[]>();
  /** Per file key: how the normalizer's outcome differs from a clean file's. */
  normalizeAs = new Map<string, Parameters<typeof normalizedOutcome>[2]>();
  /** Errors thrown by successive Quarantine calls before one succeeds (all calls). */
  quarantineErrors: Error[] = [];
  /** Errors thrown by successive notify calls before one succeeds. */
  notifyErrors: Error[] = [];
  /** Notices SNS refuses (the notify/reconcile Lambdas then return an unpublished receipt). */
  refusedNotices = new Set<string>();
  /** Errors thrown by successive StartCrawler calls before it succeeds. */
  startCrawlerErrors: Error[] = [];
  /** Successive GetCrawler answers; the last one repeats. */
  crawlerStates: GlueCrawlerView[] = [
    { Name: 'crawler', State: 'RUNNING' },
    { Name: 'crawler', State: 'READY', LastCrawl: { Status: 'SUCCEEDED' } },
  ];
  /** Successive answers of the partitions action about the table; the last one repeats. */
  tableMissing: boolean[] = [false];
  /** Errors thrown by successive job starts before one starts. */
  jobStartErrors: Error[] = [];
  /** Final states of successive job runs; the last one repeats. */
  jobStates: GlueJobRunView['JobRunState'][] = ['SUCCEEDED'];
  /** A job shared with other executions (replaces jobStartErrors/jobStates/remaining). */
  sharedJob: { readonly job: SharedJob; readonly execution: string } | undefined;
  /** Remaining normalized objects reported by successive progress checks (the plan included). */
  remaining: number[] | undefined;
  reconcileResult: Record<string, unknown> = {
    status: 'pass',
    failedChecks: 0,
    pendingChecks: 0,
    resultKey: 'r',
  };
  /** The discrepancy alert reconcile publishes (none by default). */
  discrepancy: { subject: string } | undefined;
  /** The restatement notice reconcile publishes (none by default). */
  restatement: { subject: string } | undefined;
  /** The volume-anomaly warning reconcile publishes (none by default); `error`: its volume check failed. */
  volumeAnomaly: { subject: string } | { error: string } | undefined;
  reconcileError: Error | undefined;
  /** The schema-drift notice the drift action publishes (none by default). */
  drift: { subject: string } | undefined;
  driftError: Error | undefined;
  /** Dataset events put on the bus (the `publish` action), by detail type, in order. */
  readonly datasetEvents: string[] = [];
  /** Errors thrown by successive `publish` calls before one succeeds. */
  datasetEventErrors: Error[] = [];
  /** An error every `publish` call throws (the event can never be put). */
  datasetEventFailure: Error | undefined;
  /** `publish` calls that threw. */
  datasetEventAttempts = 0;
  private polls = 0;
  private progressCalls = 0;
  private catalogCalls = 0;

  async invokeLambda(handler: string, payload: unknown): Promise<unknown> {
    const p = payload as Record<string, unknown>;
    this.lambdaCalls.push({ handler, payload: p });
    switch (handler) {
      case 'normalize': {
        const file = p.file as BatchFileInput;
        const failure = this.normalizeFailures.get(file.key) ?? this.normalizeErrors.get(file.key)?.shift();
        if (failure) throw failure;
        return normalizedOutcome(String(p.dataset), file, this.normalizeAs.get(file.key));
      }
      case 'quarantine': {
        const error = this.quarantineErrors.shift();
        if (error) throw error;
        const file = p.file as BatchFileInput;
        const cause = p.error as { Error: string; Cause: string };
        const message = (JSON.parse(cause.Cause) as { errorMessage: string }).errorMessage;
        const sourceId = sourceIdOf(file.key, file.versionId);
        return {
          status: 'quarantined',
          dataset: String(p.dataset),
          key: file.key,
          versionId: file.versionId,
          sourceId,
          quarantineKey: `files/${String(p.dataset)}/${sourceId}/`,
          errorName: cause.Error,
          reason: `reason: ${message}`.padEnd(500, '.').slice(0, 500),
        } satisfies FileOutcome;
      }
      case 'reconcile':
        return this.reconcile(p);
      case 'notify': {
        const error = this.notifyErrors.shift();
        if (error) throw error;
        const kind = String(p.kind);
        const subject = `[${String(p.dataset)}] ${kind}${p.stage ? ` at ${String(p.stage)}` : ''}`;
        return this.publishFrom('notify', kind as AlertKind, subject, p);
      }
      default:
        throw new Error(`no double for handler ${handler}`);
    }
  }

  /** What a Lambda that publishes returns: a receipt (the alert recorded when SNS took it). */
  private publishFrom(
    by: PublishedAlert['by'],
    kind: AlertKind,
    subject: string,
    payload?: Record<string, unknown>,
  ): AlertReceipt {
    const severity = kind === 'failure' || kind === 'discrepancy' ? 'critical' : 'warning';
    if (this.refusedNotices.has(kind)) {
      if (kind === 'failure') throw new NamedError('AlertPublishError', 'failure alert not published');
      return { kind, severity, subject, published: false, error: 'KMSThrottlingException: Rate exceeded' };
    }
    this.alerts.push({ kind, subject, by, ...(payload ? { payload } : {}) });
    return { kind, severity, subject, published: true, messageId: `m${this.alerts.length}` };
  }

  private reconcile(p: Record<string, unknown>): unknown {
    const files = (p.files as FileOutcome[]) ?? [];
    if (p.action === 'progress') {
      const normalized = files.filter((f) => f.status === 'normalized');
      const keys = normalized.map((f) => `${f.sourceId}`);
      const previous = p.previous as { remainingObjects: number; round: number } | undefined;
      let remaining: number;
      if (this.sharedJob) {
        if (previous === undefined) this.sharedJob.job.add(keys);
        remaining = this.sharedJob.job.remaining(keys);
      } else {
        remaining =
          this.remaining?.[Math.min(this.progressCalls, this.remaining.length - 1)] ??
          (this.progressCalls === 0 ? normalized.length : 0);
      }
      this.progressCalls += 1;
      return {
        round: (previous?.round ?? 0) + 1,
        totalObjects: normalized.length,
        processedObjects: normalized.length - remaining,
        remainingObjects: remaining,
        remainingFiles: remaining,
        partitions: remaining > 0 ? ['2024-09'] : [],
        pushDownPredicate: remaining > 0 ? "billing_period in ('2024-09')" : '',
        madeProgress: previous === undefined || remaining < previous.remainingObjects,
        quarantinedFiles: files.filter((f) => f.status === 'quarantined').length,
        failedFiles: files.filter((f) => f.status === 'failed').length,
        rejectedRows: files.reduce(
          (sum, f) => sum + (f.status === 'normalized' ? (f.rejectedRows ?? 0) : 0),
          0,
        ),
        flaggedFiles: files.filter((f) => f.status === 'normalized' && f.flag === 'unknown_template').length,
      };
    }
    if (p.action === 'partitions') {
      const missing = this.tableMissing[Math.min(this.catalogCalls, this.tableMissing.length - 1)]!;
      this.catalogCalls += 1;
      return {
        table: 'normalized_cloud_billing',
        tableMissing: missing,
        partitions: 1,
        registered: missing ? 0 : 1,
      };
    }
    if (p.action === 'schema-drift') {
      if (this.driftError) throw this.driftError;
      const alert = this.drift ? this.publishFrom('reconcile', 'schema_drift', this.drift.subject) : null;
      return {
        changed: Boolean(this.drift),
        table: 'normalized_cloud_billing',
        versionId: '2',
        firstSighting: false,
        alert,
      };
    }
    if (p.action === 'publish') return this.publishDatasetEvent(files);
    if (this.reconcileError) throw this.reconcileError;
    const alert = this.discrepancy
      ? this.publishFrom('reconcile', 'discrepancy', this.discrepancy.subject)
      : null;
    const restatementAlert = this.restatement
      ? this.publishFrom('reconcile', 'restatement', this.restatement.subject)
      : null;
    const volume = this.volumeAnomaly;
    const volumeAlert = !volume
      ? null
      : 'error' in volume
        ? volumeCheckFailed(volume.error)
        : this.publishFrom('reconcile', 'volume_anomaly', volume.subject);
    return {
      ...this.reconcileResult,
      ...(this.discrepancy ? { status: 'fail', failedChecks: 1 } : {}),
      alert,
      restatementAlert,
      volumeAlert,
    };
  }

  /** The `publish` action: the DatasetUpdated/DatasetHeld event, as the real handler decides it. */
  private publishDatasetEvent(files: readonly FileOutcome[]): DatasetEventReceipt {
    const error = this.datasetEventErrors.shift() ?? this.datasetEventFailure;
    if (error) {
      this.datasetEventAttempts += 1;
      throw error;
    }
    const failedReconciliation = Boolean(this.discrepancy) || this.reconcileResult.status === 'fail';
    const held = failedReconciliation || files.some((f) => f.status === 'failed');
    const detailType = held ? 'DatasetHeld' : 'DatasetUpdated';
    this.datasetEvents.push(detailType);
    return {
      detailType,
      published: true,
      eventId: `event-${this.datasetEvents.length}`,
      reconciliation: failedReconciliation ? 'failed' : 'passed',
      partitions: 1,
      rowsWritten: 10,
    };
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

  async runJob(input: {
    JobName: string;
    Arguments?: Record<string, string>;
    Timeout?: number;
  }): Promise<GlueJobRunView> {
    if (this.sharedJob) {
      const state = await this.sharedJob.job.run(this.sharedJob.execution);
      this.jobRuns.push(input);
      return { Id: `jr_${this.jobRuns.length}`, JobName: input.JobName, JobRunState: state };
    }
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
    this.alerts.push({
      kind: input.MessageAttributes?.kind?.StringValue ?? 'unknown',
      subject: input.Subject ?? '',
      by: 'state-machine',
    });
    return { MessageId: `m${this.alerts.length}` };
  }

  calls(handler: string, action?: string): Record<string, unknown>[] {
    return this.lambdaCalls
      .filter((c) => c.handler === handler && (action === undefined || c.payload.action === action))
      .map((c) => c.payload);
  }

  subjects(): string[] {
    return this.alerts.map((a) => a.subject);
  }
}

let counter = 0;

export async function run(
  machine: LoadedStateMachine,
  input: unknown,
  backends: FakeBackends,
  options: Partial<ExecuteOptions> = {},
): Promise<ExecutionResult> {
  counter += 1;
  return executeStateMachine(machine, input, backends, { executionName: `test-${counter}`, ...options });
}

/** The final state's file outcomes (the execution output, or the Map's output when it failed later). */
export function outcomes(result: ExecutionResult): FileOutcome[] {
  const output = result.output as { files?: FileOutcome[] } | undefined;
  if (output?.files) return output.files;
  for (const event of [...result.events].reverse()) {
    const files = (event.state?.output as { files?: FileOutcome[] } | undefined)?.files;
    if (event.type === 'StateExited' && event.index === undefined && files?.[0]?.status) return files;
  }
  return [];
}
