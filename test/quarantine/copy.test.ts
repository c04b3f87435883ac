import { randomBytes } from 'node:crypto';
import {
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  COPY_OBJECT_MAX_BYTES,
  MAX_PART_BYTES,
  MAX_PARTS,
  MIN_PART_BYTES,
  planCopyParts,
} from '../../lambdas/quarantine/copy';
import type { QuarantineReason } from '../../lambdas/quarantine/core';
import { quarantineFile } from '../../lambdas/quarantine/core';
import { quarantineFilePrefix, sourceIdOf } from '../../lib/contracts/layout';
import { type IamHarness, startIamHarness } from '../iam/harness';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** [first, last] byte of each planned part. */
const bounds = (size: number, partBytes?: number) =>
  planCopyParts(size, partBytes).map(
    (p) => p.range.slice('bytes='.length).split('-').map(Number) as [number, number],
  );

describe('multipart copy planning (pure)', () => {
  it('covers the object with contiguous ranges, every part but the last of the part size', () => {
    const size = 12 * GiB + 7;
    const parts = bounds(size);
    expect(parts[0]![0]).toBe(0);
    expect(parts.at(-1)![1]).toBe(size - 1);
    for (let i = 1; i < parts.length; i++) expect(parts[i]![0]).toBe(parts[i - 1]![1] + 1);
    for (const [first, last] of parts.slice(0, -1)) expect(last - first + 1).toBe(512 * MiB);
    expect(planCopyParts(size).map((p) => p.partNumber)).toEqual(parts.map((_, i) => i + 1));
  });

  it('raises the part size so that the largest object (5 TiB) takes at most 10,000 parts of at most 5 GiB', () => {
    const size = 5 * 1024 * GiB;
    const parts = bounds(size);
    expect(parts.length).toBeLessThanOrEqual(MAX_PARTS);
    for (const [first, last] of parts) expect(last - first + 1).toBeLessThanOrEqual(MAX_PART_BYTES);
    expect(parts.at(-1)![1]).toBe(size - 1);
  });

  it('keeps parts at least 5 MiB (a smaller requested size is rounded up) and refuses an empty object', () => {
    expect(bounds(11 * MiB, 1)).toEqual([
      [0, 5 * MiB - 1],
      [5 * MiB, 10 * MiB - 1],
      [10 * MiB, 11 * MiB - 1],
    ]);
    expect(() => planCopyParts(0)).toThrow(RangeError);
  });

  it('the single-request limit is the documented 5 GB of CopyObject', () => {
    expect(COPY_OBJECT_MAX_BYTES).toBe(5 * GiB);
    expect(MIN_PART_BYTES).toBe(5 * MiB);
  });
});

describe('quarantine copies as its role, through the local authorizer', () => {
  let h: IamHarness;
  let landing: string;
  let quarantine: string;

  beforeAll(async () => {
    h = await startIamHarness();
    landing = h.cloud.bucket('Landing');
    quarantine = h.cloud.bucket('Quarantine');
  });
  afterAll(async () => {
    await h?.stop();
  });

  const drop = async (key: string, body: Buffer, tagging?: string) => {
    const put = await h.admin.s3.send(
      new PutObjectCommand({
        Bucket: landing,
        Key: key,
        Body: body,
        ContentType: 'text/csv',
        Tagging: tagging,
      }),
    );
    return {
      dataset: 'cloud_billing',
      bucket: landing,
      key,
      versionId: put.VersionId ?? null,
      size: body.length,
      eventTime: '2025-01-01T00:00:00Z',
      sequencer: '0067748580A1B2C3D4',
    };
  };
  const error = {
    Error: 'UnreadableFileError',
    Cause: JSON.stringify({ errorType: 'UnreadableFileError', errorMessage: 'bad bytes' }),
  };

  it('copies a tagged landing object without its tags (the role has no tagging permission, and needs none)', async () => {
    const role = h.clientsOf(h.iam.principals.handlers.get('quarantine')!);
    const file = await drop('cloud_billing/tagged export.csv', Buffer.from('a,b\n1,2\n'), 'owner=finops');
    const outcome = await quarantineFile(
      { s3: role.s3, env: { quarantineBucket: quarantine } },
      { dataset: 'cloud_billing', file, error },
    );
    expect(outcome.status).toBe('quarantined');
    const prefix = quarantineFilePrefix('cloud_billing', sourceIdOf(file.key, file.versionId));
    const copy = await h.admin.s3.send(
      new GetObjectCommand({ Bucket: quarantine, Key: `${prefix}tagged export.csv` }),
    );
    expect(await copy.Body!.transformToString()).toBe('a,b\n1,2\n');
    const tags = await h.admin.s3.send(
      new GetObjectTaggingCommand({ Bucket: quarantine, Key: `${prefix}tagged export.csv` }),
    );
    expect(tags.TagSet ?? []).toEqual([]);
    const reason = JSON.parse(
      await (
        await h.admin.s3.send(new GetObjectCommand({ Bucket: quarantine, Key: `${prefix}reason.json` }))
      ).Body!.transformToString(),
    ) as QuarantineReason;
    expect(reason).toMatchObject({ copied: true, reason: 'unreadable_file' });
    const entry = h.iam.report().find((e) => e.principal === 'quarantine handler')!;
    expect(entry.denied).toEqual([]);
  });

  it('copies an object over the multipart threshold part by part (UploadPartCopy), bytes and content type intact', async () => {
    const role = h.clientsOf(h.iam.principals.handlers.get('quarantine')!);
    const body = randomBytes(11 * MiB + 123);
    const file = await drop('cloud_billing/big.csv', body);
    await quarantineFile(
      {
        s3: role.s3,
        env: { quarantineBucket: quarantine },
        copy: { multipartThreshold: 5 * MiB, partBytes: 5 * MiB },
      },
      { dataset: 'cloud_billing', file, error },
    );
    const key = `${quarantineFilePrefix('cloud_billing', sourceIdOf(file.key, file.versionId))}big.csv`;
    const head = await h.admin.s3.send(new HeadObjectCommand({ Bucket: quarantine, Key: key }));
    // A multipart object's ETag ends with the number of its parts.
    expect(head.ETag).toMatch(/-3"$/);
    expect(head.ContentType).toBe('text/csv');
    const copy = await h.admin.s3.send(new GetObjectCommand({ Bucket: quarantine, Key: key }));
    expect(Buffer.from(await copy.Body!.transformToByteArray()).equals(body)).toBe(true);
    const uploads = await h.admin.s3.send(new ListMultipartUploadsCommand({ Bucket: quarantine }));
    expect(uploads.Uploads ?? []).toEqual([]);
    expect(h.iam.report().find((e) => e.principal === 'quarantine handler')!.denied).toEqual([]);
  });
});
