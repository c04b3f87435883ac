/**
 * `pipeline replay` (docs/operations.md, "Replay and backfill"): which landing object versions a
 * replay re-drives, in what batches and under which execution names, and what became of each
 * one. Everything here reads S3 through a `ReplayStore`, so the same selection runs against the
 * local runtime's saved state, the local emulator and, with `--stack`, a deployed pipeline.
 *
 * Selectors (exactly one):
 * - `--quarantined`: the dataset's files in quarantine (`files/<dataset>/<sourceId>/reason.json`,
 *   which names the landing key and version), unless that exact version has reached curated since;
 * - `--prefix P`: every version under the dataset's landing prefix + P;
 * - `--from DATE --to DATE`: every version whose LastModified is within [from 00:00, to 24:00) UTC.
 *
 * Every version, not only the current one: restatement is by landing order (docs/adr/0014), so
 * a replayed version keeps its original landing order (the event time is its LastModified) and an
 * older version replayed after a newer one is superseded at once (docs/etl.md, "Restatement and
 * conflicts"); a version already curated changes nothing (the normalizer returns its manifest
 * as is, the ETL skips objects with a processed marker).
 */
import { createHash } from 'node:crypto';
import { mapLimit } from '../lambdas/common/s3';
import type { QuarantineReason } from '../lambdas/quarantine/core';
import { loadDatasets } from '../lib/config';
import type { ResolvedDataset } from '../lib/config/types';
import type { BatchFile } from '../lib/contracts/batch';
import { manifestKey, processedMarkerKey, quarantineFilePrefix, sourceIdOf } from '../lib/contracts/layout';
import type { NormalizerManifest } from '../lib/contracts/manifest';
import { pipeInputTemplate, renderPipeTemplate } from '../lib/contracts/pipe';
import { InputError } from './inputs';
import { objectCreatedEvent, PipeBatchMeter } from './intake';

export type ReplaySelector =
  | { readonly kind: 'quarantined' }
  | { readonly kind: 'prefix'; readonly prefix: string }
  | { readonly kind: 'range'; readonly from: string; readonly to: string };

/** What `replay` was asked to do (bin/pipeline.ts parses it with `parseReplayArgs`). */
export interface ReplayRequest {
  readonly dataset: string;
  /** Exactly one of `selector` and `partition`. */
  readonly selector?: ReplaySelector;
  /** `--partition COL=VALUE`: one partition reprocessed by the ETL (local/reprocess.ts). */
  readonly partition?: string;
  readonly dryRun: boolean;
  /** A deployed stack: executions started with the SDK. */
  readonly stack?: string;
  readonly region?: string;
  /**
   * Part of every execution name: a replay run again with the same files in the same state gets
   * the same names (Step Functions refuses a closed execution's name for 90 days); `--attempt 2`
   * runs it once more. @default 1
   */
  readonly attempt: number;
  /**
   * `--include-curated`: versions already curated are sent too (they change nothing: the
   * normalizer returns their manifest as is and the ETL skips objects with a processed marker).
   */
  readonly includeCurated: boolean;
}

