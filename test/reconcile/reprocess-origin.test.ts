import { describe, expect, it } from 'vitest';
import { sourceChecks } from '../../lambdas/reconcile/control-totals';
import { loadDatasets } from '../../lib/config';
import type { NormalizerManifest } from '../../lib/contracts/manifest';
import type { EtlRunReport, MarkerOrigin, ProcessedMarker } from '../../lib/contracts/run-report';

// A file with rows in two partitions, merged by run jr_first; then one partition reprocessed by
// jr_reprocess (docs/etl.md, "Reprocessing one partition"). jr_first's report still lists both
// objects; its markers now name it for one of them only.
const dataset = loadDatasets().find((d) => d.name === 'cloud_billing')!;
const measure = dataset.measures[0]!;
const sums = (value: string) =>
  Object.fromEntries(dataset.measures.map((m) => [m, m === measure ? value : '0']));
const SOURCE = { sourceId: 'f1', key: 'cloud_billing/aws/export.csv', versionId: 'v1' };
const key = (period: string) => `cloud_billing/billing_period=${period}/f1.jsonl.gz`;

const manifest = {
  schemaVersion: 1,
  dataset: 'cloud_billing',
  status: 'normalized',
  source: { ...SOURCE, bucket: 'landing', size: 1, etag: null, contentSha256: 'x' },
  rejectedRowCount: 0,
  partitions: [
    {
      value: '2024-09',
      key: key('2024-09'),
      rowCount: 3,
      measures: { [measure]: { sum: '6', nullCount: 0 } },
    },
    {
      value: '2024-10',
      key: key('2024-10'),
      rowCount: 1,
      measures: { [measure]: { sum: '4', nullCount: 0 } },
    },
  ],
} as unknown as NormalizerManifest;

const counts = (rows: number, sum: string, runId: string, snapshotId: string) => ({
  runId,
  snapshotId,
  rowsRead: rows,
  rowsWritten: rows,
  identicalRows: 0,
  supersededRows: 0,
  rejectedRows: 0,
  duplicateRows: 0,
  measures: sums(sum),
  identicalMeasures: sums('0'),
  supersededMeasures: sums('0'),
  rejectedMeasures: sums('0'),
});

const marker = (period: string, c: ReturnType<typeof counts>, origin?: MarkerOrigin): ProcessedMarker => ({
  schemaVersion: 2,
  dataset: 'cloud_billing',
  normalizedKey: key(period),
  sourceId: 'f1',
  supersededBy: [],
  conflictsWith: [],
  rejectedKey: null,
  ...c,
  ...(origin ? { origin } : {}),
});

const report = (runId: string, snapshotId: string, entry: ReturnType<typeof counts>, keys: string[]) =>
  ({
    schemaVersion: 2,
    dataset: 'cloud_billing',
    runId,
    jobName: 'ingestion-cloud_billing-curate',
    executionId: null,
    startedAt: '2026-11-29T00:00:00.000Z',
    finishedAt: '2026-11-29T00:01:00.000Z',
    pushDownPredicate: null,
    boundedFiles: 450,
    filesRead: keys.length,
    capReached: false,
    filesLeft: 0,
    snapshotId,
    previousSnapshotId: null,
    sources: [
      {
        ...entry,
        sourceId: 'f1',
        sourceKey: SOURCE.key,
        sourceVersion: 'v1',
        normalizedKeys: keys,
        supersededBy: [],
        conflictsWith: [],
      },
    ],
    partitionsWritten: [],
    curatedTable: 'cloud_billing',
    addedColumns: [],
    dimensions: [],
  }) as unknown as EtlRunReport;

const first = report('jr_first', '11', counts(4, '10', 'jr_first', '11'), [key('2024-09'), key('2024-10')]);
const reprocessing = report('jr_reprocess', '22', counts(1, '4', 'jr_reprocess', '22'), [key('2024-10')]);
const firstOctober = counts(1, '4', 'jr_first', '11');

function checks(octoberOrigin: MarkerOrigin | undefined) {
  return sourceChecks(dataset, {
    manifest,
    markers: new Map([
      [key('2024-09'), marker('2024-09', counts(3, '6', 'jr_first', '11'))],
      [key('2024-10'), marker('2024-10', counts(1, '4', 'jr_reprocess', '22'), octoberOrigin)],
    ]),
    reports: new Map([
      ['jr_first', first],
      ['jr_reprocess', reprocessing],
    ]),
  });
}

describe('run report checks after a partition was reprocessed', () => {
  it("checks the first run's report against the origin its reprocessed object's marker keeps", () => {
    const result = checks(firstOctober);

    const runChecks = result.filter((c) => c.check === 'run_report');
    expect(runChecks.map((c) => [c.status, c.detail.split(' ').slice(0, 3).join(' ')])).toEqual([
      ['pass', 'ETL run jr_first'],
      ['pass', 'ETL run jr_reprocess'],
    ]);
    expect(result.filter((c) => c.status !== 'pass')).toEqual([]);
  });

  it('fails the first run without the origin: its report lists more than its markers hold', () => {
    const failed = checks(undefined).filter((c) => c.status === 'fail');

    expect(failed.map((c) => c.check)).toEqual(['run_report']);
    expect(failed[0]!.detail).toContain(
      'ETL run jr_first reports totals that disagree with its processed markers',
    );
  });

  it('fails when the origin does not match what the first run reported', () => {
    const failed = checks({ ...firstOctober, rowsWritten: 0, rowsRead: 0 }).filter(
      (c) => c.status === 'fail',
    );

    expect(failed.map((c) => c.check)).toEqual(['run_report']);
    expect(failed[0]!.detail).toContain('rowsRead 4 vs 3 in the markers');
  });
});
