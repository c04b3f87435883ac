/**
 * The guardrail (issue 14, docs/ask.md "Guardrail"): decides whether a SQL text may run, by
 * PARSING it (node-sql-parser), never by pattern matching. Both engines (the offline parser's
 * SQL and, on AWS, the model's SQL) pass it before anything runs.
 *
 * What it accepts: exactly one SELECT (CTEs, subqueries, joins and set operations of SELECTs)
 * over the catalog's tables and their columns, calling only functions of an allowlist of pure
 * scalar, aggregate and window functions; the row limit is added or lowered. Anything it cannot
 * parse, or any part of the tree it does not know, is refused (fail closed).
 *
 * The SQL it returns is RE-GENERATED from the checked tree, not the input text: what runs is what
 * was checked, so a comment or a quirk of the parser's lexer (`#` comments, say) cannot carry a
 * second statement to the engine. The re-generated text is parsed again and must give the same
 * tree, or it is refused.
 *
 * Dialect: node-sql-parser's `athena` grammar. Athena engine v3 is Trino, and DuckDB reads the
 * same subset (double-quoted identifiers, `DATE`/`TIMESTAMP`/`INTERVAL` literals, `CAST`,
 * `EXTRACT`, `CASE`, `LIMIT`/`OFFSET`). Its `trino` grammar (v5.4) misreads `CROSS JOIN` as an
 * alias, prints `db.t.col` as `"db"."t".` and cannot read `EXISTS (...)`; `postgresql` and `hive`
 * accept table functions (`read_csv(...)`) or Postgres-only syntax (`::`, `$$`). Known gaps of the
 * athena grammar, all refused rather than mis-read: `NULLS LAST`, `FILTER (WHERE ...)`, `if()`,
 * `try_cast`, `a::type` (read as a column named `a::int`, which is no column), 3-part names
 * (`awsdatacatalog.db.t`), `"a""b"` aliases. It reads `count(1)` as a column named `1`; that is
 * repaired to the number before checking (no catalog column is named by digits).
 */
import { Parser } from 'node-sql-parser';
import type { AskCatalog, GuardrailLimits, GuardrailVerdict } from './types';

/** The grammar the SQL is read and re-generated with (see above). */
export const GUARDRAIL_DIALECT = 'athena';

export const DEFAULT_GUARDRAIL_LIMITS: GuardrailLimits = { maxRows: 1000 };

const parser = new Parser();
const OPTIONS = { database: GUARDRAIL_DIALECT };

/** Aggregate functions (pure). */
const AGGREGATES = new Set([
  'sum',
  'count',
  'avg',
  'min',
  'max',
  'approx_distinct',
  'approx_percentile',
  'arbitrary',
  'any_value',
  'bool_and',
  'bool_or',
  'every',
  'count_if',
  'stddev',
  'stddev_pop',
  'stddev_samp',
  'variance',
  'var_pop',
  'var_samp',
  'max_by',
  'min_by',
  'median',
]);

/** Window functions (pure). */
const WINDOW_FUNCTIONS = new Set([
  'row_number',
  'rank',
  'dense_rank',
  'percent_rank',
  'cume_dist',
  'ntile',
  'lag',
  'lead',
  'first_value',
  'last_value',
  'nth_value',
]);

/** Scalar functions (pure: their result depends on their arguments and the clock only). */
const SCALARS = new Set([
  // numbers
  'round',
  'abs',
  'ceil',
  'ceiling',
  'floor',
  'truncate',
  'sign',
  'mod',
  'power',
  'pow',
  'sqrt',
  'ln',
  'log10',
  'exp',
  'greatest',
  'least',
  // nulls
  'coalesce',
  'nullif',
  // strings
  'lower',
  'upper',
  'trim',
  'ltrim',
  'rtrim',
  'length',
  'substr',
  'substring',
  'concat',
  'replace',
  'strpos',
  'position',
  'starts_with',
  'split_part',
  'lpad',
  'rpad',
  'reverse',
  // dates and times
  'date_trunc',
  'date',
  'year',
  'month',
  'day',
  'quarter',
  'week',
  'day_of_week',
  'dow',
  'day_of_month',
  'day_of_year',
  'doy',
  'hour',
  'minute',
  'second',
  'date_add',
  'date_diff',
  'date_part',
  'date_format',
  'format_datetime',
  'last_day_of_month',
  'current_date',
  'current_timestamp',
  'localtimestamp',
  'now',
]);

/**
 * Functions that reach outside the data (files, URLs, the environment, settings, other
 * databases) on DuckDB, Trino or Postgres. None is on the allowlist; naming them gives a clearer
 * refusal.
 */
