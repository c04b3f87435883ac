import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CONTRACTS, readDocument } from '../../lambdas/common/contract';
import type { WrittenManifest } from '../../lambdas/normalize/core';
import { makeNormalizeHandler } from '../../lambdas/normalize/handler';
import type { FileOutcome } from '../../lib/contracts/batch';
import { purchaseOrders } from '../../lib/datasets/purchase-orders';
import { makeXlsx, type XCell } from '../fixtures/normalize/xlsx-writer';
import {
  BUCKETS,
  clearOutputs,
  land,
  listKeys,
  readJsonLines,
  readNormalized,
  type S3Harness,
  startS3,
} from './harness';

/*
 * purchase_orders: the single-request XLSX form (template request_form, layout 'form') read as
 * one record, and the forms tool's export (template form_export) read as a table.
 */

const SAMPLES = path.resolve(__dirname, '..', '..', 'samples', 'purchase_orders');
const sample = (...name: string[]) => readFileSync(path.join(SAMPLES, ...name));

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

async function normalize(key: string, body: Buffer | string): Promise<FileOutcome> {
  const file = await land(h, 'purchase_orders', `purchase_orders/${key}`, body);
  return handler({
    dataset: 'purchase_orders',
    file,
    executionId: 'arn:aws:states:us-east-1:1:execution:sm:t',
  });
}

/** The outcome's manifest, validated against its contract (lib/contracts/schemas/normalizer-manifest). */
async function manifestOf(outcome: FileOutcome): Promise<WrittenManifest> {
  const manifest = await readDocument(h.s3, BUCKETS.control, outcome.manifestKey!, CONTRACTS.manifest);
  if (!manifest) throw new Error(`no manifest at ${outcome.manifestKey}`);
  return manifest;
}

async function rowsOf(outcome: FileOutcome) {
  const rows: Record<string, string | null>[] = [];
  for (const partition of (await manifestOf(outcome)).partitions) {
    for (const row of await readNormalized(h, partition.key))
      rows.push({ ...row, _partition: partition.value });
  }
  return rows.sort((a, b) => Number(a.ingest_row_number) - Number(b.ingest_row_number));
}

interface Rejected {
  readonly rowNumber: number;
  readonly sheet?: string;
  readonly reason: string;
  readonly detail: string;
}

/** Labels of request PO-2001, deliberately not in the template's order. */
const LABELS: [string, XCell][] = [
  ['Requester:', 'Ana Silva'],
  ['Request ID:', 'PO-2001'],
  ['Amount:', '3150.00'],
  ['Submitted:', '2025-03-11 13:20:00'],
  ['Requester Email:', 'ana.silva@example.com'],
  ['Org Unit:', 'Data Engineering'],
  ['Cost Center:', 'CC-1200'],
  ['Vendor:', 'Globex Software'],
  ['Category:', 'Software'],
  ['Description:', 'ETL tooling licences'],
  ['Currency:', 'EUR'],
  ['Need By:', '2025-04-15'],
  ['Business Justification:', "Licences for the pipeline team's orchestration tool."],
];

const ITEMS: XCell[][] = [
  ['Item', 'Quantity', 'Unit Price'],
  ['Orchestrator seat', 5, '450.00'],
  ['Support plan', 1, 900],
];

/** A form sheet: a title, the labels with a blank row after the fourth, then `after` (the items). */
function formRows(labels: readonly [string, XCell][] = LABELS, after: XCell[][] = [[], ...ITEMS]): XCell[][] {
  const rows: XCell[][] = [['Purchase Request Form'], []];
  labels.forEach(([label, value], i) => {
    if (i === 4) rows.push([]);
    rows.push([label, value]);
  });
  return [...rows, ...after];
}

const formXlsx = (rows: XCell[][], name = 'Request') => makeXlsx([{ name, rows }]);

