/** The cold-start query of low-cardinality column values on AWS (lambdas/ask/values.ts). */
import { describe, expect, it } from 'vitest';
import { MAX_VALUES } from '../../lambdas/ask/catalog';
import type { AskCatalog, QueryExecutor } from '../../lambdas/ask/types';
import { columnValues, valuesQuery } from '../../lambdas/ask/values';

const catalog: AskCatalog = {
  database: 'ingestion',
  tables: [
    {
      name: 'purchase_orders',
      description: 'Purchase orders',
      measures: ['amount'],
      columns: [
        { name: 'vendor', type: 'string', synonyms: [] },
        { name: 'request_id', type: 'string', synonyms: [] },
        { name: 'amount', type: 'decimal(38,6)', synonyms: [] },
        { name: 'weird"name', type: 'string', synonyms: [] },
        { name: 'not_in_glue', type: 'string', synonyms: [] },
      ],
    },
  ],
};
const observed = {
  purchase_orders: ['vendor', 'request_id', 'amount', 'weird"name'].map((name) => ({ name, type: 'string' })),
};

describe('valuesQuery', () => {
  it('reads the string columns the table has, not keys or free text, each bounded, identifiers quoted', () => {
    const sql = valuesQuery(catalog, observed)!;
    const parts = sql.split(' UNION ALL ');
    expect(parts).toEqual([
      `(SELECT 'purchase_orders' AS t, 'vendor' AS c, CAST("vendor" AS VARCHAR) AS v FROM "purchase_orders" WHERE "vendor" IS NOT NULL GROUP BY 3 LIMIT ${MAX_VALUES + 1})`,
      `(SELECT 'purchase_orders' AS t, 'weird"name' AS c, CAST("weird""name" AS VARCHAR) AS v FROM "purchase_orders" WHERE "weird""name" IS NOT NULL GROUP BY 3 LIMIT ${MAX_VALUES + 1})`,
    ]);
  });

  it('is null when no table has a string column in Glue', () => {
    expect(valuesQuery(catalog, {})).toBeNull();
  });
});

describe('columnValues', () => {
  it('keeps the sorted values of columns with at most MAX_VALUES, drops the others', async () => {
    const many = Array.from({ length: MAX_VALUES + 1 }, (_, i) => ['purchase_orders', 'weird"name', `v${i}`]);
    const executor: QueryExecutor = {
      run: async () => ({
        columns: ['t', 'c', 'v'],
        rows: [['purchase_orders', 'vendor', 'Globex'], ['purchase_orders', 'vendor', 'Acme'], ...many],
      }),
    };

    expect(await columnValues(executor, catalog, observed)).toEqual({
      purchase_orders: { vendor: ['Acme', 'Globex'] },
    });
  });
});
