/**
 * Validation of the form layouts, compliance rules and approval workflow of a dataset (called by
 * validate.ts `checkDataset`; problems are reported like every other configuration problem).
 */
import { COMPLIANCE_COLUMNS, COMPLIANCE_RULE_KINDS, type ComplianceCondition } from './compliance';
import type { ColumnConfig, ResolvedDataset } from './types';

type Add = (field: string, message: string) => void;

const NAME = /^[a-z][a-z0-9_]{0,62}$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;
const FORMATS = ['email', 'currency', 'date'];

/** `layout`/`form` of each template: a form is XLSX only and its line-item column is a string column. */
export function checkForms(d: ResolvedDataset, columns: ReadonlyMap<string, ColumnConfig>, add: Add): void {
  for (const [i, template] of (d.templates ?? []).entries()) {
    const field = `templates[${i}]`;
    const layout = template.layout ?? 'table';
    if (layout !== 'table' && layout !== 'form') {
      add(`${field}.layout`, `unknown layout "${String(layout)}" (table or form)`);
      continue;
    }
    if (layout === 'table') {
      if (template.form !== undefined) add(`${field}.form`, 'is only for layout "form"');
      continue;
    }
    if (!(d.fileKinds ?? []).includes('xlsx'))
      add(`${field}.layout`, 'a form is read from XLSX: add "xlsx" to fileKinds');
    const items = template.form?.lineItems;
    if (!items) continue;
    const column = columns.get(items.column);
    if (!column) add(`${field}.form.lineItems.column`, `"${items.column}" is not a declared column`);
    else if (column.type !== 'string')
      add(`${field}.form.lineItems.column`, `"${items.column}" must be of type string (holds JSON)`);
    const names = new Set<string>();
    if (!items.fields?.length) add(`${field}.form.lineItems.fields`, 'must list at least one field');
    for (const [j, f] of (items.fields ?? []).entries()) {
      if (!NAME.test(f.name ?? ''))
        add(`${field}.form.lineItems.fields[${j}].name`, `"${f.name}" is not snake_case`);
      if (names.has(f.name))
        add(`${field}.form.lineItems.fields[${j}].name`, `"${f.name}" is declared twice`);
      names.add(f.name);
      if (f.type !== 'string' && f.type !== 'decimal')
        add(`${field}.form.lineItems.fields[${j}].type`, 'must be string or decimal');
    }
    if (!items.requiredFields?.length)
      add(`${field}.form.lineItems.requiredFields`, 'must list at least one field');
    for (const [j, f] of (items.requiredFields ?? []).entries()) {
      if (!names.has(f))
        add(`${field}.form.lineItems.requiredFields[${j}]`, `"${f}" is not a line-item field`);
    }
  }
}

