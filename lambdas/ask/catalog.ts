/**
 * The catalog the ask engines read: the curated tables, their columns with the words people use
 * for them (the dataset config's header aliases, descriptions), their measures and time column,
 * and the values of low-cardinality string columns.
 *
 * Columns come from the dataset config (declared columns, dimension columns, lineage columns
 * people ask about, the compliance columns) and, when given, from the table as the catalog has it
 * (`observed`): a FOCUS export's columns the config does not declare (`service_name`,
 * `provider_name`, ...) are columns of the curated table too.
 */
import { COMPLIANCE_COLUMNS } from '../../lib/config/compliance';
import type { ResolvedDataset } from '../../lib/config/types';
import type { AskCatalog, AskColumn, AskTable } from './types';

/** Columns of the table as the Glue catalog (or the local catalog) describes them. */
export type ObservedColumns = Readonly<
  Record<string, readonly { readonly name: string; readonly type: string }[]>
>;
/** Distinct values of low-cardinality string columns, per table and column. */
export type ColumnValues = Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;

/** At most this many distinct values make a column "low-cardinality" (its values are matched in questions). */
export const MAX_VALUES = 60;

/** Lineage and bookkeeping columns no question is about. */
const HIDDEN = /^(ingest_(?!template$)|source_sheet$|_)/;

const words = (name: string) => name.replace(/_/g, ' ');

function typeOf(column: { type: string; precision?: number; scale?: number }): string {
  switch (column.type) {
    case 'decimal':
      return `decimal(${column.precision ?? 38},${column.scale ?? 18})`;
    case 'integer':
      return 'bigint';
    default:
      return column.type;
  }
}

/** Words for columns the config does not describe (FOCUS names read as people say them). */
const EXTRA_SYNONYMS: Readonly<Record<string, readonly string[]>> = {
  service_name: ['service', 'services', 'product'],
  service_category: ['service category', 'category of service'],
  provider_name: ['provider', 'providers', 'cloud provider', 'cloud providers'],
  region_name: ['region', 'regions'],
  region_id: ['region code'],
  billed_cost: ['cost', 'spend', 'spending', 'billed', 'bill', 'billed amount'],
  effective_cost: ['effective cost', 'amortized cost'],
  list_cost: ['list price cost', 'list cost'],
  sub_account_name: ['account', 'accounts', 'sub account', 'subscription'],
  charge_category: ['charge type', 'charge category'],
  org_unit: [
    'org unit',
    'org units',
    'organization',
    'organisation',
    'department',
    'team',
    'teams',
    'business unit',
  ],
  cost_center: ['cost center', 'cost centre', 'cc'],
  headcount: ['heads', 'head count', 'people', 'employees', 'staff'],
  planned_hires: ['hires', 'hiring', 'open reqs'],
  cost_usd: ['cost', 'loaded cost', 'budget'],
  compliance_status: ['compliance', 'compliant', 'flagged'],
  amount: ['amount', 'value', 'spend', 'total amount', 'cost', 'price'],
  requester_name: ['requester', 'requested by', 'who'],
  requester_email: ['requester email', 'email'],
  vendor: ['vendor', 'supplier', 'vendors', 'suppliers'],
  category: ['category', 'categories', 'spend category'],
  submitted_at: ['submitted', 'submission', 'submission date'],
  need_by: ['need by', 'needed by', 'due'],
  request_id: ['request', 'requests', 'request id', 'po number'],
  job_family: ['job family', 'role', 'roles'],
  quarter: ['quarter', 'fiscal quarter'],
  billing_period: ['billing period', 'month'],
  submitted_month: ['submission month'],
};

/** What each table is about, in words (table-level synonyms). */
export const TABLE_WORDS: Readonly<Record<string, readonly string[]>> = {
  cloud_billing: ['billing', 'billed', 'bill', 'cloud', 'charges', 'focus', 'invoice'],
  workforce_capacity: [
    'capacity',
    'headcount',
    'heads',
    'capacity planning',
    'fte',
    'hires',
    'workforce',
    'staffing',
  ],
  purchase_orders: [
    'purchase',
    'purchase orders',
    'po',
    'pos',
    'request',
    'requests',
    'intake',
    'forms',
    'form',
    'vendor',
    'vendors',
    'procurement',
  ],
  account_hierarchy: ['hierarchy', 'sub account', 'sub accounts', 'account owner', 'owners'],
};

export function askCatalog(
  datasets: readonly ResolvedDataset[],
  database: string,
  values: ColumnValues = {},
  observed: ObservedColumns = {},
): AskCatalog {
  const tables: AskTable[] = datasets.map((d) => {
    const columns = new Map<string, AskColumn>();
    const add = (name: string, type: string, synonyms: readonly string[], description?: string) => {
      if (HIDDEN.test(name) || columns.has(name)) return;
      const known = values[d.name]?.[name];
      columns.set(name, {
        name,
        type,
        synonyms: [
          ...new Set([words(name), ...synonyms.map((s) => s.toLowerCase()), ...(EXTRA_SYNONYMS[name] ?? [])]),
        ],
        ...(description ? { description } : {}),
        ...(known ? { values: known } : {}),
      });
    };
    for (const c of d.columns) add(c.name, typeOf(c), c.aliases ?? [], c.description);
    add(
      d.partition.column,
      'string',
      [],
      `Partition (${d.partition.transform} of ${d.partition.sourceColumn}).`,
    );
    for (const dim of d.dimensions)
      for (const c of dim.columns) add(c, 'string', [], `From the ${dim.name} dimension.`);
    if (d.compliance) {
      add(COMPLIANCE_COLUMNS.status, 'string', [], 'compliant or flagged, by the compliance rules.');
      add(COMPLIANCE_COLUMNS.findings, 'string', ['findings'], 'The compliance findings (JSON).');
    }
    add('ingest_template', 'string', ['template'], 'The template the file was recognized as.');
    for (const c of observed[d.name] ?? []) add(c.name, c.type, []);
    const timeColumn =
      d.partition.transform === 'identity'
        ? undefined
        : d.columns.find(
            (c) => c.name === d.partition.sourceColumn && (c.type === 'timestamp' || c.type === 'date'),
          )?.name;
    return {
      name: d.name,
      description: d.description,
      columns: [...columns.values()],
      measures: d.measures,
      ...(timeColumn ? { timeColumn } : {}),
    };
  });
  return { database, tables };
}
