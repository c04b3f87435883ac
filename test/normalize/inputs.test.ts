import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Decimal } from '../../lambdas/common/decimal';
import { MAX_HELD_ROWS, normalizeFile, type WrittenManifest } from '../../lambdas/normalize/core';
import { makeNormalizeHandler } from '../../lambdas/normalize/handler';
import { loadDatasets, resolveDataset } from '../../lib/config';
import type { FileOutcome } from '../../lib/contracts/batch';
import { LINEAGE_COLUMNS } from '../../lib/contracts/lineage';
import { workforceCapacity } from '../../lib/datasets/workforce-capacity';
import {
  BUCKETS,
  clearOutputs,
  getJsonObject,
  land,
  listKeys,
  readJsonLines,
  readNormalized,
  type S3Harness,
  startS3,
} from './harness';

const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'normalize');
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name));
const SAMPLE = path.resolve(__dirname, '..', '..', 'samples', 'cloud_billing', 'focus_sample.csv');

let h: S3Harness;
let handler: ReturnType<typeof makeNormalizeHandler>;

beforeAll(async () => {
  h = await startS3();
  handler = makeNormalizeHandler(h.env, { s3: h.s3 });
});
afterAll(async () => {
  await h?.stop();
});
beforeEach(async () => {
  await clearOutputs(h);
});

async function normalize(dataset: string, key: string, body: Buffer | string): Promise<FileOutcome> {
  const file = await land(h, dataset, key, body);
  return handler({ dataset, file, executionId: 'arn:aws:states:us-east-1:123456789012:execution:sm:test' });
}

async function manifestOf(outcome: FileOutcome): Promise<WrittenManifest> {
  return getJsonObject<WrittenManifest>(h, BUCKETS.control, outcome.manifestKey!);
}

/** Every normalized row of an outcome, partition value attached as `_partition`. */
async function rowsOf(outcome: FileOutcome) {
  const manifest = await manifestOf(outcome);
  const rows: Record<string, string | null>[] = [];
  for (const partition of manifest.partitions) {
    for (const row of await readNormalized(h, partition.key))
      rows.push({ ...row, _partition: partition.value });
  }
  return rows.sort((a, b) => Number(a.ingest_row_number) - Number(b.ingest_row_number));
}

/** The capacity fixture table (ROWS in generate.ts) as normalized. */
const CAPACITY_TOTALS = {
  headcount: { sum: '38', nullCount: 0 },
  fte: { sum: '36.5', nullCount: 0 },
  planned_hires: { sum: '6', nullCount: 0 },
  attrition: { sum: '2', nullCount: 0 },
  cost_usd: { sum: '3610000.85', nullCount: 0 },
};

async function expectCapacityTable(outcome: FileOutcome) {
  expect(outcome).toMatchObject({
    status: 'normalized',
    template: 'capacity_plan',
    rows: 4,
    rejectedRows: 0,
    partitions: ['2025-Q1', '2025-Q2'],
  });
  const manifest = await manifestOf(outcome);
  expect(manifest.measures).toEqual(CAPACITY_TOTALS);
  expect(manifest.template).toEqual({ name: 'capacity_plan', version: 'v1', match: 'exact' });
  const rows = await rowsOf(outcome);
  expect(rows.map((r) => [r._partition, r.org_unit, r.job_family, r.location, r.fte, r.cost_usd])).toEqual([
    ['2025-Q1', 'Data', 'Engineering', 'Berlin', '11.5', '1200000.50'],
    ['2025-Q2', 'Data', 'Engineering', 'Berlin', '13.25', '1350000.25'],
    ['2025-Q1', 'Finance', 'Analyst', 'London', '5', '450000'],
    ['2025-Q1', 'Ops', 'Support', 'Zürich', '6.75', '610000.10'],
  ]);
  return { manifest, rows };
}

