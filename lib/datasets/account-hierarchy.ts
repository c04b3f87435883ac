import type { DatasetConfig } from '../config/types';

/**
 * The account hierarchy: which org unit, cost center and owner each cloud sub-account belongs
 * to. A dimension: cloud_billing broadcast-joins its curated table at curation. Changed by
 * dropping a whole new hierarchy (CSV) under `account_hierarchy/`; the shipped CSV is its seed.
 */
export const accountHierarchy: DatasetConfig = {
  name: 'account_hierarchy',
  kind: 'dimension',
  description: 'Account hierarchy: org unit, cost center and owner of each cloud sub-account (CSV).',
  seedFile: 'data/dimensions/account_hierarchy.csv',
  fileKinds: ['csv'],
  // A sub-account id is an account number or an Azure subscription path, never a number to parse.
  // (Headers are canonicalized before matching: `Sub Account Id` and `SubAccountId` are `sub_account_id`.)
  columns: [
    { name: 'sub_account_id', type: 'string', description: 'FOCUS SubAccountId.' },
    { name: 'org_unit', type: 'string' },
    { name: 'cost_center', type: 'string', aliases: ['Cost Centre'] },
    { name: 'owner_email', type: 'string' },
  ],
  measures: [],
  keys: ['sub_account_id'],
  // Every dataset has a partition (the normalized zone and the crawler are partitioned). An
  // identity partition on org_unit: a handful of values (6 shipped; the normalizer accepts up
  // to 48 per file), so a hierarchy is a few small files. Not sub_account_id: one partition per
  // sub-account would exceed the normalizer's 48 partitions per file. Keys are unique across
  // the table (`keyScope: 'table'`, the default of a dimension), so a sub-account listed under
  // two org units collides like one listed twice under the same org unit.
  partition: { column: 'org_unit', sourceColumn: 'org_unit', transform: 'identity' },
  unknownTemplate: 'quarantine',
  templates: [
    {
      name: 'account_hierarchy',
      description: 'The whole hierarchy: one row per sub-account.',
      requiredColumns: ['sub_account_id', 'org_unit', 'cost_center', 'owner_email'],
      versions: [{ version: 'v1', headers: ['sub_account_id', 'org_unit', 'cost_center', 'owner_email'] }],
    },
  ],
  reconciliation: { tolerances: {} },
  restatement: {
    // A hierarchy file is the whole hierarchy: the newest file replaces every older file's rows,
    // sub-accounts it no longer lists included (a scope of the template alone: one value per file).
    replacementScope: ['ingest_template'],
    // `reject`: a sub-account twice in one hierarchy is a data error (which org unit pays?); the
    // later row is quarantined with the file named, never silently picked.
    conflictPolicy: 'reject',
    // One row per sub-account in the whole table (the join needs exactly one), whatever org unit.
    keyScope: 'table',
  },
};
