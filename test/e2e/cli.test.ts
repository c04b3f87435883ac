import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { REPO_ROOT } from '../../local/emulator';

// Each run starts the emulator and local Spark; a burst runs the Glue job three times.
vi.setConfig({ testTimeout: 900_000, hookTimeout: 900_000 });

const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const CLI = path.join(REPO_ROOT, 'bin', 'pipeline.ts');
const focus = path.join(REPO_ROOT, 'samples', 'cloud_billing', 'focus_sample.csv');

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(TSX, [CLI, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf-8',
    env: { ...process.env, ...env },
    timeout: 600_000,
  });
}

describe('pipeline CLI', () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'pipeline-cli-'));
  const reportFile = path.join(stateDir, '..', `${path.basename(stateDir)}-report.json`);

  it('run: exits 0, prints a summary, writes the JSON report of the contract', () => {
    const result = cli(['run', focus, '--report', reportFile, '--state', stateDir]);

    expect(result.status, result.stderr.slice(-3000)).toBe(0);
    expect(result.stdout).toContain('== Files (1)');
    expect(result.stderr).toContain('[cloud_billing] normalizing 1 file(s)');
    // The first crawl of a fresh state creates the table: it says so (not "schema unchanged").
    expect(result.stderr).toContain('[cloud_billing] crawl done; table normalized_cloud_billing created');
    const report = JSON.parse(readFileSync(reportFile, 'utf-8'));
    expect(Object.keys(report)).toEqual(
      expect.arrayContaining(['files', 'reconciliation', 'alerts', 'tables']),
    );
    expect(report.files).toEqual([
      expect.objectContaining({
        source: path.relative(REPO_ROOT, focus),
        dataset: 'cloud_billing',
        status: 'processed',
        rows: 1000,
        rejectedRows: 0,
        template: 'focus',
      }),
    ]);
    for (const check of report.reconciliation) {
      expect(Object.keys(check)).toEqual(
        expect.arrayContaining(['dataset', 'check', 'status', 'expected', 'actual']),
      );
      expect(check.status).toBe('pass');
    }
    expect(report.tables).toContainEqual(
      expect.objectContaining({
        database: 'ingestion',
        table: 'cloud_billing',
        rows: 1000,
        columns: expect.arrayContaining(['billed_cost', 'org_unit', 'billing_period']),
      }),
    );
  });

  it('query --json: prints only a JSON array of row objects', () => {
    const result = cli([
      'query',
      'select count(*) as n, sum(billed_cost) as billed from cloud_billing',
      '--json',
      '--state',
      stateDir,
    ]);

    expect(result.status, result.stderr).toBe(0);
    // billed_cost is a decimal(38,18): its sum keeps that scale, as Athena prints it.
    expect(JSON.parse(result.stdout)).toEqual([{ n: 1000, billed: '20.520226728990000000' }]);
  });

  it('query: decimals keep the scale of their type, in the table and in --json', () => {
    const sql =
      'select cast(1250 as decimal(18,2)) as amount, cast(sum(billed_cost) as decimal(18,2)) as billed from cloud_billing';
    const table = cli(['query', sql, '--state', stateDir]);
    const json = cli(['query', sql, '--json', '--state', stateDir]);

    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout.split('\n')[2]).toMatch(/^1250\.00\s+20\.52$/);
    expect(JSON.parse(json.stdout)).toEqual([{ amount: '1250.00', billed: '20.52' }]);
  });

  it("query: a bad SQL is a clear error naming the curated tables before DuckDB's own suggestion, exit 2", () => {
    const result = cli(['query', 'select * from no_such_table', '--state', stateDir]);

    expect(result.status).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^error: .*no_such_table/);
    expect(lines[1]).toMatch(
      /^curated tables: account_hierarchy, cloud_billing \(list them with "tables", their columns with "describe <table>"\)$/,
    );
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });

  it('tables: lists the curated tables with rows, columns and partition key', () => {
    const result = cli(['tables', '--state', stateDir]);
    const json = cli(['tables', '--json', '--state', stateDir]);

    expect(result.status, result.stderr).toBe(0);
    // Iceberg tables: billing partitioned by the month of billing_period_start (a hidden
    // partition); the account hierarchy, a dimension dataset, seeded before the first billing run.
    expect(result.stdout).toMatch(/^ingestion\.cloud_billing\s+1000\s+57\s+billing_period_start$/m);
    expect(result.stdout).toMatch(/^ingestion\.account_hierarchy\s+73\s+\d+\s+org_unit$/m);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ database: 'ingestion', table: 'account_hierarchy', rows: 73 }),
      expect.objectContaining({
        database: 'ingestion',
        table: 'cloud_billing',
        rows: 1000,
        partitionKeys: ['billing_period_start'],
      }),
    ]);
  });

  it('describe: lists the columns of a table with their catalog types; an unknown table is a clear error', () => {
    const result = cli(['describe', 'cloud_billing', '--json', '--state', stateDir]);
    const unknown = cli(['describe', 'no_such_table', '--state', stateDir]);

    expect(result.status, result.stderr).toBe(0);
    const described = JSON.parse(result.stdout) as {
      columns: { column: string; type: string; partition_key: string }[];
      format: string;
      currentSnapshotId: string | null;
      snapshots: { snapshotId: string; operation: string }[];
    };
    const columns = described.columns;
    expect(columns).toContainEqual({ column: 'billed_cost', type: 'decimal(38,18)', partition_key: '' });
    expect(columns).toContainEqual({
      column: 'billing_period_start',
      type: 'timestamp',
      partition_key: 'month',
    });
    expect(columns).toContainEqual({ column: 'billing_period', type: 'string', partition_key: '' });
    // The curated table is Iceberg: its history ends with the current snapshot.
    expect(described.format).toBe('iceberg');
    expect(described.snapshots.at(-1)?.snapshotId).toBe(described.currentSnapshotId);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr.trim()).toBe(
      `error: no curated table 'no_such_table'; curated tables: account_hierarchy, cloud_billing (list them with "tables", their columns with "describe <table>")`,
    );
  });

  it('run: exits non-zero when a stage fails', () => {
    const failing = mkdtempSync(path.join(tmpdir(), 'pipeline-cli-fail-'));
    // Spark cannot start without a Java runtime: the Glue job run, hence the RunEtl stage, fails.
    const result = cli(['run', focus, '--state', failing], { JAVA_HOME: path.join(failing, 'no-such-jdk') });

    expect(result.status).toBe(1);
    expect(result.stdout).toContain('FAILED');
    expect(result.stdout).toContain('failure: [cloud_billing]');
  });

  it('run: a file of no known dataset is a usage error, exit 2', () => {
    const stray = path.join(mkdtempSync(path.join(tmpdir(), 'pipeline-cli-stray-')), 'stray.csv');
    writeFileSync(stray, 'a,b\n1,2\n');
    const result = cli(['run', stray, '--state', stateDir]);

    expect(result.status).toBe(2);
    expect(result.stderr).toContain('cannot tell the dataset of');
    expect(result.stderr).toContain('--dataset');
  });

  it('reset: removes the state folder it made', () => {
    const result = cli(['reset', '--state', stateDir]);

    expect(result.status).toBe(0);
    expect(result.stdout).toContain('local pipeline state cleared');
    expect(existsSync(stateDir)).toBe(false);
  });
});