describe('delimited text', () => {
  it('reads comma-separated values', async () => {
    const outcome = await normalize(
      'workforce_capacity',
      'workforce_capacity/comma.csv',
      fixture('delimiters/comma.csv'),
    );
    const { manifest } = await expectCapacityTable(outcome);
    expect(manifest.format).toEqual({
      kind: 'csv',
      compression: null,
      encoding: 'utf-8',
      delimiter: ',',
      sheets: null,
      decimalMark: '.',
    });
  });

  it('detects semicolons and reads European decimal commas and thousands dots', async () => {
    const outcome = await normalize(
      'workforce_capacity',
      'workforce_capacity/semicolon.csv',
      fixture('delimiters/semicolon.csv'),
    );
    expect((await manifestOf(outcome)).format.delimiter).toBe(';');
    expect((await manifestOf(outcome)).measures).toEqual(CAPACITY_TOTALS);
    const rows = await rowsOf(outcome);
    expect(rows.map((r) => [r.fte, r.cost_usd])).toEqual([
      ['11.5', '1200000.5'],
      ['13.25', '1350000.25'],
      ['5', '450000'],
      ['6.75', '610000.1'],
    ]);
  });

  it('detects tabs in a .tsv file', async () => {
    const outcome = await normalize(
      'workforce_capacity',
      'workforce_capacity/tab.tsv',
      fixture('delimiters/tab.tsv'),
    );
    const { manifest } = await expectCapacityTable(outcome);
    expect(manifest.format.delimiter).toBe('\t');
  });

  it('detects pipes in a .txt file', async () => {
    const outcome = await normalize(
      'workforce_capacity',
      'workforce_capacity/pipe.txt',
      fixture('delimiters/pipe.txt'),
    );
    const { manifest } = await expectCapacityTable(outcome);
    expect(manifest.format.delimiter).toBe('|');
  });

  it('keeps quoted delimiters, escaped quotes and line breaks inside fields, with CRLF line ends', async () => {
    const outcome = await normalize(
      'workforce_capacity',
      'workforce_capacity/quoted.csv',
      fixture('quoting/crlf_quoted.csv'),
    );
    expect(outcome).toMatchObject({ rows: 3, rejectedRows: 0 });
    const rows = await rowsOf(outcome);
    expect(rows.map((r) => [r.ingest_row_number, r.job_family, r.location, r.cost_usd])).toEqual([
      ['2', 'Engineering, Platform', 'Berlin "Mitte"', '1200000.50'],
      ['3', 'Engineering', 'Building 7\r\nFloor 2', '1350000.25'],
      ['4', 'Analyst', 'London', '450000'],
    ]);
  });

  it('turns the dataset null tokens into nulls and counts null measures', async () => {
    const outcome = await normalize(
      'workforce_capacity',
      'workforce_capacity/nulls.csv',
      fixture('values/null_tokens.csv'),
    );
    const rows = await rowsOf(outcome);
    expect(rows.map((r) => [r.location, r.fte, r.planned_hires, r.attrition, r.cost_usd])).toEqual([
      [null, null, '2', null, '1000'],
      [null, '3', null, null, null],
    ]);
    const manifest = await manifestOf(outcome);
    expect(manifest.measures.fte).toEqual({ sum: '3', nullCount: 1 });
    expect(manifest.measures.attrition).toEqual({ sum: '0', nullCount: 2 });
    expect(manifest.measures.cost_usd).toEqual({ sum: '1000', nullCount: 1 });
  });

  it('parses measures with currency, thousands separators, parentheses and percent exactly; spellings of the other decimal mark are conflicts', async () => {
    const outcome = await normalize(
      'workforce_capacity',
      'workforce_capacity/measures.csv',
      fixture('values/measures.csv'),
    );
    const rows = await rowsOf(outcome);
    // Four values write a decimal point (1,200.50 ...), two a decimal comma: the point decides.
    expect(rows.map((r) => r.cost_usd)).toEqual(['1200.5', '-1000', '0', '-3.1']);
    expect(rows[2]!.fte).toBe('0.125');
    const manifest = await manifestOf(outcome);
    expect(manifest.measures.cost_usd.sum).toBe('197.4');
    expect(manifest.format.decimalMark).toBe('.');
    const rejected = await readJsonLines<{ rowNumber: number; reason: string; detail: string }>(
      h,
      BUCKETS.quarantine,
      manifest.rejectedRowsKey!,
    );
    expect(rejected.map((r) => [r.rowNumber, r.reason])).toEqual([
      [5, 'number_format_conflict'],
      [6, 'number_format_conflict'],
    ]);
    expect(rejected[0]!.detail).toContain('"EUR 1.234,56" can only be read with a decimal comma');
  });

  it('finds the header below title rows', async () => {
    const outcome = await normalize(
      'workforce_capacity',
      'workforce_capacity/titled.csv',
      fixture('values/title_rows.csv'),
    );
    const { manifest, rows } = await expectCapacityTable(outcome);
    expect(manifest.tables).toEqual([expect.objectContaining({ headerRow: 4, skippedRows: 2, rowCount: 4 })]);
    expect(rows[0]!.ingest_row_number).toBe('5');
  });

  it('sends unparseable rows to quarantine with row number and reason, and keeps the rest', async () => {
    const outcome = await normalize(
      'workforce_capacity',
      'workforce_capacity/rejects.csv',
      fixture('values/rejects.csv'),
    );
    expect(outcome).toMatchObject({ rows: 2, rejectedRows: 3 });
    const manifest = await manifestOf(outcome);
    expect(manifest.rejectedRowCount).toBe(3);
    const rejected = await readJsonLines<{
      rowNumber: number;
      reason: string;
      detail: string;
      values: string[];
    }>(h, BUCKETS.quarantine, manifest.rejectedRowsKey!);
    expect(rejected.map((r) => [r.rowNumber, r.reason])).toEqual([
      [3, 'field_count'],
      [4, 'invalid_measure'],
      [5, 'invalid_partition_value'],
    ]);
    expect(rejected[1]!.detail).toContain('"twelve"');
    expect(rejected[1]!.values[5]).toBe('twelve');
    expect(manifest.measures.headcount).toEqual({ sum: '17', nullCount: 0 });
  });
});

