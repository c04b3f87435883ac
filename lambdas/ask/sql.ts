/**
 * A Plan (what parser.ts read in a question) as SQL and as words. The SQL is standard enough for
 * both engines (DuckDB locally, Athena/Trino on AWS): double-quoted identifiers, `TIMESTAMP`
 * literals, `sum`/`count`/`avg`/`min`/`max`, `CASE`. Identifiers come from the catalog and
 * literals are the catalog's values or re-printed numbers and dates; nothing is copied from the
 * question.
 */

export interface TimeRange {
  /** First day (YYYY-MM-DD), inclusive. */
  readonly from: string;
  /** Day after the last (YYYY-MM-DD), exclusive. */
  readonly to: string;
  /** How the question said it ("the last 5 days", "October 2024"). */
  readonly words: string;
}

export type Filter =
  | { readonly kind: 'in' | 'not_in'; readonly column: string; readonly values: readonly string[] }
  | { readonly kind: 'time'; readonly column: string; readonly range: TimeRange }
  | { readonly kind: 'quarters'; readonly column: string; readonly range: TimeRange };

export interface MeasureCondition {
  readonly column: string;
  /** The condition is on the number of rows per group ("with at least 2 requests"). */
  readonly counted?: boolean;
  readonly op: '>' | '>=' | '<' | '<=' | 'between';
  /** A plain decimal (parsed from the question, re-printed). */
  readonly value: string;
  readonly value2?: string;
}

export interface Plan {
  readonly table: string;
  /** Absent: a listing of rows. */
  readonly aggregate?: 'sum' | 'count' | 'avg' | 'min' | 'max';
  readonly measure?: string;
  /** `count(distinct column)` instead of `count(*)`. */
  readonly countDistinct?: string;
  readonly groupBy: readonly string[];
  readonly filters: readonly Filter[];
  readonly measureConditions: readonly MeasureCondition[];
  /** Two values of `column` side by side (templates compared), groups where `left op right`. */
  readonly compare?: {
    readonly column: string;
    readonly left: string;
    readonly right: string;
    /** `all`: side by side, every group. */
    readonly op: '>' | '<' | '<>' | 'all';
  };
  readonly limit?: number;
  readonly descending?: boolean;
  /** Columns a listing shows. */
  readonly listColumns: readonly string[];
  /** A listing's order: newest first on this column. */
  readonly orderByTime?: string;
}

const id = (name: string) => `"${name.replace(/"/g, '""')}"`;
const literal = (value: string) => `'${value.replace(/'/g, "''")}'`;
const number = (value: string) => {
  if (!/^-?\d+(\.\d+)?$/.test(value)) throw new Error(`not a number: ${value}`);
  return value;
};
const day = (value: string) => {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) throw new Error(`not a date: ${value}`);
  return value;
};

/** `YYYY-Qn` values a range covers. */
export function quartersIn(range: TimeRange): string[] {
  const quarters: string[] = [];
  let [y, m] = [Number(range.from.slice(0, 4)), Number(range.from.slice(5, 7)) - 1];
  const end = range.to;
  while (`${y}-${String(m + 1).padStart(2, '0')}-01` < end) {
    const q = `${y}-Q${Math.floor(m / 3) + 1}`;
    if (!quarters.includes(q)) quarters.push(q);
    m += 1;
    if (m === 12) [y, m] = [y + 1, 0];
  }
  return quarters;
}

function where(plan: Plan, rowConditions: boolean): string[] {
  const out: string[] = [];
  for (const f of plan.filters) {
    if (f.kind === 'in' || f.kind === 'not_in') {
      const values = f.values.map(literal).join(', ');
      out.push(`${id(f.column)} ${f.kind === 'in' ? 'IN' : 'NOT IN'} (${values})`);
    } else if (f.kind === 'time') {
      out.push(`${id(f.column)} >= TIMESTAMP '${day(f.range.from)} 00:00:00'`);
      out.push(`${id(f.column)} < TIMESTAMP '${day(f.range.to)} 00:00:00'`);
    } else if (f.kind === 'quarters') {
      out.push(`${id(f.column)} IN (${quartersIn(f.range).map(literal).join(', ')})`);
    }
  }
  if (rowConditions) for (const c of plan.measureConditions) out.push(condition(id(c.column), c));
  return out;
}

function condition(expression: string, c: MeasureCondition): string {
  return c.op === 'between'
    ? `${expression} BETWEEN ${number(c.value)} AND ${number(c.value2!)}`
    : `${expression} ${c.op} ${number(c.value)}`;
}

function aggregateExpression(plan: Plan): { expression: string; alias: string } {
  if (plan.aggregate === 'count') {
    return plan.countDistinct
      ? { expression: `count(DISTINCT ${id(plan.countDistinct)})`, alias: `${plan.countDistinct}_count` }
      : { expression: 'count(*)', alias: 'count' };
  }
  const measure = plan.measure!;
  return {
    expression: `${plan.aggregate}(${id(measure)})`,
    alias: `${plan.aggregate === 'sum' ? 'total' : plan.aggregate}_${measure}`,
  };
}