describe('a single-request form (request_form)', () => {
  it('reads labels in any order between title and blank rows as one record, with its line items as JSON', async () => {
    // Prepare: title row 1, blank row 2, labels in rows 3-6 and 8-16, blank row 17, items from row 18.

    // Act
    const outcome = await normalize('forms/PO-2001.xlsx', formXlsx(formRows()));

    // Assess
    expect(outcome).toMatchObject({
      status: 'normalized',
      template: 'request_form',
      rows: 1,
      rejectedRows: 0,
      partitions: ['2025-03'],
    });
    const manifest = await manifestOf(outcome);
    expect(manifest.template).toEqual({ name: 'request_form', version: 'v1', match: 'exact' });
    expect(manifest.tables).toEqual([
      {
        sheet: 'Request',
        headerRow: 3,
        skippedRows: 1,
        template: { name: 'request_form', version: 'v1', match: 'exact' },
        rowCount: 1,
        rejectedRowCount: 0,
      },
    ]);
    expect(manifest.measures).toEqual({ amount: { sum: '3150', nullCount: 0 } });
    expect(manifest.partitions.map((p) => [p.value, p.rowCount, p.measures])).toEqual([
      ['2025-03', 1, { amount: { sum: '3150', nullCount: 0 } }],
    ]);
    expect(manifest.unknownColumns).toEqual(['source_sheet']);
    const [row, ...more] = await rowsOf(outcome);
    expect(more).toEqual([]);
    expect(row).toMatchObject({
      request_id: 'PO-2001',
      submitted_at: '2025-03-11T13:20:00Z',
      requester_name: 'Ana Silva',
      requester_email: 'ana.silva@example.com',
      org_unit: 'Data Engineering',
      cost_center: 'CC-1200',
      vendor: 'Globex Software',
      category: 'Software',
      description: 'ETL tooling licences',
      amount: '3150.00',
      currency: 'EUR',
      need_by: '2025-04-15',
      justification: "Licences for the pipeline team's orchestration tool.",
      source_sheet: 'Request',
      ingest_template: 'request_form',
      ingest_template_version: 'v1',
      ingest_source_key: 'purchase_orders/forms/PO-2001.xlsx',
      ingest_row_number: '3',
    });
    // Typed number cells as written by Excel (5, 900), a text price as written (450.00): exact strings.
    expect(JSON.parse(row!.line_items!)).toEqual([
      { item: 'Orchestrator seat', quantity: '5', unit_price: '450.00' },
      { item: 'Support plan', quantity: '1', unit_price: '900' },
    ]);
  });

  it('writes null line items for a form without an item table, and for a table without items', async () => {
    const noTable = await normalize('forms/no-items.xlsx', formXlsx(formRows(LABELS, [])));
    const emptyTable = await normalize(
      'forms/empty-items.xlsx',
      formXlsx(formRows(LABELS, [[], ['Item', 'Qty', 'Price'], []])),
    );

    for (const outcome of [noTable, emptyTable]) {
      expect(outcome).toMatchObject({ status: 'normalized', template: 'request_form', rows: 1 });
      const [row] = await rowsOf(outcome);
      expect(row).toMatchObject({ request_id: 'PO-2001', amount: '3150.00', line_items: null });
    }
  });

  it('ends the item table at a blank row and ignores rows and item columns it does not declare', async () => {
    const rows = formRows(LABELS, [
      [],
      ['Line items'],
      [null, 'Line Item', 'Notes', 'Qty', 'Unit Cost'],
      [null, 'Tablet', 'black', 10, '1,250.50'],
      [null, 'Case', null, 'N/A', 35],
      [],
      [null, 'Not an item', null, 'x', 'y'],
    ]);

    const outcome = await normalize('forms/items.xlsx', formXlsx(rows));

    expect(outcome).toMatchObject({ rows: 1, rejectedRows: 0 });
    const [row] = await rowsOf(outcome);
    expect(JSON.parse(row!.line_items!)).toEqual([
      { item: 'Tablet', quantity: '10', unit_price: '1250.5' },
      { item: 'Case', quantity: null, unit_price: '35' },
    ]);
  });

  it('rejects the form whose line item has a quantity that is not a number, naming the sheet, row and value', async () => {
    const rows = formRows(LABELS, [[], ...ITEMS, ['Extra seat', 'ten', '450.00']]);

    const outcome = await normalize('forms/bad-quantity.xlsx', formXlsx(rows, 'PO form'));

    // Nothing of the form lands: its one record is rejected to quarantine.
    expect(outcome).toMatchObject({ status: 'normalized', rows: 0, rejectedRows: 1, partitions: [] });
    const manifest = await manifestOf(outcome);
    expect(manifest.measures).toEqual({ amount: { sum: '0', nullCount: 0 } });
    expect(await listKeys(h, BUCKETS.normalized)).toEqual([]);
    const rejected = await readJsonLines<Rejected>(h, BUCKETS.quarantine, manifest.rejectedRowsKey!);
    expect(rejected).toEqual([
      expect.objectContaining({
        sheet: 'PO form',
        rowNumber: 3,
        reason: 'invalid_line_item',
        detail: 'line item in row 21 of sheet "PO form": quantity "ten" is not a number',
      }),
    ]);
  });

  it('rejects a form whose labelled value is bad exactly like a bad table cell', async () => {
    const labels = LABELS.map(([label, value]): [string, XCell] => [
      label,
      label === 'Amount:' ? 'about 3k' : value,
    ]);

    const outcome = await normalize('forms/bad-amount.xlsx', formXlsx(formRows(labels)));

    expect(outcome).toMatchObject({ rows: 0, rejectedRows: 1 });
    const manifest = await manifestOf(outcome);
    const rejected = await readJsonLines<Rejected>(h, BUCKETS.quarantine, manifest.rejectedRowsKey!);
    expect(rejected).toEqual([
      expect.objectContaining({
        rowNumber: 3,
        reason: 'invalid_measure',
        detail: 'column "amount": "about 3k" is not a number',
      }),
    ]);
  });

  it('keeps an unknown label (with a colon) as an extra column, and a blank labelled value as null', async () => {
    const labels: [string, XCell][] = [
      ...LABELS.filter(([label]) => label !== 'Vendor:'),
      ['Vendor:', null],
      ['Approved Budget Line:', 'BL-42'],
      ['Some note without a colon', 'ignored'],
    ];

    const outcome = await normalize('forms/extra.xlsx', formXlsx(formRows(labels)));

    expect(outcome).toMatchObject({ rows: 1, template: 'request_form' });
    const manifest = await manifestOf(outcome);
    expect(manifest.unknownColumns).toEqual(['approved_budget_line', 'source_sheet']);
    // Every version header is there (Vendor left blank), plus a label no version has.
    expect(manifest.template).toEqual({ name: 'request_form', version: 'v1', match: 'columns' });
    const [row] = await rowsOf(outcome);
    expect(row).toMatchObject({ vendor: null, approved_budget_line: 'BL-42' });
    expect(row).not.toHaveProperty('some_note_without_a_colon');
  });

  it('rejects a form whose labels miss a required column as an unknown template, naming the column and the stray label', async () => {
    const labels = LABELS.map(([label, value]): [string, XCell] => [
      label === 'Amount:' ? 'Amt:' : label,
      value,
    ]);

    const result = normalize('forms/misspelt.xlsx', formXlsx(formRows(labels)));

    await expect(result).rejects.toMatchObject({
      name: 'UnknownTemplateError',
      message:
        'sheet "Request" of "purchase_orders/forms/misspelt.xlsx" has the labels of a request_form form but none for its required column(s) amount; labels naming no column: "Amt"',
    });
    expect(await listKeys(h, BUCKETS.normalized)).toEqual([]);
  });

  it('reads merged label and value cells once', async () => {
    const rows: XCell[][] = [['Purchase Request Form']];
    const merges: string[] = [];
    for (const [label, value] of LABELS) {
      const r = rows.length + 1;
      rows.push([label, label, value, value]);
      merges.push(`A${r}:B${r}`, `C${r}:D${r}`);
    }

    const outcome = await normalize('forms/merged.xlsx', makeXlsx([{ name: 'Request', rows, merges }]));

    expect(outcome).toMatchObject({ rows: 1, template: 'request_form' });
    const manifest = await manifestOf(outcome);
    expect(manifest.template).toEqual({ name: 'request_form', version: 'v1', match: 'exact' });
    expect(manifest.unknownColumns).toEqual(['source_sheet']);
    const [row] = await rowsOf(outcome);
    expect(row).toMatchObject({ request_id: 'PO-2001', vendor: 'Globex Software', line_items: null });
  });

  it('reads a workbook whose sheet is a table (a header row, rows below) as a table', async () => {
    const header = purchaseOrders.templates[0]!.versions[2]!.headers;
    const rows: XCell[][] = [
      ['Purchase requests, March'],
      [...header],
      ['PO-3001', '2025-03-03 09:15:00', 'Lee Park', 'lee.park@example.com', 'Payments', 'CC-1300'],
      ['PO-3002', '2025-03-04 10:00:00', 'Sam Okafor', 'sam.okafor@example.com', 'Corporate IT', 'CC-1600'],
    ].map((r, i) =>
      i < 2 ? r : [...r, 'Vendor A', 'Software', 'Thing', 100 * i, 'USD', '2025-04-01', 'Why'],
    );

    const outcome = await normalize('exports/table.xlsx', formXlsx(rows, 'Responses'));

    expect(outcome).toMatchObject({ rows: 2, rejectedRows: 0, template: 'form_export' });
    const manifest = await manifestOf(outcome);
    expect(manifest.tables).toEqual([
      {
        sheet: 'Responses',
        headerRow: 2,
        skippedRows: 1,
        template: { name: 'form_export', version: 'v3', match: 'exact' },
        rowCount: 2,
        rejectedRowCount: 0,
      },
    ]);
    expect(manifest.measures.amount).toEqual({ sum: '500', nullCount: 0 });
    const rows_ = await rowsOf(outcome);
    expect(
      rows_.map((r) => [r.ingest_row_number, r.request_id, r.requester_name, r.amount, r.line_items]),
    ).toEqual([
      ['3', 'PO-3001', 'Lee Park', '200', undefined],
      ['4', 'PO-3002', 'Sam Okafor', '300', undefined],
    ]);
  });
});