describe('encodings', () => {
  const expectText = async (key: string, name: string, encoding: string) => {
    const outcome = await normalize('workforce_capacity', key, fixture(name));
    const { manifest } = await expectCapacityTable(outcome);
    expect(manifest.format.encoding).toBe(encoding);
    expect(manifest.columns[0]).toBe('org_unit');
  };

  it('reads UTF-8 with a byte order mark', async () => {
    await expectText('workforce_capacity/bom.csv', 'encodings/utf8_bom.csv', 'utf-8');
  });

  it('reads UTF-16 LE with a byte order mark', async () => {
    await expectText('workforce_capacity/utf16le.csv', 'encodings/utf16le_bom.csv', 'utf-16le');
  });

  it('reads UTF-16 BE with a byte order mark', async () => {
    await expectText('workforce_capacity/utf16be.csv', 'encodings/utf16be_bom.csv', 'utf-16be');
  });

  it('detects Windows-1252 (euro sign, en dash, curly apostrophe) and writes UTF-8', async () => {
    const outcome = await normalize(
      'workforce_capacity',
      'workforce_capacity/cp1252.csv',
      fixture('encodings/windows1252.csv'),
    );
    expect((await manifestOf(outcome)).format.encoding).toBe('windows-1252');
    const rows = await rowsOf(outcome);
    expect(rows.map((r) => [r.job_family, r.location, r.cost_usd])).toEqual([
      ['Ingénieur – R&D', 'Zürich', '1200000.5'],
      ['Analyst’s desk', 'Köln', '1350000.25'],
    ]);
  });

  it('detects Latin-1 text as Windows-1252', async () => {
    const outcome = await normalize(
      'workforce_capacity',
      'workforce_capacity/latin1.csv',
      fixture('encodings/latin1.csv'),
    );
    expect((await manifestOf(outcome)).format.encoding).toBe('windows-1252');
    expect((await rowsOf(outcome)).map((r) => [r.job_family, r.location])).toEqual([['Ingénieur', 'Zürich']]);
  });

  it('detects Windows-1252 when the first non-ASCII byte comes after the sampled start and is not UTF-8', async () => {
    const outcome = await normalize(
      'workforce_capacity',
      'workforce_capacity/late.csv',
      fixture('encodings/late_windows1252.csv'),
    );
    expect(outcome.rows).toBe(2001);
    expect((await manifestOf(outcome)).format.encoding).toBe('windows-1252');
    const rows = await rowsOf(outcome);
    expect(rows.at(-1)).toMatchObject({ job_family: 'Café', location: 'Zürich', ingest_row_number: '2002' });
  });

  it('keeps a UTF-8 file UTF-8 when an invalid byte comes after 64 KiB: only its row is rejected, with the byte and offset', async () => {
    const body = fixture('encodings/utf8_late_invalid.csv');
    const outcome = await normalize('workforce_capacity', 'workforce_capacity/utf8_bad_byte.csv', body);

    expect(outcome).toMatchObject({ status: 'normalized', rows: 1502, rejectedRows: 1 });
    const manifest = await manifestOf(outcome);
    expect(manifest.format.encoding).toBe('utf-8');
    const rows = await rowsOf(outcome);
    expect(rows[0]).toMatchObject({ location: 'Zürich – café', ingest_row_number: '2' });
    expect(rows.at(-1)).toMatchObject({
      location: 'Zürich – café',
      cost_usd: '200.50',
      ingest_row_number: '1504',
    });
    expect(rows.some((r) => /Ã|â€/.test(JSON.stringify(r)))).toBe(false);
    const rejected = await readJsonLines<{
      rowNumber: number;
      reason: string;
      detail: string;
      values: string[];
    }>(h, BUCKETS.quarantine, manifest.rejectedRowsKey!);
    const offset = body.indexOf(0xff);
    expect(offset).toBeGreaterThan(64 * 1024);
    expect(rejected).toEqual([
      expect.objectContaining({
        rowNumber: 1503,
        reason: 'invalid_encoding',
        values: expect.arrayContaining(['Caf\uFFFD']),
      }),
    ]);
    expect(rejected[0]!.detail).toContain(`0xFF at byte ${offset}`);
  });
});

