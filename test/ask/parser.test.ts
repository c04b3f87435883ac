/** The offline engine (lambdas/ask/parser.ts, sql.ts) on a small catalog and a fixed clock. */
import { describe, expect, it } from 'vitest';
import { interpret, normalize, timeRange } from '../../lambdas/ask/parser';
import type { AskCatalog, Interpretation } from '../../lambdas/ask/types';

const catalog: AskCatalog = {
  database: 'ingestion',
  tables: [
    {
      name: 'cloud_billing',
      description: 'FOCUS billing',
      measures: ['billed_cost', 'effective_cost'],
      timeColumn: 'billing_period_start',
      columns: [
        { name: 'billed_cost', type: 'decimal(38,18)', synonyms: ['billed cost', 'cost', 'spend'] },
        { name: 'effective_cost', type: 'decimal(38,18)', synonyms: ['effective cost'] },
        { name: 'billing_period_start', type: 'timestamp', synonyms: ['billing period start'] },
        {
          name: 'service_name',
          type: 'string',
          synonyms: ['service name', 'service', 'services'],
          values: ['AWS Lambda', 'Amazon S3', 'Virtual Machines'],
        },
        {
          name: 'provider_name',
          type: 'string',
          synonyms: ['provider name', 'provider', 'cloud'],
          values: ['AWS', 'Microsoft', 'Oracle'],
        },
        {
          name: 'invoice_issuer_name',
          type: 'string',
          synonyms: ['invoice issuer name'],
          values: ['AWS', 'Microsoft'],
        },
        {
          name: 'org_unit',
          type: 'string',
          synonyms: ['org unit', 'team'],
          values: ['Platform', 'Payments', 'Réseau'],
        },
      ],
    },
    {
      name: 'workforce_capacity',
      description: 'Capacity plans',
      measures: ['headcount'],
      columns: [
        { name: 'headcount', type: 'decimal(38,6)', synonyms: ['headcount', 'heads'] },
        {
          name: 'org_unit',
          type: 'string',
          synonyms: ['org unit', 'org units'],
          values: ['Platform', 'Payments'],
        },
        { name: 'quarter', type: 'string', synonyms: ['quarter'], values: ['2025-Q1'] },
        {
          name: 'ingest_template',
          type: 'string',
          synonyms: ['template'],
          values: ['capacity_plan', 'org_roster'],
        },
      ],
    },
    {
      name: 'purchase_orders',
      description: 'Purchase requests',
      measures: ['amount'],
      timeColumn: 'submitted_at',
      columns: [
        { name: 'request_id', type: 'string', synonyms: ['request', 'requests'] },
        { name: 'amount', type: 'decimal(38,6)', synonyms: ['amount'] },
        { name: 'submitted_at', type: 'timestamp', synonyms: ['submitted'] },
        {
          name: 'vendor',
          type: 'string',
          synonyms: ['vendor', 'supplier'],
          values: ['Acme Cloud Services', "O'Brien Tools"],
        },
        {
          name: 'compliance_status',
          type: 'string',
          synonyms: ['compliance'],
          values: ['compliant', 'flagged'],
        },
      ],
    },
  ],
};

// Saturday 15 March 2025, noon UTC.
const NOW = new Date('2025-03-15T12:00:00Z');
const ask = (q: string) => interpret(q, catalog, NOW);
const sqlOf = (q: string) => {
  const r = ask(q);
  if (r.kind !== 'answer') throw new Error(`refused: ${r.message}`);
  return r.sql;
};
const refused = (q: string) => {
  const r = ask(q) as Extract<Interpretation, { kind: 'refusal' }>;
  expect(r.kind, q).toBe('refusal');
  return r;
};

