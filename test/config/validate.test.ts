import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../lib/app';
import { canonicalName, DatasetConfigError, loadDatasets, validateDatasets } from '../../lib/config';
import type { DatasetConfig } from '../../lib/config/types';
import { REPO_ROOT } from '../../lib/constructs/pipeline-function';
import { accountHierarchy } from '../../lib/datasets/account-hierarchy';
import { cloudBilling } from '../../lib/datasets/cloud-billing';
import { workforceCapacity } from '../../lib/datasets/workforce-capacity';

function problemsOf(configs: DatasetConfig[]): string[] {
  try {
    validateDatasets(configs);
  } catch (error) {
    expect(error).toBeInstanceOf(DatasetConfigError);
    return (error as DatasetConfigError).problems.map((p) => `${p.dataset}|${p.field}|${p.message}`);
  }
  return [];
}

describe('shipped datasets', () => {
  it('validate, with defaults applied', () => {
    const [billing, workforce] = loadDatasets();
    expect(billing).toMatchObject({
      name: 'cloud_billing',
      landingPrefix: 'cloud_billing/',
      etl: { boundedFiles: 450 },
    });
    expect(workforce).toMatchObject({
      name: 'workforce_capacity',
      partition: { column: 'quarter', transform: 'quarter' },
    });
  });

  it('quarantine files whose header matches no template unless a dataset says to flag them', () => {
    const [billing, workforce] = loadDatasets();
    expect([billing!.unknownTemplate, workforce!.unknownTemplate]).toEqual(['quarantine', 'quarantine']);
    const flagged = validateDatasets([{ ...cloudBilling, unknownTemplate: 'flag' }, accountHierarchy]);
    expect(flagged[0]!.unknownTemplate).toBe('flag');
  });

  it('declare every alias the workforce templates need, each resolving to one canonical column', () => {
    const columns = new Map(
      workforceCapacity.columns.map((c) => [c.name, (c.aliases ?? []).map(canonicalName)]),
    );
    const expected: Record<string, string[]> = {
      org_unit: ['Org Unit', 'Organization', 'Org', 'Business Unit'],
      cost_center: ['Cost Center', 'CC', 'CC Code', 'Cost Centre'],
      quarter: ['Quarter', 'Fiscal Quarter', 'Period'],
      job_family: ['Job Family', 'Role', 'Role Family'],
      headcount: ['HC', 'Headcount', 'Head Count', 'Employees'],
      fte: ['FTE', 'FTE Count', 'Full Time Equivalent'],
      planned_hires: ['Planned Hires', 'Open Reqs', 'Hiring Plan'],
      attrition: ['Attrition', 'Expected Attrition'],
      cost_usd: ['Cost', 'Cost (USD)', 'Total Cost', 'Loaded Cost'],
    };
    for (const [column, aliases] of Object.entries(expected)) {
      for (const alias of aliases)
        expect(columns.get(column), `${alias} -> ${column}`).toContain(canonicalName(alias));
    }
  });

  it('resolve the Iceberg maintenance defaults: 7 days of snapshots, at least 10 kept, compaction from 10 files, 128 MiB files', () => {
    const [billing] = loadDatasets();
    expect(billing!.etl).toEqual({
      boundedFiles: 450,
      workers: 2,
      timeoutMinutes: 60,
      snapshotRetentionDays: 7,
      retainLastSnapshots: 10,
      compactionMinInputFiles: 10,
      targetFileSizeMb: 128,
    });
  });

  it('restate billing by the latest landing with no scope, capacity plans per template, org unit and quarter rejecting collisions', () => {
    const [billing, workforce] = loadDatasets();
    expect(billing!.restatement).toEqual({
      replacementScope: [],
      conflictPolicy: 'latest',
      keyScope: 'partition',
    });
    expect(workforce!.restatement).toEqual({
      replacementScope: ['ingest_template', 'org_unit', 'quarter'],
      conflictPolicy: 'reject',
      keyScope: 'partition',
    });
  });

  it('default to no replacement scope and the latest landing winning a key collision', () => {
    const { restatement: _, ...withoutRestatement } = cloudBilling;
    const [resolved] = validateDatasets([withoutRestatement, accountHierarchy]);
    expect(resolved!.restatement).toEqual({
      replacementScope: [],
      conflictPolicy: 'latest',
      keyScope: 'partition',
    });
  });

  it('default to keys unique across the table for a dimension, per partition value for a fact', () => {
    const { restatement: _, ...hierarchyWithout } = accountHierarchy;
    const [billing, hierarchy] = validateDatasets([cloudBilling, hierarchyWithout]);
    expect(billing!.restatement.keyScope).toBe('partition');
    expect(hierarchy!.restatement.keyScope).toBe('table');
  });

  it('load the account hierarchy as a dimension dataset: seeded, a newer file replacing it whole, duplicates rejected', () => {
    const hierarchy = loadDatasets().find((d) => d.name === 'account_hierarchy');
    expect(hierarchy).toMatchObject({
      kind: 'dimension',
      landingPrefix: 'account_hierarchy/',
      seedFile: 'data/dimensions/account_hierarchy.csv',
      keys: ['sub_account_id'],
      unknownTemplate: 'quarantine',
      restatement: { replacementScope: ['ingest_template'], conflictPolicy: 'reject', keyScope: 'table' },
    });
    // The shipped CSV's header is the template's.
    const header = readFileSync(path.join(REPO_ROOT, hierarchy!.seedFile!), 'utf-8').split('\n')[0]!.trim();
    expect(hierarchy!.templates[0]!.versions[0]!.headers).toEqual(header.split(','));
    expect(
      loadDatasets()
        .filter((d) => d.kind === 'dimension')
        .map((d) => d.name),
    ).toEqual(['account_hierarchy']);
  });

  it('join the account hierarchy onto cloud_billing from its dataset, not from a file', () => {
    const [billing] = loadDatasets();
    expect(billing!.kind).toBe('fact');
    expect(billing!.dimensions).toEqual([
      {
        name: 'account_hierarchy',
        dataset: 'account_hierarchy',
        joinKeys: { sub_account_id: 'sub_account_id' },
        columns: ['org_unit', 'cost_center', 'owner_email'],
      },
    ]);
  });

  it('declare the cross-template headcount rule between capacity plans and the roster', () => {
    expect(workforceCapacity.reconciliation?.crossTemplateRules).toEqual([
      expect.objectContaining({
        measure: 'headcount',
        groupBy: ['org_unit', 'quarter'],
        left: { template: 'capacity_plan' },
        right: { template: 'org_roster' },
      }),
    ]);
  });
});

