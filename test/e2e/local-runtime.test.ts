import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { REPO_ROOT } from '../../local/emulator';
import { runPipeline } from '../../local/pipeline';
import { queryPipeline } from '../../local/query';
import type { RunReport } from '../../local/report';
import { actingPrincipals, expectEveryCallAllowed } from '../iam/expectations';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

// Each run starts the emulator and local Spark; a burst runs the Glue job three times.
vi.setConfig({ testTimeout: 900_000, hookTimeout: 900_000 });

const sample = (...parts: string[]) => path.join(REPO_ROOT, 'samples', ...parts);
const newState = () => mkdtempSync(path.join(tmpdir(), 'pipeline-e2e-'));

async function query(stateDir: string, sql: string): Promise<Record<string, unknown>[]> {
  const { columns, rows } = await queryPipeline(sql, { stateDir });
  return rows.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i]])));
}

function alertKinds(report: RunReport): string[] {
  return report.alerts.map((a) => a.kind);
}

describe('the FOCUS billing sample through the local pipeline', () => {
  const stateDir = newState();
  let first: { report: RunReport; ok: boolean };
  const progress: string[] = [];

  beforeAll(async () => {
    first = await runPipeline([sample('cloud_billing', 'focus_sample.csv')], {
      stateDir,
      onProgress: (line) => progress.push(line),
    });
  });

  it('says that the first crawl created the table', () => {
    expect(progress).toContain(
      '[cloud_billing] crawl done; table normalized_cloud_billing created (its schema is the baseline for drift notices)',
    );
    expect(progress.join('\n')).not.toContain('schema unchanged');
  });

  it('processes 1,000 rows and reconciles every check', () => {
    expect(first.ok, JSON.stringify(first.report.executions)).toBe(true);
    expect(first.report.files).toEqual([
      expect.objectContaining({
        dataset: 'cloud_billing',
        status: 'processed',
        rows: 1000,
        rejectedRows: 0,
        template: 'focus',
      }),
    ]);
    expect(first.report.reconciliation.length).toBeGreaterThan(0);
    expect(first.report.reconciliation.filter((c) => c.status !== 'pass')).toEqual([]);
    expect(first.report.alerts).toEqual([]);
    // Every AWS call of the run was allowed by the synthesized template's policies.
    expectEveryCallAllowed(first.report, actingPrincipals('cloud_billing'));
  });

  it('publishes DatasetUpdated for the billing batch (and the seed) on the default bus, with its partitions, rows and snapshot', () => {
    const events = first.report.datasetEvents ?? [];
    expect(events.map((e) => [e.dataset, e.detailType])).toEqual([
      ['account_hierarchy', 'DatasetUpdated'],
      ['cloud_billing', 'DatasetUpdated'],
    ]);
    const billing = events.find((e) => e.dataset === 'cloud_billing')!;
    expect(billing).toMatchObject({
      reconciliation: 'passed',
      partitionColumn: 'billing_period',
      partitions: ['2024-09', '2024-10'],
      rows: 1000,
      changed: true,
    });
    expect(billing.eventId).toMatch(/\S/);
    expect(billing.snapshotId).toMatch(/^\d+$/);
    expect(billing.execution).toBe(first.report.executions[0]!.name);
  });

  it('lands BilledCost exactly 20.52022672899 (a decimal(38,18)) in the curated table, with the account hierarchy joined', async () => {
    const [totals] = await query(
      stateDir,
      'select count(*) as n, sum(billed_cost) as billed, count(org_unit) as with_org from cloud_billing',
    );
    expect(totals).toEqual({ n: 1000, billed: '20.520226728990000000', with_org: 1000 });
    const periods = await query(
      stateDir,
      'select billing_period, count(*) as n from cloud_billing group by 1 order by 1',
    );
    expect(periods).toEqual([
      { billing_period: '2024-09', n: 999 },
      { billing_period: '2024-10', n: 1 },
    ]);
    expect(first.report.tables).toContainEqual(
      expect.objectContaining({ database: 'ingestion', table: 'cloud_billing', rows: 1000 }),
    );
  });

  it('lands the account hierarchy seed first (a fresh state), and its execution ends before the billing file is dropped', async () => {
    expect(first.report.seeds).toEqual([
      {
        dataset: 'account_hierarchy',
        source: 'data/dimensions/account_hierarchy.csv',
        key: 'account_hierarchy/seed/account_hierarchy.csv',
        status: 'SUCCEEDED',
      },
    ]);
    const seeded = progress.indexOf('[account_hierarchy] execution succeeded');
    const billingStarted = progress.findIndex((l) =>
      /^\[cloud_billing\] execution local-\S+: 1 file\(s\)$/.test(l),
    );
    expect(seeded).toBeGreaterThan(-1);
    expect(billingStarted).toBeGreaterThan(seeded);
    // The seed's file is not one of the run's files, nor its execution one of the run's.
    expect(first.report.executions.map((e) => e.dataset)).toEqual(['cloud_billing']);
    const [hierarchy] = await query(
      stateDir,
      'select count(*) as n, count(distinct org_unit) as org_units from account_hierarchy',
    );
    expect(hierarchy).toEqual({ n: 73, org_units: 6 });
  });

  it('recognizes the same file dropped again and adds no rows', async () => {
    const again = await runPipeline([sample('cloud_billing', 'focus_sample.csv')], { stateDir });

    expect(again.ok, JSON.stringify(again.report.executions)).toBe(true);
    // The hierarchy is in the state already: nothing is seeded again.
    expect(again.report.seeds).toBeUndefined();
    expect(again.report.files.map((f) => f.status)).toEqual(['duplicate']);
    // Nothing new reached curated: the event says so (changed: false), still DatasetUpdated.
    expect(again.report.datasetEvents).toEqual([
      expect.objectContaining({
        dataset: 'cloud_billing',
        detailType: 'DatasetUpdated',
        changed: false,
        rows: 0,
      }),
    ]);
    const [totals] = await query(
      stateDir,
      'select count(*) as n, sum(billed_cost) as billed from cloud_billing',
    );
    expect(totals).toEqual({ n: 1000, billed: '20.520226728990000000' });
  });
});

