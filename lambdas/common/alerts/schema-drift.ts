/** The schema-drift notice: columns added, removed or retyped in the normalized table. */
import type { Alert } from '../../../lib/contracts/alerts';
import { consoleLine, listed, render } from './base';

export interface ColumnType {
  readonly name: string;
  readonly type: string;
}

export interface SchemaDriftAlertInput {
  readonly kind: 'schema_drift';
  readonly dataset: string;
  readonly executionId: string;
  readonly database: string;
  readonly table: string;
  /** Catalog table version last seen, and the current one. */
  readonly fromVersion: string | null;
  readonly toVersion: string | null;
  readonly added: readonly (ColumnType & { readonly declared: boolean })[];
  readonly removed: readonly ColumnType[];
  readonly retyped: readonly { readonly name: string; readonly from: string; readonly to: string }[];
  readonly region?: string;
}

export function schemaDrift(input: SchemaDriftAlertInput): Alert {
  const counts = [
    input.added.length ? `${input.added.length} added` : '',
    input.removed.length ? `${input.removed.length} removed` : '',
    input.retyped.length ? `${input.retyped.length} retyped` : '',
  ].filter(Boolean);
  const lines = [
    `The crawler changed the schema of table ${input.database}.${input.table} (dataset ${input.dataset}), ` +
      `catalog version ${input.fromVersion ?? '?'} -> ${input.toVersion ?? '?'}.`,
    'This is a notice, not an error: the pipeline carries on without a code change.',
  ];
  if (input.added.length > 0) {
    lines.push(
      '',
      'COLUMNS ADDED',
      ...listed(input.added, (c) => [
        `- ${c.name} (${c.type})${c.declared ? '' : ': not declared in the dataset configuration, kept as it arrives'}`,
      ]),
    );
  }
  if (input.removed.length > 0) {
    lines.push(
      '',
      'COLUMNS REMOVED',
      ...listed(input.removed, (c) => [`- ${c.name} (was ${c.type}): new rows will have no value for it`]),
    );
  }
  if (input.retyped.length > 0) {
    lines.push('', 'COLUMNS RETYPED', ...listed(input.retyped, (c) => [`- ${c.name}: ${c.from} -> ${c.to}`]));
  }
  lines.push(
    '',
    'WHAT TO DO',
    '- New columns reach the curated table with the next ETL run; reports and queries that need them can use them then.',
    '- An undeclared column that is really a known one under a new header name needs an alias in the dataset configuration.',
    '- Removed or retyped columns can break downstream queries and dashboards: check them.',
    '',
    `Execution: ${input.executionId}`,
    ...consoleLine(input.executionId, input.region),
  );
  return render({
    kind: 'schema_drift',
    severity: 'info',
    dataset: input.dataset,
    subject: `schema change in ${input.table}: ${counts.join(', ') || 'no column change'}`,
    lines,
    data: {
      executionId: input.executionId,
      database: input.database,
      table: input.table,
      fromVersion: input.fromVersion,
      toVersion: input.toVersion,
      added: input.added,
      removed: input.removed,
      retyped: input.retyped,
    },
  });
}
