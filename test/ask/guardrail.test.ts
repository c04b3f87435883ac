import { describe, expect, it } from 'vitest';
import { checkSql } from '../../lambdas/ask/guardrail';
import type { AskCatalog, AskColumn, GuardrailVerdict } from '../../lambdas/ask/types';

const column = (name: string, type = 'string'): AskColumn => ({ name, type, synonyms: [] });

const catalog: AskCatalog = {
  database: 'curated',
  tables: [
    {
      name: 'cloud_billing',
      description: 'FOCUS cloud billing',
      columns: [
        column('billed_cost', 'decimal(38,6)'),
        column('service_name'),
        column('charge_period_start', 'timestamp'),
      ],
      measures: ['billed_cost'],
      timeColumn: 'charge_period_start',
    },
    {
      name: 'purchase_orders',
      description: 'Purchase order requests',
      columns: [column('request_id'), column('amount', 'decimal(38,2)'), column('compliance_status')],
      measures: ['amount'],
    },
  ],
};

function accepted(sql: string, maxRows?: number): { sql: string; tables: readonly string[] } {
  const verdict: GuardrailVerdict = checkSql(sql, catalog, maxRows === undefined ? undefined : { maxRows });
  if (!verdict.ok) throw new Error(`refused: ${verdict.message}`);
  return verdict;
}

function refusal(sql: string): string {
  const verdict = checkSql(sql, catalog);
  if (verdict.ok) throw new Error(`accepted: ${verdict.sql}`);
  return verdict.message;
}

