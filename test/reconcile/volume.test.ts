import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAlertData } from '../../lambdas/common/alerts';
import type { PipelineEnv } from '../../lambdas/common/env';
import { putJson } from '../../lambdas/common/s3';
import { makeReconcileHandler, type ReconcileResult } from '../../lambdas/reconcile/handler';
import { checkVolumes } from '../../lambdas/reconcile/volume';
import type { FileOutcome } from '../../lib/contracts/batch';
import type { ManifestSourceTotals, NormalizerManifest } from '../../lib/contracts/manifest';
import {
  type ArrivalRecord,
  arrivalKey,
  type VolumeRecord,
  volumeHistoryKey,
  volumeHistoryPrefix,
} from '../../lib/contracts/operations';
import {
  dataset,
  EXECUTION,
  RecordingSns,
  type SourceFile,
  sourceFile,
  startTestAws,
  type TestAws,
} from './fixtures';

let aws: TestAws;

beforeAll(async () => {
  aws = await startTestAws();
});

afterAll(async () => {
  await aws?.emulator.stop();
});

/** A capacity plan file whose manifest carries per-org-unit totals (as the normalizer writes them). */
function planFile(
  name: string,
  landedAt: string,
  sources: Record<string, { rows: number; headcount: string }>,
): SourceFile {
  const file = sourceFile(`workforce_capacity/${name}.csv`, [], { eventTime: landedAt });
  const totals: ManifestSourceTotals[] = Object.entries(sources)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([value, s]) => ({
      value,
      rowCount: s.rows,
      measures: {
        headcount: { sum: s.headcount, nullCount: 0 },
        fte: { sum: '0', nullCount: s.rows },
      },
    }));
  const rowCount = totals.reduce((n, s) => n + s.rowCount, 0);
  const manifest: NormalizerManifest = { ...file.manifest, rowCount, sources: totals };
  return { ...file, manifest, outcome: { ...file.outcome, rows: rowCount } };
}

const day = (n: number) => `2025-01-${String(n).padStart(2, '0')}T08:00:00Z`;
const usual = (n: number) =>
  planFile(`plan-${n}`, day(n), { Data: { rows: 10, headcount: '100' }, Ops: { rows: 4, headcount: '20' } });