/** The option values of `replay` as node:util parseArgs gives them. */
export interface ReplayArgValues {
  readonly dataset?: string;
  readonly quarantined?: boolean;
  readonly prefix?: string;
  readonly from?: string;
  readonly to?: string;
  readonly partition?: string;
  readonly 'dry-run'?: boolean;
  readonly stack?: string;
  readonly region?: string;
  readonly state?: string;
  readonly attempt?: string;
  readonly 'include-curated'?: boolean;
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** An S3 event time as the normalizer accepts it (ISO-8601 UTC). */
const EVENT_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** S3 reads of the selection in flight at once (manifests, markers, reason documents). */
const READ_CONCURRENCY = 16;

/** `YYYY-MM-DD` that is a real calendar date, else an InputError naming the option. */
export function parseIsoDate(option: string, text: string): string {
  const match = ISO_DATE.exec(text);
  const date = match ? new Date(`${text}T00:00:00.000Z`) : undefined;
  if (!match || !date || Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== text)
    throw new InputError(`--${option} takes a date as YYYY-MM-DD (UTC), got "${text}"`);
  return text;
}

/**
 * Checks the options of `replay` and returns the request; an InputError (exit code 2) says what
 * is wrong. `datasets`: the configured dataset names.
 */
export function parseReplayArgs(values: ReplayArgValues, datasets: readonly string[]): ReplayRequest {
  const usage =
    'replay --dataset NAME (--quarantined | --prefix P | --from DATE --to DATE | --partition COL=VALUE) [--dry-run] [--state DIR | --stack NAME [--region R]]';
  if (!values.dataset) throw new InputError(`replay needs --dataset NAME: ${usage}`);
  if (!datasets.includes(values.dataset))
    throw new InputError(`unknown dataset "${values.dataset}" (configured: ${datasets.join(', ')})`);
  const given = [
    values.quarantined ? '--quarantined' : undefined,
    values.prefix !== undefined ? '--prefix' : undefined,
    values.from !== undefined || values.to !== undefined ? '--from/--to' : undefined,
    values.partition !== undefined ? '--partition' : undefined,
  ].filter((g): g is string => g !== undefined);
  if (given.length === 0)
    throw new InputError(`replay needs one of --quarantined, --prefix, --from/--to, --partition: ${usage}`);
  if (given.length > 1) throw new InputError(`replay takes one selection, got ${given.join(' and ')}`);
  if (values.stack !== undefined && values.state !== undefined)
    throw new InputError('--stack replays on AWS and --state locally: give one of them');
  if (values.stack === '') throw new InputError('--stack needs the stack name');
  if (values.region !== undefined && values.stack === undefined)
    throw new InputError('--region goes with --stack (the local runtime has one region)');
  let attempt = 1;
  if (values.attempt !== undefined) {
    attempt = Number(values.attempt);
    if (!(Number.isInteger(attempt) && attempt >= 1 && attempt <= 999))
      throw new InputError(`--attempt takes a whole number from 1 to 999, got "${values.attempt}"`);
  }
  const common = {
    dataset: values.dataset,
    dryRun: values['dry-run'] === true,
    attempt,
    includeCurated: values['include-curated'] === true,
    ...(values.stack !== undefined ? { stack: values.stack } : {}),
    ...(values.region !== undefined ? { region: values.region } : {}),
  };
  if (values.partition !== undefined) {
    if (!/^[^=\s]+=.+$/.test(values.partition))
      throw new InputError(
        `--partition takes COL=VALUE (e.g. billing_period=2024-10), got "${values.partition}"`,
      );
    return { ...common, partition: values.partition };
  }
  if (values.quarantined) return { ...common, selector: { kind: 'quarantined' } };
  if (values.prefix !== undefined) {
    if (values.prefix.startsWith('/'))
      throw new InputError(`--prefix is below the dataset's landing prefix and does not start with "/"`);
    return { ...common, selector: { kind: 'prefix', prefix: values.prefix } };
  }
  if (values.from === undefined || values.to === undefined)
    throw new InputError('--from and --to go together (dates as YYYY-MM-DD, UTC, both inclusive)');
  const from = parseIsoDate('from', values.from);
  const to = parseIsoDate('to', values.to);
  if (from > to) throw new InputError(`--from ${from} is after --to ${to}`);
  return { ...common, selector: { kind: 'range', from, to } };
}

/** One version of a landing object (delete markers are not versions here). */
export interface LandingVersion {
  readonly key: string;
  readonly versionId: string | null;
  /** ISO-8601 UTC. */
  readonly lastModified: string;
  readonly size: number;
  readonly etag: string;
}

/** The S3 reads of a replay (the operator's: docs/operations.md lists the permissions). */
export interface ReplayStore {
  /**
   * Versions of the objects under `prefix`, delete markers left out, in ListObjectVersions order:
   * by key, and the versions of one key "sorted from most to least recent" (Amazon S3 API
   * Reference, ListObjectVersions / ListVersions).
   */
  listVersions(bucket: string, prefix: string): Promise<LandingVersion[]>;
  /** Keys of the current objects under `prefix` (ListObjectsV2). */
  listKeys(bucket: string, prefix: string): Promise<string[]>;
  /** A JSON object, or undefined when there is none at `key`. */
  getJson<T>(bucket: string, key: string): Promise<T | undefined>;
  exists(bucket: string, key: string): Promise<boolean>;
}

export interface ReplayBuckets {
  readonly landing: string;
  readonly control: string;
  readonly quarantine: string;
}

/**
 * Where a version stands before the replay: `not_curated` (no manifest: never normalized, or
 * quarantined), `normalized_not_merged` (a manifest, but a normalized object without its
 * processed marker), `already_curated` (every normalized object merged; a duplicate's content
 * was ingested from another version), `missing` (the version is not in the landing bucket).
 */
export type ReplayFileState = 'not_curated' | 'normalized_not_merged' | 'already_curated' | 'missing';

export interface ReplayCandidate extends LandingVersion {
  readonly sourceId: string;
  /** Why the selector chose it. */
  readonly selected: string;
  readonly state: ReplayFileState;
  /** What decided the state (the duplicate's original, the objects not merged, ...). */
  readonly stateDetail?: string;
  /** The reason document of a quarantined file (`--quarantined`). */
  readonly quarantine?: Pick<QuarantineReason, 'reason' | 'errorName' | 'detail' | 'quarantinedAt'>;
  /** Versions of the key older than this one: the replayed event's sequencer (see `replayBatchFile`). */
  readonly olderVersions: number;
  /**
   * The landing order the version was delivered with, when a quarantine reason recorded it: the
   * replay re-sends it as it was (`replayBatchFile`).
   */
  readonly delivered?: { readonly eventTime: string; readonly sequencer: string };
}

/** Where a version stands now: its manifest and the processed markers of its normalized objects. */
export async function curatedState(
  store: ReplayStore,
  buckets: ReplayBuckets,
  dataset: string,
  sourceId: string,
): Promise<{ state: Exclude<ReplayFileState, 'missing'>; detail?: string; duplicate?: boolean }> {
  const manifest = await store.getJson<NormalizerManifest>(buckets.control, manifestKey(dataset, sourceId));
  if (!manifest) return { state: 'not_curated' };
  if (manifest.status === 'duplicate')
    return {
      state: 'already_curated',
      duplicate: true,
      detail: `same content as ${manifest.duplicateOf?.key ?? '?'} (version ${manifest.duplicateOf?.versionId ?? 'null'})`,
    };
  const unmerged: string[] = [];
  for (const key of manifest.normalizedKeys)
    if (!(await store.exists(buckets.control, processedMarkerKey(key)))) unmerged.push(key);
  if (unmerged.length > 0)
    return {
      state: 'normalized_not_merged',
      detail: `${unmerged.length} of ${manifest.normalizedKeys.length} normalized object(s) not merged, e.g. ${unmerged[0]}`,
    };
  return {
    state: 'already_curated',
    detail: `${manifest.rowCount} row(s) in ${manifest.normalizedKeys.length} normalized object(s), all merged`,
  };
}

/** The selector in words (the report's `selection.description`). */
export function describeSelector(selector: ReplaySelector, landingPrefix: string): string {
  switch (selector.kind) {
    case 'quarantined':
      return 'files in quarantine';
    case 'prefix':
      return `every version under ${landingPrefix}${selector.prefix}`;
    case 'range':
      return `every version under ${landingPrefix} with LastModified from ${selector.from} to ${selector.to} (UTC, inclusive)`;
  }
}

/**
 * The landing versions a selector chooses, each with where it stands, in landing order
 * (LastModified, key, older versions first).
 */
export async function selectReplay(
  store: ReplayStore,
  buckets: ReplayBuckets,
  dataset: ResolvedDataset,
  selector: ReplaySelector,
): Promise<ReplayCandidate[]> {
  const versionsOfKey = new Map<string, Promise<LandingVersion[]>>();
  const versionsOf = (key: string) => {
    let versions = versionsOfKey.get(key);
    if (!versions) {
      versions = store.listVersions(buckets.landing, key).then((all) => all.filter((v) => v.key === key));
      versionsOfKey.set(key, versions);
    }
    return versions;
  };
  const olderThan = (versions: readonly LandingVersion[], version: LandingVersion) =>
    // Newest first within a key: the versions after it in the listing are older.
    versions.length - 1 - versions.findIndex((v) => v.versionId === version.versionId);

  const candidates: ReplayCandidate[] = [];
  if (selector.kind === 'quarantined') {
    const prefix = `files/${dataset.name}/`;
    const reasons = (await store.listKeys(buckets.quarantine, prefix)).filter((k) =>
      /^files\/[^/]+\/[0-9a-f]+\/reason\.json$/.test(k),
    );
    const found = await mapLimit(reasons.sort(), READ_CONCURRENCY, async (reasonKey) => {
      const reason = await store.getJson<QuarantineReason>(buckets.quarantine, reasonKey);
      if (!reason?.source?.key) return undefined;
      const { key, versionId } = reason.source;
      const sourceId = sourceIdOf(key, versionId ?? null);
      const quarantine = {
        reason: reason.reason,
        errorName: reason.errorName,
        detail: reason.detail,
        quarantinedAt: reason.quarantinedAt,
      };
      const selected = `quarantined ${reason.quarantinedAt}: ${reason.reason} (${reason.errorName})`;
      const versions = await versionsOf(key);
      const version = versions.find((v) => v.versionId === (versionId ?? null));
      if (!version) {
        return {
          key,
          versionId: versionId ?? null,
          lastModified: '',
          size: 0,
          etag: '',
          sourceId,
          selected,
          quarantine,
          olderVersions: 0,
          state: 'missing',
          stateDetail: `version ${versionId ?? 'null'} of ${key} is not in the landing bucket (deleted or expired); the copy in quarantine is at ${quarantineFilePrefix(dataset.name, sourceId)}`,
        } satisfies ReplayCandidate;
      }
      const now = await curatedState(store, buckets, dataset.name, sourceId);
      const { eventTime, sequencer } = reason.source;
      const delivered =
        typeof eventTime === 'string' &&
        EVENT_TIME.test(eventTime) &&
        typeof sequencer === 'string' &&
        /^[0-9A-Fa-f]*$/.test(sequencer)
          ? { eventTime, sequencer }
          : undefined;
      return {
        ...version,
        sourceId,
        selected,
        quarantine,
        ...(delivered ? { delivered } : {}),
        olderVersions: olderThan(versions, version),
        state: now.state,
        ...(now.detail ? { stateDetail: now.detail } : {}),
      } satisfies ReplayCandidate;
    });
    for (const candidate of found) if (candidate) candidates.push(candidate);
  } else {
    const prefix =
      selector.kind === 'prefix' ? `${dataset.landingPrefix}${selector.prefix}` : dataset.landingPrefix;
    const listed = await store.listVersions(buckets.landing, prefix);
    const byKey = new Map<string, LandingVersion[]>();
    for (const version of listed) {
      const versions = byKey.get(version.key);
      if (versions) versions.push(version);
      else byKey.set(version.key, [version]);
    }
    const from = selector.kind === 'range' ? `${selector.from}T00:00:00.000Z` : undefined;
    const to = selector.kind === 'range' ? `${selector.to}T23:59:59.999Z` : undefined;
    const chosen: { key: string; versions: LandingVersion[]; version: LandingVersion; at: string }[] = [];
    for (const [key, versions] of byKey) {
      for (const version of versions) {
        const at = new Date(version.lastModified).toISOString();
        if (from !== undefined && to !== undefined && (at < from || at > to)) continue;
        chosen.push({ key, versions, version, at });
      }
    }
    candidates.push(
      ...(await mapLimit(chosen, READ_CONCURRENCY, async ({ key, versions, version, at }) => {
        const sourceId = sourceIdOf(key, version.versionId);
        const now = await curatedState(store, buckets, dataset.name, sourceId);
        return {
          ...version,
          sourceId,
          selected:
            selector.kind === 'prefix'
              ? `under ${prefix}, landed ${at}`
              : `landed ${at}, within ${selector.from}..${selector.to}`,
          olderVersions: olderThan(versions, version),
          state: now.state,
          ...(now.detail ? { stateDetail: now.detail } : {}),
        } satisfies ReplayCandidate;
      })),
    );
  }
  return candidates.sort(
    (a, b) =>
      a.lastModified.localeCompare(b.lastModified) ||
      (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) ||
      a.olderVersions - b.olderVersions,
  );
}

/**
 * Whether the replay sends a candidate through the pipeline: not when gone, nor when already
 * curated unless `includeCurated`.
 */
export function needsReplay(candidate: ReplayCandidate, includeCurated = false): boolean {
  return (
    candidate.state === 'not_curated' ||
    candidate.state === 'normalized_not_merged' ||
    (includeCurated && candidate.state === 'already_curated')
  );
}

/**
 * The batch file of a replayed version exactly as the intake Pipe delivers it: the S3
 * `Object Created` event of that version rendered through the Pipe's input template
 * (lib/contracts/pipe.ts). Its landing order is the original one. A quarantined version is
 * re-sent with the event time and sequencer it was delivered with (its reason document records
 * them). Otherwise the event `time` is the version's LastModified (to the second, as S3 writes
 * event times: "the time the event occurred", Amazon S3 User Guide, "EventBridge event message
 * structure") and the `sequencer` counts the key's older versions, so versions of one key
 * replayed together keep their order; no real S3 sequencer is recorded for a version whose event
 * never arrived, so at the same second as a version of the same key processed with its real
 * sequencer, the replayed one (a smaller sequencer) orders first.
 */
export function replayBatchFile(dataset: string, bucket: string, candidate: ReplayCandidate): BatchFile {
  const event = objectCreatedEvent(
    {
      bucket,
      key: candidate.key,
      versionId: candidate.versionId,
      size: candidate.size,
      etag: candidate.etag,
    },
    candidate.delivered?.sequencer ?? candidate.olderVersions,
    new Date(candidate.delivered?.eventTime ?? candidate.lastModified),
  );
  return renderPipeTemplate(pipeInputTemplate(dataset), { body: JSON.stringify(event) }) as BatchFile;
}

/** One execution of a replay: its batch and its name. */
export interface ReplayBatch {
  readonly name: string;
  readonly files: readonly BatchFile[];
  readonly candidates: readonly ReplayCandidate[];
}

/**
 * The executions of a replay: the candidates to replay in landing order, in batches of the
 * dataset's `batchSize`, closed early at the Step Functions payload limit as the Pipe closes
 * them. Each name is derived from what the batch replays (the versions, where each stood, the
 * quarantine it came from) and `attempt`: running the same replay again while nothing changed
 * starts nothing new. Step Functions: "An execution can't use the name of another execution for
 * 90 days"; with the same name and input, an open execution is returned as is ("considered
 * idempotent"), a closed one is ExecutionAlreadyExists (AWS Step Functions API Reference,
 * StartExecution). Names are at most 80 characters of letters, digits, `-` and `_`.
 */
export function replayBatches(
  dataset: ResolvedDataset,
  bucket: string,
  candidates: readonly ReplayCandidate[],
  attempt = 1,
  includeCurated = false,
): ReplayBatch[] {
  const batches: { files: BatchFile[]; candidates: ReplayCandidate[] }[] = [];
  let meter = new PipeBatchMeter();
  let current: { files: BatchFile[]; candidates: ReplayCandidate[] } | undefined;
  for (const candidate of candidates.filter((c) => needsReplay(c, includeCurated))) {
    const file = replayBatchFile(dataset.name, bucket, candidate);
    const json = JSON.stringify(file);
    if (!current || current.files.length >= dataset.batching.batchSize || !meter.fits(json)) {
      current = { files: [], candidates: [] };
      batches.push(current);
      meter = new PipeBatchMeter();
    }
    meter.add(json);
    current.files.push(file);
    current.candidates.push(candidate);
  }
  const stem = `replay-${dataset.name.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40)}`;
  return batches.map((batch) => {
    const hash = createHash('sha256')
      .update(JSON.stringify({ attempt, dataset: dataset.name, files: batch.files }))
      .update(
        JSON.stringify(
          batch.candidates.map((c) => [c.sourceId, c.state, c.quarantine?.quarantinedAt ?? null]),
        ),
      )
      .digest('hex')
      .slice(0, 20);
    return { name: `${stem}-${hash}${attempt > 1 ? `-a${attempt}` : ''}`, ...batch };
  });
}

/** What became of a file of the replay. */
export type ReplayOutcome =
  | 'curated'
  | 'duplicate'
  | 'quarantined_again'
  | 'already_curated'
  | 'missing'
  | 'failed'
  | 'would_replay';

export interface ReplayFileReport {
  readonly key: string;
  readonly versionId: string | null;
  readonly sourceId: string;
  readonly lastModified: string | null;
  /** Why the selector chose it. */
  readonly selected: string;
  /** Where it stood before the replay. */
  readonly before: ReplayFileState;
  readonly outcome: ReplayOutcome;
  /** Skipped: not sent through the pipeline (already curated, or gone). */
  readonly skipped: boolean;
  readonly detail?: string;
  /** The execution that replayed it. */
  readonly execution?: string;
}

export interface ReplayExecutionReport {
  readonly name: string;
  readonly files: number;
  readonly status: string;
  readonly error?: string;
  readonly cause?: string;
  /** On AWS: the execution's ARN. */
  readonly arn?: string;
  /** Started by an earlier run of the same replay (same name), not by this one. */
  readonly earlier?: boolean;
}

/** The report of `replay` (`--report FILE`, `--json`): a contract scripts read. */
export interface ReplayReport {
  readonly dataset: string;
  readonly dryRun: boolean;
  /** `local` (a state folder) or the stack replayed on. */
  readonly target:
    | { readonly kind: 'local'; readonly stateDir: string }
    | { readonly kind: 'aws'; readonly stack: string; readonly region?: string };
  readonly selection: {
    readonly kind: ReplaySelector['kind'];
    readonly description: string;
    readonly prefix?: string;
    readonly from?: string;
    readonly to?: string;
    readonly landingBucket: string;
  };
  readonly files: readonly ReplayFileReport[];
  readonly executions: readonly ReplayExecutionReport[];
  readonly counts: Readonly<Record<ReplayOutcome, number>> & { readonly selected: number };
  /** False when a file failed or its version is gone (exit code 1). */
  readonly ok: boolean;
}

/**
 * What became of each replayed file, read back from S3 after the executions ended (not taken
 * from the execution's word): its manifest and processed markers (curated, or duplicate), else a
 * quarantine reason written since the replay started (quarantined again, with the reason), else
 * failed with its execution's error.
 */
export async function replayOutcome(
  store: ReplayStore,
  buckets: ReplayBuckets,
  dataset: string,
  candidate: ReplayCandidate,
  execution: ReplayExecutionReport | undefined,
  startedAt: string,
): Promise<Pick<ReplayFileReport, 'outcome' | 'detail'>> {
  const now = await curatedState(store, buckets, dataset, candidate.sourceId);
  if (now.state === 'already_curated')
    return {
      outcome: now.duplicate ? 'duplicate' : 'curated',
      ...(now.detail ? { detail: now.detail } : {}),
    };
  const reason = await store.getJson<QuarantineReason>(
    buckets.quarantine,
    `${quarantineFilePrefix(dataset, candidate.sourceId)}reason.json`,
  );
  const byThisReplay =
    reason &&
    ((execution !== undefined && (reason.executionId ?? '').endsWith(`:${execution.name}`)) ||
      reason.quarantinedAt >= startedAt);
  if (reason && byThisReplay)
    return {
      outcome: 'quarantined_again',
      detail: `${reason.reason} (${reason.errorName}): ${reason.detail}`.slice(0, 1000),
    };
  const why = execution
    ? `execution ${execution.name} ${execution.status}${execution.error ? `: ${execution.error}` : ''}${execution.cause ? `: ${execution.cause.slice(0, 300)}` : ''}`
    : 'no execution replayed it';
  return { outcome: 'failed', detail: `${now.detail ? `${now.detail}; ` : 'not normalized; '}${why}` };
}

/** The report's file entry of a candidate that was not sent (skipped, or a dry run). */
export function unsentFile(candidate: ReplayCandidate, dryRun: boolean): ReplayFileReport {
  const base = {
    key: candidate.key,
    versionId: candidate.versionId,
    sourceId: candidate.sourceId,
    lastModified: candidate.lastModified || null,
    selected: candidate.selected,
    before: candidate.state,
  };
  if (candidate.state === 'already_curated')
    return { ...base, outcome: 'already_curated', skipped: true, ...detailOf(candidate) };
  if (candidate.state === 'missing')
    return { ...base, outcome: 'missing', skipped: true, ...detailOf(candidate) };
  return { ...base, outcome: dryRun ? 'would_replay' : 'failed', skipped: false, ...detailOf(candidate) };
}

/** What a replay will do: the versions selected, the executions, and the selection in words. */
export interface ReplayPlan {
  readonly dataset: ResolvedDataset;
  readonly candidates: readonly ReplayCandidate[];
  readonly batches: readonly ReplayBatch[];
  readonly selection: ReplayReport['selection'];
}

/** Selects, batches and names a replay (the same steps locally and on AWS), with progress lines. */
export async function planReplay(
  store: ReplayStore,
  buckets: ReplayBuckets,
  request: ReplayRequest & { readonly selector: ReplaySelector },
  progress: (line: string) => void,
): Promise<ReplayPlan> {
  const dataset = datasetOf(request.dataset);
  const candidates = await selectReplay(store, buckets, dataset, request.selector);
  const batches = replayBatches(
    dataset,
    buckets.landing,
    candidates,
    request.attempt,
    request.includeCurated,
  );
  describeSelection(candidates, batches, progress);
  return { dataset, candidates, batches, selection: selectionOf(request.selector, dataset, buckets.landing) };
}

/**
 * The report of a replay that starts nothing: a dry run (what each execution would replay), or
 * a replay whose every version is already curated or gone (all skipped).
 */
export function reportWithoutExecutions(
  plan: ReplayPlan,
  target: ReplayReport['target'],
  dryRun: boolean,
): ReplayReport {
  const files = dryRun
    ? dryRunFiles(plan.candidates, plan.batches)
    : plan.candidates.map((c) => unsentFile(c, false));
  return {
    dataset: plan.dataset.name,
    dryRun,
    target,
    selection: plan.selection,
    files,
    executions: dryRun
      ? plan.batches.map((b) => ({ name: b.name, files: b.files.length, status: 'NOT_STARTED' }))
      : [],
    ...countOutcomes(files),
  };
}

/** The report of a replay whose executions have ended: each file's outcome read back through `store`. */
export async function reportAfterExecutions(
  store: ReplayStore,
  buckets: ReplayBuckets,
  plan: ReplayPlan,
  target: ReplayReport['target'],
  executions: readonly ReplayExecutionReport[],
  startedAt: string,
): Promise<ReplayReport> {
  const files = await reportReplayedFiles(
    store,
    buckets,
    plan.dataset.name,
    plan.candidates,
    plan.batches,
    executions,
    startedAt,
  );
  return {
    dataset: plan.dataset.name,
    dryRun: false,
    target,
    selection: plan.selection,
    files,
    executions,
    ...countOutcomes(files),
  };
}

/** A dry run's file entries: what each batch would replay, and what is skipped. */
export function dryRunFiles(
  candidates: readonly ReplayCandidate[],
  batches: readonly ReplayBatch[],
): ReplayFileReport[] {
  return candidates.map((c) => {
    const batch = batches.find((b) => b.candidates.includes(c));
    if (!batch) return unsentFile(c, true);
    return { ...unsentFile(c, true), outcome: 'would_replay', skipped: false, execution: batch.name };
  });
}

function detailOf(candidate: ReplayCandidate): { detail?: string } {
  return candidate.stateDetail ? { detail: candidate.stateDetail } : {};
}

const OUTCOMES: readonly ReplayOutcome[] = [
  'curated',
  'duplicate',
  'quarantined_again',
  'already_curated',
  'missing',
  'failed',
  'would_replay',
];

/** The report's counts and verdict. */
export function countOutcomes(files: readonly ReplayFileReport[]): Pick<ReplayReport, 'counts' | 'ok'> {
  const counts = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<ReplayOutcome, number>;
  for (const file of files) counts[file.outcome] += 1;
  return {
    counts: { ...counts, selected: files.length },
    ok: counts.failed === 0 && counts.missing === 0,
  };
}

/** The report in lines for a person (stdout without --json). */
export function formatReplayReport(report: ReplayReport): string {
  const lines: string[] = [];
  const where =
    report.target.kind === 'aws' ? `stack ${report.target.stack}` : `state ${report.target.stateDir}`;
  lines.push(
    `${report.dryRun ? 'replay (dry run, nothing changed)' : 'replay'} of ${report.dataset} on ${where}: ${report.selection.description}`,
  );
  if (report.files.length === 0) lines.push('nothing selected');
  for (const file of report.files) {
    lines.push(
      `  ${file.outcome.padEnd(17)} ${file.key} (version ${file.versionId ?? 'null'})${file.execution ? ` [${file.execution}]` : ''}`,
    );
    lines.push(`      selected: ${file.selected}`);
    if (file.detail) lines.push(`      ${file.detail}`);
  }
  for (const execution of report.executions)
    lines.push(
      `execution ${execution.name}: ${execution.files} file(s), ${execution.status}${execution.earlier ? ' (started by an earlier run of this replay)' : ''}${execution.error ? `: ${execution.error}` : ''}`,
    );
  const c = report.counts;
  const parts = OUTCOMES.filter((o) => c[o] > 0).map((o) => `${c[o]} ${o.replace('_', ' ')}`);
  lines.push(
    `${c.selected} selected${parts.length > 0 ? `: ${parts.join(', ')}` : ''}; ${report.ok ? 'ok' : 'NOT OK'}`,
  );
  return `${lines.join('\n')}\n`;
}

export function datasetOf(name: string): ResolvedDataset {
  const dataset = loadDatasets().find((d) => d.name === name);
  if (!dataset) throw new InputError(`unknown dataset "${name}"`);
  return dataset;
}

/** The report's `selection`. */
export function selectionOf(
  selector: ReplaySelector,
  dataset: ResolvedDataset,
  landingBucket: string,
): ReplayReport['selection'] {
  return {
    kind: selector.kind,
    description: describeSelector(selector, dataset.landingPrefix),
    ...(selector.kind === 'prefix' ? { prefix: selector.prefix } : {}),
    ...(selector.kind === 'range' ? { from: selector.from, to: selector.to } : {}),
    landingBucket,
  };
}

/** Progress lines: what was selected and why, and what is skipped. */
export function describeSelection(
  candidates: readonly ReplayCandidate[],
  batches: readonly ReplayBatch[],
  progress: (line: string) => void,
): void {
  const sent = batches.reduce((n, b) => n + b.candidates.length, 0);
  progress(
    `selected ${candidates.length} version(s): ${sent} to replay in ${batches.length} execution(s), ${candidates.length - sent} skipped`,
  );
  for (const c of candidates)
    if (!batches.some((b) => b.candidates.includes(c)))
      progress(
        `skip ${c.key} (version ${c.versionId ?? 'null'}): ${c.state}${c.stateDetail ? `, ${c.stateDetail}` : ''}`,
      );
}

/** Each file's report entry once the executions ended, read back through `store`. */
export async function reportReplayedFiles(
  store: ReplayStore,
  buckets: ReplayBuckets,
  dataset: string,
  candidates: readonly ReplayCandidate[],
  batches: readonly ReplayBatch[],
  executions: readonly ReplayExecutionReport[],
  startedAt: string,
): Promise<ReplayFileReport[]> {
  const files: ReplayFileReport[] = [];
  for (const candidate of candidates) {
    const index = batches.findIndex((b) => b.candidates.includes(candidate));
    if (index < 0) {
      files.push(unsentFile(candidate, false));
      continue;
    }
    const execution = executions[index];
    const outcome = await replayOutcome(store, buckets, dataset, candidate, execution, startedAt);
    files.push({
      ...unsentFile(candidate, false),
      ...outcome,
      skipped: false,
      ...(execution ? { execution: execution.name } : {}),
    });
  }
  return files;
}
