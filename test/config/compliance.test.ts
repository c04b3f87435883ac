/** Validation of form layouts, compliance rules and the approval workflow (lib/config/validate-compliance.ts). */
import { describe, expect, it } from 'vitest';
import { DatasetConfigError, loadDatasets, validateDatasets } from '../../lib/config';
import { ruleFields } from '../../lib/config/compliance';
import type { DatasetConfig } from '../../lib/config/types';
import { purchaseOrders } from '../../lib/datasets/purchase-orders';

function problemsOf(config: DatasetConfig): string[] {
  try {
    validateDatasets([config]);
  } catch (error) {
    expect(error).toBeInstanceOf(DatasetConfigError);
    return (error as DatasetConfigError).problems.map((p) => `${p.field}: ${p.message}`);
  }
  return [];
}

const rules = purchaseOrders.compliance!.rules;
const withRules = (...replaced: unknown[]): DatasetConfig => ({
  ...purchaseOrders,
  // Rules as a user might write them, well formed or not: checked at run time like any config.
  compliance: { rules: replaced as never },
});

describe('the shipped purchase_orders dataset', () => {
  it('validates with every rule kind, its defaults applied', () => {
    const dataset = loadDatasets().find((d) => d.name === 'purchase_orders')!;
    expect(new Set(dataset.compliance!.rules.map((r) => r.kind))).toEqual(
      new Set([
        'required',
        'format',
        'range',
        'lineItemsTotal',
        'leadTime',
        'minLength',
        'reference',
        'duplicate',
      ]),
    );
    expect(dataset.approval).toMatchObject({ idColumn: 'request_id', linkValidityDays: 7, overdueDays: 5 });
    expect(dataset.templates.map((t) => t.layout ?? 'table')).toEqual(['table', 'form']);
  });

  it('names the fields each rule concerns', () => {
    expect(ruleFields(rules.find((r) => r.id === 'possible_duplicate')!)).toEqual([
      'requester_email',
      'vendor',
      'amount',
    ]);
    expect(ruleFields(rules.find((r) => r.id === 'cost_center_exists')!)).toEqual(['cost_center']);
  });
});