describe('forms and tables told apart', () => {
  it('reads a table whose declared headers alternate with unknown ones as a table, not as labels and values', async () => {
    const rows: XCell[][] = [
      ['Request ID', 'Channel', 'Requester Email', 'Team', 'Amount', 'Priority', 'Vendor', 'Submitted At'],
      ['PO-5001', 'web', 'a@example.com', 'A', 10, 'high', 'Acme Cloud Services', '2025-03-01 10:00:00'],
      ['PO-5002', 'mail', 'b@example.com', 'B', 20, 'low', 'Globex Software', '2025-03-02 10:00:00'],
    ];

    const outcome = await normalize('exports/alternating.xlsx', formXlsx(rows, 'Export'));

    expect(outcome).toMatchObject({ template: 'form_export', rows: 2, rejectedRows: 0 });
    const manifest = await manifestOf(outcome);
    expect(manifest.template).toEqual({ name: 'form_export', version: null, match: 'columns' });
    expect(manifest.unknownColumns).toEqual(['channel', 'team', 'priority', 'source_sheet']);
  });

  it('skips a notes sheet of `Label:` pairs beside an export table instead of rejecting the workbook', async () => {
    const headers = purchaseOrders.templates[0]!.versions[0]!.headers;
    const values: XCell[] = [
      'PO-5004',
      '2025-03-04 10:00:00',
      'Ravi Menon',
      'ravi.menon@example.com',
      'Data Engineering',
      'CC-1200',
      'Globex Software',
      'Software',
      'Licences',
      120,
      'USD',
      '2025-03-28',
      'Needed',
    ];
    const notes: XCell[][] = [
      ['Prepared by:', 'Forms tool'],
      ['Exported:', '2025-03-31'],
      ['Source:', 'intake'],
    ];

    const outcome = await normalize(
      'exports/with-notes.xlsx',
      makeXlsx([
        { name: 'Responses', rows: [[...headers], values] },
        { name: 'Notes', rows: notes },
      ]),
    );

    expect(outcome).toMatchObject({ template: 'form_export', rows: 1, rejectedRows: 0 });
    expect((await manifestOf(outcome)).skippedSheets).toEqual([
      { sheet: 'Notes', reason: 'no_partition_column' },
    ]);
  });

  it('reads a compact form with several `Label:` pairs on a row as a form', async () => {
    const rows: XCell[][] = [
      ['Purchase Request Form'],
      ['Request ID:', 'PO-5003', 'Submitted:', '2025-03-03 09:00:00'],
      ['Requester Email:', 'c@example.com', 'Vendor:', 'Globex Software', 'Amount:', 75],
    ];

    const outcome = await normalize('forms/compact.xlsx', formXlsx(rows));

    expect(outcome).toMatchObject({ template: 'request_form', rows: 1 });
    const [row] = await rowsOf(outcome);
    expect(row).toMatchObject({
      request_id: 'PO-5003',
      submitted_at: '2025-03-03T09:00:00Z',
      requester_email: 'c@example.com',
      vendor: 'Globex Software',
      amount: '75',
      ingest_row_number: '2',
    });
  });
});