describe('number formats', () => {
  type Rejected = { rowNumber: number; reason: string; detail: string };

  it('reads a decimal-comma file its own way: ambiguous values held until its unambiguous values decide, conflicts rejected', async () => {
    const outcome = await normalize(
      'workforce_capacity',
      'workforce_capacity/european.csv',
      fixture('values/european.csv'),
    );

    expect(outcome).toMatchObject({ rows: 3, rejectedRows: 1 });
    const manifest = await manifestOf(outcome);
    expect(manifest.format).toMatchObject({ delimiter: ';', decimalMark: ',' });
    const rows = await rowsOf(outcome);
    // "2,500" is 2.5 and "1.234" is 1234 (not 2500 and 1.234); "450.000" is 450000.
    expect(rows.map((r) => [r.fte, r.cost_usd])).toEqual([
      ['2.5', '1234'],
      ['23.5', '1234.56'],
      ['5', '450000'],
    ]);
    expect(manifest.measures.fte).toEqual({ sum: '31', nullCount: 0 });
    expect(manifest.measures.cost_usd).toEqual({ sum: '452468.56', nullCount: 0 });
    const rejected = await readJsonLines<Rejected>(h, BUCKETS.quarantine, manifest.rejectedRowsKey!);
    expect(rejected.map((r) => [r.rowNumber, r.reason])).toEqual([[5, 'number_format_conflict']]);
    expect(rejected[0]!.detail).toContain('"1234.5"');
  });

  it('rejects ambiguous values when no value of the file decides its decimal mark, and keeps the rest', async () => {
    const outcome = await normalize(
      'workforce_capacity',
      'workforce_capacity/ambiguous.csv',
      fixture('values/ambiguous.csv'),
    );

    expect(outcome).toMatchObject({ rows: 2, rejectedRows: 2 });
    const manifest = await manifestOf(outcome);
    expect(manifest.format.decimalMark).toBeNull();
    expect((await rowsOf(outcome)).map((r) => [r.org_unit, r.headcount])).toEqual([
      ['Platform', '30'],
      ['Ads', '12'],
    ]);
    const rejected = await readJsonLines<Rejected>(h, BUCKETS.quarantine, manifest.rejectedRowsKey!);
    expect(rejected.map((r) => [r.rowNumber, r.reason])).toEqual([
      [3, 'ambiguous_number'],
      [4, 'ambiguous_number'],
    ]);
    expect(rejected[0]!.detail).toContain('"2,500"');
  });

  it(`holds at most ${MAX_HELD_ROWS} undecided rows: those are rejected as ambiguous, later rows follow the decision`, async () => {
    const ambiguousRows = Array.from({ length: MAX_HELD_ROWS + 1 }, (_, i) => `U${i},2025-Q1,"1,000"`);
    const body = ['Org Unit,Quarter,Headcount', ...ambiguousRows, 'Last,2025-Q1,"12,5"', ''].join('\n');

    const outcome = await normalize('workforce_capacity', 'workforce_capacity/long_undecided.csv', body);

    expect(outcome).toMatchObject({ rows: 2, rejectedRows: MAX_HELD_ROWS });
    const manifest = await manifestOf(outcome);
    expect(manifest.format.decimalMark).toBe(',');
    expect(manifest.measures.headcount).toEqual({ sum: '13.5', nullCount: 0 });
    const rejected = await readJsonLines<Rejected>(h, BUCKETS.quarantine, manifest.rejectedRowsKey!);
    expect(new Set(rejected.map((r) => r.reason))).toEqual(new Set(['ambiguous_number']));
    expect(rejected.at(-1)!.rowNumber).toBe(MAX_HELD_ROWS + 1);
  });

  it('leaves typed XLSX numbers as they are; text cells follow the decimal mark their text decides', async () => {
    const outcome = await normalize(
      'workforce_capacity',
      'workforce_capacity/typed.xlsx',
      fixture('xlsx/typed_numbers.xlsx'),
    );

    expect(outcome).toMatchObject({ rows: 2, rejectedRows: 0 });
    expect((await manifestOf(outcome)).format.decimalMark).toBe(',');
    expect((await rowsOf(outcome)).map((r) => [r.headcount, r.fte])).toEqual([
      ['1.234', '23.5'],
      ['1234.5', '1234'],
    ]);
  });
});

