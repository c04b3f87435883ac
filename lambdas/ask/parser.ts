/**
 * The offline engine: a deterministic reading of a question over the catalog (catalog.ts), turned
 * into a structure (a Plan) and then into SQL (sql.ts). Nothing the user typed is copied into
 * SQL: identifiers are catalog columns, string values are the catalog's own values the question
 * matched, numbers and dates are parsed and re-printed.
 *
 * What it reads:
 * - the table: the words of each table (catalog.ts TABLE_WORDS), its columns' synonyms and values;
 * - aggregations: total/sum/how much, count/how many/number of, average/mean, min/lowest,
 *   max/highest; `how many <things>` counts distinct values of the column named;
 * - grouping: "by X", "per X", "for each X", "broken down by X";
 * - filters: values of low-cardinality columns (case- and accent-insensitive; "not X" negates),
 *   comparisons on a measure ("over 10,000", "at least 5k", "under 100", "between 1 and 5");
 * - ranking: "top 5", "bottom 3";
 * - time: "today", "yesterday", "last 5 days|weeks|months", "this|last week|month|quarter|year",
 *   "October 2024", "2024-10", "in 2024", "Q1 2025", "since Monday", "since 2025-03-01",
 *   relative to the injected clock (UTC);
 * - templates compared ("plan more heads than the roster"): the measure per template side by side.
 * A question with no table, or nothing it can compute, is refused with questions it can answer.
 */
import { TABLE_WORDS } from './catalog';
import { buildSql, describePlan, type Filter, type Plan, type TimeRange } from './sql';
import type { AskCatalog, AskColumn, AskTable, Interpretation } from './types';

