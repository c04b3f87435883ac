import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { REPO_ROOT } from '../../local/emulator';

// The run starts the emulator and local Spark.
vi.setConfig({ testTimeout: 900_000, hookTimeout: 900_000 });

const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const CLI = path.join(REPO_ROOT, 'bin', 'pipeline.ts');
/** Written by test/fixtures/e2e/generate.ts; the folder names the dataset. */
const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'e2e', 'workforce_capacity');
const fixture = (name: string) => path.join(FIXTURES, name);

interface Report {
  files: {
    source: string;
    status: string;
    rows: number | null;
    rejectedRows: number | null;
    template: string | null;
    reason?: string;
  }[];
  reconciliation: { check: string; status: string; detail?: string }[];
  alerts: {
    kind: string;
    severity: string;
    subject: string;
    message: string;
    local?: { link: string; path: string }[];
  }[];
}

interface RejectedRow {
  sourceKey: string;
  rowNumber: number;
  reason: string;
  detail: string;
  values: (string | null)[];
}

function cli(args: string[]) {
  return spawnSync(TSX, [CLI, ...args], { cwd: REPO_ROOT, encoding: 'utf-8', timeout: 600_000 });
}

function query(stateDir: string, sql: string): Record<string, unknown>[] {
  const result = cli(['query', sql, '--json', '--state', stateDir]);
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Record<string, unknown>[];
}

/**
 * Issue 9, items 3, 4, 5 and 7 through the CLI, in one batch: a row that is bad in a quarter
 * no good row has, a European number format, an invalid byte in a UTF-8 file, and a header no
 * template matches.
 */
describe('bad input through the CLI: one batch, every defect kept apart from the good data', () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'pipeline-input-defects-'));
  const reportFile = `${stateDir}-report.json`;
  let run: ReturnType<typeof cli>;
  let report: Report;

  beforeAll(() => {
    run = cli(['run', FIXTURES, '--state', stateDir, '--report', reportFile]);
    report = JSON.parse(readFileSync(reportFile, 'utf-8')) as Report;
  });

  const fileOf = (name: string) =>
    report.files.find((f) => f.source === path.relative(REPO_ROOT, fixture(name)));

  /** The rejected rows of every file, read from the quarantine objects the alert links to. */
  const rejectedRows = (): RejectedRow[] => {
    const alert = report.alerts.find((a) => a.kind === 'quarantine');
    expect(alert, 'a quarantine notice').toBeDefined();
    return (alert!.local ?? [])
      .filter((l) => l.link.includes('/rows/workforce_capacity/'))
      .flatMap((l) =>
        readFileSync(l.path, 'utf-8')
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as RejectedRow),
      );
  };

  it('exits 0: every good row lands, each bad row or file is quarantined with its reason', () => {
    expect(run.status, run.stderr.slice(-3000)).toBe(0);
    expect(fileOf('roster_bad_row.csv')).toMatchObject({
      status: 'processed',
      rows: 1,
      rejectedRows: 1,
      template: 'org_roster',
    });
    expect(fileOf('capacity_european.csv')).toMatchObject({ status: 'processed', rows: 3, rejectedRows: 1 });
    expect(fileOf('capacity_utf8_bad_byte.csv')).toMatchObject({
      status: 'processed',
      rows: 1502,
      rejectedRows: 1,
    });
    expect(fileOf('team_roster.csv')).toMatchObject({ status: 'quarantined', rows: null });
    expect(fileOf('team_roster.csv')!.reason).toContain(
      'unknown_template: header matches no template of workforce_capacity; closest template: org_roster (missing columns: org_unit, headcount); unmatched headers: "Team", "People"',
    );
    expect(report.reconciliation.filter((c) => c.status === 'fail')).toEqual([]);
  });

  it('publishes a quarantine notice (no failure) naming the rejected rows and the unknown template', () => {
    const kinds = report.alerts.map((a) => a.kind);
    expect(kinds).toContain('quarantine');
    expect(kinds).not.toContain('failure');
    expect(kinds).not.toContain('discrepancy');
    const alert = report.alerts.find((a) => a.kind === 'quarantine')!;
    expect(alert.subject).toBe('[workforce_capacity] 1 file quarantined, 3 rows rejected');
    expect(alert.message).toContain('closest template: org_roster');
    expect(alert.message).toContain('- workforce_capacity/roster_bad_row.csv: 1 row(s) loaded, 1 rejected.');
  });

  it('keeps each rejected row with its reason: the bad measure, the number-format conflict, the invalid byte', () => {
    const rows = rejectedRows()
      .map((r) => [r.sourceKey, r.rowNumber, r.reason])
      .sort();

    expect(rows).toEqual([
      ['workforce_capacity/capacity_european.csv', 5, 'number_format_conflict'],
      ['workforce_capacity/capacity_utf8_bad_byte.csv', 1503, 'invalid_encoding'],
      ['workforce_capacity/roster_bad_row.csv', 3, 'invalid_measure'],
    ]);
    const badByte = rejectedRows().find((r) => r.reason === 'invalid_encoding')!;
    const offset = readFileSync(fixture('capacity_utf8_bad_byte.csv')).indexOf(0xff);
    expect(offset).toBeGreaterThan(64 * 1024);
    expect(badByte.detail).toContain(`0xFF at byte ${offset}`);
  });

  it('lands the good roster row in curated and nothing of the bad one', () => {
    expect(
      query(
        stateDir,
        "select org_unit, quarter, headcount from workforce_capacity where ingest_source_key = 'workforce_capacity/roster_bad_row.csv'",
      ),
    ).toEqual([{ org_unit: 'Platform', quarter: '2025-Q1', headcount: '30.000000' }]);
  });

  it('reads the European numbers the file way: 2,500 is 2.5, 1.234 is 1234, 1.234,56 is 1234.56', () => {
    expect(
      query(
        stateDir,
        "select org_unit, quarter, fte, cost_usd from workforce_capacity where ingest_source_key = 'workforce_capacity/capacity_european.csv' order by quarter, org_unit",
      ),
    ).toEqual([
      { org_unit: 'Finance', quarter: '2025-Q1', fte: '5.000000', cost_usd: '450000.000000' },
      { org_unit: 'Platform', quarter: '2025-Q1', fte: '2.500000', cost_usd: '1234.000000' },
      { org_unit: 'Platform', quarter: '2025-Q2', fte: '23.500000', cost_usd: '1234.560000' },
    ]);
  });

  it('keeps the UTF-8 file UTF-8 past its invalid byte: "Zürich – café" intact, no mojibake', () => {
    const source = "ingest_source_key = 'workforce_capacity/capacity_utf8_bad_byte.csv'";
    expect(
      query(
        stateDir,
        `select cost_center, location from workforce_capacity where ${source} and location <> 'Berlin' order by cost_center`,
      ),
    ).toEqual([
      { cost_center: 'CC-Z1', location: 'Zürich – café' },
      { cost_center: 'CC-Z2', location: 'Zürich – café' },
    ]);
    expect(
      query(
        stateDir,
        `select count(*) as n from workforce_capacity where ${source} and (location like '%Ã%' or location like '%â€%')`,
      ),
    ).toEqual([{ n: 0 }]);
  });
});