describe('rejected rows and partitions', () => {
  it('opens no partition for a rejected row: no empty normalized object, the good row lands', async () => {
    const outcome = await normalize(
      'workforce_capacity',
      'workforce_capacity/roster_bad_row.csv',
      fixture('values/roster_bad_row.csv'),
    );

    expect(outcome).toMatchObject({
      status: 'normalized',
      rows: 1,
      rejectedRows: 1,
      partitions: ['2025-Q1'],
    });
    const manifest = await manifestOf(outcome);
    expect(manifest.partitions.map((p) => [p.value, p.rowCount])).toEqual([['2025-Q1', 1]]);
    expect(await listKeys(h, BUCKETS.normalized)).toEqual(manifest.normalizedKeys);
    expect(manifest.normalizedKeys).toEqual([expect.stringContaining('/quarter=2025-Q1/')]);
    const rejected = await readJsonLines<{ rowNumber: number; reason: string; detail: string }>(
      h,
      BUCKETS.quarantine,
      manifest.rejectedRowsKey!,
    );
    expect(rejected).toEqual([
      expect.objectContaining({
        rowNumber: 3,
        reason: 'invalid_measure',
        detail: expect.stringContaining('"abc"'),
      }),
    ]);
  });
});

describe('a header that matches no template', () => {
  it("with unknownTemplate 'flag': lands its rows without a template and flags the file, naming the unmatched headers and the closest template", async () => {
    const dataset = resolveDataset({ ...workforceCapacity, unknownTemplate: 'flag' });
    const file = await land(
      h,
      'workforce_capacity',
      'workforce_capacity/unknown.csv',
      fixture('templates/unknown_headers.csv'),
    );

    const outcome = await normalizeFile(
      { s3: h.s3, env: h.env, datasets: [dataset] },
      { dataset: 'workforce_capacity', file },
    );

    const detail =
      'header matches no template of workforce_capacity; closest template: org_roster (missing columns: org_unit, headcount); unmatched headers: "Team", "People", "Budget"';
    expect(outcome).toMatchObject({
      status: 'normalized',
      template: null,
      rows: 2,
      flag: 'unknown_template',
      reason: detail,
    });
    const manifest = await manifestOf(outcome);
    expect(manifest.template).toEqual({ name: null, version: null, match: 'unknown' });
    expect(manifest.unknownTemplate).toEqual({
      sheet: null,
      headers: ['Team', 'Quarter', 'People', 'Budget'],
      unmatchedHeaders: ['Team', 'People', 'Budget'],
      closestTemplate: 'org_roster',
      missingColumns: ['org_unit', 'headcount'],
      detail,
    });
    expect((await rowsOf(outcome)).map((r) => [r.team, r.people, r.ingest_template])).toEqual([
      ['Platform', '30', null],
      ['Payments', '12', null],
    ]);
  });

  it('leaves a dataset that declares no template alone: nothing to match, nothing flagged', async () => {
    const dataset = resolveDataset({ ...workforceCapacity, templates: [], reconciliation: {} });
    const file = await land(
      h,
      'workforce_capacity',
      'workforce_capacity/untemplated.csv',
      fixture('templates/unknown_headers.csv'),
    );

    const outcome = await normalizeFile(
      { s3: h.s3, env: h.env, datasets: [dataset] },
      { dataset: 'workforce_capacity', file },
    );

    expect(outcome).toMatchObject({ status: 'normalized', rows: 2, template: null });
    expect(outcome.flag).toBeUndefined();
    expect((await manifestOf(outcome)).unknownTemplate).toBeNull();
  });

  it('leaves files whose header matches a template unflagged', async () => {
    const outcome = await normalize(
      'workforce_capacity',
      'workforce_capacity/comma.csv',
      fixture('delimiters/comma.csv'),
    );

    expect(outcome.flag).toBeUndefined();
    expect((await manifestOf(outcome)).unknownTemplate).toBeNull();
  });
});

