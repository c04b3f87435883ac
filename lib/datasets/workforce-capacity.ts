import type { ColumnConfig, DatasetConfig } from '../config/types';

const measure = (name: string, aliases: string[]): ColumnConfig => ({
  name,
  type: 'decimal',
  precision: 38,
  scale: 6,
  aliases,
});

export const workforceCapacity: DatasetConfig = {
  name: 'workforce_capacity',
  description: 'Capacity-planning templates and rosters submitted by org units (CSV and XLSX).',
  fileKinds: ['csv', 'xlsx', 'tsv', 'txt'],
  nullTokens: ['', 'NULL', 'N/A', 'n/a', '-'],
  columns: [
    { name: 'org_unit', type: 'string', aliases: ['Org Unit', 'Organization', 'Org', 'Business Unit'] },
    { name: 'cost_center', type: 'string', aliases: ['Cost Center', 'CC', 'CC Code', 'Cost Centre'] },
    { name: 'quarter', type: 'string', aliases: ['Quarter', 'Fiscal Quarter', 'Period'] },
    { name: 'job_family', type: 'string', aliases: ['Job Family', 'Role', 'Role Family'] },
    { name: 'location', type: 'string', aliases: ['Location', 'Site', 'Office'] },
    measure('headcount', ['HC', 'Headcount', 'Head Count', 'Employees']),
    measure('fte', ['FTE', 'FTE Count', 'Full Time Equivalent']),
    measure('planned_hires', ['Planned Hires', 'Open Reqs', 'Hiring Plan']),
    measure('attrition', ['Attrition', 'Expected Attrition']),
    measure('cost_usd', ['Cost', 'Cost (USD)', 'Total Cost', 'Loaded Cost']),
  ],
  measures: ['headcount', 'fte', 'planned_hires', 'attrition', 'cost_usd'],
  keys: ['ingest_template', 'org_unit', 'quarter', 'cost_center', 'job_family', 'location'],
  partition: { column: 'quarter', sourceColumn: 'quarter', transform: 'quarter' },
  // A capacity file no template recognizes is held back for review, not loaded with null columns.
  unknownTemplate: 'quarantine',
  templates: [
    {
      name: 'capacity_plan',
      description: 'Quarterly capacity plan per org unit, cost center, job family and location.',
      requiredColumns: ['org_unit', 'cost_center', 'quarter', 'job_family', 'headcount', 'fte'],
      versions: [
        {
          version: 'v1',
          headers: [
            'Org Unit',
            'Cost Center',
            'Quarter',
            'Job Family',
            'Location',
            'HC',
            'FTE',
            'Planned Hires',
            'Attrition',
            'Cost (USD)',
          ],
        },
        {
          version: 'v2',
          headers: [
            'Organization',
            'CC Code',
            'Fiscal Quarter',
            'Role Family',
            'Location',
            'Headcount',
            'FTE Count',
            'Open Reqs',
            'Expected Attrition',
            'Loaded Cost',
            'Remote Share',
          ],
        },
        {
          version: 'v3',
          headers: [
            'Business Unit',
            'Cost Centre',
            'Period',
            'Role',
            'Site',
            'Employees',
            'Full Time Equivalent',
            'Hiring Plan',
            'Attrition',
            'Total Cost',
            'Remote Share',
          ],
        },
      ],
    },
    {
      name: 'org_roster',
      description: 'Headcount of record per org unit and quarter, from the HR system.',
      requiredColumns: ['org_unit', 'quarter', 'headcount'],
      versions: [{ version: 'v1', headers: ['Org Unit', 'Quarter', 'Headcount'] }],
    },
  ],
  reconciliation: {
    tolerances: {},
    crossTemplateRules: [
      {
        name: 'headcount_matches_roster',
        description: 'Planned headcount per org unit and quarter equals the roster headcount of record.',
        measure: 'headcount',
        groupBy: ['org_unit', 'quarter'],
        left: { template: 'capacity_plan' },
        right: { template: 'org_roster' },
        tolerance: '0',
      },
    ],
  },
  batching: { batchSize: 400, windowSeconds: 60, normalizeConcurrency: 10 },
  etl: { boundedFiles: 450 },
  // Volume anomalies and expected arrivals per org unit (docs/operations.md).
  source: { column: 'org_unit' },
  // Each org unit's capacity plan by the 15th of the quarter's second month; HR's roster of record
  // by the 10th of its first (docs/operations.md, "Expected arrivals").
  expectedArrivals: [
    {
      name: 'quarterly_capacity_plan',
      description: "each org unit's capacity plan for the quarter",
      every: 'quarter',
      by: { month: 2, day: 15 },
      sources: ['Corporate IT', 'Data Engineering', 'Payments', 'Platform', 'Research', 'Retail Apps'],
      template: 'capacity_plan',
    },
    {
      name: 'quarterly_roster',
      description: "HR's roster of record for the quarter",
      every: 'quarter',
      by: { month: 1, day: 10 },
      template: 'org_roster',
    },
  ],
  restatement: {
    // An org unit submits its whole plan for a quarter in one file: a newer plan of the same
    // org unit and quarter replaces the older one, including rows (job families, locations)
    // the newer plan dropped. Per template: the HR roster covers the same org units and
    // quarters, and a roster landing must not replace the plans it is reconciled against
    // (the `headcount_matches_roster` rule), nor a plan the roster.
    replacementScope: ['ingest_template', 'org_unit', 'quarter'],
    // `reject`: rows of different files colliding on the key are two owners claiming the same
    // heads (e.g. two org units planning one cost center). Neither file is more right, so the
    // later rows are quarantined with the file they collide with named, and the owners decide.
    conflictPolicy: 'reject',
  },
};