describe('a forms tool export (form_export)', () => {
  const VALUES = [
    'PO-4001',
    '2025-03-05 11:30:00',
    'Lee Park',
    'lee.park@example.com',
    'Payments',
    'CC-1300',
    'Contoso Consulting',
    'Professional Services',
    'PCI audit preparation',
    '9000.00',
    'USD',
    '2025-03-20',
    'Annual PCI DSS audit readiness review.',
  ];
  const CANONICAL = {
    request_id: 'PO-4001',
    submitted_at: '2025-03-05T11:30:00Z',
    requester_name: 'Lee Park',
    requester_email: 'lee.park@example.com',
    org_unit: 'Payments',
    cost_center: 'CC-1300',
    vendor: 'Contoso Consulting',
    category: 'Professional Services',
    description: 'PCI audit preparation',
    amount: '9000.00',
    currency: 'USD',
    need_by: '2025-03-20',
    justification: 'Annual PCI DSS audit readiness review.',
  };
  const csv = (rows: readonly (readonly string[])[]) =>
    `${rows.map((r) => r.map((v) => (/[,"]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)).join(',')).join('\n')}\n`;

  it.each(purchaseOrders.templates[0]!.versions.map((v) => [v.version, v.headers] as const))(
    'maps the %s headers of a CSV export to the canonical columns',
    async (version, headers) => {
      const outcome = await normalize(`exports/${version}.csv`, csv([headers, VALUES]));

      expect(outcome).toMatchObject({
        status: 'normalized',
        template: 'form_export',
        rows: 1,
        rejectedRows: 0,
      });
      const manifest = await manifestOf(outcome);
      expect(manifest.template).toEqual({ name: 'form_export', version, match: 'exact' });
      expect(manifest.unknownColumns).toEqual([]);
      const [row] = await rowsOf(outcome);
      expect(row).toMatchObject({ ...CANONICAL, ingest_template_version: version });
    },
  );

  it('maps the v2 headers of an XLSX export to the canonical columns', async () => {
    const headers = purchaseOrders.templates[0]!.versions[1]!.headers;
    const values: XCell[] = VALUES.map((v, i) => (i === 9 ? 9000 : v));

    const outcome = await normalize('exports/v2.xlsx', formXlsx([[...headers], values], 'Responses'));

    expect(outcome).toMatchObject({ template: 'form_export', rows: 1, rejectedRows: 0 });
    expect((await manifestOf(outcome)).template).toEqual({
      name: 'form_export',
      version: 'v2',
      match: 'exact',
    });
    const [row] = await rowsOf(outcome);
    expect(row).toMatchObject({ ...CANONICAL, amount: '9000', source_sheet: 'Responses' });
  });
});

