import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Decimal } from '../../lambdas/common/decimal';
import { MAX_SOURCES_PER_FILE, normalizeFile, type WrittenManifest } from '../../lambdas/normalize/core';
import { makeNormalizeHandler } from '../../lambdas/normalize/handler';
import { validateDatasets } from '../../lib/config';
import type { DatasetConfig } from '../../lib/config/types';
import type { FileOutcome } from '../../lib/contracts/batch';
import type { ManifestSourceTotals, MeasureTotal } from '../../lib/contracts/manifest';
import { accountHierarchy } from '../../lib/datasets/account-hierarchy';
import { workforceCapacity } from '../../lib/datasets/workforce-capacity';
import {
  BUCKETS,
  clearOutputs,
  getJsonObject,
  land,
  readNormalized,
  type S3Harness,
  startS3,
} from './harness';

const SAMPLE = path.resolve(__dirname, '..', '..', 'samples', 'cloud_billing', 'focus_sample.csv');
const CAPACITY = path.resolve(__dirname, '..', 'fixtures', 'normalize', 'delimiters', 'comma.csv');
const EXECUTION = 'arn:aws:states:us-east-1:123456789012:execution:sm:sources';

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

/** Every source's rows and measure totals add up to the file's, exactly. */
function expectSourcesAddUp(manifest: WrittenManifest) {
  const parts: Omit<ManifestSourceTotals, 'value'>[] = [
    ...(manifest.sources ?? []),
    ...(manifest.sourcesOverflow ? [manifest.sourcesOverflow] : []),
  ];
  expect(parts.reduce((n, s) => n + s.rowCount, 0)).toBe(manifest.rowCount);
  for (const [measure, total] of Object.entries(manifest.measures)) {
    const sum = Decimal.sum(parts.map((s) => Decimal.parse(s.measures[measure]!.sum)));
    expect(sum.equals(Decimal.parse(total.sum)), `${measure}: ${sum} vs ${total.sum}`).toBe(true);
    expect(parts.reduce((n, s) => n + s.measures[measure]!.nullCount, 0)).toBe(total.nullCount);
  }
}