describe('compression', () => {
  it('decompresses gzip files', async () => {
    const outcome = await normalize(
      'workforce_capacity',
      'workforce_capacity/comma.csv.gz',
      fixture('compression/comma.csv.gz'),
    );
    const { manifest } = await expectCapacityTable(outcome);
    expect(manifest.format.compression).toBe('gzip');
  });
});

describe('XLSX', () => {
  it('reads every visible sheet: header below titles, merged header cells, dates, formulas', async () => {
    const outcome = await normalize(
      'workforce_capacity',
      'workforce_capacity/capacity.xlsx',
      fixture('xlsx/capacity.xlsx'),
    );
    expect(outcome).toMatchObject({
      status: 'normalized',
      rows: 5,
      rejectedRows: 0,
      partitions: ['2025-Q1', '2025-Q2'],
    });
    const manifest = await manifestOf(outcome);
    expect(manifest.format).toEqual({
      kind: 'xlsx',
      compression: null,
      encoding: null,
      delimiter: null,
      sheets: ['Plan', 'Roster'],
      // Every measure is a number cell (typed): nothing decides a decimal mark for text.
      decimalMark: null,
    });
    expect(manifest.skippedSheets).toEqual([
      { sheet: 'Lookups', reason: 'hidden' },
      { sheet: 'Notes', reason: 'no_partition_column' },
    ]);
    expect(manifest.tables).toEqual([
      {
        sheet: 'Plan',
        headerRow: 4,
        skippedRows: 3,
        template: { name: 'capacity_plan', version: null, match: 'columns' },
        rowCount: 3,
        rejectedRowCount: 0,
      },
      {
        sheet: 'Roster',
        headerRow: 1,
        skippedRows: 0,
        template: { name: 'org_roster', version: 'v1', match: 'exact' },
        rowCount: 2,
        rejectedRowCount: 0,
      },
    ]);
    expect(manifest.measures.headcount).toEqual({ sum: '48', nullCount: 0 });
    const rows = await rowsOf(outcome);
    const plan = rows.filter((r) => r.source_sheet === 'Plan');
    expect(
      plan.map((r) => [r.ingest_row_number, r.headcount, r.fte, r.cost_usd, r.effective_date, r.approved_at]),
    ).toEqual([
      ['5', '12', '11.5', '1200000.5', '2025-01-01', '2025-01-15T13:30:00'],
      ['6', '14', '13.25', '1350000.25', '2025-04-01', null],
      ['7', '5', '0.3', '450000', '2025-01-01', null],
    ]);
    expect(plan.every((r) => r.ingest_template === 'capacity_plan')).toBe(true);
    const roster = rows.filter((r) => r.source_sheet === 'Roster');
    expect(roster.map((r) => [r._partition, r.org_unit, r.headcount, r.ingest_template])).toEqual([
      ['2025-Q1', 'Data', '12', 'org_roster'],
      ['2025-Q1', 'Finance', '5', 'org_roster'],
    ]);
  });

  it('reads dates of the 1904 date system and derives the quarter from a date cell', async () => {
    const outcome = await normalize(
      'workforce_capacity',
      'workforce_capacity/mac.xlsx',
      fixture('xlsx/dates_1904.xlsx'),
    );
    expect(outcome).toMatchObject({ rows: 1, rejectedRows: 0, partitions: ['2025-Q1'] });
    const [row] = await rowsOf(outcome);
    expect(row).toMatchObject({ start: '2025-02-15T06:00:00', headcount: '3', source_sheet: 'Plan' });
  });

  it('reads only the configured sheet', async () => {
    const dataset = resolveDataset({ ...workforceCapacity, sheet: 'Roster' });
    const file = await land(
      h,
      'workforce_capacity',
      'workforce_capacity/roster.xlsx',
      fixture('xlsx/capacity.xlsx'),
    );
    const outcome = await normalizeFile(
      { s3: h.s3, env: h.env, datasets: [dataset] },
      { dataset: 'workforce_capacity', file },
    );
    expect(outcome).toMatchObject({ rows: 2, template: 'org_roster', partitions: ['2025-Q1'] });
    expect((await manifestOf(outcome)).format.sheets).toEqual(['Roster']);
  });
});