const OUTSIDE = new Set([
  'read_csv',
  'read_csv_auto',
  'read_parquet',
  'parquet_scan',
  'parquet_metadata',
  'parquet_schema',
  'read_json',
  'read_json_auto',
  'read_ndjson',
  'read_text',
  'read_blob',
  'glob',
  'sniff_csv',
  'iceberg_scan',
  'delta_scan',
  'sqlite_scan',
  'postgres_scan',
  'mysql_scan',
  'http_get',
  'http_post',
  'pg_read_file',
  'pg_read_binary_file',
  'pg_ls_dir',
  'lo_import',
  'lo_export',
  'load_extension',
  'getenv',
  'current_setting',
  'set_config',
  'query',
  'query_table',
  'copy',
  'attach',
  'system',
  'duckdb_settings',
  'duckdb_extensions',
  'duckdb_secrets',
  'which_secret',
]);

const SUBQUERY_PREDICATES = new Set(['exists', 'any', 'some', 'all']);

const BINARY_OPERATORS = new Set([
  '=',
  '<>',
  '!=',
  '<',
  '<=',
  '>',
  '>=',
  '+',
  '-',
  '*',
  '/',
  '%',
  '||',
  'AND',
  'OR',
  'LIKE',
  'NOT LIKE',
  'IN',
  'NOT IN',
  'BETWEEN',
  'NOT BETWEEN',
  'IS',
  'IS NOT',
]);

/** Comparisons: one side must read a column or a subquery. */
const COMPARISONS = new Set(['=', '<>', '!=', '<', '<=', '>', '>=', 'LIKE', 'NOT LIKE', 'IS', 'IS NOT']);

const UNARY_OPERATORS = new Set(['NOT', '-', '+']);

const LITERALS = new Set(['number', 'bool', 'null', 'date', 'time', 'timestamp', 'single_quote_string']);

const CAST_TYPES = new Set([
  'VARCHAR',
  'CHAR',
  'DECIMAL',
  'DOUBLE',
  'REAL',
  'BIGINT',
  'INTEGER',
  'INT',
  'SMALLINT',
  'TINYINT',
  'BOOLEAN',
  'DATE',
  'TIMESTAMP',
]);

const DATE_FIELDS = new Set([
  'year',
  'quarter',
  'month',
  'week',
  'day',
  'day_of_week',
  'dow',
  'day_of_year',
  'doy',
  'hour',
  'minute',
  'second',
]);

const JOINS = new Set([
  'INNER JOIN',
  'JOIN',
  'LEFT JOIN',
  'LEFT OUTER JOIN',
  'RIGHT JOIN',
  'RIGHT OUTER JOIN',
  'FULL JOIN',
  'FULL OUTER JOIN',
  'CROSS JOIN',
]);

const SET_OPERATIONS = new Set([
  'union',
  'union all',
  'union distinct',
  'intersect',
  'intersect distinct',
  'except',
  'except distinct',
]);

/** Keys a SELECT node may carry; any other key with a value is a construct the guardrail does not check. */
const SELECT_KEYS = new Set([
  'with',
  'type',
  'options',
  'distinct',
  'columns',
  'into',
  'from',
  'where',
  'groupby',
  'having',
  'orderby',
  'limit',
  'window',
  '_next',
  'set_op',
  '_parentheses',
  'parentheses',
]);

/** Aliases and CTE names the guardrail accepts: words, no quotes or escapes. */
const NAME = /^[\p{L}\p{N}_ ]{1,128}$/u;

/** A refusal raised while walking the tree; `checkSql` turns it into a verdict. */
class GuardrailRefusal extends Error {
  override readonly name = 'GuardrailRefusal';
}

function refuse(message: string): never {
  throw new GuardrailRefusal(message);
}

// The parser's AST is loosely typed (its own .d.ts covers a fraction of it): nodes are walked as
// records and every shape is checked before use.
type Node = Record<string, unknown>;

const isNode = (value: unknown): value is Node =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** The text of a name part: a plain string or `{ type, value }`. */
function nameOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (isNode(value)) {
    if (typeof value.value === 'string') return value.value;
    if (isNode(value.expr)) return nameOf(value.expr);
  }
  return undefined;
}

/** A source of rows in a FROM: a catalog table, a CTE or a subquery, under the name the query uses. */
interface Source {
  /** The name columns are qualified with (the alias, else the table name), lower case. */
  readonly name: string;
  /** The catalog table, when the source is one. */
  readonly table?: string;
  readonly columns: ReadonlySet<string>;
}

