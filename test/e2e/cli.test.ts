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
    expect(JSON.parse(result.stdout)).toEqual([{ n: 1000, billed: '20.52022672899' }]);
  });

  it('query: a bad SQL is a clear error naming the tables, exit 2', () => {
    const result = cli(['query', 'select * from no_such_table', '--state', stateDir]);

    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/no_such_table[\s\S]*curated tables: cloud_billing/);
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

  it('reset: removes the state folder', () => {
    const result = cli(['reset', '--state', stateDir]);

    expect(result.status).toBe(0);
    expect(existsSync(stateDir)).toBe(false);
  });
});