describe('time expressions, relative to the clock (UTC)', () => {
  it.each([
    ['in the last 5 days', '2025-03-11', '2025-03-16'],
    ['over the past 2 weeks', '2025-03-01', '2025-03-16'],
    ['today', '2025-03-15', '2025-03-16'],
    ['yesterday', '2025-03-14', '2025-03-15'],
    ['this month', '2025-03-01', '2025-04-01'],
    ['last month', '2025-02-01', '2025-03-01'],
    ['this quarter', '2025-01-01', '2025-04-01'],
    ['last quarter', '2024-10-01', '2025-01-01'],
    ['last year', '2024-01-01', '2025-01-01'],
    ['this week', '2025-03-10', '2025-03-17'],
    ['since monday', '2025-03-10', '2025-03-16'],
    ['since 2025-03-01', '2025-03-01', '2025-03-16'],
    ['in October 2024', '2024-10-01', '2024-11-01'],
    ['for oct 2024', '2024-10-01', '2024-11-01'],
    ['in 2024-09', '2024-09-01', '2024-10-01'],
    ['in Q4 2024', '2024-10-01', '2025-01-01'],
    ['in 2024', '2024-01-01', '2025-01-01'],
    ['in february', '2025-02-01', '2025-03-01'],
    ['in december', '2024-12-01', '2025-01-01'],
  ])('%s', (words, from, to) => {
    expect(timeRange(normalize(`total spend ${words}`), NOW)).toMatchObject({ from, to });
  });

  it('names none when the question has none', () => {
    expect(timeRange(normalize('total spend by service'), NOW)).toBeUndefined();
  });

  it('filters the time column with TIMESTAMP literals, or the quarter column of a table without one', () => {
    expect(sqlOf('total billed cost in October 2024')).toBe(
      `SELECT sum("billed_cost") AS "total_billed_cost" FROM "cloud_billing" WHERE "billing_period_start" >= TIMESTAMP '2024-10-01 00:00:00' AND "billing_period_start" < TIMESTAMP '2024-11-01 00:00:00'`,
    );
    expect(sqlOf('total headcount this quarter')).toContain(`WHERE "quarter" IN ('2025-Q1')`);
  });
});