interface Scope {
  readonly sources: Source[];
  /** Aliases of the SELECT's output columns. */
  readonly aliases: Set<string>;
  /** CTEs visible here, by lower-case name: their output columns. */
  readonly ctes: ReadonlyMap<string, ReadonlySet<string>>;
  readonly parent?: Scope;
}

class Checker {
  /** Every node the walk checked; anything else found in the tree is refused. */
  readonly checked = new WeakSet<object>();
  /** Catalog tables read. */
  readonly tables = new Set<string>();
  private readonly database: string;
  private readonly catalogTables: ReadonlyMap<string, { name: string; columns: ReadonlySet<string> }>;

  constructor(catalog: AskCatalog) {
    this.database = catalog.database.toLowerCase();
    this.catalogTables = new Map(
      catalog.tables.map((t) => [
        t.name.toLowerCase(),
        { name: t.name, columns: new Set(t.columns.map((c) => c.name.toLowerCase())) },
      ]),
    );
  }

  private mark(node: object): void {
    this.checked.add(node);
  }

  /** A query: CTEs, then the SELECT and the SELECTs set operations chain to it. Returns its output columns. */
  query(node: Node, ctes: ReadonlyMap<string, ReadonlySet<string>>, parent?: Scope): Set<string> {
    let visible = ctes;
    if (Array.isArray(node.with)) {
      const defined = new Map(ctes);
      for (const cte of node.with) {
        if (!isNode(cte)) refuse('the WITH clause could not be read');
        const c = cte as Node;
        this.mark(c);
        if (c.recursive) refuse('WITH RECURSIVE is not allowed');
        const name = nameOf(c.name);
        if (!name || !NAME.test(name)) refuse(`the CTE name ${JSON.stringify(name)} is not a plain name`);
        if (isNode(c.name)) this.mark(c.name);
        const stmt = isNode(c.stmt) && isNode(c.stmt.ast) ? c.stmt.ast : c.stmt;
        if (!isNode(stmt)) refuse(`the CTE ${name} could not be read`);
        if (isNode(c.stmt)) this.mark(c.stmt);
        let columns = this.query(stmt as Node, defined, parent);
        if (Array.isArray(c.columns)) {
          columns = new Set(
            c.columns.map((col) => {
              if (isNode(col)) this.mark(col);
              const n = isNode(col) && col.type === 'column_ref' ? nameOf(col.column) : nameOf(col);
              if (!n || !NAME.test(n)) return refuse(`a column name of the CTE ${name} is not a plain name`);
              return n.toLowerCase();
            }),
          );
        }
        defined.set(name!.toLowerCase(), columns);
      }
      visible = defined;
    } else if (node.with != null) {
      refuse('the WITH clause could not be read');
    }
    const output = this.select(node, visible, parent);
    let next = node._next;
    while (next != null) {
      if (!isNode(next)) return refuse('a set operation could not be read');
      const op = typeof node.set_op === 'string' ? node.set_op.toLowerCase() : '';
      if (!SET_OPERATIONS.has(op)) refuse(`the set operation ${String(node.set_op)} is not allowed`);
      if (next.with != null) refuse('a WITH inside a set operation is not allowed');
      this.select(next, visible, parent);
      node = next;
      next = next._next;
    }
    return output;
  }

