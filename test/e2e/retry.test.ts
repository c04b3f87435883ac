import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { REPO_ROOT } from '../../local/emulator';

// Each run starts the emulator and local Spark.
vi.setConfig({ testTimeout: 900_000, hookTimeout: 900_000 });

const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const CLI = path.join(REPO_ROOT, 'bin', 'pipeline.ts');
const roster = path.join(REPO_ROOT, 'samples', 'workforce_capacity', 'org_roster_2025Q1.csv');
// Two quarters: the job writes two partitions, so a failure after its first write leaves part
// of its output written.
const plan = path.join(
  REPO_ROOT,
  'test',
  'fixtures',
  'retry',
  'workforce_capacity',
  'capacity_plan_2025H1.csv',
);

interface Report {
  files: { source: string; status: string; rows: number | null; reason?: string }[];
  reconciliation: { check: string; status: string; detail?: string }[];
  alerts: { kind: string; severity: string; subject: string }[];
  faults?: { fault: string; planned: number; injected: number }[];
}

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(TSX, [CLI, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf-8',
    timeout: 600_000,
    env: { ...process.env, ...env },
  });
}

function run(
  stateDir: string,
  file: string,
  env: Record<string, string> = {},
): { status: number | null; stderr: string; report: Report } {
  const reportFile = `${stateDir}-report.json`;
  rmSync(reportFile, { force: true });
  const result = cli(['run', file, '--state', stateDir, '--report', reportFile], env);
  return {
    status: result.status,
    stderr: result.stderr,
    report: JSON.parse(readFileSync(reportFile, 'utf-8')) as Report,
  };
}

function query(stateDir: string, sql: string): Record<string, unknown>[] {
  const result = cli(['query', sql, '--json', '--state', stateDir]);
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Record<string, unknown>[];
}

/** Planned headcount of the capacity plan sample, from the file itself. */
function plannedHeadcount(): number {
  const [header, ...rows] = readFileSync(plan, 'utf-8').trim().split(/\r?\n/);
  const column = header!.split(',').findIndex((h) => /^(hc|headcount)$/i.test(h.trim()));
  expect(column).toBeGreaterThanOrEqual(0);
  return rows.reduce((sum, row) => sum + Number(row.split(',')[column]), 0);
}

describe('a file whose execution failed after normalizing, dropped again', () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'pipeline-retry-'));

  it('is processed again (not a duplicate), reaches curated, and only then is a later copy a duplicate', () => {
    // Earlier data in the table, then a run whose Glue job fails after its first curated write,
    // twice (the state machine runs a failed job once more): the execution fails after the
    // file was normalized, with part of a run's output written.
    const first = run(stateDir, roster);
    expect(first.status, first.stderr.slice(-3000)).toBe(0);

    const failed = run(stateDir, plan, {
      PIPELINE_LOCAL_FAULTS: 'glue:fail-mid-write:1,glue:fail-mid-write:1',
    });

    expect(failed.status, failed.stderr.slice(-3000)).toBe(1);
    expect(failed.report.faults?.reduce((n, f) => n + f.injected, 0)).toBe(2);
    expect(failed.report.files).toEqual([
      expect.objectContaining({ source: path.relative(REPO_ROOT, plan), status: 'failed' }),
    ]);
    expect(failed.report.alerts.map((a) => a.kind)).toContain('failure');

    // The file is dropped again, with no fault this time.
    const retried = run(stateDir, plan);

    expect(retried.status, retried.stderr.slice(-3000)).toBe(0);
    expect(retried.report.files).toEqual([
      expect.objectContaining({ source: path.relative(REPO_ROOT, plan), status: 'processed' }),
    ]);
    const fileChecks = retried.report.reconciliation.filter((c) => c.check.includes(path.basename(plan)));
    expect(fileChecks.length).toBeGreaterThan(0);
    for (const check of fileChecks) expect(check, check.detail).toMatchObject({ status: 'pass' });
    const planned = query(
      stateDir,
      "select count(*) as n, sum(headcount) as hc from workforce_capacity where ingest_template = 'capacity_plan'",
    );
    const lines = readFileSync(plan, 'utf-8').trim().split(/\r?\n/).length - 1;
    expect(planned).toEqual([{ n: lines, hc: expect.anything() }]);
    expect(Number(planned[0]!.hc)).toBe(plannedHeadcount());

    // Now that its content is curated, the same file once more is a duplicate and adds nothing.
    const again = run(stateDir, plan);

    expect(again.status, again.stderr.slice(-3000)).toBe(0);
    expect(again.report.files).toEqual([expect.objectContaining({ status: 'duplicate' })]);
    expect(
      query(stateDir, "select count(*) as n from workforce_capacity where ingest_template = 'capacity_plan'"),
    ).toEqual([{ n: lines }]);
  });
});
