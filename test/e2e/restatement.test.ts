import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { REPO_ROOT } from '../../local/emulator';

// Each run starts the emulator and local Spark.
vi.setConfig({ testTimeout: 900_000, hookTimeout: 900_000 });

const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const CLI = path.join(REPO_ROOT, 'bin', 'pipeline.ts');
const SAMPLE = path.join(REPO_ROOT, 'samples', 'workforce_capacity', 'capacity_plan_2025Q1_v1.csv');

interface Report {
  files: { source: string; status: string; rows: number | null }[];
  reconciliation: { check: string; status: string; detail?: string }[];
  alerts: { kind: string; severity: string; subject: string }[];
}

function cli(args: string[]) {
  return spawnSync(TSX, [CLI, ...args], { cwd: REPO_ROOT, encoding: 'utf-8', timeout: 600_000 });
}

/** Drops `content` as workforce_capacity/capacity_plan.csv: the same landing key every time. */
function run(stateDir: string, content: string): { status: number | null; stderr: string; report: Report } {
  const folder = mkdtempSync(path.join(tmpdir(), 'pipeline-restate-drop-'));
  mkdirSync(path.join(folder, 'workforce_capacity'));
  writeFileSync(path.join(folder, 'workforce_capacity', 'capacity_plan.csv'), content);
  const reportFile = `${stateDir}-report.json`;
  rmSync(reportFile, { force: true });
  const result = cli(['run', folder, '--state', stateDir, '--report', reportFile]);
  rmSync(folder, { recursive: true, force: true });
  return {
    status: result.status,
    stderr: result.stderr,
    report: JSON.parse(readFileSync(reportFile, 'utf-8')) as Report,
  };
}

function query(stateDir: string, sql: string, snapshot?: string): Record<string, unknown>[] {
  const result = cli([
    'query',
    sql,
    '--json',
    '--state',
    stateDir,
    ...(snapshot ? ['--snapshot', snapshot] : []),
  ]);
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Record<string, unknown>[];
}

describe('a corrected version of a capacity plan dropped under the same name', () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'pipeline-restate-'));
  const [header, ...rows] = readFileSync(SAMPLE, 'utf-8').trim().split(/\r?\n/);
  // The correction drops the last row and changes the first row's headcount from 24 to 30.
  const corrected = [header, rows[0]!.replace(',24,', ',30,'), ...rows.slice(1, -1)].join('\n');
  const sql =
    "select count(*) as n, sum(headcount) as hc from workforce_capacity where ingest_template = 'capacity_plan'";

  it('replaces every row of the first version, rows it no longer has included, and says so', () => {
    const first = run(stateDir, `${[header, ...rows].join('\n')}\n`);
    expect(first.status, first.stderr.slice(-3000)).toBe(0);
    const before = query(stateDir, sql);
    expect(Number(before[0]!.n)).toBe(rows.length);

    const second = run(stateDir, `${corrected}\n`);
    expect(second.status, second.stderr.slice(-3000)).toBe(0);

    const expectedHeadcount = rows
      .slice(0, -1)
      .map((r, i) => (i === 0 ? 30 : Number(r.split(',')[5])))
      .reduce((a, b) => a + b, 0);
    const after = query(stateDir, sql);
    expect(Number(after[0]!.n)).toBe(rows.length - 1);
    expect(Number(after[0]!.hc)).toBe(expectedHeadcount);
    // Reconciliation accounts for the superseded rows instead of failing on them.
    expect(second.report.reconciliation.filter((c) => c.status === 'pass').length).toBeGreaterThan(0);
    expect(second.report.reconciliation.filter((c) => c.status === 'fail')).toEqual([]);
    // The data owners are told which file restated which.
    const notice = second.report.alerts.find((a) => a.kind === 'restatement');
    expect(notice, JSON.stringify(second.report.alerts)).toBeDefined();
    expect(notice!.severity).toBe('info');

    // Time travel: the table as the first run's reconciliation saw it.
    const described = cli(['describe', 'workforce_capacity', '--json', '--state', stateDir]);
    expect(described.status, described.stderr).toBe(0);
    const snapshots = (
      JSON.parse(described.stdout) as { snapshots: { snapshotId: string; operation: string }[] }
    ).snapshots;
    expect(snapshots.length).toBeGreaterThanOrEqual(2);
    const then = query(stateDir, sql, snapshots[0]!.snapshotId);
    expect(Number(then[0]!.n)).toBe(rows.length);
  });
});