  private select(node: Node, ctes: ReadonlyMap<string, ReadonlySet<string>>, parent?: Scope): Set<string> {
    if (node.type !== 'select') refuse(`only SELECT is allowed, not ${String(node.type).toUpperCase()}`);
    this.mark(node);
    for (const [key, value] of Object.entries(node)) {
      if (!SELECT_KEYS.has(key) && value != null) refuse(`the SELECT uses "${key}", which is not allowed`);
    }
    if (node.options != null) refuse('SELECT options are not allowed');
    if (isNode(node.into) && (node.into.expr != null || node.into.position != null)) {
      refuse('SELECT INTO is not allowed');
    }
    if (node.window != null) refuse('a named WINDOW clause is not allowed (write OVER (...) in place)');
    const scope: Scope = { sources: [], aliases: new Set(), ctes, parent };

    const joins: Node[] = [];
    for (const item of asArray(node.from)) {
      if (!isNode(item)) return refuse('the FROM clause could not be read');
      scope.sources.push(this.source(item, scope));
      if (item.join != null) joins.push(item);
    }
    for (const join of joins) {
      if (join.on != null) this.expression(join.on, scope);
      for (const column of asArray(join.using)) {
        const name = nameOf(column);
        if (isNode(column)) this.mark(column);
        if (!name || !scope.sources.some((s) => s.columns.has(name.toLowerCase()))) {
          refuse(`USING names ${JSON.stringify(name)}, which is not a column of the tables read`);
        }
      }
    }

    const columns = asArray(node.columns);
    for (const column of columns) {
      if (!isNode(column)) return refuse('the select list could not be read');
      if (column.as != null) {
        const alias = nameOf(column.as);
        if (!alias || !NAME.test(alias)) refuse(`the alias ${JSON.stringify(alias)} is not a plain name`);
        scope.aliases.add(alias!.toLowerCase());
      }
    }
    const output = new Set<string>();
    for (const column of columns as Node[]) {
      this.mark(column);
      const expr = column.expr;
      if (!isNode(expr)) return refuse('the select list could not be read');
      if (expr.type === 'column_ref' && expr.column === '*') {
        this.mark(expr);
        const sources = expr.table == null ? scope.sources : [this.sourceNamed(expr, scope)];
        for (const s of sources) for (const c of s.columns) output.add(c);
        continue;
      }
      this.expression(expr, scope);
      const alias = nameOf(column.as) ?? (expr.type === 'column_ref' ? nameOf(expr.column) : undefined);
      if (alias) output.add(alias.toLowerCase());
    }

    if (node.where != null) this.expression(node.where, scope);
    const groupBy = isNode(node.groupby) ? node.groupby.columns : node.groupby;
    if (isNode(node.groupby)) this.mark(node.groupby);
    for (const g of asArray(groupBy)) this.expression(g, scope);
    if (node.having != null) this.expression(node.having, scope);
    for (const o of asArray(node.orderby)) this.orderItem(o, scope);
    this.limit(node.limit);
    return output;
  }

  private orderItem(item: unknown, scope: Scope): void {
    if (!isNode(item)) refuse('the ORDER BY could not be read');
    this.mark(item);
    if (item.type != null && item.type !== 'ASC' && item.type !== 'DESC')
      refuse('the ORDER BY could not be read');
    if (item.nulls != null) refuse('NULLS FIRST/LAST is not allowed');
    this.expression(item.expr, scope);
  }

  private limit(limit: unknown): void {
    if (limit == null) return;
    if (!isNode(limit)) refuse('the LIMIT could not be read');
    this.mark(limit);
    if (limit.seperator !== '' && limit.seperator !== 'offset' && asArray(limit.value).length > 1) {
      refuse('LIMIT offset, count is not allowed (write LIMIT n OFFSET m)');
    }
    for (const v of asArray(limit.value)) {
      if (!isNode(v) || v.type !== 'number' || !Number.isInteger(v.value) || (v.value as number) < 0) {
        refuse('LIMIT and OFFSET take a whole number');
      }
      this.mark(v as Node);
    }
  }

  /** A FROM item. */
  private source(item: Node, scope: Scope): Source {
    this.mark(item);
    if (item.join != null && (typeof item.join !== 'string' || !JOINS.has(item.join.toUpperCase()))) {
      refuse(`${String(item.join).toUpperCase()} in FROM is not allowed`);
    }
    if (item.type != null) {
      refuse(
        `FROM ${String(item.type).toUpperCase()} is not allowed: only the curated tables, CTEs and subqueries can be read (no table functions, files or URLs)`,
      );
    }
    const alias = item.as == null ? undefined : nameOf(item.as);
    if (item.as != null && (!alias || !NAME.test(alias))) {
      refuse(`the alias ${JSON.stringify(alias ?? item.as)} is not a plain name (a table function?)`);
    }
    // A subquery: `(SELECT ...) AS x`.
    if (isNode(item.expr) && (isNode(item.expr.ast) || item.expr.type === 'select') && item.type == null) {
      const ast = isNode(item.expr.ast) ? item.expr.ast : item.expr;
      this.mark(item.expr);
      const columns = this.query(ast, scope.ctes, scope.parent);
      return { name: (alias ?? '').toLowerCase(), columns };
    }
    if (item.type != null || typeof item.table !== 'string') {
      return refuse(
        `FROM ${item.type ? String(item.type).toUpperCase() : 'this item'} is not allowed: only the curated tables, CTEs and subqueries can be read (no table functions, files or URLs)`,
      );
    }
    const table = item.table.toLowerCase();
    const db = item.db == null ? undefined : nameOf(item.db)?.toLowerCase();
    if (item.schema != null) refuse(`the table name ${item.table} has too many parts`);
    const name = (alias ?? item.table).toLowerCase();
    if (db === undefined) {
      const cte = lookupCte(scope, table);
      if (cte) return { name, columns: cte };
    } else if (db !== this.database) {
      return refuse(
        db === 'information_schema' || db === 'system' || db.startsWith('pg_')
          ? `${db}.${item.table} is not readable: only the curated tables of ${this.database} are`
          : `the database ${db} is not readable: only the curated tables of ${this.database} are`,
      );
    }
    const known = this.catalogTables.get(table);
    if (!known) {
      const hint = /[/:.]/.test(table) ? ' (files and URLs cannot be read)' : '';
      return refuse(
        `the table ${item.table} is not one of the curated tables (${[...this.catalogTables.values()].map((t) => t.name).join(', ')})${hint}`,
      );
    }
    this.tables.add(known.name);
    return { name, table: known.name, columns: known.columns };
  }