describe('the purchase_orders samples (samples/purchase_orders/)', () => {
  it('reads the CSV export (form_export v1): five requests, amounts exact', async () => {
    const outcome = await normalize('intake_export_2025-03.csv', sample('intake_export_2025-03.csv'));

    expect(outcome).toMatchObject({
      template: 'form_export',
      rows: 5,
      rejectedRows: 0,
      partitions: ['2025-03'],
    });
    const manifest = await manifestOf(outcome);
    expect(manifest.template).toEqual({ name: 'form_export', version: 'v1', match: 'exact' });
    expect(manifest.measures).toEqual({ amount: { sum: '55600', nullCount: 0 } });
    const rows = await rowsOf(outcome);
    expect(
      rows.map((r) => [r.request_id, r.submitted_at, r.requester_email, r.amount, r.currency, r.need_by]),
    ).toEqual([
      ['PO-1001', '2025-03-03T09:15:00Z', 'dana.whitfield@example.com', '4800.00', 'USD', '2025-03-24'],
      ['PO-1002', '2025-03-04T10:00:00Z', 'ravi.menon@example.com', '25000.00', 'USD', '2025-03-28'],
      ['PO-1003', '2025-03-05T11:30:00Z', 'lee.park@example.com', '9000.00', 'USDX', '2025-03-07'],
      ['PO-1004', '2025-03-06T14:45:00Z', 'maria.gomez@example.com', '12000.00', 'USD', '2025-04-01'],
      ['PO-1005', '2025-03-07T08:05:00Z', 'dana.whitfield@example.com', '4800.00', 'USD', '2025-03-28'],
    ]);
  });

  it('reads the XLSX export (form_export v2), its timestamps like the CSV export', async () => {
    const outcome = await normalize('intake_export_2025-03_v2.xlsx', sample('intake_export_2025-03_v2.xlsx'));

    expect(outcome).toMatchObject({
      template: 'form_export',
      rows: 2,
      rejectedRows: 0,
      partitions: ['2025-03'],
    });
    expect((await manifestOf(outcome)).template).toEqual({
      name: 'form_export',
      version: 'v2',
      match: 'exact',
    });
    const rows = await rowsOf(outcome);
    expect(rows.map((r) => [r.request_id, r.submitted_at, r.requester_email, r.vendor, r.amount])).toEqual([
      ['PO-1006', '2025-03-10T09:00:00Z', 'sam.okafor@example.com', 'Northwind Hardware', '7200'],
      ['PO-1007', '2025-03-10T09:30:00Z', 'jane.doe(at)example.com', 'Fabrikam Office Supply', '-50'],
    ]);
    expect((await manifestOf(outcome)).measures).toEqual({ amount: { sum: '7150', nullCount: 0 } });
  });

  it.each([
    [
      'request_form_PO-1008.xlsx',
      'PO-1008',
      '2025-03-11T13:20:00Z',
      '3150',
      [
        { item: 'Orchestrator seat', quantity: '5', unit_price: '450' },
        { item: 'Support plan', quantity: '1', unit_price: '900' },
      ],
    ],
    [
      'request_form_PO-1009.xlsx',
      'PO-1009',
      '2025-03-12T16:00:00Z',
      '5000',
      [
        { item: 'Tablet', quantity: '10', unit_price: '420' },
        { item: 'Case', quantity: '10', unit_price: '35' },
      ],
    ],
    [
      'resubmissions/request_form_PO-1009.xlsx',
      'PO-1009',
      '2025-03-13T09:00:00Z',
      '4550',
      [
        { item: 'Tablet', quantity: '10', unit_price: '420' },
        { item: 'Case', quantity: '10', unit_price: '35' },
      ],
    ],
  ])(
    'reads the form %s (request_form v1) as one request with its items',
    async (name, id, submitted, amount, items) => {
      const outcome = await normalize(name, sample(...name.split('/')));

      expect(outcome).toMatchObject({
        template: 'request_form',
        rows: 1,
        rejectedRows: 0,
        partitions: ['2025-03'],
      });
      const manifest = await manifestOf(outcome);
      expect(manifest.template).toEqual({ name: 'request_form', version: 'v1', match: 'exact' });
      expect(manifest.measures).toEqual({ amount: { sum: amount, nullCount: 0 } });
      expect(manifest.unknownColumns).toEqual(['source_sheet']);
      const [row] = await rowsOf(outcome);
      expect(row).toMatchObject({
        request_id: id,
        submitted_at: submitted,
        amount,
        ingest_template: 'request_form',
      });
      expect(row!.requester_email).toMatch(/^[a-z.]+@example\.com$/);
      expect(JSON.parse(row!.line_items!)).toEqual(items);
    },
  );
});
