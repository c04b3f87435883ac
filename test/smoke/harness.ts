/**
 * A deployed pipeline, as far as the smoke check can see it, in the local AWS emulator (moto):
 * a CloudFormation stack with the outputs the stack writes (lib/contracts/stack-outputs.ts)
 * naming real buckets (landing versioned) and a Step Functions state machine that moto
 * executes, and a stand-in for what happens after an upload on AWS. That stand-in watches the
 * landing bucket as the EventBridge rule and Pipe would, runs the real normalizer (and the
 * real quarantine on a normalize error) on each new smoke object, writes what the Glue job
 * writes for it (run report, then processed markers, per the contracts), runs the real
 * reconciliation, and starts the execution with the Pipe's batch as input. No AWS account.
 */
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import {
  CreateBucketCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { CreateStateMachineCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { Decimal } from '../../lambdas/common/decimal';
import type { PipelineEnv } from '../../lambdas/common/env';
import { getJson, putJson } from '../../lambdas/common/s3';
import { normalizeFile } from '../../lambdas/normalize/core';
import { quarantineFile } from '../../lambdas/quarantine/core';
import { reconcileBatch } from '../../lambdas/reconcile/core';
import { datasetByName, loadDatasets } from '../../lib/config';
import type { BatchFile, FileOutcome } from '../../lib/contracts/batch';
import { etlRunReportKey, processedMarkerKey } from '../../lib/contracts/layout';
import type { NormalizerManifest } from '../../lib/contracts/manifest';
import type { EtlRunReport, EtlSourceTotals, ProcessedMarker } from '../../lib/contracts/run-report';
import { STACK_OUTPUTS } from '../../lib/contracts/stack-outputs';
import { type Emulator, startEmulator } from '../../local/emulator';
import { eventKey, type SmokeClients } from '../../smoke/smoke';

export const DATASET = 'cloud_billing';

export interface Harness {
  readonly emulator: Emulator;
  readonly clients: SmokeClients & { readonly cloudFormation: CloudFormationClient };
  stop(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const emulator = await startEmulator();
  // moto runs state machine definitions only when asked to (its default returns static data).
  const config = await fetch(`${emulator.endpoint}/moto-api/config`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ stepfunctions: { execute_state_machine: true } }),
  });
  if (!config.ok) throw new Error(`moto config: HTTP ${config.status}`);
  const common = {
    endpoint: emulator.endpoint,
    region: emulator.env.AWS_REGION!,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };
  const clients = {
    cloudFormation: new CloudFormationClient(common),
    s3: new S3Client({ ...common, forcePathStyle: true }),
    sfn: new SFNClient(common),
  };
  return {
    emulator,
    clients,
    async stop() {
      for (const client of Object.values(clients)) client.destroy();
      await emulator.stop();
    },
  };
}

/** How the state machine's execution ends once started. */
export type ExecutionEnd = 'succeed' | { readonly error: string; readonly cause: string };

export interface Deployment {
  readonly stackName: string;
  readonly env: PipelineEnv;
  readonly stateMachineArn: string;
  readonly landingPrefix: string;
}

let deployments = 0;
let executions = 0;