  /** The source a qualified column (`x.col`, `db.t.col`) names. */
  private sourceNamed(ref: Node, scope: Scope): Source {
    const table = nameOf(ref.table)?.toLowerCase();
    const schema = ref.schema == null ? undefined : nameOf(ref.schema)?.toLowerCase();
    if (schema !== undefined && schema !== this.database) {
      refuse(`the database ${schema} is not readable: only the curated tables of ${this.database} are`);
    }
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      const found = s.sources.find((src) =>
        schema === undefined ? src.name === table : src.table?.toLowerCase() === table && src.name === table,
      );
      if (found) return found;
    }
    return refuse(`${schema ? `${schema}.` : ''}${nameOf(ref.table)} is not a table of the FROM clause`);
  }

  private column(ref: Node, scope: Scope): void {
    this.mark(ref);
    const column = nameOf(ref.column);
    if (!column) refuse('a column reference could not be read');
    const name = column.toLowerCase();
    if (ref.table != null) {
      const source = this.sourceNamed(ref, scope);
      if (!source.columns.has(name)) {
        refuse(
          `unknown column ${nameOf(ref.table)}.${column} (${source.table ?? source.name} has no such column)`,
        );
      }
      return;
    }
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      if (s.aliases.has(name) || s.sources.some((src) => src.columns.has(name))) return;
    }
    const read = scope.sources.map((s) => s.table ?? s.name).filter(Boolean);
    refuse(`unknown column ${column}${read.length > 0 ? ` (not a column of ${read.join(', ')})` : ''}`);
  }

  expression(value: unknown, scope: Scope): void {
    if (!isNode(value)) refuse('an expression could not be read');
    const e = value;
    // A subquery: `IN (SELECT ...)`, `= (SELECT ...)`, `EXISTS (SELECT ...)`.
    if (isNode(e.ast)) {
      this.mark(e);
      this.query(e.ast, scope.ctes, scope);
      return;
    }
    if (e.type === 'select') {
      this.query(e, scope.ctes, scope);
      return;
    }
    this.mark(e);
    const type = String(e.type);
    if (LITERALS.has(type)) {
      if (typeof e.value === 'string' && e.value.includes('\\')) {
        // node-sql-parser reads a backslash as an escape in strings; Trino and DuckDB do not.
        refuse('a string literal with a backslash is not allowed (engines read backslashes differently)');
      }
      return;
    }
    switch (type) {
      case 'column_ref':
        this.column(e, scope);
        return;
      case 'binary_expr': {
        const op = String(e.operator).toUpperCase();
        if (!BINARY_OPERATORS.has(op)) refuse(`the operator ${String(e.operator)} is not allowed`);
        if (COMPARISONS.has(op) && !readsData(e.left) && !readsData(e.right)) {
          // `' OR 1=1 --`: a condition no row can change is how an injection widens a filter.
          refuse(`a condition comparing constants only (${op}) is not allowed`);
        }
        this.expression(e.left, scope);
        this.expression(e.right, scope);
        return;
      }
      case 'unary_expr':
        if (!UNARY_OPERATORS.has(String(e.operator).toUpperCase())) {
          refuse(`the operator ${String(e.operator)} is not allowed`);
        }
        this.expression(e.expr, scope);
        return;
      case 'expr_list':
        for (const v of asArray(e.value)) this.expression(v, scope);
        return;
      case 'interval': {
        const unit = String(e.unit).toLowerCase();
        if (!DATE_FIELDS.has(unit)) refuse(`the interval unit ${String(e.unit)} is not allowed`);
        this.expression(e.expr, scope);
        return;
      }
      case 'case':
        if (e.expr != null) this.expression(e.expr, scope);
        for (const arm of asArray(e.args)) {
          if (!isNode(arm) || (arm.type !== 'when' && arm.type !== 'else'))
            refuse('a CASE could not be read');
          this.mark(arm as Node);
          if ((arm as Node).type === 'when') this.expression((arm as Node).cond, scope);
          this.expression((arm as Node).result, scope);
        }
        return;
      case 'cast':
        this.cast(e, scope);
        return;
      case 'extract': {
        const args = isNode(e.args) ? e.args : refuse('an EXTRACT could not be read');
        this.mark(args);
        if (!DATE_FIELDS.has(String(args.field).toLowerCase())) {
          refuse(`EXTRACT of ${String(args.field)} is not allowed`);
        }
        if (args.cast_type != null) refuse('an EXTRACT could not be read');
        this.expression(args.source, scope);
        return;
      }
      case 'aggr_func':
        this.aggregate(e, scope);
        return;
      case 'function':
        this.call(e, scope);
        return;
      case 'param':
      case 'var':
        refuse('parameters and variables are not allowed');
        break;
      case 'star':
        refuse('* is only allowed in the select list and in count(*)');
        break;
      default:
        refuse(`the SQL uses ${type.replace(/_/g, ' ')}, which the guardrail does not accept`);
    }
  }

  private cast(e: Node, scope: Scope): void {
    if (String(e.keyword).toLowerCase() !== 'cast' || String(e.symbol).toLowerCase() !== 'as') {
      refuse('only CAST(x AS type) is allowed');
    }
    for (const target of asArray(e.target)) {
      if (!isNode(target)) refuse('a CAST could not be read');
      this.mark(target);
      const dataType = String(target.dataType).toUpperCase();
      if (!CAST_TYPES.has(dataType)) refuse(`CAST to ${dataType} is not allowed`);
      if (target.expr != null) refuse('a CAST could not be read');
    }
    if (asArray(e.target).length !== 1) refuse('a CAST could not be read');
    this.expression(e.expr, scope);
  }

  private aggregate(e: Node, scope: Scope): void {
    const name = String(e.name).toLowerCase();
    if (!AGGREGATES.has(name)) refuse(functionRefusal(name));
    const args = isNode(e.args) ? e.args : refuse(`${name}() could not be read`);
    this.mark(args);
    if (args.distinct != null && String(args.distinct).toUpperCase() !== 'DISTINCT') {
      refuse(`${name}() could not be read`);
    }
    if (args.separator != null) refuse(`${name}() with a separator is not allowed`);
    const expr = args.expr;
    if (isNode(expr) && expr.type === 'star') {
      if (name !== 'count') refuse(`${name}(*) is not allowed`);
      this.mark(expr);
    } else {
      this.expression(expr, scope);
    }
    for (const o of asArray(args.orderby)) this.orderItem(o, scope);
    if (e.over != null) this.over(e.over, scope);
  }

  private call(e: Node, scope: Scope): void {
    const nameNode = isNode(e.name) ? e.name : refuse('a function call could not be read');
    this.mark(nameNode);
    const parts = asArray(nameNode.name);
    for (const p of parts) if (isNode(p)) this.mark(p);
    if (nameNode.schema != null || parts.length !== 1) {
      refuse(
        `the function ${parts.map(nameOf).join('.')} is not allowed (qualified function names are refused)`,
      );
    }
    const name = (nameOf(parts[0]) ?? '').toLowerCase();
    const args =
      e.args == null ? [] : isNode(e.args) ? asArray(e.args.value) : refuse(`${name}() could not be read`);
    if (isNode(e.args)) {
      if (e.args.type !== 'expr_list') refuse(`${name}() could not be read`);
      this.mark(e.args);
    }
    if (SUBQUERY_PREDICATES.has(name)) {
      if (args.length !== 1 || !isNode(args[0]) || !isNode(args[0].ast)) {
        refuse(`${name.toUpperCase()} takes one subquery`);
      }
      this.expression(args[0], scope);
      return;
    }
    const window = WINDOW_FUNCTIONS.has(name);
    if (!SCALARS.has(name) && !AGGREGATES.has(name) && !window) refuse(functionRefusal(name));
    if (window && e.over == null) refuse(`${name}() needs OVER (...)`);
    for (const a of args) this.expression(a, scope);
    if (e.over != null) this.over(e.over, scope);
  }

  private over(value: unknown, scope: Scope): void {
    const over = isNode(value) ? value : refuse('an OVER clause could not be read');
    this.mark(over);
    const spec = isNode(over.as_window_specification) ? over.as_window_specification : undefined;
    const window = spec && isNode(spec.window_specification) ? spec.window_specification : undefined;
    if (over.type !== 'window' || !spec || !window) refuse('an OVER clause could not be read');
    this.mark(spec);
    this.mark(window);
    if (window.name != null) refuse('a named window is not allowed');
    if (window.window_frame_clause != null) refuse('window frames (ROWS/RANGE) are not allowed');
    for (const p of asArray(window.partitionby)) {
      if (!isNode(p)) refuse('an OVER clause could not be read');
      this.mark(p);
      this.expression(p.expr, scope);
    }
    for (const o of asArray(window.orderby)) this.orderItem(o, scope);
  }
}