describe('rules that are not well formed fail synthesis, each with its field', () => {
  it.each([
    [
      { id: 'Bad Id', kind: 'required', severity: 'error', description: 'x', fields: ['vendor'] },
      'compliance.rules[0].id: "Bad Id" is not snake_case',
    ],
    [
      { id: 'r', kind: 'required', severity: 'fatal', description: 'x', fields: ['vendor'] },
      'compliance.rules[0].severity: must be "error" or "warning" (got "fatal")',
    ],
    [
      { id: 'r', kind: 'telepathy', severity: 'error', description: 'x' },
      'compliance.rules[0].kind: unknown kind "telepathy"',
    ],
    [
      { id: 'r', kind: 'required', severity: 'error', description: 'x', fields: ['nope'] },
      'compliance.rules[0].fields[0]: "nope" is not a declared column',
    ],
    [
      { id: 'r', kind: 'format', severity: 'error', description: 'x', field: 'currency', format: 'iban' },
      'compliance.rules[0].format: unknown format "iban"',
    ],
    [
      { id: 'r', kind: 'range', severity: 'error', description: 'x', field: 'vendor', greaterThan: '0' },
      'compliance.rules[0].field: "vendor" must be of type decimal or integer (is string)',
    ],
    [
      { id: 'r', kind: 'range', severity: 'error', description: 'x', field: 'amount' },
      'compliance.rules[0]: needs greaterThan, atLeast or atMost',
    ],
    [
      {
        id: 'r',
        kind: 'minLength',
        severity: 'error',
        description: 'x',
        field: 'justification',
        minLength: 10,
        when: { field: 'amount' },
      },
      'compliance.rules[0].when: needs exactly one of atLeast and in',
    ],
    [
      {
        id: 'r',
        kind: 'reference',
        severity: 'error',
        description: 'x',
        field: 'vendor',
        dimension: 'suppliers',
      },
      'compliance.rules[0].dimension: "suppliers" is not one of the dataset\'s dimensions',
    ],
    [
      {
        id: 'r',
        kind: 'reference',
        severity: 'error',
        description: 'x',
        field: 'category',
        dimension: 'approved_vendors',
      },
      'compliance.rules[0].field: dimension "approved_vendors" does not join on "category"',
    ],
    [
      {
        id: 'r',
        kind: 'lineItemsTotal',
        severity: 'error',
        description: 'x',
        field: 'amount',
        lineItems: 'line_items',
        quantity: 'qty',
        unitPrice: 'unit_price',
        tolerance: '0.01',
      },
      'compliance.rules[0].quantity: "qty" is not a line-item field',
    ],
    [
      {
        id: 'r',
        kind: 'leadTime',
        severity: 'error',
        description: 'x',
        field: 'need_by',
        from: 'submitted_at',
        minDays: -1,
      },
      'compliance.rules[0].minDays: must be an integer >= 0',
    ],
    [
      {
        id: 'r',
        kind: 'duplicate',
        severity: 'warning',
        description: 'x',
        fields: ['vendor'],
        idField: 'request_id',
        within: { field: 'vendor', days: 7 },
      },
      'compliance.rules[0].within.field: "vendor" must be of type date or timestamp (is string)',
    ],
    [
      { id: 'r', kind: 'required', severity: 'error', description: '', fields: ['vendor'] },
      'compliance.rules[0].description: is required (it is what requesters read)',
    ],
  ])('%j', (rule, problem) => {
    expect(problemsOf(withRules(rule)).some((p) => p.startsWith(problem))).toBe(true);
  });

  it('refuses a rule id declared twice, and no rules at all', () => {
    expect(problemsOf(withRules(rules[0], rules[0]))).toContain(
      'compliance.rules[1].id: "required_fields" is declared twice',
    );
    expect(problemsOf(withRules())).toContain('compliance.rules: must declare at least one rule');
  });
});

describe('approval workflow and forms', () => {
  it('an approval workflow needs compliance rules, the only key as its id and known columns', () => {
    const { compliance: _c, ...noRules } = purchaseOrders;
    expect(problemsOf(noRules)).toContain(
      'approval: requires compliance rules (compliant requests are what approvers see)',
    );
    expect(
      problemsOf({
        ...purchaseOrders,
        approval: { ...purchaseOrders.approval!, idColumn: 'vendor', linkValidityDays: 90 },
      }),
    ).toEqual([
      "approval.idColumn: must be the dataset's only key (a resubmission replaces the request by its id)",
      'approval.linkValidityDays: must be an integer from 1 to 30',
    ]);
  });

  it('a form is read from XLSX and keeps its line items in a string column', () => {
    const [exportTemplate, form] = purchaseOrders.templates;
    expect(problemsOf({ ...purchaseOrders, fileKinds: ['csv'] })).toContain(
      'templates[1].layout: a form is read from XLSX: add "xlsx" to fileKinds',
    );
    const badItems = {
      ...form!,
      form: { lineItems: { ...form!.form!.lineItems!, column: 'amount', requiredFields: ['sku'] } },
    };
    expect(problemsOf({ ...purchaseOrders, templates: [exportTemplate!, badItems] })).toEqual(
      expect.arrayContaining([
        'templates[1].form.lineItems.column: "amount" must be of type string (holds JSON)',
        'templates[1].form.lineItems.requiredFields[0]: "sku" is not a line-item field',
      ]),
    );
    expect(
      problemsOf({ ...purchaseOrders, templates: [{ ...exportTemplate!, form: form!.form! }, form!] }),
    ).toContain('templates[0].form: is only for layout "form"');
  });

  it('refuses declaring the columns the rules add', () => {
    expect(
      problemsOf({
        ...purchaseOrders,
        columns: [...purchaseOrders.columns, { name: 'compliance_status', type: 'string' }],
      }),
    ).toContain('columns: "compliance_status" is added by the compliance rules; do not declare it');
  });
});
