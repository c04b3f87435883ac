/**
 * The values of low-cardinality string columns on AWS (statuses, org units, services): read once
 * per container with ONE Athena query over every curated table, the way the local command reads
 * them from the state folder (local/ask.ts): per string column the table really has (Glue), its
 * distinct values; a column with more than MAX_VALUES is not low-cardinality and is dropped.
 *
 * The SQL is built here from catalog identifiers only (dataset configs and Glue column names),
 * never from a question, with every identifier quoted and every literal escaped; it does not pass
 * the guardrail (which reads answers' SQL), and it runs in the same workgroup, under the same
 * bytes-scanned cutoff. Each column's part is limited to MAX_VALUES + 1 rows, so a free-text column
 * costs a scan but never a large result.
 */
import { type ColumnValues, MAX_VALUES, type ObservedColumns } from './catalog';
import type { AskCatalog, QueryExecutor } from './types';

/** Free-text and key columns whose values no question names (as local/ask.ts skips them). */
const NOT_VALUES = /(^|_)(id|email|description|justification|findings|items|tags|key)$/;

const identifier = (name: string) => `"${name.replace(/"/g, '""')}"`;
const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** The one query, or null when no table has a string column to read. */
export function valuesQuery(catalog: AskCatalog, observed: ObservedColumns): string | null {
  const parts = catalog.tables.flatMap((table) =>
    table.columns
      .filter((c) => c.type === 'string' && !NOT_VALUES.test(c.name))
      .filter((c) => observed[table.name]?.some((o) => o.name === c.name))
      .map(
        (c) =>
          `(SELECT ${literal(table.name)} AS t, ${literal(c.name)} AS c, CAST(${identifier(c.name)} AS VARCHAR) AS v FROM ${identifier(table.name)} WHERE ${identifier(c.name)} IS NOT NULL GROUP BY 3 LIMIT ${MAX_VALUES + 1})`,
      ),
  );
  return parts.length > 0 ? parts.join(' UNION ALL ') : null;
}

/** Runs the query and keeps, per table and column, the sorted values of the few-valued columns. */
export async function columnValues(
  executor: QueryExecutor,
  catalog: AskCatalog,
  observed: ObservedColumns,
): Promise<ColumnValues> {
  const sql = valuesQuery(catalog, observed);
  if (sql === null) return {};
  const { rows } = await executor.run(sql);
  const values: Record<string, Record<string, string[]>> = {};
  for (const [t, c, v] of rows as (string | null)[][]) {
    if (!t || !c || v === null || v === undefined) continue;
    const table = values[t] ?? {};
    values[t] = table;
    table[c] = [...(table[c] ?? []), v];
  }
  for (const columns of Object.values(values))
    for (const [c, list] of Object.entries(columns))
      if (list.length > MAX_VALUES) delete columns[c];
      else list.sort();
  return values;
}
