import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDatasets } from '../../lib/config';
import { manifestKey, processedMarkerKey, sourceIdOf } from '../../lib/contracts/layout';
import { type Emulator, startEmulator } from '../../local/emulator';
import { selectReplay } from '../../local/replay-selection';
import { s3ReplayStore } from '../../local/replay-store';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

let emulator: Emulator;
let s3: S3Client;
const BUCKETS = { landing: 'replay-landing', control: 'replay-control', quarantine: 'replay-quarantine' };
const billing = loadDatasets().find((d) => d.name === 'cloud_billing')!;

beforeAll(async () => {
  emulator = await startEmulator();
  s3 = new S3Client({
    region: 'us-east-1',
    endpoint: emulator.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  for (const bucket of Object.values(BUCKETS)) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(
    new PutBucketVersioningCommand({
      Bucket: BUCKETS.landing,
      VersioningConfiguration: { Status: 'Enabled' },
    }),
  );
});
afterAll(async () => {
  s3?.destroy();
  await emulator?.stop();
});

const put = async (bucket: string, key: string, body: string) =>
  (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))).VersionId ?? null;
const putJson = (bucket: string, key: string, document: unknown) =>
  put(bucket, key, JSON.stringify(document));

describe('replay selection against the S3 API (the emulator)', () => {
  it('lists every version but delete markers, newest first per key, and selects quarantined and prefixed versions', async () => {
    const v1 = await put(BUCKETS.landing, 'cloud_billing/2024/a.csv', 'first');
    const v2 = await put(BUCKETS.landing, 'cloud_billing/2024/a.csv', 'second');
    const b1 = await put(BUCKETS.landing, 'cloud_billing/2024/b.csv', 'bee');
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKETS.landing, Key: 'cloud_billing/2024/b.csv' }));
    await put(BUCKETS.landing, 'workforce_capacity/plan.csv', 'other dataset');
    expect(v1 && v2 && b1).toBeTruthy();

    const store = s3ReplayStore(s3);
    const listed = await store.listVersions(BUCKETS.landing, 'cloud_billing/');
    expect(listed.map((v) => [v.key, v.versionId, v.size])).toEqual([
      ['cloud_billing/2024/a.csv', v2, 6],
      ['cloud_billing/2024/a.csv', v1, 5],
      ['cloud_billing/2024/b.csv', b1, 3],
    ]);

    // v1 curated (manifest and marker), v2 quarantined, b1 not processed (deleted since: still a version).
    const s1 = sourceIdOf('cloud_billing/2024/a.csv', v1);
    const normalized = `cloud_billing/billing_period=2024-10/${s1}.jsonl.gz`;
    await putJson(BUCKETS.control, manifestKey('cloud_billing', s1), {
      status: 'normalized',
      rowCount: 1,
      normalizedKeys: [normalized],
    });
    await putJson(BUCKETS.control, processedMarkerKey(normalized), {});
    const s2 = sourceIdOf('cloud_billing/2024/a.csv', v2);
    await putJson(BUCKETS.quarantine, `files/cloud_billing/${s2}/reason.json`, {
      source: { bucket: BUCKETS.landing, key: 'cloud_billing/2024/a.csv', versionId: v2, sourceId: s2 },
      reason: 'unreadable_file',
      errorName: 'UnreadableFileError',
      detail: 'corrupt',
      quarantinedAt: '2024-10-01T00:00:00.000Z',
    });

    const quarantined = await selectReplay(store, BUCKETS, billing, { kind: 'quarantined' });
    expect(quarantined.map((c) => [c.versionId, c.state, c.olderVersions])).toEqual([[v2, 'not_curated', 1]]);

    const prefixed = await selectReplay(store, BUCKETS, billing, { kind: 'prefix', prefix: '2024/' });
    expect(prefixed.map((c) => [c.key, c.versionId, c.state])).toEqual([
      ['cloud_billing/2024/a.csv', v1, 'already_curated'],
      ['cloud_billing/2024/a.csv', v2, 'not_curated'],
      ['cloud_billing/2024/b.csv', b1, 'not_curated'],
    ]);
    const today = new Date().toISOString().slice(0, 10);
    const inRange = await selectReplay(store, BUCKETS, billing, { kind: 'range', from: today, to: today });
    expect(inRange).toHaveLength(3);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    expect(
      await selectReplay(store, BUCKETS, billing, { kind: 'range', from: yesterday, to: yesterday }),
    ).toEqual([]);
  });

  it('a restored object keeps its version id (the local state between commands)', async () => {
    await put(BUCKETS.landing, 'cloud_billing/restored.csv', 'body');
    const missing = await emulator.setObjectMetadata([
      {
        bucket: BUCKETS.landing,
        key: 'cloud_billing/restored.csv',
        lastModified: '2024-10-01T10:00:00.000Z',
        etag: '"0123456789abcdef0123456789abcdef"',
        versionId: 'saved-version-id',
      },
    ]);
    expect(missing).toEqual([]);
    const head = await s3.send(
      new HeadObjectCommand({ Bucket: BUCKETS.landing, Key: 'cloud_billing/restored.csv' }),
    );
    expect(head.VersionId).toBe('saved-version-id');
    expect(head.LastModified?.toISOString()).toBe('2024-10-01T10:00:00.000Z');
    const got = await s3.send(
      new GetObjectCommand({
        Bucket: BUCKETS.landing,
        Key: 'cloud_billing/restored.csv',
        VersionId: 'saved-version-id',
      }),
    );
    expect(await got.Body!.transformToString()).toBe('body');
  });
});
