import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { InputError } from './inputs';
import { REPO_ROOT, spawnTied, VENV_PYTHON } from './processes';
import type { RunReport } from './report';
import { readStateJson, type StateFolder } from './state';
import { openStateFolder } from './state-dir';

/** One request to the local query engine (local/query.py): JSON on its stdin, JSON back on its stdout. */
export async function runQueryEngine(request: Record<string, unknown>): Promise<Record<string, unknown>> {
  if (!existsSync(VENV_PYTHON))
    throw new InputError('the Python virtualenv is missing: run "npm run setup" first');
  return new Promise((resolve, reject) => {
    const child = spawnTied(VENV_PYTHON, [path.join(REPO_ROOT, 'local', 'query.py')], {
      tied: 'self',
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', () => {
      try {
        resolve(JSON.parse(stdout) as Record<string, unknown>);
      } catch {
        reject(new Error(`query engine failed: ${stderr.trim() || stdout.trim()}`));
      }
    });
    child.stdin!.end(JSON.stringify(request));
  });
}

/** `dir` is a saved state (`<state folder>/current`). */
export function savedBucketFolders(dir: string): Record<string, string> {
  const file = path.join(dir, 'buckets.json');
  return existsSync(file) ? (readStateJson(file) as Record<string, string>) : {};
}

export async function listTables(dir: string): Promise<RunReport['tables']> {
  const response = await runQueryEngine({ state: dir, tables: true, buckets: savedBucketFolders(dir) });
  // The report's fields only (the report is a contract scripts read).
  return ((response.tables as RunReport['tables']) ?? []).map(({ database, table, columns, rows }) => ({
    database,
    table,
    columns,
    rows,
  }));
}

export class QueryError extends Error {
  override readonly name = 'QueryError';
}

export interface QueryOptions {
  readonly stateDir?: string;
  /** A state folder this command already holds (the demo); else `stateDir` is opened here. */
  readonly state?: StateFolder;
  readonly lockWaitMs?: number;
  /** Told when another command holds the state folder. */
  readonly onWait?: (line: string) => void;
}

export interface SqlQueryOptions extends QueryOptions {
  /**
   * Time travel: the Iceberg table whose history has this snapshot id is read as of that snapshot
   * (ids are unique per table); every other table as of now. An id no table has is a QueryError.
   */
  readonly snapshot?: string;
}

/** One commit of an Iceberg table (`describe`); ids are decimal strings (64-bit). */
export interface SnapshotEntry {
  readonly snapshotId: string;
  readonly committedAt: string;
  readonly operation: string | null;
  readonly addedRecords: number;
  /** Rows the commit removed: deleted records of rewritten files plus position/equality deletes added. */
  readonly deletedRecords: number;
  readonly totalRecords: number | null;
}

export interface TableDescription {
  /** `column`, `type`, `partition_key` (`yes`, or the Iceberg transform such as `month`). */
  readonly columns: string[];
  readonly rows: unknown[][];
  /** `iceberg` for the curated tables, `hive` for a Parquet table of catalog partitions. */
  readonly format: 'iceberg' | 'hive';
  readonly currentSnapshotId: string | null;
  /** Oldest first; empty for a table that is not Iceberg. */
  readonly snapshots: SnapshotEntry[];
}

/** Runs `action` on the saved state of the folder, holding its lock (shared with other queries). */
export async function withSavedState<T>(
  options: QueryOptions,
  action: (dir: string) => Promise<T>,
): Promise<T> {
  const state = await openStateFolder({ ...options, mode: 'read', command: 'query' });
  try {
    if (!existsSync(path.join(state.currentDir, 'catalog.json'))) {
      throw new QueryError(
        `no local pipeline state in ${state.root}: run "npm run pipeline -- run <files>" first`,
      );
    }
    return await action(state.currentDir);
  } finally {
    if (!options.state) await state.release();
  }
}

/** SQL over the curated tables of the state folder (catalog names), via the local query engine. */
export async function queryPipeline(
  sql: string,
  options: SqlQueryOptions = {},
): Promise<{ columns: string[]; rows: unknown[][] }> {
  return withSavedState(options, async (dir) => {
    const response = await runQueryEngine({
      state: dir,
      sql,
      buckets: savedBucketFolders(dir),
      ...(options.snapshot !== undefined ? { snapshot: options.snapshot } : {}),
    });
    if (typeof response.error === 'string') throw new QueryError(response.error);
    return response as unknown as { columns: string[]; rows: unknown[][] };
  });
}

/** The curated tables: name, rows, columns and partition keys. */
export async function curatedTables(
  options: QueryOptions = {},
): Promise<(RunReport['tables'][number] & { partitionKeys: string[] })[]> {
  return withSavedState(options, async (dir) => {
    const response = await runQueryEngine({ state: dir, tables: true, buckets: savedBucketFolders(dir) });
    return (response.tables as (RunReport['tables'][number] & { partitionKeys: string[] })[]) ?? [];
  });
}

/** The columns of one curated table, with their types; for an Iceberg table its snapshot history. */
export async function describeTable(table: string, options: QueryOptions = {}): Promise<TableDescription> {
  return withSavedState(options, async (dir) => {
    const response = await runQueryEngine({ state: dir, describe: table, buckets: savedBucketFolders(dir) });
    if (typeof response.error === 'string') throw new QueryError(response.error);
    return response as unknown as TableDescription;
  });
}
