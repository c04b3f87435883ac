import type { ColumnConfig, DatasetConfig } from '../config/types';

/** FOCUS 1.0 column names, in the order the FOCUS sample export writes them. */
export const FOCUS_1_0_HEADERS = [
  'AvailabilityZone',
  'BilledCost',
  'BillingAccountId',
  'BillingAccountName',
  'BillingCurrency',
  'BillingPeriodEnd',
  'BillingPeriodStart',
  'ChargeCategory',
  'ChargeClass',
  'ChargeDescription',
  'ChargeFrequency',
  'ChargePeriodEnd',
  'ChargePeriodStart',
  'CommitmentDiscountCategory',
  'CommitmentDiscountId',
  'CommitmentDiscountName',
  'CommitmentDiscountStatus',
  'CommitmentDiscountType',
  'ConsumedQuantity',
  'ConsumedUnit',
  'ContractedCost',
  'ContractedUnitPrice',
  'EffectiveCost',
  'InvoiceIssuerName',
  'ListCost',
  'ListUnitPrice',
  'PricingCategory',
  'PricingQuantity',
  'PricingUnit',
  'ProviderName',
  'PublisherName',
  'RegionId',
  'RegionName',
  'ResourceId',
  'ResourceName',
  'ResourceType',
  'ServiceCategory',
  'Id',
  'ServiceName',
  'SkuId',
  'SkuPriceId',
  'SubAccountId',
  'SubAccountName',
  'Tags',
] as const;

/** FOCUS costs carry up to 11 decimals and quantities up to 15: decimal(38,18) holds both exactly. */
const measure = (name: string): ColumnConfig => ({ name, type: 'decimal', precision: 38, scale: 18 });
const timestamp = (name: string): ColumnConfig => ({ name, type: 'timestamp' });

export const cloudBilling: DatasetConfig = {
  name: 'cloud_billing',
  description: 'FOCUS 1.0 cloud billing exports (AWS, Microsoft, Oracle), hourly charges.',
  fileKinds: ['csv', 'parquet', 'jsonl', 'json'],
  nullTokens: ['', 'NULL'],
  columns: [
    { name: 'id', type: 'string', description: 'FOCUS row identifier.' },
    { name: 'sub_account_id', type: 'string' },
    { name: 'billing_account_id', type: 'string' },
    { name: 'billing_currency', type: 'string' },
    // FOCUS `ProviderName` (AWS, Microsoft, Oracle): each provider's rows are a source of their own.
    { name: 'provider_name', type: 'string', description: 'The cloud provider that issued the charge.' },
    timestamp('billing_period_start'),
    timestamp('billing_period_end'),
    timestamp('charge_period_start'),
    timestamp('charge_period_end'),
    measure('billed_cost'),
    measure('effective_cost'),
    measure('list_cost'),
    measure('contracted_cost'),
    measure('consumed_quantity'),
    measure('pricing_quantity'),
    { name: 'list_unit_price', type: 'decimal', precision: 38, scale: 18 },
    { name: 'contracted_unit_price', type: 'decimal', precision: 38, scale: 18 },
  ],
  measures: [
    'billed_cost',
    'effective_cost',
    'list_cost',
    'contracted_cost',
    'consumed_quantity',
    'pricing_quantity',
  ],
  keys: ['id', 'charge_period_start'],
  partition: { column: 'billing_period', sourceColumn: 'billing_period_start', transform: 'month' },
  templates: [
    {
      name: 'focus',
      description: 'FinOps Open Cost and Usage Specification export.',
      requiredColumns: ['id', 'billed_cost', 'billing_period_start', 'charge_period_start', 'sub_account_id'],
      versions: [{ version: '1.0', headers: FOCUS_1_0_HEADERS }],
    },
  ],
  dimensions: [
    {
      name: 'account_hierarchy',
      // The curated table of the account_hierarchy dimension dataset, at its current snapshot when
      // a run curates: changed by dropping a new hierarchy file, not by a redeploy.
      dataset: 'account_hierarchy',
      joinKeys: { sub_account_id: 'sub_account_id' },
      columns: ['org_unit', 'cost_center', 'owner_email'],
    },
  ],
  reconciliation: { tolerances: {} },
  batching: { batchSize: 400, windowSeconds: 60, normalizeConcurrency: 10 },
  etl: { boundedFiles: 450 },
  // Volume anomalies and expected arrivals per provider: a provider's export with a tenth of its
  // usual rows stands out even when the others arrive as usual (docs/operations.md).
  source: { column: 'provider_name' },
  // Each provider's FOCUS export lands at least once a day (docs/operations.md, "Expected arrivals").
  expectedArrivals: [
    {
      name: 'daily_export',
      description: "each provider's FOCUS export of the day",
      every: 'day',
      by: '23:59',
      sources: ['AWS', 'Microsoft', 'Oracle'],
      template: 'focus',
    },
  ],
  restatement: {
    // No replacement scope: providers deliver one billing period as several files (a FOCUS
    // export is split into parts, and AWS, Microsoft and Oracle each land their own), so a scope
    // of provider + period would let each part delete its sibling parts' rows. A corrected
    // export re-issued under the same keys still replaces its earlier version whole. A deployment
    // whose providers each deliver exactly one file per period may declare
    // `replacementScope: ['provider_name', 'billing_period']` after declaring `provider_name` as a
    // string column (README, "Restatement and conflicts").
    replacementScope: [],
    // `latest`: FOCUS rows are restated by re-issued exports (late charges, credits, corrected
    // amortization). The row of the export that landed last is the provider's current answer.
    conflictPolicy: 'latest',
  },
};
