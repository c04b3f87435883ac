/**
 * The post-deploy smoke check (`npm run smoke -- --stack <name>`; docs/deploy.md).
 *
 * With the caller's AWS credentials it finds the deployed pipeline from the stack's outputs
 * (lib/contracts/stack-outputs.ts), drops the bundled FOCUS sample under a unique smoke key of
 * the dataset's landing prefix, follows the execution the EventBridge Pipe starts for it (found
 * by listing the state machine's executions and matching the file key in their input), and
 * then reads what the run left in the control bucket: the normalizer's manifest, the ETL's
 * processed markers and run reports, and the execution's reconciliation result. It passes
 * only when the execution succeeded, the file was normalized (not quarantined, not a
 * duplicate), every normalized object was merged into curated and every reconciliation check
 * of the file passed.
 *
 * Each run uploads different bytes with the same rows: the sample is gzip-compressed with the
 * run's id in the gzip header (file name field), so the normalizer does not take it for a
 * duplicate of an earlier smoke run (its content hash is over the bytes as uploaded). Its rows
 * have the keys of the earlier smoke run's rows, so they replace them (cloud_billing's conflict
 * policy `latest`: the later landing wins): the curated table does not grow.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { type CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  type ExecutionListItem,
  ListExecutionsCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { getJson } from '../lambdas/common/s3';
import type { QuarantineReason } from '../lambdas/quarantine/core';
import {
  etlRunReportKey,
  manifestKey,
  processedMarkerKey,
  quarantineFilePrefix,
  reconciliationResultKey,
  sourceIdOf,
} from '../lib/contracts/layout';
import type { NormalizerManifest } from '../lib/contracts/manifest';
import type { ReconciliationCheck, ReconciliationResult } from '../lib/contracts/reconciliation';
import type { EtlRunReport, ProcessedMarker } from '../lib/contracts/run-report';
import { STACK_OUTPUTS } from '../lib/contracts/stack-outputs';

export const REPO_ROOT = path.resolve(__dirname, '..');
export const DEFAULT_DATASET = 'cloud_billing';
export const DEFAULT_SAMPLE = path.join(REPO_ROOT, 'samples', 'cloud_billing', 'focus_sample.csv');

/** A problem before the smoke file was uploaded (stack, outputs, options): exit code 2. */
export class SmokeSetupError extends Error {
  override readonly name = 'SmokeSetupError';
}

export interface SmokeClients {
  readonly cloudFormation: CloudFormationClient;
  readonly s3: S3Client;
  readonly sfn: SFNClient;
}

export interface SmokeOptions {
  readonly stackName: string;
  /** @default cloud_billing */
  readonly dataset?: string;
  /** A CSV (or other text) file of the dataset. @default the bundled FOCUS sample */
  readonly file?: string;
  /** How long to wait for the execution to start and to end. @default 30 minutes */
  readonly timeoutMs?: number;
  /** @default 10 seconds */
  readonly pollMs?: number;
  /** Names the smoke key and goes into the gzip header (one run id, one set of bytes). @default time and random */
  readonly runId?: string;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Progress lines (stderr in the CLI). */
  readonly log?: (line: string) => void;
}

/** The deployed pipeline, from the stack's outputs. */
export interface StackResources {
  readonly landingBucket: string;
  readonly controlBucket: string;
  readonly quarantineBucket: string;
  readonly stateMachineArn: string;
  readonly glueDatabase: string;
  readonly landingPrefixes: Readonly<Record<string, string>>;
}

export interface FileChecks {
  readonly passed: number;
  readonly failed: number;
  readonly pending: number;
  readonly checks: readonly ReconciliationCheck[];
}

export interface SmokeReport {
  readonly ok: boolean;
  readonly stack: string;
  readonly dataset: string;
  readonly landing: { readonly bucket: string; readonly key: string; readonly versionId: string | null };
  readonly sourceId: string;
  readonly execution: {
    readonly arn: string | null;
    readonly status: string | null;
    readonly error?: string | null;
    readonly cause?: string | null;
    readonly consoleUrl?: string | null;
  };
  /** `normalized`, `duplicate`, `quarantined` or `unknown` (no manifest, no quarantine reason). */
  readonly fileStatus: string | null;
  readonly rows?: { readonly normalized: number; readonly rejected: number };
  /** Where the ETL put this file's rows (its processed markers, schema version 2). */
  readonly curated?: {
    /** Rows in curated as of the markers' snapshot: `written + identical`. */
    readonly rows: number;
    /** Inserted by the run. */
    readonly written: number;
    /** Already in curated (the same object delivered again). */
    readonly identical: number;
    /** Replaced by a newer file (or by a later row of the same file with the same key). */
    readonly superseded: number;
    /** Rejected to quarantine for colliding on the key with another file's rows. */
    readonly rejected: number;
    readonly objectsMerged: number;
    readonly objects: number;
    readonly runIds: readonly string[];
    /** The Iceberg snapshot(s) the markers name. */
    readonly snapshotIds: readonly string[];
    /** Rows the run(s) added to and deleted from each partition the file touched. */
    readonly partitions: Readonly<Record<string, { readonly added: number; readonly deleted: number }>>;
  };
  readonly reconciliation?: {
    readonly key: string;
    readonly status: string | null;
    readonly file: FileChecks | null;
  };
  /** Why the check failed (empty when it passed). */
  readonly problems: readonly string[];
}

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']);

