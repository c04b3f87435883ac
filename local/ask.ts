/**
 * `pipeline ask "<question>" [--json] [--state DIR]`: a question about the curated tables of the
 * state folder, answered by the offline engine (lambdas/ask/answer.ts) over the local query
 * engine (DuckDB, local/query.py), with the freshness of every table it used read from the saved
 * buckets. The same answer function runs on AWS over Athena (lambdas/ask/handler.ts).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { answer } from '../lambdas/ask/answer';
import { askCatalog, type ColumnValues, MAX_VALUES, type ObservedColumns } from '../lambdas/ask/catalog';
import { type ControlStore, type ListedObject, tableFreshness } from '../lambdas/ask/freshness';
import type { AskAnswer, AskCatalog, QueryExecutor } from '../lambdas/ask/types';
import { loadDatasets } from '../lib/config';
import { pipelineNames } from '../lib/contracts/naming';
import type { ObjectsDump } from './cloud';
import { QueryError, type QueryOptions, runQueryEngine, savedBucketFolders, withSavedState } from './query';
import { readStateJson } from './state';

/** The local runtime's pipeline name is `ingestion` (local/pipeline.ts). */
const LOCAL_DATABASE = pipelineNames('ingestion').database;

/** The local engine's answer to SQL the guardrail passed. */
export function localExecutor(dir: string): QueryExecutor {
  return {
    async run(sql) {
      const response = await runQueryEngine({ state: dir, sql, buckets: savedBucketFolders(dir) });
      if (typeof response.error === 'string') throw new QueryError(response.error);
      return response as unknown as { columns: string[]; rows: unknown[][] };
    },
  };
}

/** The saved buckets as a ControlStore: keys and modification times from objects.json. */
export function savedStore(dir: string): ControlStore {
  const folders = savedBucketFolders(dir);
  const objectsFile = path.join(dir, 'objects.json');
  const objects = existsSync(objectsFile) ? (readStateJson(objectsFile) as ObjectsDump) : {};
  return {
    async list(bucket, prefix) {
      const folder = folders[bucket];
      const saved = folder ? (objects[folder] ?? {}) : {};
      return Object.entries(saved)
        .filter(([key]) => key.startsWith(prefix))
        .map(([key, [lastModified]]): ListedObject => ({ key, lastModified: lastModified || null }));
    },
    async getJson(bucket, key) {
      const folder = folders[bucket];
      const file = folder ? path.join(dir, 's3', folder, ...key.split('/')) : undefined;
      return file && existsSync(file) ? readStateJson(file) : undefined;
    },
  };
}

/** The catalog with the tables' real columns and the values of their low-cardinality string columns. */
export async function localCatalog(dir: string): Promise<AskCatalog> {
  const datasets = loadDatasets();
  const tablesResponse = await runQueryEngine({ state: dir, tables: true, buckets: savedBucketFolders(dir) });
  const tables = ((tablesResponse.tables as { table: string; columns: string[] }[]) ?? []).filter((t) =>
    datasets.some((d) => d.name === t.table),
  );
  const observed: Record<string, { name: string; type: string }[]> = {};
  for (const t of tables) observed[t.table] = t.columns.map((name) => ({ name, type: 'string' }));
  const base = askCatalog(datasets, LOCAL_DATABASE, {}, observed);
  // One query: the distinct values of every string column of every table, then the few-valued kept.
  const parts = base.tables
    .filter((t) => tables.some((x) => x.table === t.name))
    .flatMap((t) =>
      t.columns
        .filter((c) => c.type === 'string' && observed[t.name]?.some((o) => o.name === c.name))
        .filter((c) => !/(^|_)(id|email|description|justification|findings|items|tags|key)$/.test(c.name))
        .map(
          (c) =>
            `SELECT '${t.name}' AS t, '${c.name}' AS c, CAST("${c.name}" AS VARCHAR) AS v FROM "${t.name}" WHERE "${c.name}" IS NOT NULL GROUP BY 3`,
        ),
    );
  const values: Record<string, Record<string, string[]>> = {};
  if (parts.length > 0) {
    const response = await runQueryEngine({
      state: dir,
      sql: parts.join(' UNION ALL '),
      buckets: savedBucketFolders(dir),
    });
    if (typeof response.error === 'string') throw new QueryError(response.error);
    for (const [t, c, v] of (response.rows as string[][]) ?? []) {
      const table = values[t!] ?? {};
      values[t!] = table;
      table[c!] = [...(table[c!] ?? []), v!];
    }
    for (const columns of Object.values(values))
      for (const [c, list] of Object.entries(columns))
        if (list.length > MAX_VALUES) delete columns[c];
        else list.sort();
  }
  return askCatalog(datasets, LOCAL_DATABASE, values as ColumnValues, observed as ObservedColumns);
}

/** The catalog of a saved state, read once per process and state (a saved state never changes in place). */
const catalogs = new Map<string, { readonly saved: string; readonly catalog: Promise<AskCatalog> }>();

function cachedCatalog(dir: string): Promise<AskCatalog> {
  const snapshot = path.join(dir, 'snapshot.json');
  const saved = existsSync(snapshot) ? JSON.stringify(readStateJson(snapshot)) : '';
  const known = catalogs.get(dir);
  if (known && known.saved === saved) return known.catalog;
  const catalog = localCatalog(dir);
  catalogs.set(dir, { saved, catalog });
  catalog.catch(() => catalogs.delete(dir));
  return catalog;
}

export async function askLocally(
  question: string,
  options: QueryOptions & { readonly now?: Date; readonly maxRows?: number } = {},
): Promise<AskAnswer> {
  return withSavedState(options, async (dir) => {
    const catalog = await cachedCatalog(dir);
    const folders = savedBucketFolders(dir);
    const bucketOf = (folder: string) => Object.entries(folders).find(([, f]) => f === folder)?.[0] ?? folder;
    const store = savedStore(dir);
    return answer(question, {
      catalog,
      now: options.now ?? new Date(),
      executor: localExecutor(dir),
      freshness: (tables) =>
        tableFreshness(
          store,
          {
            control: bucketOf('control'),
            quarantine: bucketOf('quarantine'),
            normalized: bucketOf('normalized'),
          },
          loadDatasets(),
          tables,
        ),
      ...(options.maxRows !== undefined ? { maxRows: options.maxRows } : {}),
    });
  });
}

/** The answer as text: interpretation, SQL, the rows, and the freshness of each table. */
export function formatAnswer(a: AskAnswer, table: (columns: string[], rows: unknown[][]) => string): string {
  if (a.refused) {
    const suggestions = a.refused.suggestions.map((s) => `  - ${s}`).join('\n');
    return `I can't answer that: ${a.refused.message}\n${suggestions ? `\nQuestions I can answer:\n${suggestions}\n` : ''}`;
  }
  const fresh = a.freshness.map(
    (f) =>
      `  ${f.table}: newest file ${f.latestLanding ?? 'none'}; last ETL run ${f.lastSuccessfulRun ? `${f.lastSuccessfulRun.finishedAt} (snapshot ${f.lastSuccessfulRun.snapshotId})` : 'none'}; ${f.filesInFlight} file(s) in flight, ${f.filesQuarantined} quarantined`,
  );
  return `${a.interpretation}\n\nSQL (${a.engine}): ${a.sql}\n\n${table(
    [...a.columns],
    a.rows.map((r) => [...r]),
  )}\nFreshness:\n${fresh.join('\n')}\n`;
}
