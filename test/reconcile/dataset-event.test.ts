/**
 * Building the DatasetUpdated / DatasetHeld event of a reconciled batch (lambdas/reconcile/dataset-event.ts)
 * and putting it on the bus: which event, what its detail says, that it matches its JSON Schema,
 * and that a failed PutEvents entry is retried and then a named error.
 */
import type { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import {
  buildDatasetEvent,
  type DatasetEventInputs,
  DatasetEventNotPublishedError,
  putDatasetEvent,
  reconciliationOutcome,
} from '../../lambdas/reconcile/dataset-event';
import type { DatasetEvent } from '../../lib/contracts/dataset-events';
import { MAX_EVENT_CHECKS, MAX_EVENT_PARTITIONS } from '../../lib/contracts/dataset-events';
import type { ReconciliationCheck, ReconciliationResult } from '../../lib/contracts/reconciliation';
import type { EtlRunReport, ProcessedMarker } from '../../lib/contracts/run-report';
import heldSchema from '../../lib/contracts/schemas/dataset-held.schema.json';
import updatedSchema from '../../lib/contracts/schemas/dataset-updated.schema.json';

const EXECUTION = 'arn:aws:states:us-east-1:000000000000:execution:ingestion:batch-7';
const ajv = new Ajv({ allErrors: true, strict: false });
const validate = { DatasetUpdated: ajv.compile(updatedSchema), DatasetHeld: ajv.compile(heldSchema) };

function expectValid(event: DatasetEvent): void {
  const check = validate[event.detailType];
  const ok = check(event.detail);
  expect(check.errors ?? []).toEqual([]);
  expect(ok).toBe(true);
}

const objectKey = (file: string, partition: string) =>
  `cloud_billing/billing_period=${partition}/${file}.jsonl.gz`;

function check(overrides: Partial<ReconciliationCheck> = {}): ReconciliationCheck {
  return {
    check: 'rows',
    status: 'pass',
    source: { key: 'cloud_billing/a.csv', versionId: 'v1', sourceId: 'a'.repeat(32) },
    expected: '10',
    actual: '10',
    delta: '0',
    tolerance: '0',
    detail: 'ok',
    ...overrides,
  };
}

function result(checks: ReconciliationCheck[]): ReconciliationResult {
  const failed = checks.filter((c) => c.status === 'fail').length;
  const pending = checks.filter((c) => c.status === 'pending').length;
  return {
    schemaVersion: 2,
    dataset: 'cloud_billing',
    executionId: EXECUTION,
    evaluatedAt: '2025-01-02T03:04:05.000Z',
    status: failed > 0 ? 'fail' : pending > 0 ? 'pending' : 'pass',
    snapshotIds: { cloud_billing: '7311908213337781043' },
    summary: { checks: checks.length, passed: checks.length - failed - pending, failed, pending },
    checks,
  };
}

function marker(
  key: string,
  runId: string,
  rowsWritten: number,
  extra: Partial<ProcessedMarker> = {},
): ProcessedMarker {
  return {
    schemaVersion: 2,
    dataset: 'cloud_billing',
    runId,
    normalizedKey: key,
    sourceId: 'a'.repeat(32),
    snapshotId: '7311908213337781043',
    rejectedKey: null,
    rowsRead: rowsWritten,
    rowsWritten,
    identicalRows: 0,
    supersededRows: 0,
    supersededMeasures: {},
    supersededBy: [],
    rejectedRows: 0,
    rejectedMeasures: {},
    conflictsWith: [],
    duplicateRows: 0,
    measures: {},
    identicalMeasures: {},
    ...extra,
  };
}

function report(runId: string, snapshotId: string, finishedAt: string): EtlRunReport {
  return {
    schemaVersion: 2,
    dataset: 'cloud_billing',
    runId,
    jobName: 'ingestion-cloud_billing-curate',
    executionId: EXECUTION,
    startedAt: '2025-01-02T03:00:00.000Z',
    finishedAt,
    pushDownPredicate: "billing_period in ('2024-10')",
    boundedFiles: 450,
    filesRead: 2,
    capReached: false,
    filesLeft: 0,
    snapshotId,
    previousSnapshotId: null,
    sources: [],
    partitionsWritten: [],
    curatedTable: 'cloud_billing',
    addedColumns: [],
    dimensions: [],
  };
}

/** Two normalized files (one in two partitions), both merged by one run; every check passed. */
function inputs(overrides: Partial<DatasetEventInputs> = {}): DatasetEventInputs {
  const a1 = objectKey('a', '2024-10');
  const a2 = objectKey('a', '2024-11');
  const b1 = objectKey('b', '2024-10');
  return {
    pipeline: 'ingestion',
    database: 'ingestion',
    dataset: {
      name: 'cloud_billing',
      partition: { column: 'billing_period' } as DatasetEventInputs['dataset']['partition'],
    },
    executionId: EXECUTION,
    files: [{ status: 'normalized' }, { status: 'normalized' }],
    result: result([check(), check({ check: 'measure:billed_cost' })]),
    resultKey: 'reconciliation/cloud_billing/batch-7.json',
    manifests: [
      {
        rowCount: 700,
        rejectedRowCount: 2,
        partitions: [
          { value: '2024-10', key: a1, rowCount: 400, measures: {} },
          { value: '2024-11', key: a2, rowCount: 300, measures: {} },
        ],
      },
      {
        rowCount: 534,
        rejectedRowCount: 0,
        partitions: [{ value: '2024-10', key: b1, rowCount: 534, measures: {} }],
      },
    ],
    markers: new Map([
      [a1, marker(a1, 'jr_1', 400)],
      [a2, marker(a2, 'jr_1', 300)],
      [b1, marker(b1, 'jr_1', 534)],
    ]),
    reports: new Map([['jr_1', report('jr_1', '7311908213337781043', '2025-01-02T03:02:00.000Z')]]),
    ...overrides,
  };
}

describe('buildDatasetEvent', () => {
  it('publishes DatasetUpdated for a passed batch: tables, partitions, runs, snapshot, rows, files', () => {
    const event = buildDatasetEvent(inputs());

    expect(event.source).toBe('ingestion.pipeline');
    expect(event.detailType).toBe('DatasetUpdated');
    expect(event.detail).toEqual({
      schemaVersion: 1,
      pipeline: 'ingestion',
      dataset: 'cloud_billing',
      executionId: EXECUTION,
      executionName: 'batch-7',
      changed: true,
      tables: [{ database: 'ingestion', table: 'cloud_billing', snapshotId: '7311908213337781043' }],
      partitions: { column: 'billing_period', values: ['2024-10', '2024-11'], omitted: 0 },
      etlRuns: [
        {
          runId: 'jr_1',
          jobName: 'ingestion-cloud_billing-curate',
          snapshotId: '7311908213337781043',
          previousSnapshotId: null,
          startedAt: '2025-01-02T03:00:00.000Z',
          finishedAt: '2025-01-02T03:02:00.000Z',
        },
      ],
      rows: { normalized: 1234, rejected: 2, written: 1234, identical: 0, superseded: 0, conflicts: 0 },
      reconciliation: {
        status: 'passed',
        resultKey: 'reconciliation/cloud_billing/batch-7.json',
        evaluatedAt: '2025-01-02T03:04:05.000Z',
        checks: { total: 2, passed: 2, failed: 0, pending: 0 },
        failedChecks: [],
        withinTolerance: [],
      },
      files: { total: 2, normalized: 2, duplicate: 0, quarantined: 0, failed: 0, flagged: 0 },
    });
    expect('reasons' in event.detail).toBe(false);
    expectValid(event);
  });

  it('says within_tolerance, and names the checks, when a measure differs from the source inside its tolerance', () => {
    const tolerated = check({ check: 'measure:billed_cost', delta: '-0.004', tolerance: '0.01' });
    const event = buildDatasetEvent(inputs({ result: result([check(), tolerated]) }));

    expect(event.detailType).toBe('DatasetUpdated');
    expect(event.detail.reconciliation.status).toBe('within_tolerance');
    expect(event.detail.reconciliation.withinTolerance).toEqual([
      { check: 'measure:billed_cost', sourceKey: 'cloud_billing/a.csv', delta: '-0.004' },
    ]);
    expectValid(event);
  });

  it('is still DatasetUpdated when a cross-template rule waits for its other side (pending)', () => {
    const pending = check({
      check: 'cross_template:headcount',
      status: 'pending',
      source: undefined,
      scope: { org_unit: 'Data' },
      delta: null,
    });
    const event = buildDatasetEvent(inputs({ result: result([check(), pending]) }));

    expect(event.detailType).toBe('DatasetUpdated');
    expect(event.detail.reconciliation).toMatchObject({ status: 'pending', checks: { pending: 1 } });
    expectValid(event);
  });

  it('holds a batch whose reconciliation failed, naming the failed checks and the result document', () => {
    const failed = [
      check({ status: 'fail', actual: '9', delta: '-1' }),
      check({ check: 'measure:billed_cost', status: 'fail', delta: '-12.5' }),
    ];
    const event = buildDatasetEvent(inputs({ result: result([...failed, check({ check: 'marker' })]) }));

    expect(event.detailType).toBe('DatasetHeld');
    if (event.detailType !== 'DatasetHeld') throw new Error('unreachable');
    expect(event.detail.reconciliation.status).toBe('failed');
    expect(event.detail.reconciliation.failedChecks).toEqual([
      { check: 'rows', sourceKey: 'cloud_billing/a.csv', delta: '-1' },
      { check: 'measure:billed_cost', sourceKey: 'cloud_billing/a.csv', delta: '-12.5' },
    ]);
    expect(event.detail.reasons).toEqual([
      {
        code: 'reconciliation_failed',
        message:
          '2 reconciliation checks failed (rows, measure:billed_cost): see reconciliation/cloud_billing/batch-7.json in the control bucket.',
      },
    ]);
    // What was merged is said as it is: held is not "nothing happened".
    expect(event.detail.rows.written).toBe(1234);
    expectValid(event);
    // A held event is not a valid DatasetUpdated.
    expect(validate.DatasetUpdated(event.detail)).toBe(false);
  });

  it('holds a batch with failed files even when every check passed, and says both reasons when both apply', () => {
    const files = [
      { status: 'normalized' as const },
      { status: 'normalized' as const },
      { status: 'failed' as const },
    ];
    const held = buildDatasetEvent(inputs({ files }));

    expect(held.detailType).toBe('DatasetHeld');
    if (held.detailType !== 'DatasetHeld') throw new Error('unreachable');
    expect(held.detail.reconciliation.status).toBe('passed');
    expect(held.detail.files).toMatchObject({ total: 3, failed: 1 });
    expect(held.detail.reasons.map((r) => r.code)).toEqual(['files_failed']);
    expect(held.detail.reasons[0]!.message).toContain('1 file of the batch failed');
    expectValid(held);

    const both = buildDatasetEvent(
      inputs({ files, result: result([check({ status: 'fail', delta: '-1' })]) }),
    );
    if (both.detailType !== 'DatasetHeld') throw new Error('expected DatasetHeld');
    expect(both.detail.reasons.map((r) => r.code)).toEqual(['reconciliation_failed', 'files_failed']);
  });

  it('says changed: false, with no partitions or runs, when nothing of the batch was merged (duplicates and quarantined files)', () => {
    const event = buildDatasetEvent(
      inputs({
        files: [{ status: 'duplicate' }, { status: 'quarantined' }, { status: 'quarantined' }],
        result: result([]),
        manifests: [],
        markers: new Map(),
        reports: new Map(),
      }),
    );

    expect(event.detailType).toBe('DatasetUpdated');
    expect(event.detail).toMatchObject({
      changed: false,
      partitions: { values: [], omitted: 0 },
      etlRuns: [],
      rows: { normalized: 0, written: 0 },
      files: { total: 3, duplicate: 1, quarantined: 2 },
      reconciliation: { status: 'passed', checks: { total: 0 } },
    });
    expectValid(event);
  });

  it('says changed: false when the batch’s rows were already in curated (the same objects delivered again)', () => {
    const base = inputs();
    const markers = new Map(
      [...base.markers].map(([key, m]) => [key, { ...m!, identicalRows: m!.rowsWritten }] as const),
    );
    const event = buildDatasetEvent({ ...base, markers });
    expect(event.detail.changed).toBe(false);
    expect(event.detail.rows).toMatchObject({ written: 1234, identical: 1234 });
  });

  it('lists each run that merged objects of the batch, oldest first, and a run whose report is missing with nulls', () => {
    const base = inputs();
    const a2 = objectKey('a', '2024-11');
    const markers = new Map(base.markers);
    markers.set(a2, marker(a2, 'jr_0', 300));
    const reports = new Map(base.reports);
    reports.set('jr_0', report('jr_0', '1', '2025-01-02T03:01:00.000Z'));
    const event = buildDatasetEvent({ ...base, markers, reports });
    expect(event.detail.etlRuns.map((r) => [r.runId, r.snapshotId])).toEqual([
      ['jr_0', '1'],
      ['jr_1', '7311908213337781043'],
    ]);

    const missing = buildDatasetEvent({ ...base, reports: new Map() });
    expect(missing.detail.etlRuns).toEqual([
      {
        runId: 'jr_1',
        jobName: null,
        snapshotId: null,
        previousSnapshotId: null,
        startedAt: null,
        finishedAt: null,
      },
    ]);
  });

  it('caps the partitions and checks it lists, counting what it left out', () => {
    const many = Array.from({ length: MAX_EVENT_PARTITIONS + 7 }, (_, i) => `p${String(i).padStart(4, '0')}`);
    const failed = Array.from({ length: MAX_EVENT_CHECKS + 3 }, () => check({ status: 'fail', delta: '-1' }));
    const event = buildDatasetEvent(
      inputs({
        manifests: [
          {
            rowCount: many.length,
            rejectedRowCount: 0,
            partitions: many.map((value) => ({
              value,
              key: objectKey('a', value),
              rowCount: 1,
              measures: {},
            })),
          },
        ],
        markers: new Map(),
        result: result(failed),
      }),
    );
    expect(event.detail.partitions.values).toHaveLength(MAX_EVENT_PARTITIONS);
    expect(event.detail.partitions.omitted).toBe(7);
    expect(event.detail.reconciliation.failedChecks).toHaveLength(MAX_EVENT_CHECKS);
    expect(event.detail.reconciliation.checks.failed).toBe(MAX_EVENT_CHECKS + 3);
    expect(Buffer.byteLength(JSON.stringify(event.detail))).toBeLessThan(256 * 1024);
    expectValid(event);
  });

  it('builds the same detail from the same documents (a retried publish carries the same content)', () => {
    expect(JSON.stringify(buildDatasetEvent(inputs()))).toBe(JSON.stringify(buildDatasetEvent(inputs())));
  });
});

describe('reconciliationOutcome', () => {
  it('reads passed, within tolerance, pending and failed from the result document', () => {
    expect(reconciliationOutcome(result([check()]))).toBe('passed');
    expect(reconciliationOutcome(result([check({ delta: '0.00' })]))).toBe('passed');
    expect(reconciliationOutcome(result([check({ delta: '0.5', tolerance: '1' })]))).toBe('within_tolerance');
    expect(reconciliationOutcome(result([check({ status: 'pending', delta: null })]))).toBe('pending');
    expect(reconciliationOutcome(result([check({ status: 'pending' }), check({ status: 'fail' })]))).toBe(
      'failed',
    );
  });
});

describe('putDatasetEvent', () => {
  type Answer = {
    FailedEntryCount: number;
    Entries: { EventId?: string; ErrorCode?: string; ErrorMessage?: string }[];
  };
  const stub = (answers: (Answer | Error)[]) => {
    const sent: PutEventsCommand[] = [];
    return {
      sent,
      client: {
        send: async (command: PutEventsCommand) => {
          sent.push(command);
          const answer = answers.shift();
          if (answer instanceof Error) throw answer;
          return answer;
        },
      } as unknown as Parameters<typeof putDatasetEvent>[0],
    };
  };
  const noSleep = { sleep: async () => undefined };

  it('puts one entry on the default bus with the source, detail type, detail and the reconciliation time, and returns a receipt', async () => {
    const event = buildDatasetEvent(inputs());
    const { client, sent } = stub([{ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] }]);
    const receipt = await putDatasetEvent(client, event, noSleep);

    expect(receipt).toEqual({
      detailType: 'DatasetUpdated',
      published: true,
      eventId: 'e-1',
      reconciliation: 'passed',
      partitions: 2,
      rowsWritten: 1234,
    });
    expect(sent).toHaveLength(1);
    const entries = sent[0]!.input.Entries!;
    expect(entries).toHaveLength(1);
    expect(entries[0]!.EventBusName).toBeUndefined();
    expect(entries[0]).toMatchObject({ Source: 'ingestion.pipeline', DetailType: 'DatasetUpdated' });
    expect(entries[0]!.Time?.toISOString()).toBe('2025-01-02T03:04:05.000Z');
    expect(JSON.parse(entries[0]!.Detail!)).toEqual(event.detail);
  });

  it('puts a failed entry again (a 200 answer with FailedEntryCount 1) and returns once it is accepted', async () => {
    const { client, sent } = stub([
      { FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }] },
      { FailedEntryCount: 0, Entries: [{ EventId: 'e-2' }] },
    ]);
    const receipt = await putDatasetEvent(client, buildDatasetEvent(inputs()), noSleep);
    expect(receipt.eventId).toBe('e-2');
    expect(sent).toHaveLength(2);
  });

  it('fails with DatasetEventNotPublishedError naming the event and the entry error after the attempts', async () => {
    const failedEntry = {
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' }],
    };
    const { client, sent } = stub([failedEntry, failedEntry, failedEntry]);
    const error = await putDatasetEvent(client, buildDatasetEvent(inputs()), noSleep).catch((e: Error) => e);

    expect(error).toBeInstanceOf(DatasetEventNotPublishedError);
    expect((error as Error).name).toBe('DatasetEventNotPublishedError');
    expect((error as Error).message).toBe(
      'DatasetUpdated event of cloud_billing (execution batch-7) was not put on the default event bus after 3 attempts: ThrottlingException: Rate exceeded',
    );
    expect(sent).toHaveLength(3);
  });

  it('fails with DatasetEventNotPublishedError when the request itself fails (after the SDK’s retries)', async () => {
    const denied = Object.assign(new Error('not authorized to perform: events:PutEvents'), {
      name: 'AccessDeniedException',
    });
    const { client } = stub([denied]);
    await expect(putDatasetEvent(client, buildDatasetEvent(inputs()), noSleep)).rejects.toThrow(
      /^DatasetUpdated event of cloud_billing \(execution batch-7\) was not put on the default event bus: AccessDeniedException: not authorized/,
    );
  });
});
