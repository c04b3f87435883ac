/**
 * The late-data check's reads and writes in the control bucket: arrival records (read only;
 * written at reconciliation), open findings, and the claims that keep an alert from going out
 * twice (lib/contracts/operations.ts).
 */
import {
  DeleteObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { controlPrefixes } from '../../lib/contracts/layout';
import {
  type ArrivalRecord,
  arrivalsDayPrefix,
  type LateFinding,
  lateOpenPrefix,
  sourceSegment,
} from '../../lib/contracts/operations';
import { getJson, listKeys, mapLimit } from '../common/s3';
import type { Arrival } from './expectations';

/** A control document that is not what the contract says. */
export class LateStateError extends Error {
  override readonly name = 'LateStateError';
}

const ARRIVAL_KEY = /^operations\/arrivals\/[^/]+\/(\d{4}-\d{2}-\d{2})\/([^/]+)\/([^/]+)\.json$/;

/**
 * The arrival records of `dataset` landed on the UTC days `from` to `to` (YYYY-MM-DD): one
 * listing from `from`'s day prefix on (ListObjectsV2 returns keys in UTF-8 binary order, so day
 * prefixes come in date order and `StartAfter` skips the earlier days:
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html), stopping after `to`.
 * With `sources`, only records of those source values are read.
 */
export async function readArrivals(
  s3: S3Client,
  bucket: string,
  dataset: string,
  range: { readonly from: string; readonly to: string; readonly sources?: ReadonlySet<string> },
): Promise<Arrival[]> {
  const prefix = `${controlPrefixes.arrivals}${dataset}/`;
  const segments = range.sources ? new Set([...range.sources].map(sourceSegment)) : undefined;
  const keys: string[] = [];
  let token: string | undefined;
  let done = false;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token
          ? { ContinuationToken: token }
          : { StartAfter: arrivalsDayPrefix(dataset, range.from).slice(0, -1) }),
      }),
    );
    for (const object of page.Contents ?? []) {
      const match = ARRIVAL_KEY.exec(object.Key ?? '');
      if (!match) continue;
      if (match[1]! > range.to) {
        done = true;
        break;
      }
      if (match[1]! < range.from) continue;
      if (segments && !segments.has(match[2]!)) continue;
      keys.push(object.Key!);
    }
    token = !done && page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  const records = await mapLimit(keys, 16, (key) => getJson<ArrivalRecord>(s3, bucket, key));
  return records.flatMap((record, i) => {
    if (!record) return []; // deleted between the listing and the read
    if (
      record.schemaVersion !== 1 ||
      typeof record.landedAt !== 'string' ||
      typeof record.sourceId !== 'string'
    )
      throw new LateStateError(`arrival record ${keys[i]} is not an ArrivalRecord of schema version 1`);
    return [
      {
        source: record.source ?? '',
        template: record.template ?? null,
        key: record.key,
        sourceId: record.sourceId,
        landedAt: new Date(record.landedAt).toISOString(),
      },
    ];
  });
}

/** The open findings of a dataset. */
export async function readOpenFindings(
  s3: S3Client,
  bucket: string,
  dataset: string,
): Promise<LateFinding[]> {
  const keys = await listKeys(s3, bucket, lateOpenPrefix(dataset));
  const findings = await mapLimit(keys, 16, (key) => getJson<LateFinding>(s3, bucket, key));
  return findings.flatMap((f, i) => {
    if (!f) return [];
    if (f.schemaVersion !== 1 || f.dataset !== dataset || typeof f.since !== 'string')
      throw new LateStateError(
        `late finding ${keys[i]} is not a LateFinding of schema version 1 of ${dataset}`,
      );
    return [f];
  });
}

const statusOf = (error: unknown) =>
  (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

/**
 * Creates `key` only if no object has it (`If-None-Match: *`): true when this call created it.
 * S3 answers 412 Precondition Failed when the key exists and 409 ConditionalRequestConflict when
 * a concurrent conditional write to the key is in progress
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html): both mean
 * another invocation holds the claim.
 */
export async function claim(s3: S3Client, bucket: string, key: string, body: unknown): Promise<boolean> {
  try {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: `${JSON.stringify(body)}\n`,
        ContentType: 'application/json',
        IfNoneMatch: '*',
      }),
    );
    return true;
  } catch (error) {
    const status = statusOf(error);
    const name = (error as Error).name;
    if (
      status === 412 ||
      status === 409 ||
      name === 'PreconditionFailed' ||
      name === 'ConditionalRequestConflict'
    )
      return false;
    throw error;
  }
}

export async function deleteKey(s3: S3Client, bucket: string, key: string): Promise<void> {
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
}
