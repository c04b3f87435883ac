import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { putJson } from '../../lambdas/common/s3';
import type { WrittenManifest } from '../../lambdas/normalize/core';
import { makeNormalizeHandler } from '../../lambdas/normalize/handler';
import type { FileOutcome } from '../../lib/contracts/batch';
import { contentIndexKey, processedMarkerKey } from '../../lib/contracts/layout';
import { BUCKETS, clearOutputs, getJsonObject, land, listKeys, type S3Harness, startS3 } from './harness';

const capacityCsv = readFileSync(
  path.resolve(__dirname, '..', 'fixtures', 'normalize', 'delimiters', 'comma.csv'),
);
const FIRST_EXECUTION = 'arn:aws:states:us-east-1:123456789012:execution:sm:first';
const RETRY_EXECUTION = 'arn:aws:states:us-east-1:123456789012:execution:sm:retry';
const KEY = 'workforce_capacity/plans/capacity.csv';

let h: S3Harness;
let handler: ReturnType<typeof makeNormalizeHandler>;

beforeAll(async () => {
  h = await startS3();
  handler = makeNormalizeHandler(h.env, { s3: h.s3 });
});
afterAll(async () => {
  await h?.stop();
});
beforeEach(async () => {
  await clearOutputs(h);
});

const manifestOf = (outcome: FileOutcome) =>
  getJsonObject<WrittenManifest>(h, BUCKETS.control, outcome.manifestKey!);

/** What the ETL writes once it merged a normalized object into curated. */
async function markMerged(outcome: FileOutcome, only?: number): Promise<void> {
  const manifest = await manifestOf(outcome);
  for (const partition of manifest.partitions.slice(0, only)) {
    await putJson(h.s3, BUCKETS.control, processedMarkerKey(partition.key), { runId: 'jr_1' });
  }
}

async function normalize(executionId: string): Promise<FileOutcome> {
  const file = await land(h, 'workforce_capacity', KEY, capacityCsv);
  return handler({ dataset: 'workforce_capacity', file, executionId });
}

describe('the same content dropped again (duplicate or retry)', () => {
  it('is a duplicate once the first copy reached curated', async () => {
    const first = await normalize(FIRST_EXECUTION);
    await markMerged(first);

    const again = await normalize(RETRY_EXECUTION);

    expect(again).toMatchObject({ status: 'duplicate', duplicateOf: KEY, partitions: [] });
    expect((await manifestOf(again)).duplicateOf?.sourceId).toBe(first.sourceId);
  });

  it('is processed again when the first copy never reached curated (its execution failed)', async () => {
    const first = await normalize(FIRST_EXECUTION);
    expect(first.status).toBe('normalized');

    const retry = await normalize(RETRY_EXECUTION);

    expect(retry).toMatchObject({ status: 'normalized', rows: first.rows, partitions: first.partitions });
    expect(retry.sourceId).not.toBe(first.sourceId);
    const manifest = await manifestOf(retry);
    expect(manifest.duplicateOf).toBeNull();
    expect(manifest.normalizedKeys).toHaveLength(first.partitions!.length);
    const normalized = await listKeys(h, BUCKETS.normalized);
    for (const key of manifest.normalizedKeys) expect(normalized).toContain(key);
    // The retry holds the content now: once it is curated, a third copy is its duplicate.
    const index = await getJsonObject<{ sourceId: string }>(
      h,
      BUCKETS.control,
      contentIndexKey('workforce_capacity', manifest.source.contentSha256),
    );
    expect(index.sourceId).toBe(retry.sourceId);
    await markMerged(retry);
    const third = await normalize(`${RETRY_EXECUTION}-2`);
    expect(third).toMatchObject({ status: 'duplicate' });
    expect((await manifestOf(third)).duplicateOf?.sourceId).toBe(retry.sourceId);
  });

  it('is processed again when only some of the first copy reached curated', async () => {
    const first = await normalize(FIRST_EXECUTION);
    expect(first.partitions!.length).toBeGreaterThan(1);
    await markMerged(first, 1);

    const retry = await normalize(RETRY_EXECUTION);

    expect(retry.status).toBe('normalized');
  });

  it('is a duplicate of a copy in the same execution (the execution curates it or fails as a whole)', async () => {
    const first = await normalize(FIRST_EXECUTION);

    const copy = await normalize(FIRST_EXECUTION);

    expect(copy).toMatchObject({ status: 'duplicate', duplicateOf: KEY });
    expect((await manifestOf(copy)).duplicateOf?.sourceId).toBe(first.sourceId);
  });

  it('is processed when the index names a source whose manifest was never written', async () => {
    const first = await normalize(FIRST_EXECUTION);
    const sha = (await manifestOf(first)).source.contentSha256;
    await putJson(h.s3, BUCKETS.control, contentIndexKey('workforce_capacity', sha), {
      key: 'workforce_capacity/crashed.csv',
      versionId: null,
      sourceId: 'crashed-before-its-manifest',
      executionId: RETRY_EXECUTION,
    });

    const retry = await normalize(`${RETRY_EXECUTION}-2`);

    expect(retry.status).toBe('normalized');
  });
});