/** Whether an expression reads a column or a subquery (anything a row can change). */
function readsData(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(readsData);
  if (!isNode(value)) return false;
  if (value.type === 'column_ref' || value.type === 'select' || isNode(value.ast)) return true;
  // An aggregate reads the rows even without a column (`count(*)`: `HAVING count(*) >= 2`).
  if (value.type === 'aggr_func') return true;
  return Object.entries(value).some(([key, v]) => key !== 'loc' && readsData(v));
}

function lookupCte(scope: Scope, name: string): ReadonlySet<string> | undefined {
  return scope.ctes.get(name);
}

function functionRefusal(name: string): string {
  return OUTSIDE.has(name)
    ? `the function ${name} reaches outside the data and is not allowed`
    : `the function ${name} is not on the list of allowed functions`;
}

/**
 * Every object of the tree with a `type` must have been checked by the walk: a construct the
 * walk does not know (a key it skipped) is refused, not run unchecked.
 */
function assertAllChecked(value: unknown, checked: WeakSet<object>): void {
  if (Array.isArray(value)) {
    for (const v of value) assertAllChecked(v, checked);
    return;
  }
  if (!isNode(value)) return;
  if (value.type != null && value.type !== 'default' && !checked.has(value)) {
    refuse(`the SQL uses ${String(value.type).replace(/_/g, ' ')} where the guardrail cannot check it`);
  }
  for (const [key, v] of Object.entries(value)) {
    if (key === 'loc' || key === 'tableList' || key === 'columnList') continue;
    assertAllChecked(v, checked);
  }
}