describe('a bad dataset definition', () => {
  it('names the dataset and the field of every problem', () => {
    const bad: DatasetConfig = {
      ...cloudBilling,
      measures: ['billed_cost', 'no_such_column', 'id'],
      keys: [],
      batching: { batchSize: 5000 },
    };
    expect(problemsOf([bad, accountHierarchy])).toEqual([
      'cloud_billing|measures[1]|"no_such_column" is not a declared column',
      'cloud_billing|measures[2]|"id" must be of type decimal (is string)',
      'cloud_billing|keys|must list at least one key column',
      'cloud_billing|batching.batchSize|must be an integer from 1 to 500 (state payload limit)',
    ]);
  });

  it.each([
    ['name', { name: 'Cloud-Billing' }, 'name', 'lowercase snake_case'],
    ['landing prefix', { landingPrefix: '/abs/' }, 'landingPrefix', 'must be letters'],
    ['file kind', { fileKinds: ['csv', 'pdf'] }, 'fileKinds[1]', 'unknown kind "pdf"'],
    [
      'partition source',
      { partition: { column: 'billing_period', sourceColumn: 'nope', transform: 'month' } },
      'partition.sourceColumn',
      'not a declared column',
    ],
    [
      'month of a string',
      { partition: { column: 'billing_period', sourceColumn: 'id', transform: 'month' } },
      'partition.sourceColumn',
      'must be of type date or timestamp',
    ],
    [
      'dimension join key',
      { dimensions: [{ name: 'dim', file: 'x.csv', joinKeys: { nope: 'a' }, columns: ['b'] }] },
      'dimensions[0].joinKeys.nope',
      'not a declared column',
    ],
    [
      'tolerance',
      { reconciliation: { tolerances: { billed_cost: '-1' } } },
      'reconciliation.tolerances.billed_cost',
      'not a decimal >= 0',
    ],
    [
      'batch window',
      { batching: { batchSize: 100, windowSeconds: 0 } },
      'batching.windowSeconds',
      'at least 1 when batchSize is over 10',
    ],
    ['file cap', { etl: { boundedFiles: 0 } }, 'etl.boundedFiles', 'from 1 to 10000'],
    [
      'snapshot retention',
      { etl: { snapshotRetentionDays: -1 } },
      'etl.snapshotRetentionDays',
      'from 0 to 3650',
    ],
    ['snapshots kept', { etl: { retainLastSnapshots: 0 } }, 'etl.retainLastSnapshots', 'from 1 to 10000'],
    [
      'compaction threshold',
      { etl: { compactionMinInputFiles: 1 } },
      'etl.compactionMinInputFiles',
      'from 2 to 100000',
    ],
    ['target file size', { etl: { targetFileSizeMb: 0.5 } }, 'etl.targetFileSizeMb', 'from 1 to 1048576'],
    [
      'conflict policy',
      { restatement: { conflictPolicy: 'first' } },
      'restatement.conflictPolicy',
      'unknown policy "first" ("latest", "reject", "keep")',
    ],
    [
      'key scope',
      { restatement: { keyScope: 'file' } },
      'restatement.keyScope',
      'unknown key scope "file" ("partition", "table")',
    ],
    [
      'replacement scope column',
      { restatement: { replacementScope: ['region_name'] } },
      'restatement.replacementScope[0]',
      '"region_name" is neither a declared column, the partition column "billing_period" nor "ingest_template"',
    ],
    [
      'repeated replacement scope column',
      { restatement: { replacementScope: ['sub_account_id', 'sub_account_id'] } },
      'restatement.replacementScope[1]',
      '"sub_account_id" is listed twice',
    ],
    [
      'source column',
      { source: { column: 'provider' } },
      'source.column',
      '"provider" is not a declared column',
    ],
    ['source measure', { source: { column: 'billed_cost' } }, 'source.column', 'is a measure, not a source'],
    [
      'source shape',
      { source: { prefix: 'yes' } },
      'source',
      'must be { column: "<declared column>" } or { prefix: true }',
    ],
    [
      'volume history',
      { volume: { historyFiles: 0 } },
      'volume.historyFiles',
      'must be a whole number from 1 to 100',
    ],
    [
      'volume minimum history',
      { volume: { historyFiles: 5, minHistory: 6 } },
      'volume.minHistory',
      'must be a whole number from 1 to historyFiles (5)',
    ],
    [
      'volume rows band',
      { volume: { rows: { low: 1.5, high: 2 } } },
      'volume.rows',
      'must be { low, high } with 0 <= low <= 1 <= high and low < high',
    ],
    [
      'volume measures band',
      { volume: { measures: { low: 0.5, high: Number.NaN } } },
      'volume.measures',
      'must be { low, high } with 0 <= low <= 1 <= high and low < high',
    ],
    [
      'unknown-template policy',
      { unknownTemplate: 'ignore' },
      'unknownTemplate',
      'unknown policy "ignore" ("quarantine" or "flag")',
    ],
  ] as const)('rejects a bad %s', (_what, change, field, message) => {
    const problems = problemsOf([{ ...cloudBilling, ...(change as Partial<DatasetConfig>) }]);
    expect(problems.find((p) => p.split('|')[1] === field)).toContain(message);
  });

  it('resolves the volume defaults and accepts a prefix source and measures: null', () => {
    const [resolved] = validateDatasets([
      { ...cloudBilling, source: { prefix: true }, volume: { measures: null } },
      accountHierarchy,
    ]);
    expect(resolved!.volume).toEqual({
      historyFiles: 10,
      minHistory: 3,
      rows: { low: 0.5, high: 2 },
      measures: null,
    });
    const [billing] = validateDatasets([cloudBilling, accountHierarchy]);
    expect(billing!.volume.measures).toEqual({ low: 0.5, high: 2 });
    expect(billing!.source).toEqual({ column: 'provider_name' });
  });

  it('accepts a replacement scope of declared columns, the partition column and ingest_template', () => {
    const scoped: DatasetConfig = {
      ...cloudBilling,
      columns: [...cloudBilling.columns, { name: 'region_name', type: 'string' }],
      restatement: {
        replacementScope: ['ingest_template', 'provider_name', 'region_name', 'billing_period'],
        conflictPolicy: 'keep',
      },
    };
    expect(problemsOf([scoped, accountHierarchy])).toEqual([]);
  });

  it('rejects an alias that names two columns', () => {
    const bad: DatasetConfig = {
      ...workforceCapacity,
      columns: workforceCapacity.columns.map((c) =>
        c.name === 'fte' ? { ...c, aliases: [...(c.aliases ?? []), 'Head Count'] } : c,
      ),
    };
    expect(problemsOf([bad])).toContainEqual(
      expect.stringContaining(
        'workforce_capacity|columns[6].aliases[3]|"Head Count" also names column "headcount"',
      ),
    );
  });

  it('rejects a cross-template rule on an undeclared template', () => {
    const bad: DatasetConfig = {
      ...workforceCapacity,
      reconciliation: {
        crossTemplateRules: [
          {
            name: 'r',
            description: 'd',
            measure: 'headcount',
            groupBy: ['org_unit'],
            left: { template: 'capacity_plan' },
            right: { template: 'payroll' },
          },
        ],
      },
    };
    expect(problemsOf([bad])).toEqual([
      'workforce_capacity|reconciliation.crossTemplateRules[0].right.template|"payroll" is not a declared template',
    ]);
  });

  it('rejects two datasets whose landing prefixes overlap', () => {
    const problems = problemsOf([
      cloudBilling,
      { ...workforceCapacity, landingPrefix: 'cloud_billing/workforce/' },
    ]);
    expect(problems).toContainEqual(
      expect.stringContaining(
        'workforce_capacity|landingPrefix|"cloud_billing/workforce/" overlaps dataset "cloud_billing"',
      ),
    );
  });

  it('fails synthesis of the app with a message naming the dataset and field', () => {
    const bad: DatasetConfig = { ...cloudBilling, keys: ['not_a_column'] };
    expect(() => createApp({ datasets: [bad, workforceCapacity], nag: false })).toThrow(
      /dataset "cloud_billing", field "keys\[0\]": "not_a_column" is not a declared column/,
    );
  });
});