describe("the manifest's per-source totals", () => {
  it('splits the FOCUS sample by provider with exact totals that match its normalized rows', async () => {
    const file = await land(h, 'cloud_billing', 'cloud_billing/2024-09/focus.csv', readFileSync(SAMPLE));
    const outcome = await handler({ dataset: 'cloud_billing', file, executionId: EXECUTION });
    const manifest = await manifestOf(outcome);

    expect(manifest.sources!.map((s) => s.value)).toEqual(['AWS', 'Microsoft', 'Oracle']);
    expect(manifest.sourcesOverflow).toBeUndefined();
    expectSourcesAddUp(manifest);
    // Recomputed from the rows written: the same per-provider rows and billed cost, exactly.
    const rows = (await Promise.all(manifest.partitions.map((p) => readNormalized(h, p.key)))).flat();
    for (const source of manifest.sources!) {
      const mine = rows.filter((r) => r.provider_name === source.value);
      expect(source.rowCount).toBe(mine.length);
      const billed = Decimal.sum(mine.flatMap((r) => (r.billed_cost ? [Decimal.parse(r.billed_cost)] : [])));
      expect(Decimal.parse(source.measures.billed_cost!.sum).equals(billed)).toBe(true);
    }
    expect(manifest.sources!.map((s) => s.rowCount)).toEqual([
      rows.filter((r) => r.provider_name === 'AWS').length,
      rows.filter((r) => r.provider_name === 'Microsoft').length,
      rows.filter((r) => r.provider_name === 'Oracle').length,
    ]);
  });

  it('splits a capacity plan by org unit', async () => {
    const file = await land(h, 'workforce_capacity', 'workforce_capacity/plan.csv', readFileSync(CAPACITY));
    const outcome = await handler({ dataset: 'workforce_capacity', file, executionId: EXECUTION });
    const manifest = await manifestOf(outcome);
    const data = manifest.sources!.find((s) => s.value === 'Data')!;
    expect(data.rowCount).toBe(2);
    expect(data.measures.headcount).toEqual<MeasureTotal>({ sum: '26', nullCount: 0 });
    expect(data.measures.fte).toEqual<MeasureTotal>({ sum: '24.75', nullCount: 0 });
    expectSourcesAddUp(manifest);
  });

  it('totals the values past the cap together and trims values', async () => {
    const [dataset] = validateDatasets([
      { ...workforceCapacity, source: { column: 'job_family' } },
      accountHierarchy,
    ]);
    const header =
      'Org Unit,Cost Center,Quarter,Job Family,Location,HC,FTE,Planned Hires,Attrition,Cost (USD)';
    const lines = [header];
    for (let i = 0; i < MAX_SOURCES_PER_FILE + 5; i++) {
      lines.push(`Data,CC-${i},2025-Q1,family ${String(i).padStart(3, '0')},Berlin,1,0.5,0,0,10.10`);
    }
    lines.push('Data,CC-900,2025-Q1,  family 000 ,Berlin,2,1,0,0,0.01');
    lines.push('Data,CC-901,2025-Q1,,Berlin,3,1,0,0,-5');
    const file = await land(h, 'workforce_capacity', 'workforce_capacity/many.csv', lines.join('\n'));
    const outcome = await normalizeFile(
      { s3: h.s3, env: h.env, datasets: [dataset!] },
      { dataset: 'workforce_capacity', file, executionId: EXECUTION },
    );
    const manifest = await manifestOf(outcome);
    expect(manifest.sources).toHaveLength(MAX_SOURCES_PER_FILE);
    expect(manifest.sources![0]).toEqual({
      value: 'family 000',
      rowCount: 2,
      measures: expect.objectContaining({ headcount: { sum: '3', nullCount: 0 } }),
    });
    // 'family 099' is the 100th distinct value; 100..104 and the empty value come after the cap.
    expect(manifest.sources!.at(-1)!.value).toBe('family 099');
    expect(manifest.sourcesOverflow).toEqual({
      rowCount: 6,
      measures: expect.objectContaining({
        headcount: { sum: '8', nullCount: 0 },
        cost_usd: { sum: '45.5', nullCount: 0 },
      }),
    });
    expectSourcesAddUp(manifest);
  });

  it('records an empty source value as ""', async () => {
    const [dataset] = validateDatasets([
      { ...workforceCapacity, source: { column: 'location' } } as DatasetConfig,
      accountHierarchy,
    ]);
    const csv = [
      'Org Unit,Cost Center,Quarter,Job Family,Location,HC,FTE,Planned Hires,Attrition,Cost (USD)',
      'Data,CC-1,2025-Q1,Eng,,1,1,0,0,1',
      'Data,CC-2,2025-Q1,Eng,Berlin,2,2,0,0,2',
    ].join('\n');
    const file = await land(h, 'workforce_capacity', 'workforce_capacity/empty.csv', csv);
    const outcome = await normalizeFile(
      { s3: h.s3, env: h.env, datasets: [dataset!] },
      { dataset: 'workforce_capacity', file, executionId: EXECUTION },
    );
    const manifest = await manifestOf(outcome);
    expect(manifest.sources!.map((s) => [s.value, s.rowCount])).toEqual([
      ['', 1],
      ['Berlin', 1],
    ]);
  });

  it('writes no sources for a dataset without a source column', async () => {
    const [dataset] = validateDatasets([
      { ...workforceCapacity, source: undefined, expectedArrivals: undefined },
      accountHierarchy,
    ]);
    const file = await land(h, 'workforce_capacity', 'workforce_capacity/plain.csv', readFileSync(CAPACITY));
    const outcome = await normalizeFile(
      { s3: h.s3, env: h.env, datasets: [dataset!] },
      { dataset: 'workforce_capacity', file, executionId: EXECUTION },
    );
    const manifest = await manifestOf(outcome);
    expect(manifest.rowCount).toBeGreaterThan(0);
    expect(manifest).not.toHaveProperty('sources');
    expect(manifest).not.toHaveProperty('sourcesOverflow');
  });
});