export async function readStackResources(
  cloudFormation: CloudFormationClient,
  stackName: string,
): Promise<StackResources> {
  let outputs: Record<string, string>;
  try {
    const found = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = found.Stacks?.[0];
    if (!stack) throw new SmokeSetupError(`stack "${stackName}" was not found`);
    outputs = Object.fromEntries((stack.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  } catch (error) {
    if (error instanceof SmokeSetupError) throw error;
    const e = error as Error;
    throw new SmokeSetupError(`cannot read stack "${stackName}": ${e.name}: ${e.message}`);
  }
  const wanted = [
    STACK_OUTPUTS.landingBucket,
    STACK_OUTPUTS.controlBucket,
    STACK_OUTPUTS.quarantineBucket,
    STACK_OUTPUTS.stateMachineArn,
    STACK_OUTPUTS.glueDatabase,
    STACK_OUTPUTS.datasetLandingPrefixes,
  ];
  const missing = wanted.filter((name) => !outputs[name]);
  if (missing.length > 0) {
    throw new SmokeSetupError(
      `stack "${stackName}" has no output ${missing.join(', ')}: it was deployed by an older version of this app (run cdk deploy first) or it is not an ingestion pipeline stack`,
    );
  }
  let landingPrefixes: Record<string, string>;
  try {
    landingPrefixes = JSON.parse(outputs[STACK_OUTPUTS.datasetLandingPrefixes]!) as Record<string, string>;
  } catch {
    throw new SmokeSetupError(
      `stack "${stackName}": output ${STACK_OUTPUTS.datasetLandingPrefixes} is not JSON: ${outputs[STACK_OUTPUTS.datasetLandingPrefixes]}`,
    );
  }
  return {
    landingBucket: outputs[STACK_OUTPUTS.landingBucket]!,
    controlBucket: outputs[STACK_OUTPUTS.controlBucket]!,
    quarantineBucket: outputs[STACK_OUTPUTS.quarantineBucket]!,
    stateMachineArn: outputs[STACK_OUTPUTS.stateMachineArn]!,
    glueDatabase: outputs[STACK_OUTPUTS.glueDatabase]!,
    landingPrefixes,
  };
}

/**
 * gzip of `content` whose header carries `name` (the FNAME field, RFC 1952): different bytes for
 * every name, the same content once decompressed. (Node's gzip writes no name; the header is
 * not covered by the trailer's CRC, which is over the content.)
 */
export function gzipWithName(content: Buffer, name: string): Buffer {
  const plain = gzipSync(content);
  const header = Buffer.alloc(10);
  plain.copy(header, 0, 0, 10);
  header[3] = 0x08; // FLG: FNAME present
  const fileName = Buffer.from(`${name.replace(/[^\x20-\x7e]/g, '_')}\0`, 'latin1');
  return Buffer.concat([header, fileName, plain.subarray(10)]);
}

/** The key S3 puts in its event for `key` (URL-encoded, space as `+`, `/` kept). */
export function eventKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
}

/**
 * Whether an execution's input holds the file `{bucket, key, versionId}` (any nesting: the Pipe's
 * batch). A version id in the input must be the uploaded one: the same key uploaded again is
 * another file.
 */
export function inputHoldsFile(
  input: string | undefined,
  bucket: string,
  key: string,
  versionId: string | null = null,
): boolean {
  if (!input) return false;
  let parsed: unknown;
  try {
    parsed = JSON.parse(input);
  } catch {
    return false;
  }
  const keys = new Set([key, eventKey(key)]);
  const visit = (node: unknown): boolean => {
    if (Array.isArray(node)) return node.some(visit);
    if (node === null || typeof node !== 'object') return false;
    const record = node as Record<string, unknown>;
    if (typeof record.key === 'string' && keys.has(record.key)) {
      const sameBucket = record.bucket === undefined || record.bucket === bucket;
      const sameVersion = !versionId || !record.versionId || record.versionId === versionId;
      if (sameBucket && sameVersion) return true;
    }
    return Object.values(record).some(visit);
  };
  return visit(parsed);
}

export function consoleUrl(executionArn: string): string | null {
  const [, partition, , region] = executionArn.split(':');
  if (!region || partition !== 'aws') return null;
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

function defaultRunId(now: number): string {
  const stamp = new Date(now)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Runs the smoke check. What the pipeline did wrong goes into the report (`ok: false`,
 * `problems`); a setup problem before the upload is a SmokeSetupError; an AWS error of the
 * caller's own requests (access denied, throttling past the SDK's retries) is thrown as is.
 */
export async function runSmoke(clients: SmokeClients, options: SmokeOptions): Promise<SmokeReport> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.timeoutMs ?? 30 * 60_000;
  const pollMs = options.pollMs ?? 10_000;
  const dataset = options.dataset ?? DEFAULT_DATASET;
  const file = options.file ?? DEFAULT_SAMPLE;
  const runId = options.runId ?? defaultRunId(now());
  if (!/^[A-Za-z0-9._-]+$/.test(runId))
    throw new SmokeSetupError(`run id "${runId}": letters, digits, . _ - only`);

  const resources = await readStackResources(clients.cloudFormation, options.stackName);
  const prefix = resources.landingPrefixes[dataset];
  if (prefix === undefined) {
    throw new SmokeSetupError(
      `dataset "${dataset}" is not deployed in stack "${options.stackName}" (datasets: ${Object.keys(resources.landingPrefixes).join(', ')})`,
    );
  }
  let content: Buffer;
  try {
    content = readFileSync(file);
  } catch (error) {
    throw new SmokeSetupError(`cannot read ${file}: ${(error as Error).message}`);
  }

  // Upload: a unique key below the dataset's landing prefix, unique bytes (see the module doc).
  const name = path.basename(file);
  const key = `${prefix}smoke/${runId}/${name}.gz`;
  const body = gzipWithName(content, `${runId}-${name}`);
  const put = await clients.s3.send(
    new PutObjectCommand({
      Bucket: resources.landingBucket,
      Key: key,
      Body: body,
      ContentType: 'application/gzip',
    }),
  );
  const versionId = put.VersionId ?? null;
  const sourceId = sourceIdOf(key, versionId);
  const uploadedAt = now();
  log(
    `uploaded s3://${resources.landingBucket}/${key} (${body.length} bytes, version ${versionId ?? 'none'})`,
  );
  const base = {
    stack: options.stackName,
    dataset,
    landing: { bucket: resources.landingBucket, key, versionId },
    sourceId,
  };
  const problems: string[] = [];

  // Find the execution the Pipe starts for the file, then follow it to its end.
  const deadline = uploadedAt + timeoutMs;
  const seen = new Set<string>();
  let execution: DescribeExecutionCommandOutput | undefined;
  log(
    `waiting for the execution of ${resources.stateMachineArn} that holds the file (batching window first)`,
  );
  while (!execution && now() < deadline) {
    execution = await findExecution(clients.sfn, resources, { key, versionId }, uploadedAt, seen);
    if (!execution) await sleep(pollMs);
  }
  if (!execution?.executionArn) {
    problems.push(
      `no execution of ${resources.stateMachineArn} took the file within ${Math.round(timeoutMs / 1000)} s (check the ${dataset} intake queue and its dead-letter queue, and the Pipe's logs)`,
    );
    return { ...base, ok: false, execution: { arn: null, status: null }, fileStatus: null, problems };
  }
  const arn = execution.executionArn;
  log(`execution ${arn}: ${execution.status}`);
  let last = execution.status;
  while (!TERMINAL.has(execution.status ?? '') && now() < deadline) {
    await sleep(pollMs);
    execution = await clients.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
    if (execution.status !== last) log(`execution ${arn}: ${execution.status}`);
    last = execution.status;
  }
  const executionReport = {
    arn,
    status: execution.status ?? null,
    error: execution.error ?? null,
    cause: execution.cause ?? null,
    consoleUrl: consoleUrl(arn),
  };
  if (!TERMINAL.has(execution.status ?? '')) {
    problems.push(`execution still ${execution.status} after ${Math.round(timeoutMs / 1000)} s`);
  } else if (execution.status !== 'SUCCEEDED') {
    problems.push(
      `execution ${execution.status}${execution.error ? `: ${execution.error}` : ''}${execution.cause ? ` (${execution.cause.slice(0, 500)})` : ''}`,
    );
  }

  // What the run left in the control bucket.
  const control = resources.controlBucket;
  const manifest = await getJson<NormalizerManifest>(clients.s3, control, manifestKey(dataset, sourceId));
  let fileStatus: string;
  let rows: SmokeReport['rows'];
  let curated: SmokeReport['curated'];
  if (!manifest) {
    const reason = await getJson<QuarantineReason>(
      clients.s3,
      resources.quarantineBucket,
      `${quarantineFilePrefix(dataset, sourceId)}reason.json`,
    );
    fileStatus = reason ? 'quarantined' : 'unknown';
    problems.push(
      reason
        ? `the file was quarantined (${reason.errorName}): ${reason.reason}`
        : `no manifest for the file (${manifestKey(dataset, sourceId)}): it was not normalized`,
    );
  } else {
    fileStatus = manifest.status;
    rows = { normalized: manifest.rowCount, rejected: manifest.rejectedRowCount };
    if (manifest.status === 'duplicate') {
      problems.push(
        `the normalizer took the file for a duplicate of ${manifest.duplicateOf?.key ?? 'an earlier file'}: nothing was merged`,
      );
    } else {
      if (manifest.rejectedRowCount > 0) {
        problems.push(`${manifest.rejectedRowCount} row(s) of the file were rejected by the normalizer`);
      }
      curated = await curatedTotals(clients.s3, control, dataset, manifest, problems);
      if (curated.objectsMerged < curated.objects) {
        problems.push(
          `${curated.objects - curated.objectsMerged} of ${curated.objects} normalized object(s) of the file have no processed marker: not merged into curated`,
        );
      }
    }
  }

  const executionName = arn.split(':').pop() ?? arn;
  const resultKey = reconciliationResultKey(dataset, executionName);
  const result = await getJson<ReconciliationResult>(clients.s3, control, resultKey);
  let reconciliation: SmokeReport['reconciliation'] = { key: resultKey, status: null, file: null };
  if (!result) {
    if (fileStatus === 'normalized') problems.push(`no reconciliation result (${resultKey})`);
  } else {
    const checks = result.checks.filter((c) => c.source?.sourceId === sourceId);
    const fileChecks: FileChecks = {
      passed: checks.filter((c) => c.status === 'pass').length,
      failed: checks.filter((c) => c.status === 'fail').length,
      pending: checks.filter((c) => c.status === 'pending').length,
      checks,
    };
    reconciliation = { key: resultKey, status: result.status, file: fileChecks };
    if (fileStatus === 'normalized' && checks.length === 0) {
      problems.push('the reconciliation result has no check of the file');
    }
    for (const check of checks.filter((c) => c.status !== 'pass')) {
      problems.push(
        `reconciliation ${check.status}: ${check.check}: expected ${check.expected}, actual ${check.actual} (${check.detail})`,
      );
    }
    if (result.status === 'fail' && fileChecks.failed === 0) {
      problems.push(
        `the batch's reconciliation failed on other files (${result.summary.failed} failed check(s)): see ${resultKey}`,
      );
    }
  }

  return {
    ...base,
    ok: problems.length === 0,
    execution: executionReport,
    fileStatus,
    ...(rows ? { rows } : {}),
    ...(curated ? { curated } : {}),
    reconciliation,
    problems,
  };
}

/** The newest execution started since the upload (with a minute of clock skew) holding the file. */
async function findExecution(
  sfn: SFNClient,
  resources: StackResources,
  file: { readonly key: string; readonly versionId: string | null },
  uploadedAt: number,
  seen: Set<string>,
): Promise<DescribeExecutionCommandOutput | undefined> {
  const since = uploadedAt - 60_000;
  let token: string | undefined;
  do {
    const page = await sfn.send(
      new ListExecutionsCommand({
        stateMachineArn: resources.stateMachineArn,
        nextToken: token,
        maxResults: 100,
      }),
    );
    const executions: ExecutionListItem[] = page.executions ?? [];
    for (const item of executions) {
      if (!item.executionArn || seen.has(item.executionArn)) continue;
      if (item.startDate && item.startDate.getTime() < since) return undefined; // newest first: older ones follow
      const described = await sfn.send(new DescribeExecutionCommand({ executionArn: item.executionArn }));
      if (inputHoldsFile(described.input, resources.landingBucket, file.key, file.versionId))
        return described;
      seen.add(item.executionArn);
    }
    token = page.nextToken;
  } while (token);
  return undefined;
}

async function curatedTotals(
  s3: S3Client,
  control: string,
  dataset: string,
  manifest: NormalizerManifest,
  problems: string[],
): Promise<NonNullable<SmokeReport['curated']>> {
  const markers = await Promise.all(
    manifest.normalizedKeys.map((k) => getJson<ProcessedMarker>(s3, control, processedMarkerKey(k))),
  );
  const present = markers.filter((m): m is ProcessedMarker => m !== undefined);
  const found = present.filter((m) => m.schemaVersion === 2);
  const old = present.filter((m) => m.schemaVersion !== 2);
  if (old.length > 0) {
    problems.push(
      `${old.length} processed marker(s) of the file have schemaVersion ${old[0]!.schemaVersion} ` +
        `(${old[0]!.normalizedKey}); this smoke check reads schemaVersion 2 (an ETL older than the stack?)`,
    );
  }
  const sum = (field: 'rowsWritten' | 'identicalRows' | 'supersededRows' | 'rejectedRows') =>
    found.reduce((n, m) => n + (m[field] ?? 0), 0);
  const rows = sum('rowsWritten');
  const identical = sum('identicalRows');
  const runIds = [...new Set(found.map((m) => m.runId))].sort();
  const partitions: Record<string, { added: number; deleted: number }> = {};
  const touched = new Set(manifest.partitions.map((p) => p.value));
  for (const runId of runIds) {
    const report = await getJson<EtlRunReport>(s3, control, etlRunReportKey(dataset, runId));
    for (const write of report?.partitionsWritten ?? []) {
      if (!touched.has(write.value)) continue;
      const before = partitions[write.value] ?? { added: 0, deleted: 0 };
      partitions[write.value] = {
        added: before.added + write.rowsAdded,
        deleted: before.deleted + write.rowsDeleted,
      };
    }
  }
  return {
    rows,
    written: rows - identical,
    identical,
    superseded: sum('supersededRows'),
    rejected: sum('rejectedRows'),
    objectsMerged: found.length,
    objects: manifest.normalizedKeys.length,
    runIds,
    snapshotIds: [...new Set(found.flatMap((m) => (m.snapshotId ? [m.snapshotId] : [])))],
    partitions,
  };
}

/** The report as lines a person reads (the CLI prints these; `--json` prints the report). */
export function describeReport(report: SmokeReport): string[] {
  const lines = [
    `stack ${report.stack}, dataset ${report.dataset}`,
    `file s3://${report.landing.bucket}/${report.landing.key} (version ${report.landing.versionId ?? 'none'}, source id ${report.sourceId})`,
    `execution ${report.execution.arn ?? '(none found)'}: ${report.execution.status ?? '-'}`,
  ];
  if (report.execution.consoleUrl) lines.push(`  ${report.execution.consoleUrl}`);
  lines.push(`file status: ${report.fileStatus ?? '-'}`);
  if (report.rows)
    lines.push(`normalized rows: ${report.rows.normalized} (rejected ${report.rows.rejected})`);
  if (report.curated) {
    const c = report.curated;
    lines.push(
      `curated rows of this file: ${c.rows} (${c.written} written, ${c.identical} identical to rows already curated); ` +
        `${c.superseded} superseded by newer rows, ${c.rejected} rejected as key conflicts; ` +
        `${c.objectsMerged} of ${c.objects} normalized object(s) merged by ETL run(s) ${c.runIds.join(', ') || '-'}` +
        (c.snapshotIds.length > 0 ? ` (snapshot ${c.snapshotIds.join(', ')})` : ''),
    );
    for (const [value, n] of Object.entries(c.partitions))
      lines.push(`  partition ${value}: ${n.added} rows added, ${n.deleted} deleted by the run(s)`);
  }
  if (report.reconciliation) {
    const r = report.reconciliation;
    const file = r.file;
    lines.push(
      `reconciliation ${r.status ?? '(no result)'}${file ? `: this file ${file.passed} passed, ${file.failed} failed, ${file.pending} pending` : ''} (${r.key})`,
    );
    for (const check of file?.checks ?? []) {
      lines.push(
        `  ${check.status.padEnd(7)} ${check.check}: expected ${check.expected}, actual ${check.actual}`,
      );
    }
  }
  lines.push(report.ok ? 'SMOKE CHECK PASSED' : 'SMOKE CHECK FAILED');
  for (const problem of report.problems) lines.push(`  - ${problem}`);
  return lines;
}