/**
 * Brings a tree to the form the engines read, before it is checked (and before two parses are
 * compared):
 * - the athena grammar reads a double-quoted name in an expression (`"billed_cost"`) as a
 *   "double-quoted string"; Trino and DuckDB read it as an identifier, so it is a column reference;
 * - it reads the `1` of `count(1)` as a column named `1`; no catalog column is named by digits, so
 *   it is the number;
 * - `EXTRACT` fields are compared in lower case, `ORDER BY x` as `ORDER BY x ASC`.
 */
function repair(value: unknown): void {
  if (Array.isArray(value)) {
    for (const v of value) repair(v);
    return;
  }
  if (!isNode(value)) return;
  if (value.type === 'double_quote_string' && typeof value.value === 'string') {
    const name = value.value;
    for (const key of Object.keys(value)) delete value[key];
    Object.assign(value, { type: 'column_ref', table: null, column: name, collate: null });
    return;
  }
  if (
    value.type === 'aggr_func' &&
    isNode(value.args) &&
    isNode(value.args.expr) &&
    value.args.expr.type === 'column_ref' &&
    value.args.expr.table == null &&
    typeof value.args.expr.column === 'string' &&
    /^\d+$/.test(value.args.expr.column)
  ) {
    value.args.expr = { type: 'number', value: Number(value.args.expr.column) };
  }
  // A CTE's name prints double-quoted and reads back as a string: it is a name.
  for (const cte of asArray(value.with)) {
    if (isNode(cte) && isNode(cte.name) && typeof cte.name.value === 'string') {
      cte.name = { type: 'default', value: cte.name.value };
    }
  }
  // `ORDER BY x` prints as `ORDER BY x ASC`.
  for (const item of asArray(value.orderby)) if (isNode(item) && item.type == null) item.type = 'ASC';
  if (value.type === 'extract' && isNode(value.args) && typeof value.args.field === 'string') {
    value.args.field = value.args.field.toLowerCase();
  }
  for (const [key, v] of Object.entries(value)) if (key !== 'loc') repair(v);
}