async function listAll(env: PipelineEnv, prefix: string): Promise<string[]> {
  const out = await aws.s3.send(new ListObjectsV2Command({ Bucket: env.controlBucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!);
}

async function bytesOf(env: PipelineEnv, key: string): Promise<string> {
  const out = await aws.s3.send(new GetObjectCommand({ Bucket: env.controlBucket, Key: key }));
  return out.Body!.transformToString();
}

const deps = (env: PipelineEnv) => ({ s3: aws.s3, env });

describe('the volume check against the emulator', () => {
  it('records one arrival and one volume record per file and source, under the landing day, newest first', async () => {
    const env = await aws.newEnv();
    const file = usual(3);
    const out = await checkVolumes(deps(env), dataset(), [file.manifest]);

    expect(out.summary).toEqual({ recorded: 2, checked: 0, anomalies: 0, noVerdict: 2, skippedFiles: 0 });
    const data = await aws.read<VolumeRecord>(
      env.controlBucket,
      volumeHistoryKey('workforce_capacity', 'capacity_plan', 'Data', day(3), file.sourceId),
    );
    expect(data).toEqual({
      schemaVersion: 1,
      dataset: 'workforce_capacity',
      template: 'capacity_plan',
      source: 'Data',
      key: file.key,
      versionId: file.versionId,
      sourceId: file.sourceId,
      landedAt: day(3),
      rowCount: 10,
      measures: { headcount: '100', fte: '0' },
    });
    const arrival = await aws.read<ArrivalRecord>(
      env.controlBucket,
      arrivalKey('workforce_capacity', '2025-01-03', 'Ops', file.sourceId),
    );
    expect(arrival).toMatchObject({
      source: 'Ops',
      template: 'capacity_plan',
      rowCount: 4,
      landedAt: day(3),
    });
    expect(await listAll(env, 'operations/')).toHaveLength(4);
  });

  it('gives no verdict below minHistory, then compares with the median of the files before, never itself', async () => {
    const env = await aws.newEnv();
    const history: number[] = [];
    for (const n of [1, 2, 3]) {
      const out = await checkVolumes(deps(env), dataset(), [usual(n).manifest]);
      history.push(out.summary.noVerdict);
    }
    // 0, 1 and 2 previous files: below the default minimum of 3.
    expect(history).toEqual([2, 2, 2]);

    const small = planFile('plan-4', day(4), {
      Data: { rows: 1, headcount: '9' },
      Ops: { rows: 4, headcount: '20' },
    });
    const out = await checkVolumes(deps(env), dataset(), [small.manifest]);
    expect(out.summary).toEqual({ recorded: 2, checked: 2, anomalies: 1, noVerdict: 0, skippedFiles: 0 });
    expect(out.anomalies).toEqual([
      {
        key: small.key,
        versionId: small.versionId,
        sourceId: small.sourceId,
        template: 'capacity_plan',
        source: 'Data',
        landedAt: day(4),
        history: 3,
        historyPrefix: volumeHistoryPrefix('workforce_capacity', 'capacity_plan', 'Data'),
        outside: [
          { metric: 'rows', value: '1', median: '10', ratio: '0.1', band: { low: 0.5, high: 2 } },
          { metric: 'headcount', value: '9', median: '100', ratio: '0.09', band: { low: 0.5, high: 2 } },
        ],
      },
    ]);

    // An older file replayed after it: compared with the files that landed before it only.
    const replayed = await checkVolumes(deps(env), dataset(), [usual(3).manifest]);
    expect(replayed.summary).toMatchObject({ checked: 0, noVerdict: 2 });
  });

  it('rewrites the same bytes and reaches the same verdict when the batch is reconciled again', async () => {
    const env = await aws.newEnv();
    for (const n of [1, 2, 3, 4]) await checkVolumes(deps(env), dataset(), [usual(n).manifest]);
    const small = planFile('plan-5', day(5), {
      Data: { rows: 2, headcount: '100' },
      Ops: { rows: 4, headcount: '20' },
    });
    const first = await checkVolumes(deps(env), dataset(), [small.manifest]);
    const keys = await listAll(env, 'operations/');
    const bytes = await Promise.all(keys.map((k) => bytesOf(env, k)));

    const again = await checkVolumes(deps(env), dataset(), [small.manifest]);
    expect(again).toEqual(first);
    expect(await listAll(env, 'operations/')).toEqual(keys);
    expect(await Promise.all(keys.map((k) => bytesOf(env, k)))).toEqual(bytes);
    expect(keys).toHaveLength(5 * 4);
  });

  it('compares files of one batch with each other by landing time, whatever their order in the batch', async () => {
    const env = await aws.newEnv();
    const batch = [
      usual(4),
      usual(2),
      usual(1),
      planFile('plan-5', day(5), { Data: { rows: 30, headcount: '100' } }),
      usual(3),
    ];
    const out = await checkVolumes(
      deps(env),
      dataset(),
      batch.map((f) => f.manifest),
    );
    expect(out.summary).toEqual({ recorded: 9, checked: 3, anomalies: 1, noVerdict: 6, skippedFiles: 0 });
    expect(out.anomalies[0]).toMatchObject({
      key: 'workforce_capacity/plan-5.csv',
      source: 'Data',
      history: 4,
      outside: [{ metric: 'rows', value: '30', median: '10', ratio: '3' }],
    });
  });

  it('skips a file whose manifest has no per-source totals, and records a dataset without a source whole', async () => {
    const env = await aws.newEnv();
    const old = sourceFile('workforce_capacity/old.csv', [], { eventTime: day(1) });
    const out = await checkVolumes(deps(env), dataset(), [old.manifest]);
    expect(out.summary).toMatchObject({ recorded: 0, skippedFiles: 1 });
    expect(out.skipped[0]!.key).toBe('workforce_capacity/old.csv');

    const whole = { ...dataset(), source: undefined };
    const recorded = await checkVolumes(deps(env), whole, [old.manifest]);
    expect(recorded.summary).toMatchObject({ recorded: 1, skippedFiles: 0 });
    expect(await listAll(env, volumeHistoryPrefix('workforce_capacity', 'capacity_plan', ''))).toHaveLength(
      1,
    );
    expect(await listAll(env, 'operations/arrivals/workforce_capacity/2025-01-01/_/')).toHaveLength(1);
  });
});

describe('the reconcile action', () => {
  it('publishes one volume_anomaly warning per batch with the numbers, and returns its receipt and summary', async () => {
    const env = await aws.newEnv();
    for (const n of [1, 2, 3]) await checkVolumes(deps(env), dataset(), [usual(n).manifest]);
    const a = planFile('plan-4', day(4), {
      Data: { rows: 1, headcount: '10' },
      Ops: { rows: 4, headcount: '20' },
    });
    const b = planFile('plan-5', day(5), {
      Data: { rows: 10, headcount: '100' },
      Ops: { rows: 40, headcount: '20' },
    });
    for (const f of [a, b]) await putJson(aws.s3, env.controlBucket, f.manifestKey, f.manifest);
    const sns = new RecordingSns();
    const handler = makeReconcileHandler(
      env,
      { s3: aws.s3, glue: aws.glue, sns: sns.client },
      {
        reportWait: { attempts: 1, delayMs: 0 },
      },
    );
    const files: FileOutcome[] = [a.outcome, b.outcome];
    const output = (await handler({
      action: 'reconcile',
      dataset: 'workforce_capacity',
      executionId: EXECUTION,
      files,
    })) as ReconcileResult;

    const warnings = sns.alerts().filter((x) => x.kind === 'volume_anomaly');
    expect(warnings).toHaveLength(1);
    const [warning] = warnings;
    expect(warning!.severity).toBe('warning');
    expect(warning!.subject).toBe('[workforce_capacity] 2 files outside usual volume: rows x0.1 of median');
    expect(warning!.message).toContain('rows 1 vs median 10 (ratio 0.1; usual band 0.5 to 2)');
    expect(warning!.message).toContain('rows 40 vs median 4 (ratio 10; usual band 0.5 to 2)');
    const data = parseAlertData(warning!.message) as {
      anomalies: { key: string; source: string; history: number }[];
    };
    expect(data.anomalies.map((x) => [x.key, x.source, x.history])).toEqual([
      ['workforce_capacity/plan-4.csv', 'Data', 3],
      ['workforce_capacity/plan-5.csv', 'Ops', 4],
    ]);
    expect(output.volumeAlert).toMatchObject({
      kind: 'volume_anomaly',
      published: true,
      subject: warning!.subject,
    });
    expect(output.volume).toEqual({ recorded: 4, checked: 4, anomalies: 2, noVerdict: 0, skippedFiles: 0 });
  });

  it('returns no warning when every file is in band, and an unpublished receipt when SNS refuses it', async () => {
    const env = await aws.newEnv();
    for (const n of [1, 2, 3]) await checkVolumes(deps(env), dataset(), [usual(n).manifest]);
    const fine = usual(4);
    const odd = planFile('plan-5', day(5), { Data: { rows: 100, headcount: '100' } });
    for (const f of [fine, odd]) await putJson(aws.s3, env.controlBucket, f.manifestKey, f.manifest);
    const run = async (file: SourceFile, sns: RecordingSns) => {
      const handler = makeReconcileHandler(
        env,
        { s3: aws.s3, glue: aws.glue, sns: sns.client },
        {
          reportWait: { attempts: 1, delayMs: 0 },
        },
      );
      return (await handler({
        action: 'reconcile',
        dataset: 'workforce_capacity',
        executionId: EXECUTION,
        files: [file.outcome],
      })) as ReconcileResult;
    };
    const quiet = new RecordingSns();
    expect((await run(fine, quiet)).volumeAlert).toBeNull();
    expect(quiet.alerts().filter((x) => x.kind === 'volume_anomaly')).toEqual([]);

    const refusing = new RecordingSns();
    refusing.refuse = Object.assign(new Error('Rate exceeded'), { name: 'KMSThrottlingException' });
    await expect(run(odd, refusing)).resolves.toMatchObject({
      volumeAlert: { kind: 'volume_anomaly', published: false },
    });
  });

  it('reports a volume check that failed as an unpublished notice, after the reconciliation was recorded', async () => {
    const env = await aws.newEnv();
    for (const n of [1, 2, 3]) await checkVolumes(deps(env), dataset(), [usual(n).manifest]);
    // A history record damaged by hand: the check fails, the batch's reconciliation stands.
    await aws.s3.send(
      new PutObjectCommand({
        Bucket: env.controlBucket,
        Key: volumeHistoryKey('workforce_capacity', 'capacity_plan', 'Data', day(3), usual(3).sourceId),
        Body: '{"broken": true}',
      }),
    );
    const file = usual(4);
    await putJson(aws.s3, env.controlBucket, file.manifestKey, file.manifest);
    const sns = new RecordingSns();
    const handler = makeReconcileHandler(
      env,
      { s3: aws.s3, glue: aws.glue, sns: sns.client },
      {
        reportWait: { attempts: 1, delayMs: 0 },
      },
    );
    const output = (await handler({
      action: 'reconcile',
      dataset: 'workforce_capacity',
      executionId: EXECUTION,
      files: [file.outcome],
    })) as ReconcileResult;
    expect(output.volume).toBeNull();
    expect(output.volumeAlert).toEqual({
      kind: 'volume_anomaly',
      severity: 'warning',
      subject: 'volume check failed',
      published: false,
      error: expect.stringMatching(/^ControlDocumentError: volume record s3:\/\/.+ is missing or malformed$/),
    });
    expect(await aws.read(env.controlBucket, output.resultKey)).toBeDefined();
  });
});
