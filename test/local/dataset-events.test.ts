/** The local runtime's view of the dataset events: the report entries and the summary lines. */
import { describe, expect, it } from 'vitest';
import { buildDatasetEvent } from '../../lambdas/reconcile/dataset-event';
import type { ReconciliationResult } from '../../lib/contracts/reconciliation';
import {
  type DatasetEventReportEntry,
  datasetEventLine,
  inboxPattern,
  type ReceivedDatasetEvent,
  reportDatasetEvents,
} from '../../local/dataset-events';
import type { RunReport } from '../../local/report';
import { formatRunSummary } from '../../local/summary';

const entry = (overrides: Partial<DatasetEventReportEntry> = {}): DatasetEventReportEntry => ({
  dataset: 'cloud_billing',
  detailType: 'DatasetUpdated',
  eventId: 'e-1',
  execution: 'local-1',
  reconciliation: 'passed',
  partitionColumn: 'billing_period',
  partitions: ['2024-10'],
  rows: 1234,
  changed: true,
  snapshotId: '1',
  ...overrides,
});

describe('datasetEventLine', () => {
  it('says the event, dataset, partitions, rows and reconciliation in one line', () => {
    expect(datasetEventLine(entry())).toBe(
      'DatasetUpdated cloud_billing (partition 2024-10, 1,234 rows, reconciliation passed)',
    );
    expect(
      datasetEventLine(entry({ partitions: ['2024-09', '2024-10'], reconciliation: 'within_tolerance' })),
    ).toBe(
      'DatasetUpdated cloud_billing (partitions 2024-09, 2024-10, 1,234 rows, reconciliation within tolerance)',
    );
  });

  it('says why a batch is held, and when nothing new was merged', () => {
    expect(
      datasetEventLine(
        entry({
          detailType: 'DatasetHeld',
          reconciliation: 'failed',
          rows: 1,
          reasons: [
            '1 reconciliation check failed (rows): see reconciliation/cloud_billing/x.json in the control bucket.',
          ],
        }),
      ),
    ).toBe(
      'DatasetHeld cloud_billing (partition 2024-10, 1 row, reconciliation failed); held: 1 reconciliation check failed (rows): see reconciliation/cloud_billing/x.json in the control bucket.',
    );
    expect(datasetEventLine(entry({ partitions: [], rows: 0, changed: false }))).toBe(
      'DatasetUpdated cloud_billing (no partitions, 0 rows, reconciliation passed, nothing new)',
    );
    const many = Array.from({ length: 8 }, (_, i) => `2024-0${i + 1}`);
    expect(datasetEventLine(entry({ partitions: many }))).toContain(
      'partitions 2024-01, 2024-02, 2024-03, 2024-04, 2024-05 and 3 more',
    );
  });
});

describe('reportDatasetEvents', () => {
  it('reads each delivered event into a report entry', () => {
    const result: ReconciliationResult = {
      schemaVersion: 2,
      dataset: 'cloud_billing',
      executionId: 'arn:aws:states:us-east-1:000000000000:execution:ingestion:local-7',
      evaluatedAt: '2025-01-01T00:00:00.000Z',
      status: 'fail',
      snapshotIds: { cloud_billing: '42' },
      summary: { checks: 1, passed: 0, failed: 1, pending: 0 },
      checks: [
        {
          check: 'rows',
          status: 'fail',
          expected: '2',
          actual: '1',
          delta: '-1',
          tolerance: '0',
          detail: 'lost a row',
        },
      ],
    };
    const built = buildDatasetEvent({
      pipeline: 'ingestion',
      database: 'ingestion',
      dataset: { name: 'cloud_billing', partition: { column: 'billing_period' } as never },
      executionId: result.executionId,
      files: [{ status: 'normalized' }],
      result,
      resultKey: 'reconciliation/cloud_billing/local-7.json',
      manifests: [],
      markers: new Map(),
      reports: new Map(),
    });
    const delivered = {
      id: 'e-9',
      source: built.source,
      'detail-type': built.detailType,
      time: '2025-01-01T00:00:00Z',
      detail: built.detail,
    } as ReceivedDatasetEvent;

    expect(reportDatasetEvents([delivered])).toEqual([
      {
        dataset: 'cloud_billing',
        detailType: 'DatasetHeld',
        eventId: 'e-9',
        execution: 'local-7',
        reconciliation: 'failed',
        partitionColumn: 'billing_period',
        partitions: [],
        rows: 0,
        changed: false,
        snapshotId: '42',
        reasons: [
          '1 reconciliation check failed (rows): see reconciliation/cloud_billing/local-7.json in the control bucket.',
        ],
      },
    ]);
  });

  it('routes only the pipeline’s own two event types to the local inbox', () => {
    expect(inboxPattern('ingestion')).toEqual({
      source: ['ingestion.pipeline'],
      'detail-type': ['DatasetUpdated', 'DatasetHeld'],
    });
  });
});

describe('the run summary', () => {
  it('lists the dataset events, one line each', () => {
    const report: RunReport = {
      files: [],
      reconciliation: [],
      alerts: [],
      datasetEvents: [entry()],
      tables: [],
      executions: [],
    };
    expect(formatRunSummary(report)).toContain(
      '\n== Dataset events (1)\n   DatasetUpdated cloud_billing (partition 2024-10, 1,234 rows, reconciliation passed)\n',
    );
  });
});
