import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { WrittenManifest } from '../../lambdas/normalize/core';
import { makeNormalizeHandler } from '../../lambdas/normalize/handler';
import { canonicalName } from '../../lib/config';
import type { FileOutcome } from '../../lib/contracts/batch';
import { workforceCapacity } from '../../lib/datasets/workforce-capacity';
import {
  BUCKETS,
  clearOutputs,
  getJsonObject,
  land,
  listKeys,
  readNormalized,
  type S3Harness,
  s3EventKey,
  startS3,
} from './harness';

const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'normalize');
const SAMPLE = path.resolve(__dirname, '..', '..', 'samples', 'cloud_billing', 'focus_sample.csv');
const capacityCsv = readFileSync(path.join(FIXTURES, 'delimiters', 'comma.csv'));

let h: S3Harness;
let handler: ReturnType<typeof makeNormalizeHandler>;
const EXECUTION = 'arn:aws:states:us-east-1:123456789012:execution:sm:test';

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

describe('the FOCUS sample', () => {
  it('normalizes 1,000 rows with exact control totals and null counts', async () => {
    const file = await land(
      h,
      'cloud_billing',
      'cloud_billing/2024-09/focus_sample.csv',
      readFileSync(SAMPLE),
    );
    const outcome = await handler({ dataset: 'cloud_billing', file, executionId: EXECUTION });
    expect(outcome).toMatchObject({ status: 'normalized', rows: 1000, rejectedRows: 0, template: 'focus' });
    const manifest = await manifestOf(outcome);
    expect(manifest.template).toEqual({ name: 'focus', version: '1.0', match: 'exact' });
    expect(manifest.measures).toEqual({
      billed_cost: { sum: '20.52022672899', nullCount: 0 },
      effective_cost: { sum: '14.97651418586', nullCount: 0 },
      list_cost: { sum: '20.39090575119', nullCount: 0 },
      contracted_cost: { sum: '14.97626039326', nullCount: 7 },
      consumed_quantity: { sum: '13438.712904456820057', nullCount: 1 },
      pricing_quantity: { sum: '13438.62931081682', nullCount: 0 },
    });
    expect(manifest.unknownColumns).not.toContain('billed_cost');
    const rows = (await Promise.all(manifest.partitions.map((p) => readNormalized(h, p.key)))).flat();
    expect(rows).toHaveLength(1000);
    expect(new Set(rows.map((r) => r.id)).size).toBe(1000);
    const tagged = rows.find((r) => r.id === '19384')!;
    expect(JSON.parse(tagged.tags!)).toEqual({
      application: 'BrightLensMatrix',
      environment: 'dev',
      business_unit: 'ViennaAI',
    });
    expect(tagged.charge_period_start).toBe('2024-09-30T22:00:00Z');
    const partitionRows = manifest.partitions.reduce((n, p) => n + p.rowCount, 0);
    expect(partitionRows).toBe(1000);
  });
});

describe('header aliases of workforce_capacity', () => {
  const V1 = workforceCapacity.templates[0]!.versions[0]!.headers;
  const cases = workforceCapacity.columns.flatMap((column) =>
    (column.aliases ?? []).map((alias) => ({ column: column.name, alias })),
  );
  // The v1 header position of each canonical column (location's v1 header is "Location").
  const position = (column: string) =>
    V1.findIndex((h) => {
      const owner = workforceCapacity.columns.find((c) =>
        (c.aliases ?? []).some((a) => canonicalName(a) === canonicalName(h)),
      );
      return owner?.name === column;
    });

  it('declares aliases for every canonical column', () => {
    expect(new Set(cases.map((c) => c.column))).toEqual(
      new Set(workforceCapacity.columns.map((c) => c.name)),
    );
  });

  it.each(cases)('maps "$alias" to $column', async ({ column, alias }) => {
    const headers = [...V1];
    headers[position(column)] = alias;
    const body = `${headers.map((h) => `"${h}"`).join(',')}\nData,CC-100,2025-Q1,Engineering,Berlin,12,11.5,2,1,100\n`;
    const file = await land(
      h,
      'workforce_capacity',
      `workforce_capacity/alias-${canonicalName(alias)}.csv`,
      body,
    );
    const outcome = await handler({ dataset: 'workforce_capacity', file, executionId: EXECUTION });
    const manifest = await manifestOf(outcome);
    expect(manifest.unknownColumns).toEqual([]);
    if (column !== 'quarter') expect(manifest.columns).toContain(column);
    expect(manifest.template.name).toBe('capacity_plan');
    expect(outcome.partitions).toEqual(['2025-Q1']);
    const [row] = await readNormalized(h, manifest.partitions[0]!.key);
    const expected: Record<string, string> = {
      org_unit: 'Data',
      cost_center: 'CC-100',
      job_family: 'Engineering',
      location: 'Berlin',
      headcount: '12',
      fte: '11.5',
      planned_hires: '2',
      attrition: '1',
      cost_usd: '100',
    };
    if (column !== 'quarter') expect(row![column]).toBe(expected[column]);
  });

  it('recognizes template versions v2 and v3 and keeps their unknown columns', async () => {
    for (const version of workforceCapacity.templates[0]!.versions.slice(1)) {
      const body = `${version.headers.join(',')}\nData,CC-100,2025-Q1,Engineering,Berlin,12,11.5,2,1,100,0.25\n`;
      const file = await land(h, 'workforce_capacity', `workforce_capacity/${version.version}.csv`, body);
      const outcome = await handler({ dataset: 'workforce_capacity', file, executionId: EXECUTION });
      const manifest = await manifestOf(outcome);
      expect(manifest.template).toEqual({ name: 'capacity_plan', version: version.version, match: 'exact' });
      expect(manifest.unknownColumns).toEqual(['remote_share']);
      const [row] = await readNormalized(h, manifest.partitions[0]!.key);
      expect(row).toMatchObject({ org_unit: 'Data', headcount: '12', remote_share: '0.25' });
    }
  });
});