describe('capacity plans in two template versions', () => {
  const stateDir = newState();

  it('land renamed and new columns in one curated table, and the roster disagreement is alerted', async () => {
    const first = await runPipeline(
      [
        sample('workforce_capacity', 'capacity_plan_2025Q1_v1.csv'),
        sample('workforce_capacity', 'org_roster_2025Q1.csv'),
      ],
      { stateDir },
    );
    expect(first.ok, JSON.stringify(first.report.executions)).toBe(true);
    expect(first.report.files.map((f) => [path.basename(f.source), f.status, f.template])).toEqual([
      ['capacity_plan_2025Q1_v1.csv', 'processed', 'capacity_plan'],
      ['org_roster_2025Q1.csv', 'processed', 'org_roster'],
    ]);
    // The roster covers org units whose plans have not arrived yet: pending, not a discrepancy.
    expect(first.report.reconciliation.some((c) => c.status === 'pending')).toBe(true);
    expect(first.report.reconciliation.filter((c) => c.status === 'fail')).toEqual([]);
    // Pending is not failed: the batch is published as updated, saying pending.
    expect(first.report.datasetEvents).toEqual([
      expect.objectContaining({
        dataset: 'workforce_capacity',
        detailType: 'DatasetUpdated',
        reconciliation: 'pending',
      }),
    ]);

    const second = await runPipeline([sample('workforce_capacity', 'capacity_plan_2025Q1_v2.csv')], {
      stateDir,
    });
    expect(second.ok, JSON.stringify(second.report.executions)).toBe(true);
    expectEveryCallAllowed(second.report, actingPrincipals('workforce_capacity'));
    const table = second.report.tables.find((t) => t.table === 'workforce_capacity')!;
    expect(table.columns).toEqual(
      expect.arrayContaining([
        'org_unit',
        'cost_center',
        'job_family',
        'headcount',
        'fte',
        'cost_usd',
        'remote_share',
        'quarter',
      ]),
    );
    const plans = await query(
      stateDir,
      "select org_unit, sum(headcount) as hc, sum(cost_usd) as cost, count(remote_share) as with_remote from workforce_capacity where ingest_template = 'capacity_plan' group by org_unit order by org_unit",
    );
    // Measures are decimal(38,6): sums keep the scale.
    expect(plans).toEqual([
      { org_unit: 'Corporate IT', hc: '9.000000', cost: '405000.000000', with_remote: 1 },
      { org_unit: 'Data Engineering', hc: '21.000000', cost: '963000.000000', with_remote: 0 },
      { org_unit: 'Payments', hc: '22.000000', cost: '1181000.000000', with_remote: 0 },
      { org_unit: 'Platform', hc: '32.000000', cost: '1544000.000000', with_remote: 0 },
      { org_unit: 'Research', hc: '40.000000', cost: '3060000.000000', with_remote: 2 },
      { org_unit: 'Retail Apps', hc: '25.000000', cost: '1270000.000000', with_remote: 2 },
    ]);
    const quarters = await query(stateDir, 'select distinct quarter from workforce_capacity');
    expect(quarters).toEqual([{ quarter: '2025-Q1' }]);

    const failed = second.report.reconciliation.filter((c) => c.status === 'fail');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ dataset: 'workforce_capacity', expected: '42', actual: '40' });
    expect(failed[0]!.check).toContain('Research');
    const discrepancy = second.report.alerts.find((a) => a.kind === 'discrepancy')!;
    expect(discrepancy.subject).toMatch(/^\[workforce_capacity\].*1 .*failed/);
    expect(discrepancy.subject.length).toBeLessThanOrEqual(100);
    expect(discrepancy.severity).toBe('critical');
    // Its S3 links point into the emulator; the report says where each is on this machine.
    const s3Links = (discrepancy.local ?? []).filter((l) => l.link.startsWith('s3://ingestion-control/'));
    expect(s3Links.length).toBeGreaterThan(0);
    for (const link of s3Links) {
      expect(link.path.startsWith(path.join(stateDir, 'current', 's3', 'control') + path.sep)).toBe(true);
      expect(existsSync(link.path), link.path).toBe(true);
    }
    expect(alertKinds(second.report)).toContain('schema_drift');
    // The failed check holds the batch: DatasetHeld, naming the check, and no DatasetUpdated.
    expect(second.report.datasetEvents).toEqual([
      expect.objectContaining({
        dataset: 'workforce_capacity',
        detailType: 'DatasetHeld',
        reconciliation: 'failed',
        partitions: ['2025-Q1'],
        reasons: [
          expect.stringMatching(
            /^1 reconciliation check failed \(cross_template:.*\): see reconciliation\/workforce_capacity\//,
          ),
        ],
      }),
    ]);
  });
});

