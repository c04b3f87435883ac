/** Freshness of the tables an answer used (lambdas/ask/freshness.ts), from an in-memory store. */
import { describe, expect, it } from 'vitest';
import { type ControlStore, tableFreshness } from '../../lambdas/ask/freshness';
import { loadDatasets } from '../../lib/config';

const buckets = { control: 'control', quarantine: 'quarantine', normalized: 'normalized' };

function store(objects: Record<string, Record<string, [string, unknown?]>>): ControlStore {
  return {
    async list(bucket, prefix) {
      return Object.entries(objects[bucket] ?? {})
        .filter(([key]) => key.startsWith(prefix))
        .map(([key, [lastModified]]) => ({ key, lastModified }));
    },
    async getJson(bucket, key) {
      return objects[bucket]?.[key]?.[1];
    },
  };
}

describe('table freshness', () => {
  it('newest landing, the last committed run, files in flight and quarantined', async () => {
    const s = store({
      normalized: {
        'purchase_orders/submitted_month=2025-03/a.jsonl.gz': ['2025-03-10T10:00:00.000Z'],
        'purchase_orders/submitted_month=2025-03/b.jsonl.gz': ['2025-03-12T10:00:00.000Z'],
        'cloud_billing/billing_period=2024-09/c.jsonl.gz': ['2025-03-14T10:00:00.000Z'],
      },
      control: {
        'etl/processed/purchase_orders/submitted_month=2025-03/a.jsonl.gz.json': ['2025-03-10T10:05:00.000Z'],
        'etl/runs/purchase_orders/jr_1.json': [
          '2025-03-10T10:05:00.000Z',
          { runId: 'jr_1', finishedAt: '2025-03-10T10:05:00.000Z', snapshotId: '11' },
        ],
        // A later run that read nothing committed nothing: not the last successful one.
        'etl/runs/purchase_orders/jr_2.json': [
          '2025-03-12T10:05:00.000Z',
          { runId: 'jr_2', finishedAt: '2025-03-12T10:05:00.000Z', snapshotId: null },
        ],
      },
      quarantine: {
        'files/purchase_orders/src1/file.xlsx': ['2025-03-13T08:00:00.000Z'],
        'files/purchase_orders/src1/reason.json': ['2025-03-13T08:00:00.000Z'],
        'files/purchase_orders/src2/file.csv': ['2025-03-11T08:00:00.000Z'],
      },
    });
    const [fresh] = await tableFreshness(s, buckets, loadDatasets(), ['purchase_orders']);
    expect(fresh).toEqual({
      table: 'purchase_orders',
      latestLanding: '2025-03-13T08:00:00.000Z',
      lastSuccessfulRun: { runId: 'jr_1', finishedAt: '2025-03-10T10:05:00.000Z', snapshotId: '11' },
      filesInFlight: 1,
      filesQuarantined: 2,
    });
  });

  it('a table with nothing yet says so', async () => {
    const [fresh] = await tableFreshness(store({}), buckets, loadDatasets(), ['workforce_capacity']);
    expect(fresh).toEqual({
      table: 'workforce_capacity',
      latestLanding: null,
      lastSuccessfulRun: null,
      filesInFlight: 0,
      filesQuarantined: 0,
    });
  });
});
