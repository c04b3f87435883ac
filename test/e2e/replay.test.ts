import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { REPO_ROOT } from '../../local/emulator';
import type { ReplayReport } from '../../local/replay-selection';

// Each replay that executes starts the emulator and local Spark.
vi.setConfig({ testTimeout: 900_000, hookTimeout: 900_000 });

const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const CLI = path.join(REPO_ROOT, 'bin', 'pipeline.ts');
const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'replay');
/** Adds the alias BilledCostUSD to cloud_billing's billed_cost. */
const FIX = path.join(REPO_ROOT, 'samples', 'replay', 'billed-cost-alias.ts');

function cli(args: string[]) {
  return spawnSync(TSX, [CLI, ...args], { cwd: REPO_ROOT, encoding: 'utf-8', timeout: 800_000 });
}

/** Every file of the state's current save with its size and modification time. */
function stateListing(stateDir: string): string[] {
  const root = path.join(stateDir, 'current');
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return walk(full);
      const stat = statSync(full);
      return [`${path.relative(root, full)} ${stat.size} ${stat.mtimeMs}`];
    });
  return walk(root).sort();
}

function replay(
  stateDir: string,
  args: string[],
): { status: number | null; stderr: string; report: ReplayReport } {
  const reportFile = `${stateDir}-replay.json`;
  rmSync(reportFile, { force: true });
  const result = cli([
    'replay',
    '--dataset',
    'cloud_billing',
    ...args,
    '--state',
    stateDir,
    '--report',
    reportFile,
  ]);
  return {
    status: result.status,
    stderr: result.stderr,
    report: JSON.parse(readFileSync(reportFile, 'utf-8')) as ReplayReport,
  };
}

function query(stateDir: string, sql: string): Record<string, unknown>[] {
  const result = cli(['query', sql, '--json', '--state', stateDir]);
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Record<string, unknown>[];
}

function currentSnapshot(stateDir: string): string {
  const result = cli(['describe', 'cloud_billing', '--json', '--state', stateDir]);
  expect(result.status, result.stderr).toBe(0);
  return String((JSON.parse(result.stdout) as { currentSnapshotId: unknown }).currentSnapshotId);
}

const ROWS_BY_FILE =
  "select regexp_extract(ingest_source_key, '[^/]+$') as file, count(*) as n from cloud_billing group by 1 order by 1";

/** Curated rows per landing file name. */
function rowsByFile(stateDir: string): { file: unknown; n: number }[] {
  return query(stateDir, ROWS_BY_FILE).map((r) => ({ file: r.file, n: Number(r.n) }));
}