/** `compliance` and `approval`: every rule well formed and naming declared columns and dimensions. */
export function checkCompliance(
  d: ResolvedDataset,
  columns: ReadonlyMap<string, ColumnConfig>,
  add: Add,
): void {
  for (const name of Object.values(COMPLIANCE_COLUMNS)) {
    if (columns.has(name)) add('columns', `"${name}" is added by the compliance rules; do not declare it`);
  }
  const column = (field: string, name: string, types?: readonly string[]) => {
    const c = columns.get(name);
    if (!c) add(field, `"${name}" is not a declared column`);
    else if (types && !types.includes(c.type))
      add(field, `"${name}" must be of type ${types.join(' or ')} (is ${c.type})`);
  };
  const condition = (field: string, when: ComplianceCondition | undefined) => {
    if (when === undefined) return;
    column(`${field}.field`, when.field);
    const given = (when.atLeast !== undefined ? 1 : 0) + (when.in !== undefined ? 1 : 0);
    if (given !== 1) add(field, 'needs exactly one of atLeast and in');
    if (when.atLeast !== undefined && !DECIMAL.test(when.atLeast))
      add(`${field}.atLeast`, `"${when.atLeast}" is not a decimal`);
    if (when.in !== undefined && (!Array.isArray(when.in) || when.in.length === 0))
      add(`${field}.in`, 'must list at least one value');
  };
  const rules = d.compliance?.rules;
  if (d.compliance !== null) {
    if (!Array.isArray(rules) || rules.length === 0)
      add('compliance.rules', 'must declare at least one rule');
  }
  const ids = new Set<string>();
  for (const [i, rule] of (rules ?? []).entries()) {
    const field = `compliance.rules[${i}]`;
    if (!NAME.test(rule.id ?? '')) add(`${field}.id`, `"${rule.id}" is not snake_case`);
    if (ids.has(rule.id)) add(`${field}.id`, `"${rule.id}" is declared twice`);
    ids.add(rule.id);
    if (!rule.description) add(`${field}.description`, 'is required (it is what requesters read)');
    if (rule.severity !== 'error' && rule.severity !== 'warning')
      add(`${field}.severity`, `must be "error" or "warning" (got "${String(rule.severity)}")`);
    if (!COMPLIANCE_RULE_KINDS.includes(rule.kind)) {
      add(
        `${field}.kind`,
        `unknown kind "${String(rule.kind)}" (one of ${COMPLIANCE_RULE_KINDS.join(', ')})`,
      );
      continue;
    }
    switch (rule.kind) {
      case 'required':
        if (!rule.fields?.length) add(`${field}.fields`, 'must list at least one column');
        for (const [j, f] of (rule.fields ?? []).entries()) column(`${field}.fields[${j}]`, f);
        break;
      case 'format':
        column(`${field}.field`, rule.field);
        if (!FORMATS.includes(rule.format))
          add(`${field}.format`, `unknown format "${rule.format}" (${FORMATS.join(', ')})`);
        break;
      case 'range': {
        column(`${field}.field`, rule.field, ['decimal', 'integer']);
        const bounds = [rule.greaterThan, rule.atLeast, rule.atMost].filter((b) => b !== undefined);
        if (bounds.length === 0) add(field, 'needs greaterThan, atLeast or atMost');
        for (const b of bounds) if (!DECIMAL.test(b as string)) add(field, `bound "${b}" is not a decimal`);
        break;
      }
      case 'lineItemsTotal': {
        column(`${field}.field`, rule.field, ['decimal']);
        column(`${field}.lineItems`, rule.lineItems, ['string']);
        const form = d.templates.find((t) => t.form?.lineItems?.column === rule.lineItems)?.form?.lineItems;
        if (!form) add(`${field}.lineItems`, `no form template stores line items in "${rule.lineItems}"`);
        else {
          for (const [k, f] of [
            ['quantity', rule.quantity],
            ['unitPrice', rule.unitPrice],
          ] as const) {
            const item = form.fields.find((x) => x.name === f);
            if (!item) add(`${field}.${k}`, `"${f}" is not a line-item field`);
            else if (item.type !== 'decimal')
              add(`${field}.${k}`, `"${f}" must be a decimal line-item field`);
          }
        }
        if (!DECIMAL.test(rule.tolerance ?? '') || rule.tolerance.startsWith('-'))
          add(`${field}.tolerance`, `"${rule.tolerance}" is not a decimal >= 0`);
        break;
      }
      case 'leadTime':
        column(`${field}.field`, rule.field, ['date', 'timestamp', 'string']);
        column(`${field}.from`, rule.from, ['date', 'timestamp']);
        if (!Number.isInteger(rule.minDays) || rule.minDays < 0)
          add(`${field}.minDays`, 'must be an integer >= 0');
        break;
      case 'minLength':
        column(`${field}.field`, rule.field, ['string']);
        if (!Number.isInteger(rule.minLength) || rule.minLength < 1)
          add(`${field}.minLength`, 'must be an integer >= 1');
        condition(`${field}.when`, rule.when);
        break;
      case 'reference': {
        column(`${field}.field`, rule.field);
        const dim = d.dimensions.find((x) => x.name === rule.dimension);
        if (!dim) add(`${field}.dimension`, `"${rule.dimension}" is not one of the dataset's dimensions`);
        else if (!(rule.field in dim.joinKeys))
          add(`${field}.field`, `dimension "${rule.dimension}" does not join on "${rule.field}"`);
        condition(`${field}.when`, rule.when);
        break;
      }
      case 'duplicate':
        if (!rule.fields?.length) add(`${field}.fields`, 'must list at least one column');
        for (const [j, f] of (rule.fields ?? []).entries()) column(`${field}.fields[${j}]`, f);
        column(`${field}.idField`, rule.idField);
        column(`${field}.within.field`, rule.within?.field, ['date', 'timestamp']);
        if (!Number.isInteger(rule.within?.days) || rule.within.days < 1)
          add(`${field}.within.days`, 'must be an integer >= 1');
        break;
    }
  }

  const a = d.approval;
  if (a === null) return;
  if (d.compliance === null)
    add('approval', 'requires compliance rules (compliant requests are what approvers see)');
  column('approval.idColumn', a.idColumn);
  column('approval.requesterColumn', a.requesterColumn, ['string']);
  column('approval.submittedAtColumn', a.submittedAtColumn, ['date', 'timestamp']);
  if (!(d.keys ?? []).includes(a.idColumn) || d.keys.length !== 1)
    add(
      'approval.idColumn',
      `must be the dataset's only key (a resubmission replaces the request by its id)`,
    );
  if (!a.summaryColumns?.length) add('approval.summaryColumns', 'must list at least one column');
  for (const [j, c] of (a.summaryColumns ?? []).entries()) column(`approval.summaryColumns[${j}]`, c);
  if (!Number.isInteger(a.linkValidityDays) || a.linkValidityDays < 1 || a.linkValidityDays > 30)
    add('approval.linkValidityDays', 'must be an integer from 1 to 30');
  if (!Number.isInteger(a.overdueDays) || a.overdueDays < 1)
    add('approval.overdueDays', 'must be an integer >= 1');
}