/** Buckets, a state machine and a stack whose outputs name them (as `cdk deploy` leaves them). */
export async function deploy(
  h: Harness,
  options: {
    readonly end?: ExecutionEnd;
    /** Outputs to leave out (a stack deployed by an older version). */
    readonly withoutOutputs?: readonly string[];
  } = {},
): Promise<Deployment> {
  const n = ++deployments;
  const name = (zone: string) => `smoke${n}-${zone}`;
  const env: PipelineEnv = {
    pipelineName: `smoke${n}`,
    landingBucket: name('landing'),
    normalizedBucket: name('normalized'),
    curatedBucket: name('curated'),
    quarantineBucket: name('quarantine'),
    controlBucket: name('control'),
    glueDatabase: `smoke${n}`,
    endpointUrl: h.emulator.endpoint,
    region: h.emulator.env.AWS_REGION!,
  };
  const { s3, sfn, cloudFormation } = h.clients;
  for (const bucket of [
    env.landingBucket,
    env.normalizedBucket,
    env.curatedBucket,
    env.quarantineBucket,
    env.controlBucket,
  ]) {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
  await s3.send(
    new PutBucketVersioningCommand({
      Bucket: env.landingBucket,
      VersioningConfiguration: { Status: 'Enabled' },
    }),
  );
  const end = options.end ?? 'succeed';
  // The execution runs for a second (the smoke check sees it RUNNING first), then ends.
  const definition = {
    StartAt: 'Work',
    States: {
      Work: { Type: 'Wait', Seconds: 1, Next: 'End' },
      End: end === 'succeed' ? { Type: 'Succeed' } : { Type: 'Fail', Error: end.error, Cause: end.cause },
    },
  };
  const machine = await sfn.send(
    new CreateStateMachineCommand({
      name: `smoke${n}-workflow`,
      definition: JSON.stringify(definition),
      roleArn: 'arn:aws:iam::000000000000:role/smoke-workflow',
    }),
  );
  const landingPrefix = datasetByName(DATASET)!.landingPrefix;
  const outputs: Record<string, string> = {
    [STACK_OUTPUTS.landingBucket]: env.landingBucket,
    [STACK_OUTPUTS.controlBucket]: env.controlBucket,
    [STACK_OUTPUTS.curatedBucket]: env.curatedBucket,
    [STACK_OUTPUTS.quarantineBucket]: env.quarantineBucket,
    [STACK_OUTPUTS.stateMachineArn]: machine.stateMachineArn!,
    [STACK_OUTPUTS.glueDatabase]: env.glueDatabase,
    [STACK_OUTPUTS.alertTopicArn]: `arn:aws:sns:us-east-1:000000000000:smoke${n}-alerts`,
    [STACK_OUTPUTS.datasetLandingPrefixes]: JSON.stringify(
      Object.fromEntries(loadDatasets().map((d) => [d.name, d.landingPrefix])),
    ),
  };
  const stackName = `SmokeTest${n}`;
  await cloudFormation.send(
    new CreateStackCommand({
      StackName: stackName,
      TemplateBody: JSON.stringify({
        Resources: { Alerts: { Type: 'AWS::SNS::Topic' } },
        Outputs: Object.fromEntries(
          Object.entries(outputs)
            .filter(([key]) => !options.withoutOutputs?.includes(key))
            .map(([key, value]) => [key, { Value: value }]),
        ),
      }),
    }),
  );
  return { stackName, env, stateMachineArn: machine.stateMachineArn!, landingPrefix };
}

/** What the stand-in Glue job does with a normalized file. */
export type EtlBehaviour = 'merge' | 'lose-a-row';

export interface PipelineOptions {
  /** Whether the Pipe starts an execution at all (false: the check must time out). @default true */
  readonly start?: boolean;
  /** @default 'merge' */
  readonly etl?: EtlBehaviour;
}

export interface RunningPipeline {
  /** Outcomes of the files processed so far, in order. */
  readonly outcomes: FileOutcome[];
  stop(): Promise<void>;
}

/** The file whose rows a partition holds. */
interface CuratedBy {
  readonly sourceId: string;
  readonly sourceKey: string;
}

/** Per deployment: object versions already taken, partitions whose content is curated (and by which file). */
const seen = new WeakMap<Deployment, { handled: Set<string>; curated: Map<string, CuratedBy> }>();

/** Watches the landing bucket's smoke prefix and processes each new object version. */
export function runPipeline(h: Harness, d: Deployment, options: PipelineOptions = {}): RunningPipeline {
  if (!seen.has(d)) seen.set(d, { handled: new Set(), curated: new Map() });
  const { handled, curated } = seen.get(d)!;
  const outcomes: FileOutcome[] = [];
  let stopped = false;
  let failure: unknown;
  const loop = (async () => {
    while (!stopped && failure === undefined) {
      const listed = await h.clients.s3.send(
        new ListObjectVersionsCommand({ Bucket: d.env.landingBucket, Prefix: `${d.landingPrefix}smoke/` }),
      );
      const fresh = (listed.Versions ?? []).filter((v) => !handled.has(`${v.Key}@${v.VersionId}`));
      for (const version of fresh.sort((a, b) => a.LastModified!.getTime() - b.LastModified!.getTime())) {
        handled.add(`${version.Key}@${version.VersionId}`);
        if (options.start === false) continue;
        const file: BatchFile = {
          dataset: DATASET,
          bucket: d.env.landingBucket,
          key: eventKey(version.Key!),
          versionId: version.VersionId ?? null,
          size: version.Size ?? 0,
          // As the S3 event would carry them: the object's creation time (to the second) and a
          // sequencer growing with each version processed.
          eventTime: version.LastModified!.toISOString().replace(/\.\d{3}Z$/, 'Z'),
          sequencer: handled.size.toString(16).toUpperCase().padStart(18, '0'),
        };
        const executionName = `pipe-${++executions}`;
        const executionArn = `${d.stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionName}`;
        const outcome = await processFile(h, d, file, executionArn, options.etl ?? 'merge', curated);
        outcomes.push(outcome);
        await h.clients.sfn.send(
          new StartExecutionCommand({
            stateMachineArn: d.stateMachineArn,
            name: executionName,
            input: JSON.stringify([file]),
          }),
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })().catch((error: unknown) => {
    failure = error;
  });
  return {
    outcomes,
    async stop() {
      stopped = true;
      await loop;
      if (failure !== undefined) throw failure;
    },
  };
}

async function processFile(
  h: Harness,
  d: Deployment,
  file: BatchFile,
  executionArn: string,
  etl: EtlBehaviour,
  curated: Map<string, CuratedBy>,
): Promise<FileOutcome> {
  const s3 = h.clients.s3;
  const dataset = datasetByName(DATASET)!;
  let outcome: FileOutcome;
  try {
    outcome = await normalizeFile(
      { s3, env: d.env, datasets: loadDatasets() },
      { dataset: DATASET, file, executionId: executionArn },
    );
  } catch (error) {
    const e = error as Error;
    return quarantineFile(
      { s3, env: d.env },
      { dataset: DATASET, file, error: { Error: e.name, Cause: e.message }, executionId: executionArn },
    );
  }
  if (outcome.status === 'normalized') {
    const manifest = (await getJson<NormalizerManifest>(s3, d.env.controlBucket, outcome.manifestKey!))!;
    await mergeLikeTheJob(s3, d, manifest, etl, curated);
  }
  await reconcileBatch({ s3, env: { controlBucket: d.env.controlBucket } }, dataset, executionArn, [outcome]);
  return outcome;
}

/**
 * The Glue job's control documents for one normalized file (schema version 2): the run report,
 * then a processed marker per normalized object. The sample's rows have the keys of an earlier
 * smoke run's rows, so, as the job does under cloud_billing's conflict policy `latest`, they are
 * all inserted and replace the earlier file's rows (a restatement, reason `key`);
 * `lose-a-row` accounts for one row fewer.
 */
async function mergeLikeTheJob(
  s3: S3Client,
  d: Deployment,
  manifest: NormalizerManifest,
  etl: EtlBehaviour,
  curated: Map<string, CuratedBy>,
): Promise<void> {
  const runId = `jr_${manifest.source.sourceId}`;
  const snapshotId = String(1000 + curated.size);
  const measures = Object.keys(manifest.measures);
  const zero = Object.fromEntries(measures.map((m) => [m, '0']));
  const markers: ProcessedMarker[] = manifest.partitions.map((p, i) => {
    const sums = Object.fromEntries(measures.map((m) => [m, p.measures[m]?.sum ?? '0']));
    const lost = etl === 'lose-a-row' && i === 0 ? 1 : 0;
    return {
      schemaVersion: 2,
      dataset: DATASET,
      runId,
      normalizedKey: p.key,
      sourceId: manifest.source.sourceId,
      snapshotId,
      rowsRead: p.rowCount,
      rowsWritten: p.rowCount - lost,
      identicalRows: 0,
      supersededRows: 0,
      supersededMeasures: zero,
      supersededBy: [],
      rejectedRows: 0,
      rejectedMeasures: zero,
      conflictsWith: [],
      rejectedKey: null,
      duplicateRows: 0,
      measures: sums,
      identicalMeasures: zero,
    };
  });
  const add = (key: 'measures' | 'identicalMeasures' | 'supersededMeasures' | 'rejectedMeasures') =>
    Object.fromEntries(
      measures.map((m) => [m, Decimal.sum(markers.map((x) => Decimal.parse(x[key][m]!))).toString()]),
    );
  const count = (
    key: 'rowsRead' | 'rowsWritten' | 'identicalRows' | 'supersededRows' | 'rejectedRows' | 'duplicateRows',
  ) => markers.reduce((n, m) => n + m[key], 0);
  const source: EtlSourceTotals = {
    sourceId: manifest.source.sourceId,
    sourceKey: manifest.source.key,
    sourceVersion: manifest.source.versionId,
    normalizedKeys: markers.map((m) => m.normalizedKey).sort(),
    rowsRead: count('rowsRead'),
    rowsWritten: count('rowsWritten'),
    identicalRows: count('identicalRows'),
    supersededRows: count('supersededRows'),
    supersededMeasures: add('supersededMeasures'),
    supersededBy: [],
    rejectedRows: count('rejectedRows'),
    rejectedMeasures: add('rejectedMeasures'),
    conflictsWith: [],
    duplicateRows: count('duplicateRows'),
    measures: add('measures'),
    identicalMeasures: add('identicalMeasures'),
  };
  const replaced = manifest.partitions.flatMap((p) => {
    const before = curated.get(p.value);
    return before ? [{ partition: p, before }] : [];
  });
  const report: EtlRunReport = {
    schemaVersion: 2,
    dataset: DATASET,
    runId,
    jobName: `${d.env.pipelineName}-${DATASET}-curate`,
    executionId: null,
    startedAt: new Date().toISOString(),
    finishedAt: new Date().toISOString(),
    pushDownPredicate: null,
    boundedFiles: 450,
    filesRead: markers.length,
    capReached: false,
    filesLeft: 0,
    snapshotId,
    previousSnapshotId: curated.size > 0 ? String(1000 + curated.size - 1) : null,
    sources: [source],
    // One entry per replaced file, its rows summed over the partitions (as the job reports them).
    restatements: [...new Set(replaced.map((r) => r.before.sourceId))].map((sourceId) => {
      const of = replaced.filter((r) => r.before.sourceId === sourceId);
      return {
        sourceId: manifest.source.sourceId,
        sourceKey: manifest.source.key,
        supersededSourceId: sourceId,
        supersededSourceKey: of[0]!.before.sourceKey,
        reason: 'key' as const,
        rows: of.reduce((n, r) => n + r.partition.rowCount, 0),
      };
    }),
    conflicts: [],
    partitionsWritten: manifest.partitions.map((p) => ({
      value: p.value,
      rowsAdded: p.rowCount,
      rowsDeleted: curated.has(p.value) ? p.rowCount : 0,
    })),
    curatedTable: DATASET,
    tableLocation: `s3://${d.env.curatedBucket}/${DATASET}`,
    addedColumns: [],
    dimensions: [],
  };
  await putJson(s3, d.env.controlBucket, etlRunReportKey(DATASET, runId), report);
  for (const marker of markers)
    await putJson(s3, d.env.controlBucket, processedMarkerKey(marker.normalizedKey), marker);
  for (const p of manifest.partitions)
    curated.set(p.value, { sourceId: manifest.source.sourceId, sourceKey: manifest.source.key });
}