describe('checkSql accepts read-only queries over the catalog', () => {
  it('accepts an aggregation with grouping, ordering and a limit, and runs it as re-generated', () => {
    const verdict = accepted(
      `select service_name, sum(billed_cost) from cloud_billing where charge_period_start >= date '2024-10-01' group by 1 order by 2 desc limit 5`,
    );

    expect(verdict.sql).toBe(
      `SELECT "service_name", SUM("billed_cost") FROM "cloud_billing" WHERE "charge_period_start" >= DATE '2024-10-01' GROUP BY 1 ORDER BY 2 DESC LIMIT 5`,
    );
    expect(verdict.tables).toEqual(['cloud_billing']);
  });

  it("accepts the offline engine's SQL (double-quoted identifiers, TIMESTAMP literals) unchanged", () => {
    const sql = `SELECT "service_name", SUM("billed_cost") AS "total_billed_cost" FROM "cloud_billing" WHERE "charge_period_start" >= TIMESTAMP '2024-10-01 00:00:00' AND "charge_period_start" < TIMESTAMP '2024-11-01 00:00:00' GROUP BY "service_name" ORDER BY "total_billed_cost" DESC LIMIT 5`;

    expect(accepted(sql).sql).toBe(sql);
  });

  it('accepts a condition on a row count (HAVING count(*) >= 2 reads the rows, it is not a constant)', () => {
    const sql = `SELECT "compliance_status", count(*) AS "count" FROM "purchase_orders" GROUP BY "compliance_status" HAVING count(*) >= 2`;
    expect(accepted(sql).sql).toBe(
      'SELECT "compliance_status", COUNT(*) AS "count" FROM "purchase_orders" GROUP BY "compliance_status" HAVING COUNT(*) >= 2 LIMIT 1000',
    );
  });

  it("accepts the offline engine's comparison of two values (CASE in sums, HAVING, NOT IN, ORDER BY)", () => {
    const side = (value: string) => `sum(CASE WHEN "compliance_status" = '${value}' THEN "amount" END)`;
    const sql = `SELECT "request_id", ${side('approved')} AS "approved_amount", ${side('rejected')} AS "rejected_amount" FROM "purchase_orders" WHERE "compliance_status" NOT IN ('draft') GROUP BY "request_id" HAVING ${side('approved')} > ${side('rejected')} ORDER BY "request_id"`;

    const verdict = accepted(sql);

    expect(verdict.sql).toBe(
      `${sql.replace(/sum\(/g, 'SUM(').replace(/ORDER BY "request_id"$/, 'ORDER BY "request_id" ASC')} LIMIT 1000`,
    );
  });

  it('accepts the allowlisted functions and expressions', () => {
    const verdict = accepted(
      `select count(*), count(1), count(distinct service_name), coalesce(sum(billed_cost), 0),
        case when max(billed_cost) > 1 then 'high' else 'low' end, cast(avg(billed_cost) as decimal(38,2)),
        extract(year from max(charge_period_start)), date_trunc('month', min(charge_period_start)),
        current_date, now(), round(abs(min(billed_cost)), 2), approx_distinct(service_name)
       from cloud_billing
       where lower(service_name) in ('amazon s3', 'aws lambda') and billed_cost between 1 and 100
         and service_name is not null and service_name like 'A%'
         and charge_period_start >= current_date - interval '30' day`,
    );

    expect(verdict.tables).toEqual(['cloud_billing']);
    expect(verdict.sql).toContain('COUNT(1)');
    expect(verdict.sql).toContain(`INTERVAL '30' DAY`);
  });

  it('accepts a CTE whose names resolve to catalog tables', () => {
    const verdict = accepted(
      `with costs as (select service_name s, billed_cost from cloud_billing)
       select s, sum(billed_cost) total from costs group by s order by total desc limit 3`,
    );

    expect(verdict.tables).toEqual(['cloud_billing']);
    expect(verdict.sql).toMatch(/^WITH "costs" AS \(SELECT "service_name" AS "s"/);
  });

  it('accepts subqueries in FROM, IN, EXISTS and comparisons', () => {
    const verdict = accepted(
      `select x.request_id from (select request_id, amount from purchase_orders) x
       where x.amount > (select avg(amount) from purchase_orders)
         and x.request_id in (select request_id from purchase_orders where compliance_status = 'ok')
         and exists (select 1 from cloud_billing c where c.service_name = x.request_id)`,
    );

    expect(verdict.tables).toEqual(['purchase_orders', 'cloud_billing']);
  });

  it('accepts joins between catalog tables and names qualified with the database', () => {
    const verdict = accepted(
      `select b.service_name, p.amount from curated.cloud_billing b
       join CURATED.Purchase_Orders p on b.service_name = p.request_id
       left join purchase_orders q on q.request_id = p.request_id`,
    );

    expect(verdict.tables).toEqual(['cloud_billing', 'purchase_orders']);
    expect(verdict.sql).toContain('FROM "curated"."cloud_billing" AS "b" INNER JOIN');
  });

  it('accepts a union of catalog tables and a window function', () => {
    expect(
      accepted('select service_name from cloud_billing union all select request_id from purchase_orders')
        .tables,
    ).toEqual(['cloud_billing', 'purchase_orders']);
    expect(
      accepted(
        'select service_name, rank() over (partition by service_name order by billed_cost desc) r from cloud_billing',
      ).tables,
    ).toEqual(['cloud_billing']);
  });

  it('accepts a comment that hides nothing, and does not pass it on', () => {
    expect(accepted('select * from cloud_billing -- every row\n').sql).toBe(
      'SELECT * FROM "cloud_billing" LIMIT 1000',
    );
    expect(accepted('select /* all */ * from cloud_billing').sql).toBe(
      'SELECT * FROM "cloud_billing" LIMIT 1000',
    );
  });
});

describe('checkSql applies the row limit', () => {
  it('adds the default limit of 1000 when there is none', () => {
    expect(accepted('select service_name from cloud_billing').sql).toBe(
      'SELECT "service_name" FROM "cloud_billing" LIMIT 1000',
    );
  });

  it('adds the configured limit', () => {
    expect(accepted('select * from purchase_orders', 50).sql).toBe(
      'SELECT * FROM "purchase_orders" LIMIT 50',
    );
  });

  it('lowers a larger limit and keeps a smaller one and the offset', () => {
    expect(accepted('select * from purchase_orders limit 5000', 100).sql).toBe(
      'SELECT * FROM "purchase_orders" LIMIT 100',
    );
    expect(accepted('select * from purchase_orders limit 10 offset 20', 100).sql).toBe(
      'SELECT * FROM "purchase_orders" LIMIT 10 OFFSET 20',
    );
  });

  it('limits the whole union, not a subquery', () => {
    expect(
      accepted(
        'select service_name from (select service_name from cloud_billing limit 5000) t union select request_id from purchase_orders',
        10,
      ).sql,
    ).toBe(
      'SELECT "service_name" FROM (SELECT "service_name" FROM "cloud_billing" LIMIT 5000) AS "t" UNION SELECT "request_id" FROM "purchase_orders" LIMIT 10',
    );
  });
});

describe('checkSql refuses statements other than one SELECT', () => {
  it.each([
    ['insert into purchase_orders values (1)', 'only a SELECT is allowed, this is a INSERT statement'],
    [
      "update purchase_orders set amount = 0 where request_id = 'r1'",
      'only a SELECT is allowed, this is a UPDATE statement',
    ],
    ['delete from purchase_orders', 'only a SELECT is allowed, this is a DELETE statement'],
    ['drop table cloud_billing', 'only a SELECT is allowed, this is a DROP statement'],
    ['alter table cloud_billing add column x int', 'only a SELECT is allowed, this is a ALTER statement'],
    ['truncate table cloud_billing', 'only a SELECT is allowed, this is a TRUNCATE statement'],
    ['create table x as select 1', 'only a SELECT is allowed, this is a CREATE statement'],
    ['create view v as select * from cloud_billing', 'only a SELECT is allowed, this is a CREATE statement'],
    ['grant select on cloud_billing to public', 'only a SELECT is allowed, this is a GRANT statement'],
    ['revoke select on cloud_billing from public', 'only a SELECT is allowed, this is a REVOKE statement'],
    ['call system.sync_partition_metadata()', 'only a SELECT is allowed, this is a CALL statement'],
    ['set session query_max_run_time = 1', 'only a SELECT is allowed, this is a SET statement'],
    ['use other_db', 'only a SELECT is allowed, this is a USE statement'],
    ['show tables', 'only a SELECT is allowed, this is a SHOW statement'],
  ])('%s', (sql, message) => {
    expect(refusal(sql)).toBe(message);
  });

  it.each([
    'merge into purchase_orders t using cloud_billing s on t.request_id = s.service_name when matched then delete',
    'explain analyze select * from cloud_billing',
    "unload (select * from cloud_billing) to 's3://elsewhere/' with (format = 'csv')",
    "copy cloud_billing to '/tmp/out.csv'",
    "attach 'other.duckdb'",
    'install httpfs',
    'pragma enable_profiling',
  ])('refuses %s as unreadable', (sql) => {
    expect(refusal(sql)).toMatch(
      /^could not read the SQL \(only one SELECT over the curated tables is accepted\): unexpected .* at line 1, column \d+$/,
    );
  });

  it('refuses stacked statements', () => {
    expect(refusal('select 1; drop table cloud_billing')).toBe(
      'only one statement is allowed, this text has 2 (SELECT, DROP)',
    );
    expect(refusal('select * from cloud_billing; select * from purchase_orders')).toBe(
      'only one statement is allowed, this text has 2 (SELECT, SELECT)',
    );
  });

  it('refuses a statement after a comment or a newline', () => {
    expect(refusal('select * from cloud_billing /* x */; drop table cloud_billing')).toBe(
      'only one statement is allowed, this text has 2 (SELECT, DROP)',
    );
    expect(refusal('select * from cloud_billing -- note\n; drop table cloud_billing')).toBe(
      'only one statement is allowed, this text has 2 (SELECT, DROP)',
    );
    expect(refusal('select * from cloud_billing -- note\ndrop table cloud_billing')).toMatch(
      /^could not read the SQL/,
    );
  });

  it('runs only the SELECT when a comment swallows the rest of the line', () => {
    // The SQL that runs is re-generated from the parse: what the parser took for a comment is gone.
    expect(accepted('select * from cloud_billing -- ; drop table cloud_billing').sql).toBe(
      'SELECT * FROM "cloud_billing" LIMIT 1000',
    );
    expect(accepted('select * from cloud_billing /* ; drop table cloud_billing */').sql).toBe(
      'SELECT * FROM "cloud_billing" LIMIT 1000',
    );
    expect(accepted('select * from cloud_billing # ; drop table cloud_billing').sql).toBe(
      'SELECT * FROM "cloud_billing" LIMIT 1000',
    );
  });

  it('refuses text that is not SQL', () => {
    expect(refusal('total billed cost by service please')).toMatch(/^could not read the SQL/);
    expect(refusal('select from where')).toMatch(/^could not read the SQL/);
    expect(refusal('')).toMatch(/^(could not read the SQL|no SQL statement to run)/);
  });
});

describe('checkSql refuses what is not a catalog table', () => {
  it('refuses another table', () => {
    expect(refusal('select * from secrets')).toBe(
      'the table secrets is not one of the curated tables (cloud_billing, purchase_orders)',
    );
  });

  it('refuses another database', () => {
    expect(refusal('select * from raw.cloud_billing')).toBe(
      'the database raw is not readable: only the curated tables of curated are',
    );
  });

  it('refuses information_schema and system tables', () => {
    expect(refusal('select * from information_schema.tables')).toBe(
      'information_schema.tables is not readable: only the curated tables of curated are',
    );
    expect(refusal('select * from system.runtime.nodes')).toMatch(/^could not read the SQL/);
    expect(refusal('select * from pg_catalog.pg_tables')).toBe(
      'pg_catalog.pg_tables is not readable: only the curated tables of curated are',
    );
  });

  it('refuses files and URLs named as tables', () => {
    expect(refusal("select * from 's3://other-bucket/data.parquet'")).toBe(
      'the table s3://other-bucket/data.parquet is not one of the curated tables (cloud_billing, purchase_orders) (files and URLs cannot be read)',
    );
    expect(refusal('select * from "/etc/passwd"')).toContain('(files and URLs cannot be read)');
  });

  it('refuses table functions', () => {
    expect(refusal("select * from read_csv('/etc/passwd')")).toMatch(/^could not read the SQL/);
    expect(refusal("select * from cloud_billing, read_parquet('s3://x/y.parquet')")).toMatch(
      /^could not read the SQL/,
    );
    expect(refusal('select * from cloud_billing cross join unnest(array[1, 2]) as u(x)')).toBe(
      'FROM UNNEST is not allowed: only the curated tables, CTEs and subqueries can be read (no table functions, files or URLs)',
    );
  });

  it('refuses another table inside a CTE or a subquery', () => {
    expect(refusal('with x as (select * from secrets) select * from x')).toBe(
      'the table secrets is not one of the curated tables (cloud_billing, purchase_orders)',
    );
    expect(refusal('select * from cloud_billing where service_name in (select name from users)')).toBe(
      'the table users is not one of the curated tables (cloud_billing, purchase_orders)',
    );
  });

  it('refuses a recursive CTE', () => {
    expect(refusal('with recursive x as (select 1) select * from x')).toBe('WITH RECURSIVE is not allowed');
  });
});

describe('checkSql refuses columns the tables do not have', () => {
  it('refuses an unknown column', () => {
    expect(refusal('select password from cloud_billing')).toBe(
      'unknown column password (not a column of cloud_billing)',
    );
  });

  it('refuses a column of another table read qualified', () => {
    expect(refusal('select b.amount from cloud_billing b')).toBe(
      'unknown column b.amount (cloud_billing has no such column)',
    );
  });

  it('refuses a qualifier that is not in the FROM clause', () => {
    expect(refusal('select x.service_name from cloud_billing')).toBe('x is not a table of the FROM clause');
  });

  it('refuses a column a CTE does not output', () => {
    expect(refusal('with x as (select service_name from cloud_billing) select billed_cost from x')).toBe(
      'unknown column billed_cost (not a column of x)',
    );
  });

  it('refuses unknown columns in WHERE, GROUP BY and ORDER BY', () => {
    expect(refusal('select * from cloud_billing where secret = 1')).toBe(
      'unknown column secret (not a column of cloud_billing)',
    );
    expect(refusal('select count(*) from cloud_billing group by region')).toBe(
      'unknown column region (not a column of cloud_billing)',
    );
    expect(refusal('select * from cloud_billing order by cost')).toBe(
      'unknown column cost (not a column of cloud_billing)',
    );
  });

  it('refuses a Postgres cast, which reads as no column', () => {
    expect(refusal('select billed_cost::int from cloud_billing')).toBe(
      'unknown column billed_cost::int (not a column of cloud_billing)',
    );
  });
});

describe('checkSql refuses functions off the allowlist', () => {
  it.each([
    "pg_read_file('/etc/passwd')",
    "getenv('AWS_SECRET_ACCESS_KEY')",
    "load_extension('x')",
    "http_get('http://169.254.169.254/latest/meta-data/')",
    "read_text('/etc/passwd')",
    "glob('/*')",
    "query('select 1')",
    "current_setting('home_directory')",
  ])('refuses %s as reaching outside the data', (call) => {
    const name = call.slice(0, call.indexOf('('));
    expect(refusal(`select ${call} from cloud_billing`)).toBe(
      `the function ${name} reaches outside the data and is not allowed`,
    );
  });

  it('refuses an unknown function', () => {
    expect(refusal('select sleep(100) from cloud_billing')).toBe(
      'the function sleep is not on the list of allowed functions',
    );
    expect(refusal('select system$whoami() from cloud_billing')).toBe(
      'could not read the SQL (only one SELECT over the curated tables is accepted): unexpected "$" at line 1, column 14',
    );
  });

  it('refuses an unknown aggregate', () => {
    expect(refusal('select group_concat(service_name) from cloud_billing')).toBe(
      'the function group_concat is not on the list of allowed functions',
    );
  });

  it('refuses a dangerous function hidden in a subquery', () => {
    expect(
      refusal(
        "select * from cloud_billing where service_name = (select getenv('HOME') from purchase_orders)",
      ),
    ).toBe('the function getenv reaches outside the data and is not allowed');
  });

  it('refuses parameters and variables', () => {
    expect(refusal('select * from cloud_billing where service_name = :name')).toBe(
      'parameters and variables are not allowed',
    );
    expect(refusal('select @@version')).toBe('parameters and variables are not allowed');
  });

  it('refuses casts to types outside the list', () => {
    expect(refusal('select cast(service_name as json) from cloud_billing')).toBe(
      'CAST to JSON is not allowed',
    );
  });
});

describe('checkSql refuses injection shapes a question might produce', () => {
  const wrap = (value: string) => `select * from purchase_orders where compliance_status = '${value}'`;

  it("refuses '; drop table x; --", () => {
    expect(refusal(wrap("'; drop table purchase_orders; --"))).toBe(
      'only one statement is allowed, this text has 2 (SELECT, DROP)',
    );
  });

  it("refuses ' or 1=1 --", () => {
    expect(refusal(wrap("' or 1=1 --"))).toBe('a condition comparing constants only (=) is not allowed');
    expect(refusal(wrap("x' or 'a'='a"))).toBe('a condition comparing constants only (=) is not allowed');
  });

  it("refuses ' union select * from secrets --", () => {
    expect(refusal(wrap("' union select * from secrets --"))).toBe(
      'the table secrets is not one of the curated tables (cloud_billing, purchase_orders)',
    );
  });

  it('refuses a backslash that would end the string early on Trino and DuckDB', () => {
    expect(refusal(wrap("x\\' ; drop table purchase_orders; --"))).toBe(
      'a string literal with a backslash is not allowed (engines read backslashes differently)',
    );
  });

  it('refuses a union reaching information_schema', () => {
    expect(
      refusal(
        'select service_name from cloud_billing union select table_name from information_schema.tables',
      ),
    ).toBe('information_schema.tables is not readable: only the curated tables of curated are');
  });

  it('refuses SELECT INTO', () => {
    expect(refusal('select * into stolen from cloud_billing')).toBe(
      'could not read the SQL (only one SELECT over the curated tables is accepted): unexpected "i" at line 1, column 10',
    );
  });
});