/** The top-level query's LIMIT node: the last SELECT of a set-operation chain carries it. */
function applyLimit(ast: Node, maxRows: number): void {
  let last = ast;
  while (isNode(last._next)) last = last._next;
  const limit = isNode(last.limit) ? last.limit : undefined;
  const values = limit ? asArray(limit.value) : [];
  if (!limit || values.length === 0) {
    last.limit = { seperator: '', value: [{ type: 'number', value: maxRows }] };
    return;
  }
  // `LIMIT n OFFSET m`: the count is first.
  const count = values[0] as Node;
  if ((count.value as number) > maxRows) count.value = maxRows;
}

function parse(sql: string): unknown {
  return parser.astify(sql, OPTIONS);
}

/** Why a text does not parse, in words: the statement it is, when another grammar can tell. */
function unreadable(sql: string, error: unknown): string {
  for (const database of ['trino', 'postgresql', 'mysql']) {
    try {
      const ast = parser.astify(sql, { database });
      const statements = Array.isArray(ast) ? ast : [ast];
      const kinds = statements.map((s) => String((s as unknown as Node).type).toUpperCase());
      if (kinds.length > 1)
        return `only one statement is allowed, this text has ${kinds.length} (${kinds.join(', ')})`;
      if (kinds[0] !== 'SELECT') return `only a SELECT is allowed, this is a ${kinds[0]} statement`;
    } catch {
      // not this grammar either
    }
  }
  const e = error as {
    message?: string;
    found?: unknown;
    location?: { start?: { line: number; column: number } };
  };
  const at = e.location?.start;
  const detail =
    at && e.found !== undefined
      ? `${e.found === null ? 'unexpected end' : `unexpected ${JSON.stringify(e.found)}`} at line ${at.line}, column ${at.column}`
      : (e.message ?? String(error)).slice(0, 200);
  return `could not read the SQL (only one SELECT over the curated tables is accepted): ${detail}`;
}

function statementsOf(ast: unknown): Node[] {
  return (Array.isArray(ast) ? ast : [ast]).filter(isNode);
}

/**
 * The tree without parser bookkeeping, for comparing two parses: a subquery is its `ast` (the
 * parser copies the subquery's fields beside it on a first parse only).
 */
const canonical = (ast: unknown) =>
  JSON.stringify(ast, (key, value) =>
    key === 'loc' || key === 'tableList' || key === 'columnList'
      ? undefined
      : isNode(value) && isNode(value.ast)
        ? { ast: value.ast }
        : value,
  );

/**
 * Decides whether `sql` may run against `catalog`: one read-only SELECT over the curated tables
 * and their columns, allowlisted functions only. Returns the SQL to run (re-generated from the
 * checked tree, with the row limit applied) or a refusal in words.
 */
export function checkSql(
  sql: string,
  catalog: AskCatalog,
  limits: Partial<GuardrailLimits> = {},
): GuardrailVerdict {
  const maxRows = limits.maxRows ?? DEFAULT_GUARDRAIL_LIMITS.maxRows;
  if (!Number.isInteger(maxRows) || maxRows < 1)
    throw new RangeError(`maxRows must be a positive integer: ${maxRows}`);
  let ast: unknown;
  try {
    ast = parse(sql);
  } catch (error) {
    return { ok: false, message: unreadable(sql, error) };
  }
  const statements = statementsOf(ast);
  if (statements.length !== 1) {
    const kinds = statements.map((s) => String(s.type).toUpperCase());
    return {
      ok: false,
      message:
        statements.length === 0
          ? 'no SQL statement to run'
          : `only one statement is allowed, this text has ${statements.length} (${kinds.join(', ')})`,
    };
  }
  const statement = statements[0]!;
  if (statement.type !== 'select') {
    return {
      ok: false,
      message: `only a SELECT is allowed, this is a ${String(statement.type).toUpperCase()} statement`,
    };
  }
  try {
    repair(statement);
    const checker = new Checker(catalog);
    checker.query(statement, new Map());
    assertAllChecked(statement, checker.checked);
    applyLimit(statement, maxRows);
    const out = parser.sqlify(statement as never, OPTIONS);
    // What runs must read back as what was checked.
    let again: unknown;
    try {
      again = parse(out);
    } catch {
      return refuse('the SQL could not be re-generated faithfully');
    }
    const reread = statementsOf(again);
    if (reread.length !== 1) return refuse('the SQL could not be re-generated faithfully');
    repair(reread[0]);
    if (canonical(reread[0]) !== canonical(statement)) refuse('the SQL could not be re-generated faithfully');
    return { ok: true, sql: out, tables: [...checker.tables] };
  } catch (error) {
    if (error instanceof GuardrailRefusal) return { ok: false, message: error.message };
    throw error;
  }
}
