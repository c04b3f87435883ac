/**
 * Writes the purchase_orders samples (samples/purchase_orders/): a forms tool's CSV export
 * (template form_export v1), an XLSX export in other headers (v2), two single-request XLSX forms
 * (template request_form) and a corrected resubmission of one of them. Each request is written to
 * pass or fail particular compliance rules (samples/README.md lists which).
 *
 *   npx tsx scripts/purchase-order-samples.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { purchaseOrders } from '../lib/datasets/purchase-orders';
import { makeXlsx, type XCell } from '../test/fixtures/normalize/xlsx-writer';

const root = path.resolve(__dirname, '..', 'samples', 'purchase_orders');

// The headers each export version carries, as the dataset config declares them.
const versionHeaders = (version: string): string[] => [
  ...purchaseOrders.templates
    .find((t) => t.name === 'form_export')!
    .versions.find((v) => v.version === version)!.headers,
];
const V1 = versionHeaders('v1');
const V2 = versionHeaders('v2');

const export1: string[][] = [
  [
    'PO-1001',
    '2025-03-03 09:15:00',
    'Dana Whitfield',
    'dana.whitfield@example.com',
    'Platform',
    'CC-1100',
    'Acme Cloud Services',
    'Software',
    'Observability SaaS annual licence',
    '4800.00',
    'USD',
    '2025-03-24',
    'Renewal of the monitoring platform used by every on-call team.',
  ],
  [
    'PO-1002',
    '2025-03-04 10:00:00',
    'Ravi Menon',
    'ravi.menon@example.com',
    'Data Engineering',
    'CC-1200',
    'Shady Software LLC',
    'Software',
    'Data catalog licences',
    '25000.00',
    'USD',
    '2025-03-28',
    'Needed',
  ],
  [
    'PO-1003',
    '2025-03-05 11:30:00',
    'Lee Park',
    'lee.park@example.com',
    'Payments',
    'CC-9999',
    'Contoso Consulting',
    'Professional Services',
    'PCI audit preparation',
    '9000.00',
    'USDX',
    '2025-03-07',
    'Annual PCI DSS audit readiness review by an external assessor.',
  ],
  [
    'PO-1004',
    '2025-03-06 14:45:00',
    'Maria Gomez',
    'maria.gomez@example.com',
    'Retail Apps',
    'CC-1400',
    'Contoso Consulting',
    'Professional Services',
    'Checkout redesign discovery sprint',
    '12000.00',
    'USD',
    '2025-04-01',
    'Discovery for the checkout redesign approved in the Q1 plan; reduces cart abandonment.',
  ],
  [
    'PO-1005',
    '2025-03-07 08:05:00',
    'Dana Whitfield',
    'dana.whitfield@example.com',
    'Platform',
    'CC-1100',
    'Acme Cloud Services',
    'Software',
    'Observability SaaS additional seats',
    '4800.00',
    'USD',
    '2025-03-28',
    'Extra seats for the new SRE hires joining in March.',
  ],
];

const export2: XCell[][] = [
  [
    'PO-1006',
    '2025-03-10 09:00:00',
    'Sam Okafor',
    'sam.okafor@example.com',
    'Corporate IT',
    'CC-1600',
    'Northwind Hardware',
    'IT Hardware',
    'Laptops for new hires',
    7200,
    'USD',
    '2025-03-31',
    'Six laptops for the March intake of engineers.',
  ],
  [
    'PO-1007',
    '2025-03-10 09:30:00',
    'Jane Doe',
    'jane.doe(at)example.com',
    'Marketing',
    'CC-1500',
    'Fabrikam Office Supply',
    'Office Supplies',
    'Event booth materials',
    -50,
    'USD',
    '2025-03-30',
    'Trade show booth.',
  ],
];

const csvCell = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

interface Form {
  readonly fields: readonly [string, XCell][];
  readonly items: readonly [string, number, number][];
}

/** A single-request form: a title, label/value pairs (blank rows between groups), then the line items. */
function formSheet(form: Form): XCell[][] {
  const rows: XCell[][] = [['Purchase Request Form'], []];
  form.fields.forEach(([label, value], i) => {
    if (i === 4 || i === 9) rows.push([]);
    rows.push([`${label}:`, value]);
  });
  rows.push([], ['Line items'], ['Item', 'Quantity', 'Unit Price']);
  for (const [item, quantity, price] of form.items) rows.push([item, quantity, price]);
  return rows;
}

const po1008: Form = {
  fields: [
    ['Request ID', 'PO-1008'],
    ['Requester', 'Ana Silva'],
    ['Requester Email', 'ana.silva@example.com'],
    ['Submitted', '2025-03-11 13:20:00'],
    ['Org Unit', 'Data Engineering'],
    ['Cost Center', 'CC-1200'],
    ['Vendor', 'Globex Software'],
    ['Category', 'Software'],
    ['Description', 'ETL tooling licences'],
    ['Amount', 3150],
    ['Currency', 'EUR'],
    ['Need By', '2025-04-15'],
    ['Business Justification', "Licences for the pipeline team's orchestration tool."],
  ],
  items: [
    ['Orchestrator seat', 5, 450],
    ['Support plan', 1, 900],
  ],
};

const po1009 = (submitted: string, amount: number): Form => ({
  fields: [
    ['Request ID', 'PO-1009'],
    ['Requester', 'Tom Becker'],
    ['Requester Email', 'tom.becker@example.com'],
    ['Submitted', submitted],
    ['Org Unit', 'Retail Apps'],
    ['Cost Center', 'CC-1400'],
    ['Vendor', 'Initech Devices'],
    ['Category', 'IT Hardware'],
    ['Description', 'Store tablets'],
    ['Amount', amount],
    ['Currency', 'USD'],
    ['Need By', '2025-04-10'],
    ['Business Justification', 'Tablets for the store pilot.'],
  ],
  items: [
    ['Tablet', 10, 420],
    ['Case', 10, 35],
  ],
});

mkdirSync(path.join(root, 'resubmissions'), { recursive: true });
writeFileSync(
  path.join(root, 'intake_export_2025-03.csv'),
  `${[V1, ...export1].map((r) => r.map(csvCell).join(',')).join('\n')}\n`,
);
writeFileSync(
  path.join(root, 'intake_export_2025-03_v2.xlsx'),
  makeXlsx([{ name: 'Responses', rows: [V2, ...export2] }]),
);
writeFileSync(
  path.join(root, 'request_form_PO-1008.xlsx'),
  makeXlsx([{ name: 'Request', rows: formSheet(po1008) }]),
);
writeFileSync(
  path.join(root, 'request_form_PO-1009.xlsx'),
  makeXlsx([{ name: 'Request', rows: formSheet(po1009('2025-03-12 16:00:00', 5000)) }]),
);
writeFileSync(
  path.join(root, 'resubmissions', 'request_form_PO-1009.xlsx'),
  makeXlsx([{ name: 'Request', rows: formSheet(po1009('2025-03-13 09:00:00', 4550)) }]),
);
console.log(`wrote the purchase_orders samples to ${path.relative(process.cwd(), root)}`);
