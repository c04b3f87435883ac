import { gunzipSync } from 'node:zlib';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { PipelineEnv } from '../../lambdas/common/env';
import type { BatchFile, StatesError } from '../../lib/contracts/batch';
import { type Emulator, startEmulator } from '../../local/emulator';

/** A moto-backed S3 with the pipeline's buckets, for handler tests. */
export interface S3Harness {
  readonly emulator: Emulator;
  readonly s3: S3Client;
  readonly env: PipelineEnv;
  stop(): Promise<void>;
}

export const BUCKETS = {
  landing: 'test-landing',
  normalized: 'test-normalized',
  curated: 'test-curated',
  quarantine: 'test-quarantine',
  control: 'test-control',
} as const;

export async function startS3(): Promise<S3Harness> {
  const emulator = await startEmulator();
  const s3 = new S3Client({
    endpoint: emulator.endpoint,
    region: emulator.env.AWS_REGION,
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
  const env: PipelineEnv = {
    pipelineName: 'test',
    landingBucket: BUCKETS.landing,
    normalizedBucket: BUCKETS.normalized,
    curatedBucket: BUCKETS.curated,
    quarantineBucket: BUCKETS.quarantine,
    controlBucket: BUCKETS.control,
    glueDatabase: 'test',
    endpointUrl: emulator.endpoint,
    region: emulator.env.AWS_REGION!,
  };
  return {
    emulator,
    s3,
    env,
    async stop() {
      s3.destroy();
      await emulator.stop();
    },
  };
}

/** How S3 writes a key into an event: URL-encoded, space as `+`, `/` kept. */
export function s3EventKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
}

let landings = 0;

/**
 * Uploads to landing; returns the batch file as the Pipe delivers it (key URL-encoded), with
 * the event's time (now, to the second, as EventBridge writes it) and a sequencer that grows
 * with each upload, unless `landing` names them.
 */
export async function land(
  h: S3Harness,
  dataset: string,
  key: string,
  body: Uint8Array | string,
  landing: Partial<Pick<BatchFile, 'eventTime' | 'sequencer'>> = {},
): Promise<BatchFile> {
  const put = await h.s3.send(new PutObjectCommand({ Bucket: BUCKETS.landing, Key: key, Body: body }));
  return {
    dataset,
    bucket: BUCKETS.landing,
    key: s3EventKey(key),
    versionId: put.VersionId ?? null,
    size: typeof body === 'string' ? Buffer.byteLength(body) : body.length,
    eventTime: landing.eventTime ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    sequencer: landing.sequencer ?? (++landings).toString(16).toUpperCase().padStart(18, '0'),
  };
}

export async function listKeys(h: S3Harness, bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await h.s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) keys.push(o.Key!);
    token = page.NextContinuationToken;
  } while (token);
  return keys.sort();
}

export async function getBytes(h: S3Harness, bucket: string, key: string): Promise<Buffer> {
  const response = await h.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await response.Body!.transformToByteArray());
}

export async function getJsonObject<T>(h: S3Harness, bucket: string, key: string): Promise<T> {
  return JSON.parse((await getBytes(h, bucket, key)).toString('utf8')) as T;
}

/** Rows of a normalized object (gzip JSON Lines). */
export async function readNormalized(h: S3Harness, key: string): Promise<Record<string, string | null>[]> {
  const text = gunzipSync(await getBytes(h, BUCKETS.normalized, key)).toString('utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, string | null>);
}

export async function readJsonLines<T>(h: S3Harness, bucket: string, key: string): Promise<T[]> {
  return (await getBytes(h, bucket, key))
    .toString('utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as T);
}

/** Empties every bucket but landing's history (each test starts from clean output zones). */
export async function clearOutputs(h: S3Harness): Promise<void> {
  for (const bucket of [BUCKETS.normalized, BUCKETS.quarantine, BUCKETS.control, BUCKETS.landing]) {
    if (bucket === BUCKETS.landing) {
      const versions = await h.s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
      for (const v of [...(versions.Versions ?? []), ...(versions.DeleteMarkers ?? [])]) {
        await h.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: v.Key!, VersionId: v.VersionId! }));
      }
      continue;
    }
    for (const key of await listKeys(h, bucket)) {
      await h.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    }
  }
}

/** The error object a Step Functions Catch puts at ResultPath for a failed Lambda task. */
export function statesErrorOf(error: unknown): StatesError {
  const e = error as Error;
  return {
    Error: e.name,
    Cause: JSON.stringify({ errorType: e.name, errorMessage: e.message, trace: (e.stack ?? '').split('\n') }),
  };
}
