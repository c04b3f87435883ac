/**
 * Schema-drift notices: after each crawl, the normalized table's columns in the Glue Data
 * Catalog are compared with the last state this pipeline saw (kept in the control bucket at
 * `layout.schemaStateKey`). Columns added, removed or retyped make an informational alert.
 * The first sighting of a table records its state and is not a change (nothing to compare
 * with; the table's birth is not drift).
 */
import { EntityNotFoundException, GetTableCommand } from '@aws-sdk/client-glue';
import type { ResolvedDataset } from '../../lib/config/types';
import type { Alert, AlertReceipt } from '../../lib/contracts/alerts';
import { schemaStateKey } from '../../lib/contracts/layout';
import { LINEAGE_COLUMNS } from '../../lib/contracts/lineage';
import { pipelineNames } from '../../lib/contracts/naming';
import type { SchemaDriftResult } from '../../lib/contracts/reconcile';
import { type ColumnType, formatAlert } from '../common/alerts';
import { getJson, putJson } from '../common/s3';
import type { SchemaDriftDeps } from './deps';
import { ControlDocumentError } from './errors';

/** What the reconciler remembers of a table (control bucket, `schema/<dataset>/<table>.json`). */
export interface SchemaState {
  readonly schemaVersion: 1;
  readonly dataset: string;
  readonly database: string;
  readonly table: string;
  /** Glue table version (`Table.VersionId`) the columns were read from. */
  readonly versionId: string | null;
  /** Data columns then partition keys, names lowercased as the catalog stores them. */
  readonly columns: readonly ColumnType[];
  readonly partitionKeys: readonly ColumnType[];
  readonly recordedAt: string;
  readonly executionId: string;
}

export interface SchemaDiff {
  readonly added: readonly ColumnType[];
  readonly removed: readonly ColumnType[];
  readonly retyped: readonly { readonly name: string; readonly from: string; readonly to: string }[];
}

/**
 * What detectSchemaDrift returns: the workflow's result (lib/contracts/reconcile.ts) with the
 * notice itself, and its receipt when `deps.publish` was given and there was something to say.
 */
export type SchemaDriftOutput = Omit<SchemaDriftResult, 'alert'> & {
  readonly alert: Alert | null;
  readonly receipt?: AlertReceipt;
};

const normalizeType = (type: string) => type.replace(/\s+/g, '').toLowerCase();

/** Columns added, removed and retyped from `previous` to `current` (names compared case-insensitively). */
export function diffSchemas(previous: readonly ColumnType[], current: readonly ColumnType[]): SchemaDiff {
  const before = new Map(previous.map((c) => [c.name.toLowerCase(), c]));
  const after = new Map(current.map((c) => [c.name.toLowerCase(), c]));
  const added = current.filter((c) => !before.has(c.name.toLowerCase()));
  const removed = previous.filter((c) => !after.has(c.name.toLowerCase()));
  const retyped = current.flatMap((c) => {
    const old = before.get(c.name.toLowerCase());
    return old && normalizeType(old.type) !== normalizeType(c.type)
      ? [{ name: c.name, from: old.type, to: c.type }]
      : [];
  });
  return { added, removed, retyped };
}

export function isEmptyDiff(diff: SchemaDiff): boolean {
  return diff.added.length === 0 && diff.removed.length === 0 && diff.retyped.length === 0;
}

/** Columns a dataset declares (config columns, lineage columns and the partition column). */
export function declaredColumns(dataset: ResolvedDataset): Set<string> {
  return new Set([...dataset.columns.map((c) => c.name), ...LINEAGE_COLUMNS, dataset.partition.column]);
}

export async function detectSchemaDrift(
  deps: SchemaDriftDeps,
  dataset: ResolvedDataset,
  executionId: string,
): Promise<SchemaDriftOutput> {
  const names = pipelineNames(deps.env.pipelineName);
  const database = deps.env.glueDatabase;
  const table = names.normalizedTable(dataset.name);
  let current: { versionId: string | null; columns: ColumnType[]; partitionKeys: ColumnType[] };
  try {
    const response = await deps.glue.send(new GetTableCommand({ DatabaseName: database, Name: table }));
    const t = response.Table;
    const columnsOf = (list: readonly { Name?: string; Type?: string }[] | undefined) =>
      (list ?? []).map((c) => ({ name: (c.Name ?? '').toLowerCase(), type: c.Type ?? 'unknown' }));
    current = {
      versionId: t?.VersionId ?? null,
      columns: columnsOf(t?.StorageDescriptor?.Columns),
      partitionKeys: columnsOf(t?.PartitionKeys),
    };
  } catch (error) {
    // No table yet (the crawl found nothing to catalogue): nothing to compare; the ETL reports it.
    if (error instanceof EntityNotFoundException) {
      return { changed: false, alert: null, table, versionId: null, firstSighting: false };
    }
    throw error;
  }

  const stateKey = schemaStateKey(dataset.name, table);
  const previous = await getJson<SchemaState>(deps.s3, deps.env.controlBucket, stateKey);
  if (previous && (!Array.isArray(previous.columns) || !Array.isArray(previous.partitionKeys))) {
    throw new ControlDocumentError(`schema state ${stateKey} has no columns/partitionKeys arrays`);
  }
  const state: SchemaState = {
    schemaVersion: 1,
    dataset: dataset.name,
    database,
    table,
    versionId: current.versionId,
    columns: current.columns,
    partitionKeys: current.partitionKeys,
    recordedAt: (deps.now?.() ?? new Date()).toISOString(),
    executionId,
  };
  if (!previous) {
    await putJson(deps.s3, deps.env.controlBucket, stateKey, state);
    return { changed: false, alert: null, table, versionId: current.versionId, firstSighting: true };
  }
  const diff = diffSchemas(
    [...previous.columns, ...previous.partitionKeys],
    [...current.columns, ...current.partitionKeys],
  );
  if (isEmptyDiff(diff)) {
    // A new version without column changes (e.g. table parameters) moves the baseline only.
    if (previous.versionId !== current.versionId) {
      await putJson(deps.s3, deps.env.controlBucket, stateKey, state);
    }
    return { changed: false, alert: null, table, versionId: current.versionId, firstSighting: false };
  }
  const declared = declaredColumns(dataset);
  const alert = formatAlert({
    kind: 'schema_drift',
    dataset: dataset.name,
    executionId,
    database,
    table,
    fromVersion: previous.versionId,
    toVersion: current.versionId,
    added: diff.added.map((c) => ({ ...c, declared: declared.has(c.name) })),
    removed: diff.removed,
    retyped: diff.retyped,
  });
  const receipt = deps.publish ? await deps.publish(alert) : undefined;
  // Saved only once told: an unpublished notice is detected (and published) again next time.
  if (!receipt || receipt.published) await putJson(deps.s3, deps.env.controlBucket, stateKey, state);
  return {
    changed: true,
    alert,
    ...(receipt ? { receipt } : {}),
    table,
    versionId: current.versionId,
    firstSighting: false,
  };
}