/** Lower case, accents removed, punctuation other than what numbers and dates use turned to spaces. */
export function normalize(text: string): string {
  return ` ${text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[’‘`]/g, "'")
    .replace(/'s\b/g, '')
    .replace(/(\d),(\d{3})/g, '$1$2')
    .replace(/[^a-z0-9.$%'\- ]+/g, ' ')
    .replace(/(?<![0-9])[.](?![0-9])/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()} `;
}

const phrase = (text: string) => normalize(text).trim();

/** Where a whole phrase occurs in the normalized question (word boundaries), or -1. */
function find(q: string, words: string): number {
  const p = phrase(words);
  if (!p) return -1;
  return q.indexOf(` ${p} `);
}
const has = (q: string, words: string) => find(q, words) >= 0;
const hasAny = (q: string, list: readonly string[]) => list.some((w) => has(q, w));

const MONTHS = [
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
];
const MONTH_ABBR = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

const SUM_WORDS = ['total', 'sum', 'sum of', 'how much', 'spent', 'spend', 'spending', 'overall'];
const COUNT_WORDS = ['how many', 'number of', 'count', 'count of'];
const AVG_WORDS = ['average', 'avg', 'mean'];
const MAX_WORDS = ['maximum', 'max', 'highest', 'largest', 'biggest', 'most expensive'];
const MIN_WORDS = ['minimum', 'min', 'lowest', 'smallest', 'cheapest', 'least expensive'];
const LIST_WORDS = [
  'show',
  'list',
  'which',
  'what are',
  'what were',
  'give me',
  'find',
  'display',
  'all the',
  'get',
];
const GROUP_MARKERS = [
  'each',
  'every',
  'by',
  'per',
  'for each',
  'for every',
  'broken down by',
  'split by',
  'grouped by',
  'across',
];

/** More words for templates people name by what they hold ("planned" heads, "on the roster"). */
const TEMPLATE_WORDS: Readonly<Record<string, readonly string[]>> = {
  capacity_plan: ['planned', 'planning', 'plans'],
  org_roster: ['of record', 'hr roster'],
};

/** Approval-workflow statuses: kept in the workflow table, not in curated (docs/approvals.md). */
const WORKFLOW_STATUS =
  / (pending approval|awaiting approval|waiting for approval|needs? correction|(?:were|was|are|is|been|got|who) (?:approved|rejected)|rejected|approved by|approver|approved (?:requests?|purchase orders?|pos|forms?))/;

/** Questions that ask to change data: refused, whatever else they say. */
const WRITE_VERBS =
  /^ (delete|drop|remove|update|insert|truncate|alter|change|modify|approve|reject|erase|wipe|create|grant) /;

/** Words never corrected as typos (short function words and question words). */
const STOPWORDS = new Set(
  'about after all and are approval approve average before between count did does each every fewer from give have how into last least less list many more most much not number over per show since than that the their there this total under were what when where which who with'.split(
    ' ',
  ),
);

/** The words of the catalog: table words, column names and synonyms, values. */
function vocabulary(catalog: AskCatalog): Set<string> {
  const words = new Set<string>();
  const add = (text: string) => {
    for (const w of phrase(text).split(' ')) if (w.length >= 3) words.add(w);
  };
  for (const table of catalog.tables) {
    add(table.name.replace(/_/g, ' '));
    for (const w of TABLE_WORDS[table.name] ?? []) add(w);
    for (const c of table.columns) {
      add(c.name.replace(/_/g, ' '));
      for (const s of c.synonyms) add(s);
      for (const v of c.values ?? []) add(v.replace(/_/g, ' '));
    }
  }
  return words;
}

/** Edit distance (insert, delete, substitute, transpose), stopping early past `max`. */
function distance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [
    i,
    ...new Array<number>(b.length).fill(0),
  ]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** Words one or two edits from a catalog word (one for words up to 7 letters) read as that word. */
function correctTypos(q: string, catalog: AskCatalog): string {
  const vocab = vocabulary(catalog);
  const fixed = q
    .trim()
    .split(' ')
    .map((word) => {
      if (word.length < 4 || STOPWORDS.has(word) || vocab.has(word) || /\d/.test(word)) return word;
      if (vocab.has(word.replace(/s$/, '')) || vocab.has(`${word}s`)) return word;
      const max = word.length >= 8 ? 2 : 1;
      let best: string | undefined;
      let bestDistance = max + 1;
      for (const candidate of vocab) {
        const dist = distance(word, candidate, max);
        if (dist < bestDistance) [best, bestDistance] = [candidate, dist];
      }
      return best ?? word;
    });
  return ` ${fixed.join(' ')} `;
}

/** The future: the tables hold what landed, not forecasts. */
const FUTURE = / (tomorrow|next (?:week|month|quarter|year)|will (?:we|it|they)|forecast|predict|going to)/;
/** Words for the rows of a table: a question naming them with a filter asks for a list. */
const ROW_WORDS = [
  'requests',
  'request',
  'pos',
  'purchase orders',
  'orders',
  'lines',
  'line items',
  'rows',
  'charges',
  'entries',
  'records',
  'forms',
  'plans',
];
/** Asking for names of people no table lists. */
const NAMES_OF = / (names? of|who are) /;

/** Columns a listing shows when the question names none (the first few non-measure columns, then the measures). */
const LIST_COLUMNS = 8;

// --- time -----------------------------------------------------------------------------------

const day = (d: Date) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
const addDays = (d: Date, n: number) => new Date(d.getTime() + n * 86_400_000);
const monthStart = (y: number, m: number) => new Date(Date.UTC(y, m, 1));
const quarterStart = (y: number, q: number) => monthStart(y, (q - 1) * 3);
const iso = (d: Date) => d.toISOString().slice(0, 10);

/** The time range a question names, relative to `now`; undefined when it names none. */
export function timeRange(q: string, now: Date): TimeRange | undefined {
  const today = day(now);
  const y = today.getUTCFullYear();
  const m = today.getUTCMonth();
  const range = (from: Date, to: Date, words: string): TimeRange => ({ from: iso(from), to: iso(to), words });
  const lastN =
    / (?:in the |over the |during the |within the )?(?:last|past|previous) (\d+) (day|days|week|weeks|month|months)(?: | ?$)/.exec(
      q,
    );
  if (lastN) {
    const n = Number(lastN[1]);
    const unit = lastN[2]!.replace(/s$/, '');
    const start =
      unit === 'day'
        ? addDays(today, -(n - 1))
        : unit === 'week'
          ? addDays(today, -7 * n)
          : new Date(Date.UTC(y, m - n, today.getUTCDate()));
    return range(start, addDays(today, 1), `the last ${n} ${unit}${n === 1 ? '' : 's'}`);
  }
  if (has(q, 'today')) return range(today, addDays(today, 1), 'today');
  if (has(q, 'yesterday')) return range(addDays(today, -1), today, 'yesterday');
  for (const [word, shift] of [
    ['this', 0],
    ['current', 0],
    ['last', -1],
    ['previous', -1],
  ] as const) {
    if (has(q, `${word} week`)) {
      const monday = addDays(today, -((today.getUTCDay() + 6) % 7) + 7 * shift);
      return range(monday, addDays(monday, 7), `${word} week`);
    }
    if (has(q, `${word} month`))
      return range(monthStart(y, m + shift), monthStart(y, m + shift + 1), `${word} month`);
    if (has(q, `${word} quarter`)) {
      const qs = quarterStart(y, Math.floor(m / 3) + 1 + shift);
      return range(qs, new Date(Date.UTC(qs.getUTCFullYear(), qs.getUTCMonth() + 3, 1)), `${word} quarter`);
    }
    if (has(q, `${word} year`))
      return range(monthStart(y + shift, 0), monthStart(y + shift + 1, 0), `${word} year`);
  }
  const sinceDay = / since (monday|tuesday|wednesday|thursday|friday|saturday|sunday) /.exec(q);
  if (sinceDay) {
    const back = (today.getUTCDay() - WEEKDAYS.indexOf(sinceDay[1]!) + 7) % 7;
    return range(addDays(today, -back), addDays(today, 1), `since ${sinceDay[1]}`);
  }
  const sinceDate = / (?:since|after|from) (\d{4})-(\d{2})-(\d{2}) /.exec(q);
  if (sinceDate) {
    const from = new Date(Date.UTC(Number(sinceDate[1]), Number(sinceDate[2]) - 1, Number(sinceDate[3])));
    return range(from, addDays(today, 1), `since ${iso(from)}`);
  }
  const quarterFirst = / (?:q|quarter )([1-4]) (?:of )?(\d{4}) /.exec(q);
  const yearFirst = / (\d{4}) ?-?q([1-4]) /.exec(q);
  if (quarterFirst || yearFirst) {
    const [year, quarter] = quarterFirst
      ? [Number(quarterFirst[2]), Number(quarterFirst[1])]
      : [Number(yearFirst![1]), Number(yearFirst![2])];
    const qs = quarterStart(year, quarter);
    return range(qs, new Date(Date.UTC(year, qs.getUTCMonth() + 3, 1)), `Q${quarter} ${year}`);
  }
  const monthNames = [...MONTHS.map((n, i) => [n, i] as const), ...MONTH_ABBR.map((n, i) => [n, i] as const)];
  for (const [name, index] of monthNames) {
    const named = new RegExp(` ${name} (?:of )?(\\d{4}) `).exec(q);
    if (named) {
      const year = Number(named[1]);
      return range(monthStart(year, index), monthStart(year, index + 1), `${MONTHS[index]} ${year}`);
    }
  }
  const yearMonth = / (\d{4})-(0[1-9]|1[0-2]) /.exec(q);
  if (yearMonth) {
    const [year, month] = [Number(yearMonth[1]), Number(yearMonth[2]) - 1];
    return range(monthStart(year, month), monthStart(year, month + 1), `${MONTHS[month]} ${year}`);
  }
  for (const [name, index] of monthNames) {
    if (name === 'may' && !/ in may /.test(q)) continue; // "may" is also a verb
    if (has(q, `in ${name}`) || has(q, `during ${name}`) || has(q, `for ${name}`)) {
      const year = index <= m ? y : y - 1;
      return range(monthStart(year, index), monthStart(year, index + 1), `${MONTHS[index]} ${year}`);
    }
  }
  const inYear = / (?:in|during|for) (\d{4}) /.exec(q);
  if (inYear) {
    const year = Number(inYear[1]);
    return range(monthStart(year, 0), monthStart(year + 1, 0), `${year}`);
  }
  return undefined;
}

// --- numbers --------------------------------------------------------------------------------

/** `10000`, `10k`, `$5,000`, `1.5m`, `2.5 million` -> a plain decimal string. */
function numberOf(text: string): string | undefined {
  const match = /^\$?(\d+(?:\.\d+)?)(k|m| thousand| million)?$/.exec(text.trim());
  if (!match) return undefined;
  const scale = { k: 1e3, m: 1e6, ' thousand': 1e3, ' million': 1e6 }[match[2] ?? ''] ?? 1;
  if (scale === 1) return match[1];
  const [whole, fraction = ''] = match[1]!.split('.');
  const zeros = Math.log10(scale);
  const digits = `${whole}${fraction.padEnd(zeros, '0')}`;
  const cut = whole!.length + zeros;
  const text2 = `${digits.slice(0, cut)}${digits.length > cut ? `.${digits.slice(cut)}` : ''}`;
  return text2.replace(/^0+(?=\d)/, '');
}

const NUMBER = String.raw`\$?\d+(?:\.\d+)?(?:k|m| thousand| million)?`;

interface Comparison {
  readonly op: '>' | '>=' | '<' | '<=' | 'between';
  readonly value: string;
  readonly value2?: string;
  readonly at: number;
}

function comparisons(q: string): Comparison[] {
  const found: Comparison[] = [];
  const patterns: [RegExp, Comparison['op']][] = [
    [
      new RegExp(
        ` (?:over|above|more than|greater than|exceeding|higher than|bigger than|larger than) (${NUMBER}) `,
        'g',
      ),
      '>',
    ],
    [new RegExp(` (?:at least|no less than|minimum of) (${NUMBER}) `, 'g'), '>='],
    [new RegExp(` (?:under|below|less than|fewer than|lower than|smaller than) (${NUMBER}) `, 'g'), '<'],
    [new RegExp(` (?:at most|no more than|up to|maximum of) (${NUMBER}) `, 'g'), '<='],
  ];
  for (const [pattern, op] of patterns) {
    for (const match of q.matchAll(pattern)) {
      const value = numberOf(match[1]!);
      if (value !== undefined) found.push({ op, value, at: match.index ?? 0 });
    }
  }
  for (const match of q.matchAll(new RegExp(` between (${NUMBER}) and (${NUMBER}) `, 'g'))) {
    const [a, b] = [numberOf(match[1]!), numberOf(match[2]!)];
    if (a !== undefined && b !== undefined)
      found.push({ op: 'between', value: a, value2: b, at: match.index ?? 0 });
  }
  return found;
}

// --- the catalog's words --------------------------------------------------------------------

interface Hit {
  readonly column: AskColumn;
  readonly at: number;
  readonly length: number;
}

/** Columns named in the question: the longest synonym match at each place. */
function columnHits(q: string, table: AskTable): Hit[] {
  const hits: Hit[] = [];
  for (const column of table.columns) {
    for (const synonym of [column.name, ...column.synonyms]) {
      const p = phrase(synonym);
      if (!p) continue;
      for (const variant of new Set([p, `${p}s`, p.replace(/s$/, '')])) {
        let from = 0;
        for (;;) {
          const at = q.indexOf(` ${variant} `, from);
          if (at < 0) break;
          hits.push({ column, at, length: variant.length });
          from = at + 1;
        }
      }
    }
  }
  // Keep the longest hit at overlapping places ("billed cost" over "cost").
  hits.sort((a, b) => b.length - a.length || a.at - b.at);
  const kept: Hit[] = [];
  for (const hit of hits) {
    if (kept.some((k) => hit.at < k.at + k.length + 1 && k.at < hit.at + hit.length + 1)) continue;
    kept.push(hit);
  }
  return kept.sort((a, b) => a.at - b.at);
}

interface ValueHit {
  readonly column: AskColumn;
  readonly value: string;
  readonly negated: boolean;
  readonly at: number;
  readonly length: number;
}

/** How a value reads: `pending_approval` -> "pending approval"; `capacity_plan` also "plan". */
function valueWords(column: AskColumn, value: string, table: AskTable): string[] {
  const base = phrase(value.replace(/_/g, ' '));
  const words = [base];
  // A template by its last word ("the plan", "the roster"), unless that word names the whole table.
  const last = base.split(' ').at(-1)!;
  const generic = (TABLE_WORDS[table.name] ?? []).some((w) => w === last || w === `${last}s`);
  if (column.name === 'ingest_template' && !generic) words.push(last, ...(TEMPLATE_WORDS[value] ?? []));
  if (column.name === 'compliance_status' && value === 'flagged')
    words.push('non compliant', 'not compliant');
  return words.filter((w) => w.length >= 2);
}

function valueHits(q: string, table: AskTable): ValueHit[] {
  const hits: ValueHit[] = [];
  for (const column of table.columns) {
    for (const value of column.values ?? []) {
      for (const words of valueWords(column, value, table)) {
        for (const variant of new Set([words, `${words}s`])) {
          const at = q.indexOf(` ${variant} `);
          if (at < 0) continue;
          const before = q.slice(Math.max(0, at - 12), at + 1);
          const negated =
            / (?:not|n't)(?: [a-z]+){0,2} $/.test(q.slice(Math.max(0, at - 30), at + 1)) ||
            / (not counting|excluding|except for|apart from|besides|other than|leaving out|ignoring) $/.test(
              q.slice(Math.max(0, at - 16), at + 1),
            ) ||
            / (not|except|excluding|other than|without|isn't|aren't) $/.test(before) ||
            / non $/.test(before);
          hits.push({ column, value, negated, at, length: variant.length });
        }
      }
    }
  }
  // A value several columns hold ("Microsoft": provider and invoice issuer): the column that also
  // holds the question's other values, then the column people have words for, then the shortest name.
  const support = (column: AskColumn) =>
    new Set(hits.filter((h) => h.column === column).map((h) => h.at)).size;
  const rank = (h: ValueHit) =>
    [-h.length, -support(h.column), -h.column.synonyms.length, h.column.name.length] as const;
  hits.sort((a, b) => {
    const [ra, rb] = [rank(a), rank(b)];
    for (let i = 0; i < ra.length; i++) if (ra[i] !== rb[i]) return ra[i]! - rb[i]!;
    return a.at - b.at;
  });
  const kept: ValueHit[] = [];
  for (const hit of hits) {
    if (kept.some((k) => hit.at < k.at + k.length + 1 && k.at < hit.at + hit.length + 1)) continue;
    kept.push(hit);
  }
  return kept;
}

function tableScore(q: string, table: AskTable): number {
  let score = 0;
  for (const word of TABLE_WORDS[table.name] ?? [table.name.replace(/_/g, ' ')]) if (has(q, word)) score += 3;
  if (has(q, table.name.replace(/_/g, ' '))) score += 5;
  // A longer phrase is stronger evidence ("loaded cost" over "cost").
  for (const hit of columnHits(q, table)) {
    const words = q.slice(hit.at + 1, hit.at + 1 + hit.length).split(' ').length;
    score += (table.measures.includes(hit.column.name) ? 2 : 1) * words;
  }
  const columns = columnHits(q, table);
  // A value inside a longer column name ("Units" in "org units") is not evidence.
  score +=
    2 *
    valueHits(q, table).filter(
      (v) =>
        !columns.some((h) => h.length > v.length && v.at < h.at + h.length + 1 && h.at < v.at + v.length + 1),
    ).length;
  return score;
}

/** Questions the engine answers about a table (the refusal's suggestions). */
export function suggestionsFor(table: AskTable): string[] {
  const measure = table.measures[0];
  const dims = table.columns.filter(
    (c) => c.values && c.values.length > 1 && !table.measures.includes(c.name),
  );
  const dim = dims[0]?.name.replace(/_/g, ' ');
  const value = dims[0]?.values?.[0];
  const out: string[] = [];
  if (measure && dim) out.push(`total ${measure.replace(/_/g, ' ')} by ${dim}`);
  if (measure && table.timeColumn) out.push(`total ${measure.replace(/_/g, ' ')} last month`);
  if (value && dim)
    out.push(`how many ${table.name.replace(/_/g, ' ')} rows have ${dim} ${value.replace(/_/g, ' ')}`);
  if (measure && dim) out.push(`top 5 ${dim}s by ${measure.replace(/_/g, ' ')}`);
  return out;
}

// --- the reading ----------------------------------------------------------------------------

function refusal(message: string, tables: readonly AskTable[]): Interpretation {
  return { kind: 'refusal', message, suggestions: tables.flatMap(suggestionsFor).slice(0, 8) };
}

export function interpret(question: string, catalog: AskCatalog, now: Date): Interpretation {
  const typed = normalize(question);
  const q = correctTypos(typed, catalog);
  const write = WRITE_VERBS.exec(typed);
  if (write) {
    return refusal(
      `I only read the curated tables; I cannot ${write[1]} anything. Changes come from the files teams drop (and decisions from pipeline approve).`,
      catalog.tables,
    );
  }
  if (q.trim().length === 0) return refusal('The question is empty.', catalog.tables);
  if (question.length > 500)
    return refusal('The question is longer than 500 characters; ask one thing at a time.', catalog.tables);
  const scored = catalog.tables
    .map((table) => ({ table, score: tableScore(q, table) }))
    .sort((a, b) => b.score - a.score);
  const best = scored[0];
  if (!best || best.score === 0) {
    return refusal(
      `I could not tell which data this question is about. I answer questions about ${catalog.tables.map((t) => t.name).join(', ')}.`,
      catalog.tables,
    );
  }
  if (scored[1] && scored[1].score === best.score) {
    return refusal(
      `The question could be about ${best.table.name} or ${scored[1].table.name}; name the data (for example "billing", "capacity plan", "purchase requests").`,
      [best.table, scored[1].table],
    );
  }
  const table = best.table;
  const future = FUTURE.exec(typed);
  if (future) {
    return refusal(
      `The tables hold what has landed, not forecasts ("${future[1]}"): ask about a period that has passed.`,
      [table],
    );
  }
  const names = NAMES_OF.exec(q);
  if (names) {
    const after = columnHits(q.slice(names.index + names[0].length - 1), table)[0];
    if (!after || table.measures.includes(after.column.name)) {
      return refusal(
        `${table.name} lists no names of those (it holds ${table.measures.join(', ')} as numbers).`,
        [table],
      );
    }
  }
  const workflow = WORKFLOW_STATUS.exec(typed) ?? WORKFLOW_STATUS.exec(q);
  if (
    workflow &&
    !table.columns.some((c) =>
      c.values?.some((v) => phrase(v.replace(/_/g, ' ')).includes(phrase(workflow[1]!))),
    )
  ) {
    return refusal(
      `"${workflow[1]}" is a status of the approval workflow, which is not in the curated tables (they hold each request's compliance status). The approval queue answers it: npm run pipeline -- requests --status pending_approval (or approved, rejected, needs_correction; --overdue DAYS).`,
      [table],
    );
  }
  const plan = planFor(q, table, now);
  if (typeof plan === 'string') return refusal(plan, [table]);
  return {
    kind: 'answer',
    interpretation: describePlan(plan),
    sql: buildSql(plan, catalog.database),
    tables: [table.name],
  };
}

function planFor(q: string, table: AskTable, now: Date): Plan | string {
  const hits = columnHits(q, table);
  // A word that names a measure ("spend") is the measure, not a value that happens to read the same.
  const measureWords = hits.filter((h) => table.measures.includes(h.column.name));
  const overlaps = (a: { at: number; length: number }, b: { at: number; length: number }) =>
    a.at < b.at + b.length + 1 && b.at < a.at + a.length + 1;
  const values = valueHits(q, table).filter(
    (v) =>
      !measureWords.some((m) => m.length >= v.length && overlaps(m, v)) &&
      // "org units" is the column, not the value "Units" of another column.
      !hits.some((h) => h.length > v.length && overlaps(h, v)),
  );
  // A column named only because one of its values is ("pending approval" is not the column
  // "approval"): value hits win over column hits at the same place.
  const columnsNamed = hits.filter(
    (h) => !values.some((v) => h.at < v.at + v.length + 1 && v.at < h.at + h.length + 1),
  );
  const measureHits = columnsNamed.filter((h) => table.measures.includes(h.column.name));
  const costly = hasAny(q, ['expensive', 'cheapest', 'cheap', 'costly', 'cost the most', 'cost the least']);
  const costMeasure = table.measures.find((m) =>
    table.columns.find((c) => c.name === m)?.synonyms.some((w) => w === 'cost' || w === 'amount'),
  );
  const measure = measureHits[0]?.column.name ?? (costly ? costMeasure : undefined) ?? table.measures[0];

  // Grouping: "by X", "per X", ...
  const groupBy: string[] = [];
  for (const hit of columnsNamed) {
    const before = q.slice(0, hit.at + 1);
    const afterMarker =
      GROUP_MARKERS.some((m) => before.endsWith(` ${m} `)) ||
      /(?: by| per| each) (?:[a-z]+ )?(?:and )$/.test(before);
    if (afterMarker && !table.measures.includes(hit.column.name) && !groupBy.includes(hit.column.name)) {
      // "sorted by", "ordered by" name an order, not a group.
      if (/ (?:sorted|ordered|rank|ranked) by $/.test(before)) continue;
      groupBy.push(hit.column.name);
    }
  }
  // "which org units ..." / "what services ...": the entity the question asks for is a group.
  const which =
    / (?:which|what) ([a-z ]+?) (?:have|has|had|plan|planned|spent|spend|cost|are|is|were|did|do|with|in|over|above|more|exceed|the)/.exec(
      q,
    );
  if (which) {
    const entity = columnsNamed.find(
      (h) =>
        h.at === which.index + ` ${which[0].split(' ')[1]} `.length - 1 ||
        q.slice(h.at, h.at + h.length + 2).includes(which[1]!.split(' ')[0]!),
    );
    if (
      entity &&
      !table.measures.includes(entity.column.name) &&
      !groupBy.includes(entity.column.name) &&
      !entity.column.values?.includes(which[1]!)
    ) {
      if (
        hasAny(q, [
          ...SUM_WORDS,
          ...COUNT_WORDS,
          ...AVG_WORDS,
          ...MAX_WORDS,
          ...MIN_WORDS,
          'more',
          'than',
          'most',
          'least',
        ]) ||
        measureHits.length > 0
      )
        groupBy.push(entity.column.name);
    }
  }

  // "which 3 regions cost the most", "which location has the most heads": a ranking of that entity.
  const ranked =
    / (?:which|what) (?:(\d{1,3}) )?([a-z ]+?) (?:has|have|had|cost|costs|spent|spend|were|was|are|is|did|with)\b.*? (most|highest|largest|biggest|least|lowest|smallest|cheapest)(?: |$)/.exec(
      q,
    );
  let rank: { limit: number; descending: boolean } | undefined;
  if (ranked) {
    const end = ranked.index + 1 + ranked[0].indexOf(ranked[2]!) + ranked[2]!.length;
    const entity = columnsNamed.find(
      (h) => h.at >= ranked.index && h.at < end && !table.measures.includes(h.column.name),
    );
    if (entity) {
      if (!groupBy.includes(entity.column.name)) groupBy.push(entity.column.name);
      rank = {
        limit: ranked[1] ? Number(ranked[1]) : 1,
        descending: !/least|lowest|smallest|cheapest/.test(ranked[3]!),
      };
    }
  }

  // "top 5 services by cost": the entity after "top N" is a group.
  const topEntity = / (?:top|bottom) \d{1,3} /.exec(q);
  if (topEntity) {
    const after = topEntity.index + topEntity[0].length - 1;
    const entity = columnsNamed.find((h) => h.at === after && !table.measures.includes(h.column.name));
    if (entity && !groupBy.includes(entity.column.name)) groupBy.push(entity.column.name);
  }

  // Filters: values named, and the time range.
  const filters: Filter[] = [];
  const byColumn = new Map<string, ValueHit[]>();
  for (const hit of [...values].sort((a, b) => a.at - b.at))
    byColumn.set(hit.column.name, [...(byColumn.get(hit.column.name) ?? []), hit]);
  // Templates compared: both sides of ingest_template named with "than" / "compare" / "vs".
  const templates = byColumn.get('ingest_template') ?? [];
  let compare: Plan['compare'];
  if (
    templates.length >= 2 &&
    (has(q, 'than') || hasAny(q, ['compare', 'compared', 'versus', 'vs', 'differ', 'different']))
  ) {
    const [left, right] = [...templates].sort((a, b) => a.at - b.at);
    const op = hasAny(q, ['fewer', 'less', 'lower'])
      ? '<'
      : hasAny(q, ['more', 'higher', 'greater', 'over'])
        ? '>'
        : hasAny(q, ['differ', 'different', 'disagree', 'mismatch'])
          ? '<>'
          : 'all';
    compare = { column: 'ingest_template', left: left!.value, right: right!.value, op };
    byColumn.delete('ingest_template');
  }
  const versus = hasAny(q, ['vs', 'versus', 'compared to', 'compare', 'against', 'each of']);
  for (const [column, hitsOf] of byColumn) {
    const positive = hitsOf.filter((h) => !h.negated).map((h) => h.value);
    // "AWS vs Microsoft": one row per value named.
    if (versus && new Set(positive).size >= 2 && !groupBy.includes(column)) groupBy.push(column);
    const negative = hitsOf.filter((h) => h.negated).map((h) => h.value);
    if (positive.length > 0) filters.push({ kind: 'in', column, values: [...new Set(positive)] });
    if (negative.length > 0) filters.push({ kind: 'not_in', column, values: [...new Set(negative)] });
  }
  const range = timeRange(q, now);
  if (range) {
    const quarterColumn = table.columns.find((c) => c.name === 'quarter' && c.type === 'string');
    if (table.timeColumn) filters.push({ kind: 'time', column: table.timeColumn, range });
    else if (quarterColumn) filters.push({ kind: 'quarters', column: 'quarter', range });
    else return `${table.name} has no date to filter "${range.words}" on.`;
  }

  // Aggregation.
  const howManyOf =
    /(?:how many|number of|count of|count) (?:different |distinct |unique )?([a-z ]+?)(?: are| were| is| have| has| did| do| in| for| with| from| by| per| that| this| last| over| under|$| \?)/.exec(
      `${q.trim()} `,
    );
  // "how many planned hires", "number of staff": a count of a measure is its total.
  const countOfMeasure =
    howManyOf !== null &&
    measureHits.some((h) => h.at >= howManyOf.index && h.at <= howManyOf.index + howManyOf[0].length);
  const explicitGroup = columnsNamed.some(
    (h) =>
      groupBy.includes(h.column.name) && GROUP_MARKERS.some((m) => q.slice(0, h.at + 1).endsWith(` ${m} `)),
  );
  const rowsAsked = hasAny(q, ROW_WORDS) || has(q, table.name.replace(/_/g, ' '));
  const explicitAggregate = hasAny(q, [
    ...SUM_WORDS,
    ...COUNT_WORDS,
    ...AVG_WORDS,
    ...MAX_WORDS,
    ...MIN_WORDS,
    'top',
    'bottom',
  ]);
  let aggregate: Plan['aggregate'];
  if (compare) aggregate = 'sum';
  else if (countOfMeasure) aggregate = 'sum';
  else if (hasAny(q, COUNT_WORDS)) aggregate = 'count';
  else if (hasAny(q, AVG_WORDS)) aggregate = 'avg';
  else if (rank || hasAny(q, ['top', 'bottom'])) aggregate = 'sum';
  else if (hasAny(q, MAX_WORDS) && (groupBy.length === 0 || explicitGroup)) aggregate = 'max';
  else if (hasAny(q, MIN_WORDS) && (groupBy.length === 0 || explicitGroup)) aggregate = 'min';
  else if (!explicitAggregate && rowsAsked && groupBy.length === 0) aggregate = undefined;
  else if (hasAny(q, SUM_WORDS) || measureHits.length > 0 || groupBy.length > 0) aggregate = 'sum';
  let countDistinct: string | undefined;
  if (aggregate === 'count' && howManyOf) {
    const thing = howManyOf[1]!.trim();
    const entity = columnsNamed.find(
      (h) =>
        !table.measures.includes(h.column.name) &&
        thing.length > 0 &&
        q.slice(h.at + 1, h.at + 1 + h.length) === thing.slice(thing.length - h.length),
    );
    if (entity && !groupBy.includes(entity.column.name) && entity.column.name !== 'request_id')
      countDistinct = entity.column.name;
  }
  // A list: asked for with a list word and something of the table named (not a value alone), or
  // rows named with a filter ("requests from Platform", "POs submitted since Monday").
  const somethingNamed =
    columnsNamed.length > 0 || rowsAsked || (TABLE_WORDS[table.name] ?? []).some((w) => has(q, w));
  const filtered = values.length > 0 || range !== undefined || comparisons(q).length > 0;
  const listing =
    !aggregate &&
    ((somethingNamed && (hasAny(q, LIST_WORDS) || / (?:what|who) /.test(q))) || (rowsAsked && filtered));
  if (!aggregate && !listing) {
    return `I found ${table.name} in the question but not what to compute: ask for a total, a count, an average, a list, or a breakdown "by" a column.`;
  }
  if (aggregate && aggregate !== 'count' && !measure) return `${table.name} has no measure to ${aggregate}.`;

  // Comparisons apply to the measure: on rows of a listing, on groups of a breakdown; "with at
  // least 2 requests" counts rows per group.
  const conditions = comparisons(q);
  const countCondition = conditions.find((c) =>
    ROW_WORDS.some((w) => q.slice(c.at).match(new RegExp(`^ [a-z ]*?${c.value2 ?? c.value} ${phrase(w)} `))),
  );
  if (countCondition) {
    const entity = columnsNamed.find(
      (h) => h.at < countCondition.at && !table.measures.includes(h.column.name),
    );
    if (entity && !groupBy.includes(entity.column.name)) groupBy.push(entity.column.name);
    if (groupBy.length > 0) aggregate = 'count';
  }
  const top = / (top|bottom|first|last) (\d{1,3}) (?!(?:day|week|month|quarter|year)s? )/.exec(q);
  const limit = top ? Number(top[2]) : rank?.limit;
  const descending = top ? top[1] !== 'bottom' : (rank?.descending ?? true);

  const plan: Plan = {
    table: table.name,
    aggregate,
    ...(aggregate && aggregate !== 'count' ? { measure } : {}),
    ...(countDistinct ? { countDistinct } : {}),
    groupBy,
    filters,
    measureConditions: conditions.map((c) => ({
      ...(c === countCondition ? { counted: true } : {}),
      op: c.op,
      value: c.value,
      ...(c.value2 ? { value2: c.value2 } : {}),
      column: measure!,
    })),
    ...(compare ? { compare } : {}),
    ...(limit !== undefined ? { limit, descending } : {}),
    listColumns: listing ? listColumns(table, columnsNamed, values) : [],
    orderByTime: listing ? table.timeColumn : undefined,
  };
  return plan;
}

function listColumns(table: AskTable, named: readonly Hit[], values: readonly ValueHit[]): string[] {
  const hidden = new Set(['compliance_findings', 'line_items']);
  const base = table.columns
    .filter((c) => !hidden.has(c.name) && !c.name.startsWith('ingest_'))
    .slice(0, LIST_COLUMNS)
    .map((c) => c.name);
  const extra = [...named.map((h) => h.column.name), ...values.map((v) => v.column.name)].filter(
    (c) => !base.includes(c) && !hidden.has(c),
  );
  return [...base, ...extra, ...table.measures.filter((m) => !base.includes(m))];
}