describe('JSON', () => {
  const focus = readFileSync(SAMPLE, 'utf8').split('\n').slice(1, 21);
  const billedCost20 = Decimal.sum(focus.map((line) => Decimal.parse(line.split(',')[1]!))).toString();

  it('reads a JSON array, keeping numbers exact', async () => {
    const outcome = await normalize(
      'cloud_billing',
      'cloud_billing/focus.json',
      fixture('json/focus_20_array.fixture'),
    );
    expect(outcome).toMatchObject({ status: 'normalized', rows: 20, rejectedRows: 0, template: 'focus' });
    const manifest = await manifestOf(outcome);
    expect(manifest.format.kind).toBe('json');
    expect(manifest.template.match).toBe('exact');
    expect(manifest.measures.billed_cost.sum).toBe(billedCost20);
    const rows = await rowsOf(outcome);
    expect(rows[0]).toMatchObject({
      billed_cost: '0.00000080000',
      ingest_row_number: '1',
      availability_zone: null,
    });
  });

  it('reads JSON Lines and quarantines a line that is not JSON', async () => {
    const outcome = await normalize(
      'cloud_billing',
      'cloud_billing/focus.jsonl',
      fixture('json/focus_20.jsonl'),
    );
    expect(outcome).toMatchObject({ rows: 20, rejectedRows: 1 });
    const manifest = await manifestOf(outcome);
    expect(manifest.format.kind).toBe('jsonl');
    expect(manifest.measures.billed_cost.sum).toBe(billedCost20);
    const rejected = await readJsonLines<{ rowNumber: number; reason: string }>(
      h,
      BUCKETS.quarantine,
      manifest.rejectedRowsKey!,
    );
    expect(rejected.map((r) => [r.rowNumber, r.reason])).toEqual([[11, 'invalid_json']]);
  });
});

describe('Parquet', () => {
  it('reads Parquet by ranges, with exact DECIMAL measures and UTC timestamps', async () => {
    const outcome = await normalize(
      'cloud_billing',
      'cloud_billing/focus.parquet',
      fixture('parquet/focus_sample.parquet'),
    );
    expect(outcome).toMatchObject({ status: 'normalized', rows: 1000, rejectedRows: 0, template: 'focus' });
    const manifest = await manifestOf(outcome);
    expect(manifest.format.kind).toBe('parquet');
    expect(manifest.measures).toEqual({
      billed_cost: { sum: '20.52022672899', nullCount: 0 },
      effective_cost: { sum: '14.97651418586', nullCount: 0 },
      list_cost: { sum: '20.39090575119', nullCount: 0 },
      contracted_cost: { sum: '14.97626039326', nullCount: 7 },
      consumed_quantity: { sum: '13438.712904456820057', nullCount: 1 },
      pricing_quantity: { sum: '13438.62931081682', nullCount: 0 },
    });
    const rows = await rowsOf(outcome);
    expect(rows[0]).toMatchObject({
      billed_cost: '0.0000008',
      billing_period_start: '2024-09-01T00:00:00Z',
      charge_period_start: '2024-09-18T22:00:00Z',
      list_unit_price: '0.0000004',
      id: '11472',
      ingest_row_number: '1',
    });
    expect(rows.at(-1)!.ingest_row_number).toBe('1000');
  });
});