describe('S3 event keys', () => {
  const cases = [
    {
      name: 'spaces as +',
      key: 'workforce_capacity/plan 2025 q1.csv',
      eventKey: 'workforce_capacity/plan+2025+q1.csv',
    },
    {
      name: 'spaces as %20',
      key: 'workforce_capacity/plan 2025 q2.csv',
      eventKey: 'workforce_capacity/plan%202025%20q2.csv',
    },
    { name: 'a literal +', key: 'workforce_capacity/a+b.csv', eventKey: 'workforce_capacity/a%2Bb.csv' },
    {
      name: 'unicode',
      key: 'workforce_capacity/Zürich plan ✓.csv',
      eventKey: 'workforce_capacity/Z%C3%BCrich+plan+%E2%9C%93.csv',
    },
  ];

  it.each(cases)('decodes $name', async ({ key, eventKey }) => {
    expect(s3EventKey(key).replace(/%20/g, '+')).toBe(eventKey.replace(/%20/g, '+'));
    const file = await land(h, 'workforce_capacity', key, capacityCsv);
    const outcome = await handler({
      dataset: 'workforce_capacity',
      file: { ...file, key: eventKey },
      executionId: EXECUTION,
    });
    expect(outcome).toMatchObject({ status: 'normalized', key, rows: 4 });
    const manifest = await manifestOf(outcome);
    expect(manifest.source.key).toBe(key);
    const rows = await readNormalized(h, manifest.partitions[0]!.key);
    expect(rows[0]!.ingest_source_key).toBe(key);
  });
});

describe('idempotency', () => {
  it('returns the same outcome and writes nothing new when the same event is delivered again', async () => {
    const file = await land(h, 'workforce_capacity', 'workforce_capacity/rerun.csv', capacityCsv);
    const first = await handler({ dataset: 'workforce_capacity', file, executionId: EXECUTION });
    const manifest = await manifestOf(first);
    const stamps = async () =>
      Promise.all(
        manifest.normalizedKeys.map(async (key) => {
          const head = await h.s3.send(new HeadObjectCommand({ Bucket: BUCKETS.normalized, Key: key }));
          return `${key}@${head.ETag}@${head.LastModified?.toISOString()}`;
        }),
      );
    const before = await stamps();
    const normalizedBefore = await listKeys(h, BUCKETS.normalized);
    const controlBefore = await listKeys(h, BUCKETS.control);

    const second = await handler({ dataset: 'workforce_capacity', file, executionId: `${EXECUTION}-2` });

    expect(second).toEqual(first);
    expect(await manifestOf(second)).toEqual(manifest);
    expect(await listKeys(h, BUCKETS.normalized)).toEqual(normalizedBefore);
    expect(await listKeys(h, BUCKETS.control)).toEqual(controlBefore);
    expect(await stamps()).toEqual(before);
  });

  it('recognizes the same content uploaded again and writes no second copy of its rows', async () => {
    const firstFile = await land(h, 'workforce_capacity', 'workforce_capacity/original.csv', capacityCsv);
    const first = await handler({ dataset: 'workforce_capacity', file: firstFile, executionId: EXECUTION });
    const normalizedBefore = await listKeys(h, BUCKETS.normalized);

    const copyFile = await land(
      h,
      'workforce_capacity',
      'workforce_capacity/copy of original.csv',
      capacityCsv,
    );
    const copy = await handler({ dataset: 'workforce_capacity', file: copyFile, executionId: EXECUTION });

    expect(copy).toMatchObject({
      status: 'duplicate',
      key: 'workforce_capacity/copy of original.csv',
      duplicateOf: 'workforce_capacity/original.csv',
      partitions: [],
    });
    const manifest = await manifestOf(copy);
    expect(manifest.status).toBe('duplicate');
    expect(manifest.duplicateOf).toEqual({
      key: first.key,
      versionId: first.versionId,
      sourceId: first.sourceId,
    });
    expect(manifest.source.contentSha256).toBe((await manifestOf(first)).source.contentSha256);
    expect(manifest.normalizedKeys).toEqual([]);
    expect(await listKeys(h, BUCKETS.normalized)).toEqual(normalizedBefore);
  });

  it('treats a new version with different content as a new source', async () => {
    const v1 = await land(h, 'workforce_capacity', 'workforce_capacity/versioned.csv', capacityCsv);
    const first = await handler({ dataset: 'workforce_capacity', file: v1, executionId: EXECUTION });
    const changed = Buffer.from(capacityCsv.toString('utf8').replace('Berlin', 'Hamburg'));
    const v2 = await land(h, 'workforce_capacity', 'workforce_capacity/versioned.csv', changed);
    const second = await handler({ dataset: 'workforce_capacity', file: v2, executionId: EXECUTION });
    expect(second.status).toBe('normalized');
    expect(second.sourceId).not.toBe(first.sourceId);
    expect((await listKeys(h, BUCKETS.normalized)).length).toBe(4);
  });
});