describe('replay of a file quarantined for a header the config did not know', () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'pipeline-replay-'));

  it('quarantines charges_renamed.csv (BilledCostUSD is no column of cloud_billing) and curates charges_good.csv', () => {
    const reportFile = `${stateDir}-run.json`;
    const result = cli([
      'run',
      path.join(FIXTURES, 'cloud_billing'),
      '--state',
      stateDir,
      '--report',
      reportFile,
    ]);
    expect(result.status, result.stderr.slice(-3000)).toBe(0);
    const report = JSON.parse(readFileSync(reportFile, 'utf-8')) as {
      files: { key: string; status: string; reason?: string }[];
    };
    const byName = (name: string) => report.files.find((f) => f.key.endsWith(name));
    expect(byName('charges_good.csv')?.status).toBe('processed');
    expect(byName('charges_renamed.csv')?.status).toBe('quarantined');
    expect(byName('charges_renamed.csv')?.reason).toMatch(/^unknown_template/);
    expect(rowsByFile(stateDir)).toEqual([{ file: 'charges_good.csv', n: 3 }]);
  });

  it('--dry-run lists the quarantined version and why, and writes nothing', () => {
    const before = stateListing(stateDir);
    const { status, stderr, report } = replay(stateDir, ['--quarantined', '--dry-run']);
    expect(status, stderr).toBe(0);
    expect(report.dryRun).toBe(true);
    expect(report.files).toHaveLength(1);
    const [file] = report.files;
    expect(file!.key).toBe('cloud_billing/charges_renamed.csv');
    expect(file!.versionId).toMatch(/\S/);
    expect(file!.outcome).toBe('would_replay');
    expect(file!.before).toBe('not_curated');
    expect(file!.selected).toMatch(/unknown_template \(UnknownTemplateError\)/);
    expect(report.executions).toEqual([{ name: file!.execution, files: 1, status: 'NOT_STARTED' }]);
    expect(stateListing(stateDir)).toEqual(before);
  });

  it('replayed before the fix, the file is quarantined again with its reason', () => {
    const { status, stderr, report } = replay(stateDir, ['--quarantined']);
    expect(status, stderr.slice(-3000)).toBe(0);
    expect(report.files.map((f) => [f.key, f.outcome])).toEqual([
      ['cloud_billing/charges_renamed.csv', 'quarantined_again'],
    ]);
    expect(report.files[0]!.detail).toMatch(/^unknown_template \(UnknownTemplateError\)/);
    expect(report.executions.map((e) => e.status)).toEqual(['SUCCEEDED']);
    expect(rowsByFile(stateDir)).toEqual([{ file: 'charges_good.csv', n: 3 }]);
  });

  it('replayed after the alias was added (--config), the same version is curated: rows rise by its 3', () => {
    const replayStartedAt = new Date().toISOString();
    const { status, stderr, report } = replay(stateDir, ['--quarantined', '--config', FIX]);
    expect(status, stderr.slice(-3000)).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.counts.curated).toBe(1);
    // Every call of the executions was allowed by the synthesized IAM policies.
    const iam = (report as unknown as { run: { iam: { denied: unknown[] }[] } }).run.iam;
    expect(iam.length).toBeGreaterThan(0);
    expect(iam.flatMap((entry) => entry.denied)).toEqual([]);
    const [file] = report.files;
    expect([file!.key, file!.outcome, file!.skipped]).toEqual([
      'cloud_billing/charges_renamed.csv',
      'curated',
      false,
    ]);
    expect(rowsByFile(stateDir)).toEqual([
      { file: 'charges_good.csv', n: 3 },
      { file: 'charges_renamed.csv', n: 3 },
    ]);
    // The replayed rows keep the version's landing time (the event time it was first delivered
    // with, recorded by its quarantine reason: its LastModified within a second), not the replay's.
    const landed = query(
      stateDir,
      "select distinct strftime(ingest_landed_at, '%Y-%m-%dT%H:%M:%SZ') as t from cloud_billing where ingest_source_key like '%charges_renamed.csv'",
    );
    expect(landed).toHaveLength(1);
    const landedAt = Date.parse(String(landed[0]!.t));
    expect(Math.abs(landedAt - Date.parse(file!.lastModified!))).toBeLessThanOrEqual(1000);
    expect(landedAt).toBeLessThan(Date.parse(replayStartedAt) - 1000);
  });

  it('replayed again, the curated version is skipped as already curated and nothing is saved', () => {
    const before = stateListing(stateDir);
    const { status, stderr, report } = replay(stateDir, ['--quarantined', '--config', FIX]);
    expect(status, stderr).toBe(0);
    expect(report.files.map((f) => [f.outcome, f.skipped, f.before])).toEqual([
      ['already_curated', true, 'already_curated'],
    ]);
    expect(report.executions).toEqual([]);
    expect(stateListing(stateDir)).toEqual(before);
  });

  it('curated versions sent through the pipeline again (--include-curated) change nothing in curated', () => {
    const snapshot = currentSnapshot(stateDir);
    const rows = rowsByFile(stateDir);
    const { status, stderr, report } = replay(stateDir, [
      '--prefix',
      '',
      '--include-curated',
      '--config',
      FIX,
    ]);
    expect(status, stderr.slice(-3000)).toBe(0);
    expect(report.files.map((f) => [f.key, f.before, f.outcome, f.skipped])).toEqual([
      ['cloud_billing/charges_good.csv', 'already_curated', 'curated', false],
      ['cloud_billing/charges_renamed.csv', 'already_curated', 'curated', false],
    ]);
    expect(report.executions.map((e) => [e.files, e.status])).toEqual([[2, 'SUCCEEDED']]);
    expect(currentSnapshot(stateDir)).toBe(snapshot);
    expect(rowsByFile(stateDir)).toEqual(rows);
  });
});