describe('a bad file in a batch', () => {
  it('is quarantined with an alert while the other files of the batch are processed', async () => {
    const stateDir = newState();
    const folder = path.join(newState(), 'workforce_capacity');
    mkdirSync(folder);
    writeFileSync(path.join(folder, 'empty_plan.csv'), '');
    writeFileSync(path.join(folder, 'notes.pdf'), '%PDF-1.4 not a template');
    writeFileSync(
      path.join(folder, 'plan.csv'),
      'Org Unit,Cost Center,Quarter,Job Family,Location,HC,FTE\nPlatform,CC-1100,2025-Q2,SRE,Dublin,3,3\nPlatform,CC-1100,2025-Q2,SRE,Berlin,not-a-number,2\n',
    );

    const { report, ok } = await runPipeline([folder], { stateDir });

    expect(ok, JSON.stringify(report.executions)).toBe(true);
    const byName = Object.fromEntries(report.files.map((f) => [path.basename(f.source), f]));
    expect(byName['empty_plan.csv']!.status).toBe('quarantined');
    expect(byName['notes.pdf']!.status).toBe('quarantined');
    expect(byName['plan.csv']).toMatchObject({ status: 'processed', rows: 1, rejectedRows: 1 });
    expectEveryCallAllowed(report, [...actingPrincipals('workforce_capacity'), 'quarantine handler']);
    const alert = report.alerts.find((a) => a.kind === 'quarantine')!;
    expect(alert.message).toContain('empty_plan.csv');
    expect(alert.message).toContain('notes.pdf');
    const rows = await query(stateDir, 'select count(*) as n from workforce_capacity');
    expect(rows).toEqual([{ n: 1 }]);
  });
});

describe('a burst larger than the file cap', () => {
  it('drains 400 files in bounded runs of 150, with every row present', async () => {
    const stateDir = newState();
    const folder = path.join(newState(), 'workforce_capacity');
    mkdirSync(folder);
    for (let i = 1; i <= 400; i++) {
      writeFileSync(
        path.join(folder, `plan_${String(i).padStart(3, '0')}.csv`),
        `Org Unit,Cost Center,Quarter,Job Family,Location,HC,FTE\nUnit ${i},CC-${i},2025-Q${(i % 4) + 1},Engineering,Site ${i},${i},${i}\n`,
      );
    }

    const { report, ok } = await runPipeline([folder], { stateDir, boundedFiles: 150 });

    expect(ok, JSON.stringify(report.executions)).toBe(true);
    expect(report.executions).toHaveLength(1);
    expect(report.executions[0]!.etlRuns).toBe(3);
    // No dataset of the run joins a dimension dataset: nothing is seeded.
    expect(report.seeds).toBeUndefined();
    expect(report.files.filter((f) => f.status === 'processed')).toHaveLength(400);
    expectEveryCallAllowed(report, actingPrincipals('workforce_capacity'));
    const [totals] = await query(
      stateDir,
      'select count(*) as n, sum(headcount) as hc from workforce_capacity',
    );
    expect(totals).toEqual({ n: 400, hc: `${(400 * 401) / 2}.000000` });
  });
});