describe('lineage of the landing event', () => {
  const landing = { eventTime: '2024-09-01T10:00:00Z', sequencer: '0066D43A8B2F1E0A7C' };
  const executionId = 'arn:aws:states:us-east-1:123456789012:execution:sm:test';

  it.each([
    ['CSV', 'workforce_capacity/landed.csv', 'delimiters/comma.csv'],
    ['XLSX (rows carry their sheet)', 'workforce_capacity/landed.xlsx', 'xlsx/capacity.xlsx'],
  ])(
    'writes the S3 event time and sequencer on every row of a %s file, as the event has them',
    async (_kind, key, name) => {
      const file = await land(h, 'workforce_capacity', key, fixture(name), landing);
      const outcome = await handler({ dataset: 'workforce_capacity', file, executionId });

      const rows = await rowsOf(outcome);
      expect(rows.length).toBeGreaterThan(1);
      for (const row of rows) {
        expect(row).toMatchObject({
          ingest_landed_at: landing.eventTime,
          ingest_sequencer: landing.sequencer,
        });
        // The row number stays the last lineage column written (LINEAGE_COLUMNS' order).
        const names = Object.keys(row).filter((c) => c.startsWith('ingest_'));
        expect(names).toEqual([...LINEAGE_COLUMNS]);
      }
    },
  );

  it('keeps a sequencer of another length exactly as the event wrote it (the ETL pads it to compare)', async () => {
    const file = await land(
      h,
      'workforce_capacity',
      'workforce_capacity/short.csv',
      fixture('delimiters/comma.csv'),
      {
        eventTime: '2024-09-01T10:00:00.250Z',
        sequencer: '5F0A',
      },
    );
    const rows = await rowsOf(await handler({ dataset: 'workforce_capacity', file, executionId }));
    expect(new Set(rows.map((r) => `${r.ingest_landed_at} ${r.ingest_sequencer}`))).toEqual(
      new Set(['2024-09-01T10:00:00.250Z 5F0A']),
    );
  });

  it.each([
    ['no event time', { eventTime: undefined }],
    ['an event time that is not ISO-8601 UTC', { eventTime: '2024-09-01 10:00:00' }],
    ['a sequencer that is not hexadecimal', { sequencer: 'not-hex' }],
  ])('refuses a file with %s (InvalidEventError, a file error: quarantined)', async (_what, change) => {
    const file = await land(h, 'workforce_capacity', 'workforce_capacity/bad-event.csv', 'a\n', landing);
    await expect(
      handler({ dataset: 'workforce_capacity', file: { ...file, ...change }, executionId }),
    ).rejects.toMatchObject({ name: 'InvalidEventError' });
  });
});

describe('output layout', () => {
  it('writes every value as a JSON string or null, the partition column only in the path', async () => {
    const outcome = await normalize(
      'workforce_capacity',
      'workforce_capacity/layout.csv',
      fixture('delimiters/comma.csv'),
    );
    const manifest = await manifestOf(outcome);
    expect(await listKeys(h, BUCKETS.normalized)).toEqual(manifest.normalizedKeys);
    expect(manifest.normalizedKeys).toEqual([
      `workforce_capacity/quarter=2025-Q1/${outcome.sourceId}.jsonl.gz`,
      `workforce_capacity/quarter=2025-Q2/${outcome.sourceId}.jsonl.gz`,
    ]);
    const datasets = loadDatasets();
    expect(datasets.map((d) => d.name)).toContain('workforce_capacity');
    for (const row of await rowsOf(outcome)) {
      const { _partition, ...stored } = row;
      expect(Object.keys(stored)).not.toContain('quarter');
      for (const value of Object.values(stored))
        expect(value === null || typeof value === 'string').toBe(true);
      expect(stored).toMatchObject({
        ingest_source_key: 'workforce_capacity/layout.csv',
        ingest_source_id: outcome.sourceId,
        ingest_template: 'capacity_plan',
        ingest_template_version: 'v1',
      });
      expect(stored.ingest_source_version).toBe(outcome.versionId);
      expect(stored.ingest_time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    }
    expect(manifest.columns).toEqual([
      'org_unit',
      'cost_center',
      'job_family',
      'location',
      'headcount',
      'fte',
      'planned_hires',
      'attrition',
      'cost_usd',
    ]);
  });
});