describe('what to compute', () => {
  it('aggregations: total, count, count of distinct things, average, min, max', () => {
    expect(sqlOf('how much did we spend')).toBe(
      'SELECT sum("billed_cost") AS "total_billed_cost" FROM "cloud_billing"',
    );
    expect(sqlOf('what is the effective cost in total')).toContain('sum("effective_cost")');
    expect(sqlOf('how many requests are flagged')).toBe(
      `SELECT count(*) AS "count" FROM "purchase_orders" WHERE "compliance_status" IN ('flagged')`,
    );
    expect(sqlOf('how many services did we use')).toContain('count(DISTINCT "service_name")');
    expect(sqlOf('average amount of purchase requests')).toContain('avg("amount")');
    expect(sqlOf('largest purchase request amount')).toContain('max("amount")');
    expect(sqlOf('smallest purchase request amount')).toContain('min("amount")');
  });

  it('grouping, ranking and comparisons on the measure', () => {
    expect(sqlOf('total spend by service')).toBe(
      'SELECT "service_name", sum("billed_cost") AS "total_billed_cost" FROM "cloud_billing" GROUP BY "service_name" ORDER BY "service_name"',
    );
    expect(sqlOf('top 2 services by billed cost')).toBe(
      'SELECT "service_name", sum("billed_cost") AS "total_billed_cost" FROM "cloud_billing" GROUP BY "service_name" ORDER BY "total_billed_cost" DESC LIMIT 2',
    );
    expect(sqlOf('bottom 1 service by cost')).toContain('ORDER BY "total_billed_cost" ASC LIMIT 1');
    expect(sqlOf('total spend per team over 10k')).toContain('HAVING sum("billed_cost") > 10000');
    expect(sqlOf('show purchase requests over $5,000')).toContain('WHERE "amount" > 5000');
    expect(sqlOf('list requests between 100 and 2.5k')).toContain('"amount" BETWEEN 100 AND 2500');
  });

  it('values: case- and accent-insensitive, negated, the column that holds the other values', () => {
    expect(sqlOf('total spend for aws lambda')).toContain(`"service_name" IN ('AWS Lambda')`);
    expect(sqlOf('spend of the reseau team')).toContain(`"org_unit" IN ('Réseau')`);
    expect(sqlOf('total spend not Microsoft')).toContain(`"provider_name" NOT IN ('Microsoft')`);
    expect(sqlOf('billed cost for AWS vs Microsoft')).toBe(
      `SELECT "provider_name", sum("billed_cost") AS "total_billed_cost" FROM "cloud_billing" WHERE "provider_name" IN ('AWS', 'Microsoft') GROUP BY "provider_name" ORDER BY "provider_name"`,
    );
  });

  it('compares two templates side by side', () => {
    expect(sqlOf('which org units plan more heads than the roster says this quarter')).toBe(
      `SELECT "org_unit", sum(CASE WHEN "ingest_template" = 'capacity_plan' THEN "headcount" END) AS "capacity_plan_headcount", sum(CASE WHEN "ingest_template" = 'org_roster' THEN "headcount" END) AS "org_roster_headcount" FROM "workforce_capacity" WHERE "quarter" IN ('2025-Q1') GROUP BY "org_unit" HAVING sum(CASE WHEN "ingest_template" = 'capacity_plan' THEN "headcount" END) > sum(CASE WHEN "ingest_template" = 'org_roster' THEN "headcount" END) ORDER BY "org_unit"`,
    );
  });

  it('says what it understood, in words', () => {
    const r = ask('top 2 services by billed cost in October 2024');
    expect(r.kind === 'answer' && r.interpretation).toBe(
      'Top 2 by total billed cost, by service name, where billing period start in october 2024 (2024-10-01 to before 2024-11-01) (table cloud_billing)',
    );
  });
});

describe('refusals, never a guess', () => {
  it('no table, two tables alike, nothing to compute, an empty or overlong question', () => {
    expect(refused('what is the weather in Paris').message).toMatch(/could not tell which data/);
    expect(refused('').message).toBe('The question is empty.');
    expect(refused('x'.repeat(501)).message).toMatch(/longer than 500/);
    expect(refused('cloud billing').message).toMatch(/not what to compute/);
    const both = refused('org unit Platform');
    expect(both.message).toMatch(/could be about cloud_billing or workforce_capacity/);
  });

  it('a workflow status is answered by the approval queue, not guessed from curated', () => {
    expect(refused('show purchase requests pending approval').message).toMatch(
      /"pending approval" is a status of the approval workflow.*requests --status pending_approval/,
    );
  });

  it('offers questions it can answer', () => {
    expect(refused('what is the weather').suggestions.length).toBeGreaterThan(0);
    expect(refused('what is the weather').suggestions).toContain('total billed cost by service name');
  });
});

describe('nothing typed is copied into SQL', () => {
  it.each([
    "'; drop table cloud_billing; --",
    "total spend for Platform' OR 1=1 --",
    'total spend by service; delete from purchase_orders',
    'total amount for vendor acme cloud services union select * from secrets',
    'total spend /* comment */ by service',
  ])('%s', (question) => {
    const r = ask(question);
    if (r.kind === 'refusal') return;
    expect(r.sql).not.toMatch(/drop|delete|union|secrets|1=1|--|\/\*/i);
    // Quotes only around catalog values, each doubled inside.
    for (const literal of r.sql.match(/'(?:[^']|'')*'/g) ?? [])
      expect(["'Platform'", "'Acme Cloud Services'", "'2025-01-01 00:00:00'"]).toContain(literal);
  });

  it('a catalog value with a quote is escaped', () => {
    expect(sqlOf("total amount for o'brien tools")).toContain(`"vendor" IN ('O''Brien Tools')`);
  });
});
