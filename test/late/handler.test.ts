/**
 * The late-data check against the emulator's S3: arrival records written per the contract
 * (lib/contracts/operations.ts), the findings and claims it keeps, the alerts it publishes.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAlertData } from '../../lambdas/common/alerts';
import type { PipelineEnv } from '../../lambdas/common/env';
import { listKeys, putJson } from '../../lambdas/common/s3';
import { LateAlertError, LateCheckError, makeLateHandler } from '../../lambdas/late/handler';
import { InvalidEventError } from '../../lambdas/normalize/errors';
import { datasetByName } from '../../lib/config';
import { sourceIdOf } from '../../lib/contracts/layout';
import {
  type ArrivalRecord,
  arrivalKey,
  LATE_SENT_PREFIX,
  type LateFinding,
  lateFindingKey,
  lateOpenPrefix,
} from '../../lib/contracts/operations';
import { RecordingSns, startTestAws, type TestAws } from '../reconcile/fixtures';

const billing = datasetByName('cloud_billing')!;

let aws: TestAws;
beforeAll(async () => {
  aws = await startTestAws();
});
afterAll(async () => {
  await aws?.emulator.stop();
});

async function land(s3: S3Client, bucket: string, source: string, landedAt: string, template = 'focus') {
  const key = `cloud_billing/${source}/export-${landedAt}.csv`;
  const sourceId = sourceIdOf(key, 'v1');
  const record: ArrivalRecord = {
    schemaVersion: 1,
    dataset: 'cloud_billing',
    source,
    template,
    key,
    versionId: 'v1',
    sourceId,
    landedAt,
    rowCount: 10,
  };
  await putJson(s3, bucket, arrivalKey('cloud_billing', landedAt.slice(0, 10), source, sourceId), record);
  return key;
}

async function setup() {
  const env: PipelineEnv = await aws.newEnv();
  const sns = new RecordingSns();
  const check = makeLateHandler(
    env,
    { s3: aws.s3, sns: sns.client },
    { datasets: [billing], metrics: { disabled: true } },
  );
  const finding = (source: string) =>
    aws.read<LateFinding>(env.controlBucket, lateFindingKey('cloud_billing', 'daily_export', source));
  return { env, sns, check, finding };
}

describe('late-data check', () => {
  it('alerts the late sources once, keeps them open, reminds once the next day and recovers when data lands', async () => {
    const { env, sns, check, finding } = await setup();
    const lastAws = await land(aws.s3, env.controlBucket, 'AWS', '2025-03-10T04:00:00.000Z');
    await land(aws.s3, env.controlBucket, 'AWS', '2025-03-11T04:00:00.000Z');
    await land(aws.s3, env.controlBucket, 'Oracle', '2025-03-10T05:00:00.000Z');

    // 2025-03-12 07:00: the latest due period is 2025-03-11 (due 23:59).
    const first = await check({ action: 'check', now: '2025-03-12T07:00:00Z' });
    expect(first.datasets[0]).toMatchObject({
      dataset: 'cloud_billing',
      late: [
        { source: 'Microsoft', since: '2025-03-11T23:59:00.000Z', alerted: true, filesSeen: 0 },
        { source: 'Oracle', since: '2025-03-11T23:59:00.000Z', alerted: true },
      ],
      stillLate: [],
      recovered: [],
      open: 2,
    });
    const [alert] = sns.alerts();
    expect(sns.alerts()).toHaveLength(1);
    expect(alert).toMatchObject({ kind: 'late', severity: 'warning', dataset: 'cloud_billing' });
    expect(alert!.subject).toBe('[cloud_billing] Late: daily_export, 2 sources');
    expect(alert!.message).toContain(
      '- provider_name "Oracle": 0 of 1 file(s) for the period from 2025-03-11T00:00:00.000Z, due 2025-03-11T23:59:00.000Z',
    );
    expect(alert!.message).toContain(
      'missing since 2025-03-11T23:59:00.000Z; last arrival 2025-03-10T05:00:00.000Z',
    );
    expect(parseAlertData(alert!.message)).toMatchObject({
      kind: 'late',
      expectation: 'daily_export',
      sourceName: 'provider_name',
      late: [
        { source: 'Microsoft', missingSince: '2025-03-11T23:59:00.000Z', lastArrival: null },
        { source: 'Oracle', lastArrival: { landedAt: '2025-03-10T05:00:00.000Z' } },
      ],
    });
    expect(await finding('AWS')).toBeUndefined();
    expect(await finding('Oracle')).toMatchObject({
      since: '2025-03-11T23:59:00.000Z',
      lastAlertedAt: '2025-03-12T07:00:00.000Z',
      alerts: 1,
      lastArrival: { key: 'cloud_billing/Oracle/export-2025-03-10T05:00:00.000Z.csv' },
    });
    expect(lastAws).toContain('AWS');

    // The same check delivered again, and a later check the same day: nothing new is sent.
    await check({ action: 'check', now: '2025-03-12T07:00:00Z' });
    const later = await check({ action: 'check', now: '2025-03-12T15:00:00Z' });
    expect(sns.alerts()).toHaveLength(1);
    expect(later.datasets[0]!.stillLate.map((f) => [f.source, f.alerted])).toEqual([
      ['Microsoft', false],
      ['Oracle', false],
    ]);

    // The next day, still nothing: one reminder, missing since the first due time.
    await land(aws.s3, env.controlBucket, 'AWS', '2025-03-12T04:00:00.000Z');
    await check({ action: 'check', now: '2025-03-13T07:00:00Z' });
    await check({ action: 'check', now: '2025-03-13T07:30:00Z' });
    expect(sns.alerts()).toHaveLength(2);
    expect(sns.alerts()[1]!.subject).toBe('[cloud_billing] Still late: daily_export, 2 sources');
    expect(await finding('Microsoft')).toMatchObject({
      since: '2025-03-11T23:59:00.000Z',
      dueAt: '2025-03-12T23:59:00.000Z',
      alerts: 2,
    });

    // Oracle's export lands: recovered (info), its finding closed; Microsoft stays open, not re-alerted today.
    const oracleKey = await land(aws.s3, env.controlBucket, 'Oracle', '2025-03-13T08:00:00.000Z');
    const recovery = await check({ action: 'check', now: '2025-03-13T09:00:00Z' });
    expect(recovery.datasets[0]).toMatchObject({
      recovered: [{ source: 'Oracle', alerted: true }],
      stillLate: [{ source: 'Microsoft', alerted: false }],
      open: 1,
    });
    expect(sns.alerts()).toHaveLength(3);
    const recovered = sns.alerts()[2]!;
    expect(recovered).toMatchObject({ kind: 'recovered', severity: 'info' });
    expect(recovered.subject).toBe('[cloud_billing] Recovered: daily_export, provider_name "Oracle"');
    expect(parseAlertData(recovered.message)).toMatchObject({
      recovered: [
        { source: 'Oracle', missingSince: '2025-03-11T23:59:00.000Z', files: [{ key: oracleKey }] },
      ],
    });
    expect(await finding('Oracle')).toBeUndefined();
    expect(await listKeys(aws.s3, env.controlBucket, lateOpenPrefix('cloud_billing'))).toEqual([
      lateFindingKey('cloud_billing', 'daily_export', 'Microsoft'),
    ]);
    // Delivered again: no second notice.
    await check({ action: 'check', now: '2025-03-13T09:00:00Z' });
    expect(sns.alerts()).toHaveLength(3);
  });

  it('sends one alert when two deliveries of the same check run at once', async () => {
    const { env, sns, check } = await setup();
    const results = await Promise.all(
      [1, 2, 3].map(() => check({ action: 'check', now: '2025-03-12T07:00:00Z' })),
    );
    expect(sns.alerts()).toHaveLength(1);
    expect(sns.alerts()[0]!.subject).toBe('[cloud_billing] Late: daily_export, 3 sources');
    expect(results.flatMap((r) => r.datasets[0]!.late.filter((f) => f.alerted))).toHaveLength(3);
    const claims = await listKeys(aws.s3, env.controlBucket, LATE_SENT_PREFIX);
    expect(claims).toHaveLength(3);
    expect(claims[0]).toMatch(
      /^operations\/late\/sent\/cloud_billing\/daily_export\/AWS\/20250311T235900Z\/late-2025-03-12\.json$/,
    );
  });

  it('fails the invocation when SNS refuses, keeps the finding, and alerts on the next delivery', async () => {
    const { env, sns, check, finding } = await setup();
    sns.refuse = Object.assign(new Error('key disabled'), { name: 'KMSDisabledException' });
    await expect(check({ action: 'check', now: '2025-03-12T07:00:00Z' })).rejects.toThrow(LateAlertError);
    expect(await finding('AWS')).toMatchObject({ lastAlertedAt: null, alerts: 0 });
    expect(await listKeys(aws.s3, env.controlBucket, LATE_SENT_PREFIX)).toEqual([]);
    sns.refuse = undefined;
    await check({ action: 'check', now: '2025-03-12T07:00:00Z' });
    expect(sns.alerts()).toHaveLength(1);
    expect(await finding('AWS')).toMatchObject({ lastAlertedAt: '2025-03-12T07:00:00.000Z', alerts: 1 });
  });

  it('checks the other datasets when one has an unreadable arrival record, then fails naming it', async () => {
    const env = await aws.newEnv();
    const sns = new RecordingSns();
    const check = makeLateHandler(
      env,
      { s3: aws.s3, sns: sns.client },
      { datasets: [billing, datasetByName('purchase_orders')!], metrics: { disabled: true } },
    );
    await putJson(aws.s3, env.controlBucket, arrivalKey('cloud_billing', '2025-03-11', 'AWS', 'x'), {
      schemaVersion: 2,
    });
    await expect(check({ action: 'check', now: '2025-03-12T07:00:00Z' })).rejects.toThrow(
      new LateCheckError(
        'the late check failed for cloud_billing: LateStateError: arrival record operations/arrivals/cloud_billing/2025-03-11/AWS/x.json is not an ArrivalRecord of schema version 1',
      ),
    );
    expect(sns.alerts().map((a) => a.dataset)).toEqual(['purchase_orders']);
  });

  it('counts only files of the expected template and refuses a dataset without expectations', async () => {
    const { env, sns, check } = await setup();
    for (const source of ['AWS', 'Microsoft'])
      await land(aws.s3, env.controlBucket, source, '2025-03-11T04:00:00.000Z');
    await land(aws.s3, env.controlBucket, 'Oracle', '2025-03-11T04:00:00.000Z', 'account_hierarchy');
    const result = await check({ action: 'check', now: '2025-03-12T07:00:00Z', dataset: 'cloud_billing' });
    expect(result.datasets[0]!.late.map((f) => f.source)).toEqual(['Oracle']);
    expect(sns.alerts()[0]!.subject).toBe('[cloud_billing] Late: daily_export, provider_name "Oracle"');
    await expect(check({ action: 'check', dataset: 'account_hierarchy' })).rejects.toThrow(InvalidEventError);
    await expect(check({ action: 'check', now: 'yesterday' })).rejects.toThrow(InvalidEventError);
  });
});
