import type { ColumnConfig, DatasetConfig } from '../config/types';

const text = (name: string, aliases: string[], description?: string): ColumnConfig => ({
  name,
  type: 'string',
  aliases,
  ...(description ? { description } : {}),
});

/**
 * Purchase-order intake forms: one row per request, from a forms tool's export (CSV or XLSX, header
 * variants) or a single-request XLSX form (label/value pairs and a line-item table). Checked
 * against the compliance rules in the ETL; compliant requests wait for an approver, flagged ones go
 * back to the requester (docs/approvals.md).
 */
export const purchaseOrders: DatasetConfig = {
  name: 'purchase_orders',
  description:
    'Purchase-order intake requests (form exports and single-request forms), with compliance findings.',
  fileKinds: ['csv', 'xlsx'],
  nullTokens: ['', 'NULL', 'N/A', 'n/a', '-'],
  columns: [
    text(
      'request_id',
      ['Request ID', 'PO Request #', 'Request Number', 'Request No'],
      'Identifies a request; a resubmission carries the same id.',
    ),
    {
      name: 'submitted_at',
      type: 'timestamp',
      aliases: ['Submitted At', 'Submitted', 'Submission Date', 'Timestamp'],
    },
    text('requester_name', ['Requester', 'Requester Name', 'Name', 'Requested By']),
    text('requester_email', ['Requester Email', 'Email', 'Email Address']),
    text('org_unit', ['Org Unit', 'Department', 'Business Unit']),
    text('cost_center', ['Cost Center', 'CC', 'Cost Centre']),
    text('vendor', ['Vendor', 'Supplier', 'Vendor Name']),
    text('category', ['Category', 'Spend Category']),
    text('description', ['Description', 'Item Description', 'What is being purchased']),
    {
      name: 'amount',
      type: 'decimal',
      precision: 38,
      scale: 6,
      aliases: ['Amount', 'Total (USD)', 'Estimated Cost', 'Total Amount'],
      description: 'Requested total, in `currency`.',
    },
    text('currency', ['Currency', 'Currency Code']),
    // A string, not a date: a need-by date a requester typed wrong goes back to them as a finding
    // (rule need_by_is_date), not to quarantine as an uncastable value.
    text(
      'need_by',
      ['Need By', 'Required Date', 'Need-by Date', 'Needed By'],
      'Date the goods or services are needed (YYYY-MM-DD).',
    ),
    text('justification', ['Business Justification', 'Reason', 'Justification']),
    text(
      'line_items',
      [],
      "The single-request form's line items: a JSON array of {item, quantity, unit_price}.",
    ),
  ],
  measures: ['amount'],
  keys: ['request_id'],
  partition: { column: 'submitted_month', sourceColumn: 'submitted_at', transform: 'month' },
  // A request that matches no template is held for review, never loaded with null fields.
  unknownTemplate: 'quarantine',
  templates: [
    {
      name: 'form_export',
      description: 'A forms tool export: one row per request.',
      requiredColumns: ['request_id', 'requester_email', 'vendor', 'amount'],
      versions: [
        {
          version: 'v1',
          headers: [
            'Request ID',
            'Submitted At',
            'Requester Name',
            'Requester Email',
            'Org Unit',
            'Cost Center',
            'Vendor',
            'Category',
            'Description',
            'Amount',
            'Currency',
            'Need By',
            'Business Justification',
          ],
        },
        {
          version: 'v2',
          headers: [
            'PO Request #',
            'Timestamp',
            'Name',
            'Email',
            'Department',
            'CC',
            'Supplier',
            'Category',
            'Item Description',
            'Total (USD)',
            'Currency',
            'Required Date',
            'Reason',
          ],
        },
        {
          version: 'v3',
          headers: [
            'Request Number',
            'Submission Date',
            'Requester',
            'Email',
            'Org Unit',
            'Cost Center',
            'Vendor',
            'Category',
            'Description',
            'Estimated Cost',
            'Currency',
            'Required Date',
            'Justification',
          ],
        },
      ],
    },
    {
      name: 'request_form',
      description: 'A single-request XLSX form: labels and values down the sheet, then the line items.',
      layout: 'form',
      requiredColumns: ['request_id', 'requester_email', 'amount'],
      versions: [
        {
          version: 'v1',
          headers: [
            'Request ID',
            'Submitted',
            'Requester',
            'Requester Email',
            'Org Unit',
            'Cost Center',
            'Vendor',
            'Category',
            'Description',
            'Amount',
            'Currency',
            'Need By',
            'Business Justification',
          ],
        },
      ],
      form: {
        lineItems: {
          column: 'line_items',
          fields: [
            { name: 'item', type: 'string', aliases: ['Item', 'Line Item'] },
            { name: 'quantity', type: 'decimal', aliases: ['Quantity', 'Qty'] },
            { name: 'unit_price', type: 'decimal', aliases: ['Unit Price', 'Price', 'Unit Cost'] },
          ],
          requiredFields: ['item', 'quantity', 'unit_price'],
        },
      },
    },
  ],
  dimensions: [
    // Both CSV assets, broadcast-joined in the ETL; the reference rules below check membership.
    {
      name: 'org_hierarchy',
      file: 'data/dimensions/org_hierarchy.csv',
      joinKeys: { cost_center: 'cost_center' },
      columns: ['cost_center_owner'],
    },
    {
      name: 'approved_vendors',
      file: 'data/dimensions/approved_vendors.csv',
      joinKeys: { vendor: 'vendor_name' },
      columns: ['vendor_id'],
    },
  ],
  compliance: {
    rules: [
      {
        id: 'required_fields',
        kind: 'required',
        severity: 'error',
        description:
          'Every request names its submitter, cost center, vendor, category, what is bought, the amount, currency and need-by date.',
        fields: [
          'request_id',
          'submitted_at',
          'requester_name',
          'requester_email',
          'cost_center',
          'vendor',
          'category',
          'description',
          'amount',
          'currency',
          'need_by',
        ],
      },
      {
        id: 'requester_email_valid',
        kind: 'format',
        severity: 'error',
        description: 'The requester email is a valid email address.',
        field: 'requester_email',
        format: 'email',
      },
      {
        id: 'currency_iso4217',
        kind: 'format',
        severity: 'error',
        description: 'The currency is a three-letter ISO 4217 code (for example USD or EUR).',
        field: 'currency',
        format: 'currency',
      },
      {
        id: 'need_by_is_date',
        kind: 'format',
        severity: 'error',
        description: 'The need-by date is a calendar date (YYYY-MM-DD).',
        field: 'need_by',
        format: 'date',
      },
      {
        id: 'amount_positive',
        kind: 'range',
        severity: 'error',
        description: 'The amount is greater than zero.',
        field: 'amount',
        greaterThan: '0',
      },
      {
        id: 'line_items_add_up',
        kind: 'lineItemsTotal',
        severity: 'error',
        description: 'The line items (quantity times unit price) add up to the amount, within 0.01.',
        field: 'amount',
        lineItems: 'line_items',
        quantity: 'quantity',
        unitPrice: 'unit_price',
        tolerance: '0.01',
      },
      {
        id: 'need_by_lead_time',
        kind: 'leadTime',
        severity: 'error',
        description: 'The need-by date is at least 5 days after submission (purchasing needs the lead time).',
        field: 'need_by',
        from: 'submitted_at',
        minDays: 5,
      },
      {
        id: 'justification_for_large_amounts',
        kind: 'minLength',
        severity: 'error',
        description: 'Requests of 10,000 or more carry a business justification of at least 50 characters.',
        field: 'justification',
        minLength: 50,
        when: { field: 'amount', atLeast: '10000' },
      },
      {
        id: 'approved_vendor_for_category',
        kind: 'reference',
        severity: 'error',
        description: 'Software and IT hardware are bought only from approved vendors.',
        field: 'vendor',
        dimension: 'approved_vendors',
        when: { field: 'category', in: ['Software', 'IT Hardware'] },
      },
      {
        id: 'cost_center_exists',
        kind: 'reference',
        severity: 'error',
        description: 'The cost center exists in the org hierarchy.',
        field: 'cost_center',
        dimension: 'org_hierarchy',
      },
      {
        id: 'vendor_not_on_list',
        kind: 'reference',
        severity: 'warning',
        description: 'The vendor is not on the approved-vendor list; purchasing will onboard it.',
        field: 'vendor',
        dimension: 'approved_vendors',
      },
      {
        id: 'possible_duplicate',
        kind: 'duplicate',
        severity: 'warning',
        description:
          'Another request by the same requester for the same vendor and amount was submitted within 7 days.',
        fields: ['requester_email', 'vendor', 'amount'],
        idField: 'request_id',
        within: { field: 'submitted_at', days: 7 },
      },
    ],
  },
  approval: {
    idColumn: 'request_id',
    requesterColumn: 'requester_email',
    submittedAtColumn: 'submitted_at',
    summaryColumns: [
      'request_id',
      'requester_name',
      'requester_email',
      'org_unit',
      'cost_center',
      'vendor',
      'category',
      'description',
      'amount',
      'currency',
      'need_by',
      'justification',
    ],
    linkValidityDays: 7,
    overdueDays: 5,
  },
  reconciliation: { tolerances: {} },
  batching: { batchSize: 400, windowSeconds: 60, normalizeConcurrency: 10 },
  etl: { boundedFiles: 450 },
  // Per requesting org unit (the form's department): volume anomalies and expected arrivals.
  source: { column: 'org_unit' },
  // Intake forms come in every working day (docs/operations.md, "Expected arrivals").
  expectedArrivals: [
    {
      name: 'working_day_intake',
      description: 'purchase-order intake forms or exports of the working day',
      every: 'workingDay',
      by: '18:00',
    },
  ],
  // Request amounts vary by nature (one request of 500, the next of 50,000): rows are compared,
  // amounts are not.
  volume: { measures: null },
  restatement: {
    // A resubmission (same request id, later file) replaces the earlier version wherever it is
    // (it may be submitted in another month): the key is unique across the table.
    replacementScope: [],
    conflictPolicy: 'latest',
    keyScope: 'table',
  },
};
