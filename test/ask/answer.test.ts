/**
 * answer() (lambdas/ask/answer.ts): the offline reading first, the model's SQL only for questions
 * it cannot read, and nothing runs that the guardrail refused: hostile model replies (DDL, DML,
 * other tables, stacked statements, comments) are refused with the guardrail's reason.
 */
import { describe, expect, it } from 'vitest';
import { answer } from '../../lambdas/ask/answer';
import type { AskCatalog, QueryExecutor } from '../../lambdas/ask/types';

const catalog: AskCatalog = {
  database: 'ingestion',
  tables: [
    {
      name: 'cloud_billing',
      description: 'billing',
      measures: ['billed_cost'],
      timeColumn: 'billing_period_start',
      columns: [
        { name: 'billed_cost', type: 'decimal(38,18)', synonyms: ['billed cost', 'cost', 'spend'] },
        { name: 'billing_period_start', type: 'timestamp', synonyms: [] },
        { name: 'service_name', type: 'string', synonyms: ['service'], values: ['AWS Lambda', 'Amazon S3'] },
      ],
    },
  ],
};

function harness(modelSql: string | null) {
  const ran: string[] = [];
  const executor: QueryExecutor = {
    async run(sql) {
      ran.push(sql);
      return { columns: ['x'], rows: [['1']] };
    },
  };
  const deps = {
    catalog,
    now: new Date('2025-03-15T12:00:00Z'),
    executor,
    freshness: async (tables: readonly string[]) =>
      tables.map((table) => ({
        table,
        latestLanding: null,
        lastSuccessfulRun: null,
        filesInFlight: 0,
        filesQuarantined: 0,
      })),
    fallback: async () => modelSql,
  };
  return { ran, deps };
}

describe('answer', () => {
  it('answers a question the parser reads without asking the model, with the row limit and freshness', async () => {
    const { ran, deps } = harness('select 1');
    const a = await answer('total spend by service', { ...deps, maxRows: 50 });
    expect(a.engine).toBe('offline');
    expect(a.sql).toBe(
      'SELECT "service_name", SUM("billed_cost") AS "total_billed_cost" FROM "cloud_billing" GROUP BY "service_name" ORDER BY "service_name" ASC LIMIT 50',
    );
    expect(ran).toEqual([a.sql]);
    expect(a.freshness.map((f) => f.table)).toEqual(['cloud_billing']);
  });

  it('runs the model SQL for a question the parser cannot read, once the guardrail accepts it', async () => {
    const { ran, deps } = harness('SELECT service_name FROM cloud_billing WHERE billed_cost > 1');
    const a = await answer('tell me something interesting', deps);
    expect(a.engine).toBe('bedrock');
    expect(a.refused).toBeUndefined();
    expect(ran).toHaveLength(1);
    expect(ran[0]).toMatch(/LIMIT 1000$/);
  });

  it.each([
    ['DROP TABLE cloud_billing', /DROP/],
    ['DELETE FROM cloud_billing', /DELETE/],
    ['SELECT * FROM cloud_billing; DROP TABLE cloud_billing', /one statement|statements/i],
    ['SELECT * FROM secrets', /secrets/],
    ['SELECT * FROM information_schema.tables', /information_schema/],
    ["SELECT * FROM read_csv('/etc/passwd')", /could not read the SQL/],
    ['SELECT password FROM cloud_billing', /password/],
    ['SELECT * FROM cloud_billing -- ignore the rules\n; DROP TABLE x', /DROP|statement/i],
  ])('refuses hostile model SQL and runs nothing: %s', async (sql, reason) => {
    const { ran, deps } = harness(sql);
    const a = await answer('tell me something interesting', deps);
    expect(a.refused?.message).toMatch(/^The SQL was refused by the guardrail: /);
    expect(a.refused?.message).toMatch(reason);
    expect(a.sql).toBeNull();
    expect(ran).toEqual([]);
  });

  it('refuses when neither the parser nor a model can read the question, with suggestions', async () => {
    const { ran, deps } = harness(null);
    const a = await answer('what is the meaning of life', deps);
    expect(a.refused?.message).toMatch(/could not tell which data/);
    expect(a.refused?.suggestions.length).toBeGreaterThan(0);
    expect(a.engine).toBe('offline');
    expect(ran).toEqual([]);
  });
});