describe('a bad dimension', () => {
  const join = {
    name: 'account_hierarchy',
    joinKeys: { sub_account_id: 'sub_account_id' },
    columns: ['org_unit'],
  };
  const billingJoining = (dimension: Record<string, unknown>): DatasetConfig => ({
    ...cloudBilling,
    dimensions: [dimension as never],
  });

  it.each([
    [
      'dataset and file both',
      { ...join, dataset: 'account_hierarchy', file: 'data/dimensions/account_hierarchy.csv' },
      'cloud_billing|dimensions[0]|names both a dataset and a file; give exactly one',
    ],
    [
      'neither dataset nor file',
      join,
      'cloud_billing|dimensions[0].file|is required (or dataset: a dimension dataset)',
    ],
    [
      'unknown dataset',
      { ...join, dataset: 'org_chart' },
      'cloud_billing|dimensions[0].dataset|"org_chart" is not a configured dataset',
    ],
    [
      'fact dataset',
      { ...join, dataset: 'workforce_capacity', joinKeys: { sub_account_id: 'org_unit' } },
      'cloud_billing|dimensions[0].dataset|"workforce_capacity" is not a dimension dataset (its kind is "fact")',
    ],
    [
      'join key the dimension dataset does not declare',
      { ...join, dataset: 'account_hierarchy', joinKeys: { sub_account_id: 'account_id' } },
      'cloud_billing|dimensions[0].joinKeys.sub_account_id|"account_id" is not a column of dataset "account_hierarchy"',
    ],
    [
      'column the dimension dataset does not declare',
      { ...join, dataset: 'account_hierarchy', columns: ['org_unit', 'region'] },
      'cloud_billing|dimensions[0].columns[1]|"region" is not a column of dataset "account_hierarchy"',
    ],
  ] as const)('rejects a %s', (_what, dimension, problem) => {
    expect(problemsOf([billingJoining(dimension), workforceCapacity, accountHierarchy])).toEqual([problem]);
  });

  it('accepts a CSV file instead of a dataset (a deploy-time asset), and the partition column of a dimension dataset', () => {
    expect(problemsOf([billingJoining({ ...join, file: 'data/dimensions/account_hierarchy.csv' })])).toEqual(
      [],
    );
    // org_unit is account_hierarchy's partition column: its curated table has it.
    expect(problemsOf([billingJoining({ ...join, dataset: 'account_hierarchy' }), accountHierarchy])).toEqual(
      [],
    );
  });

  it('rejects a dimension dataset that joins itself, a seed on a fact dataset, a missing seed and an unknown kind', () => {
    const selfJoin: DatasetConfig = {
      ...accountHierarchy,
      dimensions: [{ ...join, dataset: 'account_hierarchy' }],
    };
    expect(problemsOf([selfJoin])).toContain(
      'account_hierarchy|dimensions[0].dataset|"account_hierarchy" is this dataset',
    );
    expect(problemsOf([{ ...workforceCapacity, seedFile: 'data/dimensions/account_hierarchy.csv' }])).toEqual(
      ['workforce_capacity|seedFile|is only for dimension datasets (kind "dimension")'],
    );
    expect(() =>
      validateDatasets([{ ...accountHierarchy, seedFile: 'data/dimensions/nope.csv' }], {
        fileExists: (file) => existsSync(path.join(REPO_ROOT, file)),
      }),
    ).toThrow(/field "seedFile": "data\/dimensions\/nope.csv" does not exist/);
    const { seedFile: _, ...unseeded } = accountHierarchy;
    expect(problemsOf([{ ...unseeded, kind: 'lookup' as never }])).toEqual([
      'account_hierarchy|kind|unknown kind "lookup" ("fact" or "dimension")',
    ]);
  });
});

describe('canonical names', () => {
  it.each([
    ['BilledCost', 'billed_cost'],
    ['SubAccountId', 'sub_account_id'],
    ['x_ServiceCode', 'x_service_code'],
    ['SKUPriceId', 'sku_price_id'],
    ['  Cost (USD) ', 'cost'],
    ['Head-Count', 'head_count'],
    ['FTE Count', 'fte_count'],
    ['\uFEFFOrg Unit', 'org_unit'],
    ['Coût [EUR]', 'coût'],
    ['(USD)', 'usd'],
  ])('%s -> %s', (header, expected) => {
    expect(canonicalName(header)).toBe(expected);
  });
});