export function buildSql(plan: Plan, _database: string): string {
  const from = `FROM ${id(plan.table)}`;
  if (plan.compare) {
    const c = plan.compare;
    const measure = plan.measure!;
    const groups = plan.groupBy.length > 0 ? plan.groupBy : ['org_unit'];
    const side = (value: string) =>
      `sum(CASE WHEN ${id(c.column)} = ${literal(value)} THEN ${id(measure)} END)`;
    const conditions = where(plan, false);
    return [
      `SELECT ${groups.map(id).join(', ')}, ${side(c.left)} AS ${id(`${c.left}_${measure}`)}, ${side(c.right)} AS ${id(`${c.right}_${measure}`)}`,
      from,
      ...(conditions.length > 0 ? [`WHERE ${conditions.join(' AND ')}`] : []),
      `GROUP BY ${groups.map(id).join(', ')}`,
      ...(c.op === 'all' ? [] : [`HAVING ${side(c.left)} ${c.op} ${side(c.right)}`]),
      `ORDER BY ${groups.map(id).join(', ')}`,
    ].join(' ');
  }
  if (!plan.aggregate) {
    const conditions = where(plan, true);
    const columns = [...new Set(plan.listColumns)];
    return [
      `SELECT ${columns.map(id).join(', ')}`,
      from,
      ...(conditions.length > 0 ? [`WHERE ${conditions.join(' AND ')}`] : []),
      ...(plan.orderByTime ? [`ORDER BY ${id(plan.orderByTime)} DESC`] : []),
      ...(plan.limit !== undefined ? [`LIMIT ${plan.limit}`] : []),
    ].join(' ');
  }
  const { expression, alias } = aggregateExpression(plan);
  const grouped = plan.groupBy.length > 0;
  // A comparison on the measure filters rows when nothing is grouped, groups otherwise.
  const conditions = where(plan, !grouped);
  const having = grouped ? plan.measureConditions.map((c) => condition(expression, c)) : [];
  const order = grouped
    ? plan.limit !== undefined
      ? `ORDER BY ${id(alias)} ${plan.descending === false ? 'ASC' : 'DESC'}`
      : `ORDER BY ${plan.groupBy.map(id).join(', ')}`
    : undefined;
  return [
    `SELECT ${[...plan.groupBy.map(id), `${expression} AS ${id(alias)}`].join(', ')}`,
    from,
    ...(conditions.length > 0 ? [`WHERE ${conditions.join(' AND ')}`] : []),
    ...(grouped ? [`GROUP BY ${plan.groupBy.map(id).join(', ')}`] : []),
    ...(having.length > 0 ? [`HAVING ${having.join(' AND ')}`] : []),
    ...(order ? [order] : []),
    ...(plan.limit !== undefined && grouped ? [`LIMIT ${plan.limit}`] : []),
  ].join(' ');
}

const words = (name: string) => name.replace(/_/g, ' ');

/** The plan in words: what the answer is, so the user can tell whether it was understood. */
export function describePlan(plan: Plan): string {
  const parts: string[] = [];
  if (plan.compare) {
    const c = plan.compare;
    parts.push(
      `${words(plan.measure!)} of ${words(c.left)} against ${words(c.right)} per ${(plan.groupBy.length ? plan.groupBy : ['org_unit']).map(words).join(' and ')}${c.op === 'all' ? '' : `, where ${words(c.left)} is ${c.op === '>' ? 'higher' : c.op === '<' ? 'lower' : 'different'}`}`,
    );
  } else if (!plan.aggregate) {
    parts.push(`${plan.table} rows (${plan.listColumns.map(words).join(', ')})`);
  } else {
    const what =
      plan.aggregate === 'count'
        ? plan.countDistinct
          ? `number of different ${words(plan.countDistinct)} values`
          : `number of ${plan.table} rows`
        : `${{ sum: 'total', avg: 'average', min: 'lowest', max: 'highest' }[plan.aggregate]} ${words(plan.measure!)}`;
    parts.push(
      `${plan.limit !== undefined ? `${plan.descending === false ? 'bottom' : 'top'} ${plan.limit} by ` : ''}${what}`,
    );
    if (plan.groupBy.length > 0) parts.push(`by ${plan.groupBy.map(words).join(' and ')}`);
  }
  const filters = plan.filters.map((f) =>
    f.kind === 'time'
      ? `${words(f.column)} in ${f.range.words} (${f.range.from} to before ${f.range.to})`
      : f.kind === 'quarters'
        ? `${words(f.column)} in ${quartersIn(f.range).join(', ')} (${f.range.words})`
        : `${words(f.column)} ${f.kind === 'in' ? 'is' : 'is not'} ${f.values.join(' or ')}`,
  );
  for (const c of plan.measureConditions) {
    const op = { '>': 'over', '>=': 'at least', '<': 'under', '<=': 'at most', between: 'between' }[c.op];
    filters.push(
      c.counted
        ? `number of rows ${op} ${c.value}${c.value2 ? ` and ${c.value2}` : ''}`
        : `${plan.groupBy.length > 0 && !plan.compare ? `${plan.aggregate === 'sum' ? 'total' : plan.aggregate} ` : ''}${words(c.column)} ${op} ${c.value}${c.value2 ? ` and ${c.value2}` : ''}`,
    );
  }
  if (filters.length > 0) parts.push(`where ${filters.join(', ')}`);
  return `${parts.join(', ')} (table ${plan.table})`.replace(/^./, (c) => c.toUpperCase());
}
