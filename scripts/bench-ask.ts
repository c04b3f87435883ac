/**
 * Evaluation of the offline ask engine (issue 14): every question of bench/questions.jsonl asked
 * with `askLocally(question, { stateDir, now })` (local/ask.ts) against a local state built from
 * the three shipped datasets' samples, the answer compared with the expected result set.
 *
 *   npm run bench:ask                       (builds a fresh state in a temp folder: three
 *                                            `pipeline run`s, a few minutes; writes
 *                                            bench/results/ask.json and ask.md)
 *   npm run bench:ask -- --state DIR        (reuses a state built the same way; recorded)
 *   npm run bench:ask -- --only cb-05,po-02 (a few questions; the results files are not written)
 *
 * How results are compared (the expected answers are result sets, not SQL; bench/ask-questions.ts
 * recomputes them with its reference SQL):
 * - Column names are not compared, only values. When the answer has as many columns as expected,
 *   columns are compared by position. When the answer has more columns (a listing that shows the
 *   request's vendor and amount besides its id, a comparison that shows both counts), it is
 *   correct when each expected column matches a distinct answer column, in any order; such an
 *   answer is counted in `correct` and also reported as `correct_with_extra_columns`. Fewer columns
 *   than expected is wrong.
 * - Rows: the same number of rows; compared as a multiset (order-insensitive) unless the question
 *   is `ordered` (a ranking without ties), then row by row. An expected empty result is matched by
 *   any empty answer that is not a refusal.
 * - Numbers are compared as decimals: `20.52`, `"20.520000"` and `"20.520000000000000000"` are
 *   equal; integers and decimal strings too (`9` and `"9.000000"`). When either side is a binary
 *   double (a JSON number with a fraction: averages) they are equal within a relative 1e-9.
 * - Timestamps (ISO strings) are compared as instants; other strings exactly (case-sensitive);
 *   null equals only null.
 * - A question is "refused" when the answer carries `refused` (or no SQL). An exception thrown by
 *   askLocally is an error: neither an answer nor a refusal, listed in the misses.
 * - `accuracy` = correct / answerable questions (refusing an answerable question is a miss);
 *   `refused_correctly` counts refusal questions refused; `wrong_on_refusal` counts refusal
 *   questions answered anyway (must be 0).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { AskAnswer } from '../lambdas/ask/types';
import { askLocally } from '../local/ask';
import { REPO_ROOT } from '../local/processes';

/** The three runs of the demo state (issue 14): billing + plan v1 + roster, plan v2, the purchase orders. */
export const BUILD_RUNS: readonly (readonly string[])[] = [
  [
    'samples/cloud_billing/focus_sample.csv',
    'samples/workforce_capacity/capacity_plan_2025Q1_v1.csv',
    'samples/workforce_capacity/org_roster_2025Q1.csv',
  ],
  ['samples/workforce_capacity/capacity_plan_2025Q1_v2.csv'],
  [
    'samples/purchase_orders/intake_export_2025-03.csv',
    'samples/purchase_orders/intake_export_2025-03_v2.xlsx',
    'samples/purchase_orders/request_form_PO-1008.xlsx',
    'samples/purchase_orders/request_form_PO-1009.xlsx',
  ],
];

export interface ResultSet {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly unknown[])[];
}

export interface BenchQuestion {
  readonly id: string;
  readonly question: string;
  readonly now: string;
  readonly expected: ResultSet | null;
  readonly refuse: boolean;
  readonly ordered: boolean;
  readonly note: string;
}

type Canonical =
  | { readonly kind: 'null' }
  | { readonly kind: 'decimal'; readonly text: string; readonly value: number }
  | { readonly kind: 'double'; readonly value: number }
  | { readonly kind: 'instant'; readonly ms: number }
  | { readonly kind: 'string'; readonly text: string };

const DECIMAL = /^[-+]?\d+(\.\d+)?$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$/;

/** `-0012.3400` -> `-12.34`; `5.000` -> `5`. */
function canonicalDecimal(text: string): string {
  let s = text.replace(/^\+/, '');
  const negative = s.startsWith('-');
  if (negative) s = s.slice(1);
  let [whole, fraction = ''] = s.split('.') as [string, string?];
  whole = whole.replace(/^0+(?=\d)/, '');
  fraction = fraction.replace(/0+$/, '');
  const out = fraction ? `${whole}.${fraction}` : whole;
  return negative && out !== '0' ? `-${out}` : out;
}

function canonical(value: unknown): Canonical {
  if (value === null || value === undefined) return { kind: 'null' };
  if (typeof value === 'bigint') return { kind: 'decimal', text: value.toString(), value: Number(value) };
  if (typeof value === 'number') {
    return Number.isInteger(value)
      ? { kind: 'decimal', text: canonicalDecimal(String(value)), value }
      : { kind: 'double', value };
  }
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if (DECIMAL.test(trimmed))
      return { kind: 'decimal', text: canonicalDecimal(trimmed), value: Number(trimmed) };
    if (ISO_TIME.test(trimmed)) {
      const ms = Date.parse(trimmed.replace(' ', 'T'));
      if (!Number.isNaN(ms)) return { kind: 'instant', ms };
    }
    return { kind: 'string', text: value };
  }
  if (typeof value === 'boolean') return { kind: 'string', text: String(value) };
  return { kind: 'string', text: JSON.stringify(value) };
}

const closeEnough = (a: number, b: number) =>
  a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));

export function valuesEqual(expected: unknown, got: unknown): boolean {
  const a = canonical(expected);
  const b = canonical(got);
  if (a.kind === 'null' || b.kind === 'null') return a.kind === b.kind;
  if (a.kind === 'decimal' && b.kind === 'decimal') return a.text === b.text;
  if ((a.kind === 'decimal' || a.kind === 'double') && (b.kind === 'decimal' || b.kind === 'double'))
    return closeEnough(a.value, b.value);
  if (a.kind === 'instant' && b.kind === 'instant') return a.ms === b.ms;
  if (a.kind === 'string' && b.kind === 'string') return a.text === b.text;
  return false;
}

function rowsEqual(
  expected: readonly (readonly unknown[])[],
  got: readonly (readonly unknown[])[],
  mapping: readonly number[],
  ordered: boolean,
): boolean {
  if (expected.length !== got.length) return false;
  const rowEqual = (e: readonly unknown[], g: readonly unknown[]) =>
    mapping.every((gi, ei) => valuesEqual(e[ei], g[gi]));
  if (ordered) return expected.every((row, i) => rowEqual(row, got[i]!));
  // Multiset: every expected row takes one unused equal answer row (rows are few).
  const used = new Set<number>();
  return expected.every((row) => {
    const j = got.findIndex((g, k) => !used.has(k) && rowEqual(row, g));
    if (j < 0) return false;
    used.add(j);
    return true;
  });
}

/** Injective mappings of `width` expected columns onto `available` answer columns. */
function* mappings(width: number, available: number, prefix: number[] = []): Generator<number[]> {
  if (prefix.length === width) {
    yield prefix;
    return;
  }
  for (let i = 0; i < available; i++)
    if (!prefix.includes(i)) yield* mappings(width, available, [...prefix, i]);
}

export type Comparison =
  | { readonly equal: true; readonly shape: 'exact' | 'extra_columns' | 'empty' }
  | { readonly equal: false; readonly why: string };

export function compareResults(expected: ResultSet, got: ResultSet, ordered: boolean): Comparison {
  if (expected.rows.length === 0)
    return got.rows.length === 0
      ? { equal: true, shape: 'empty' }
      : { equal: false, why: `expected no rows, got ${got.rows.length}` };
  if (got.rows.length !== expected.rows.length)
    return { equal: false, why: `expected ${expected.rows.length} row(s), got ${got.rows.length}` };
  const width = expected.rows[0]!.length;
  const gotWidth = got.rows[0]?.length ?? got.columns.length;
  if (gotWidth < width) return { equal: false, why: `expected ${width} column(s), got ${gotWidth}` };
  const byPosition = Array.from({ length: width }, (_, i) => i);
  if (gotWidth === width)
    return rowsEqual(expected.rows, got.rows, byPosition, ordered)
      ? { equal: true, shape: 'exact' }
      : { equal: false, why: ordered ? 'values or order differ' : 'values differ' };
  for (const mapping of mappings(width, gotWidth))
    if (rowsEqual(expected.rows, got.rows, mapping, ordered)) return { equal: true, shape: 'extra_columns' };
  return { equal: false, why: `no ${width} of the answer's ${gotWidth} columns hold the expected values` };
}

type Outcome = 'correct' | 'wrong' | 'refused' | 'error';

interface Graded {
  readonly id: string;
  readonly question: string;
  readonly now: string;
  readonly refuse: boolean;
  readonly outcome: Outcome;
  readonly why?: string;
  readonly shape?: string;
  readonly seconds: number;
  readonly interpretation: string | null;
  readonly sql: string | null;
  readonly refusal: string | null;
  readonly got: ResultSet | null;
  readonly expected: ResultSet | null;
  readonly ordered: boolean;
  readonly note: string;
}

export function loadQuestions(file = path.join(REPO_ROOT, 'bench', 'questions.jsonl')): BenchQuestion[] {
  return readFileSync(file, 'utf-8')
    .split('\n')
    .filter((line) => line.trim() && !line.trimStart().startsWith('//'))
    .map((line) => JSON.parse(line) as BenchQuestion);
}

function buildState(dir: string): number {
  const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
  const started = Date.now();
  for (const files of BUILD_RUNS) {
    console.error(`pipeline run ${files.join(' ')}`);
    const result = spawnSync(tsx, ['bin/pipeline.ts', 'run', ...files, '--state', dir], {
      cwd: REPO_ROOT,
      encoding: 'utf-8',
      maxBuffer: 256 * 1024 * 1024,
    });
    if (result.status !== 0)
      throw new Error(
        `pipeline run ${files.join(' ')} failed:\n${result.stderr.slice(-3000)}${result.stdout.slice(-2000)}`,
      );
  }
  return (Date.now() - started) / 1000;
}

async function grade(q: BenchQuestion, stateDir: string): Promise<Graded> {
  const base = {
    id: q.id,
    question: q.question,
    now: q.now,
    refuse: q.refuse,
    ordered: q.ordered,
    note: q.note,
  };
  const started = process.hrtime.bigint();
  let answer: AskAnswer;
  try {
    answer = await askLocally(q.question, { stateDir, now: new Date(q.now) });
  } catch (error) {
    return {
      ...base,
      outcome: 'error',
      why: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
      interpretation: null,
      sql: null,
      refusal: null,
      got: null,
      expected: q.expected,
    };
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const refused = answer.refused !== undefined || answer.sql === null;
  const common = {
    ...base,
    seconds,
    interpretation: answer.interpretation,
    sql: answer.sql,
    refusal: answer.refused?.message ?? null,
    got: refused ? null : { columns: [...answer.columns], rows: answer.rows.map((r) => [...r]) },
    expected: q.expected,
  };
  if (refused) return { ...common, outcome: 'refused' };
  if (q.refuse || !q.expected)
    return { ...common, outcome: 'wrong', why: 'answered a question that should be refused' };
  const c = compareResults(q.expected, { columns: answer.columns, rows: answer.rows }, q.ordered);
  return c.equal
    ? { ...common, outcome: 'correct', shape: c.shape }
    : { ...common, outcome: 'wrong', why: c.why };
}

const MAX_ROWS_SHOWN = 12;
const shown = (r: ResultSet | null) =>
  r && { columns: r.columns, rows: r.rows.slice(0, MAX_ROWS_SHOWN), total_rows: r.rows.length };

function markdown(result: Record<string, unknown>, graded: readonly Graded[]): string {
  const s = result as {
    command: string;
    date: string;
    machine: { cpus: number; node: string; load_average: number[] };
    state: string;
    state_build_s: number | null;
    questions: number;
    answerable: number;
    answered: number;
    correct: number;
    correct_with_extra_columns: number;
    accuracy: number;
    refuse_questions: number;
    refused_correctly: number;
    wrong_on_refusal: number;
    refused_answerable: number;
    errors: number;
    seconds_per_question_median: number;
  };
  const cell = (text: string | null | undefined) =>
    (text ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ').slice(0, 300);
  const compact = (r: ResultSet | null) => {
    if (!r) return '';
    const rows = r.rows.slice(0, 4).map((row) => JSON.stringify(row));
    return `${rows.join(' ')}${r.rows.length > 4 ? ` … (${r.rows.length} rows)` : ''}${r.rows.length === 0 ? '(no rows)' : ''}`;
  };
  const misses = graded.filter((g) => (g.refuse ? g.outcome !== 'refused' : g.outcome !== 'correct'));
  const lines = [
    '# Ask benchmark (offline engine)',
    '',
    `Command: \`${s.command}\` (measured ${s.date}, ${s.machine.cpus} cores, load average ${s.machine.load_average.join(' ')} at the start, Node ${s.machine.node}). ` +
      `State: ${s.state}${s.state_build_s !== null ? ` (built from scratch in ${s.state_build_s.toFixed(0)} s: the three pipeline runs of the samples)` : ''}. ` +
      'Questions and expected result sets: `bench/questions.jsonl` (regenerated by `bench/ask-questions.ts` from the reference SQL); ' +
      'comparison rules in the header of `scripts/bench-ask.ts` (values only, decimals as decimals, order-insensitive unless ordered, extra answer columns allowed).',
    '',
    '| measure | value | target | |',
    '| --- | --- | --- | --- |',
    `| accuracy (correct / answerable) | ${s.accuracy.toFixed(3)} (${s.correct} / ${s.answerable}) | >= 0.9 | ${s.accuracy >= 0.9 ? 'met' : 'NOT met'} |`,
    `| wrong answers on refusal questions | ${s.wrong_on_refusal} | 0 | ${s.wrong_on_refusal === 0 ? 'met' : 'NOT met'} |`,
    `| refusal questions refused | ${s.refused_correctly} / ${s.refuse_questions} | | |`,
    `| questions | ${s.questions} | | |`,
    `| answered (not refused, no error) | ${s.answered} | | |`,
    `| correct with extra columns in the answer | ${s.correct_with_extra_columns} | | |`,
    `| answerable questions refused | ${s.refused_answerable} | | |`,
    `| errors (askLocally threw) | ${s.errors} | | |`,
    `| seconds per question (median, catalog read included) | ${s.seconds_per_question_median} | | |`,
    '',
    `## Misses (${misses.length})`,
    '',
  ];
  if (misses.length === 0) lines.push('None.');
  else {
    lines.push(
      '| id | question | outcome | expected | got | interpretation | SQL |',
      '| --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const m of misses)
      lines.push(
        `| ${m.id} | ${cell(m.question)} | ${cell(m.outcome === 'wrong' || m.outcome === 'error' ? `${m.outcome}: ${m.why}` : m.outcome)} | ${cell(m.refuse ? 'refusal' : compact(m.expected))} | ${cell(m.outcome === 'refused' ? `refused: ${m.refusal}` : compact(m.got))} | ${cell(m.interpretation)} | ${cell(m.sql)} |`,
      );
  }
  lines.push('');
  return lines.join('\n');
}

async function main() {
  const { values } = parseArgs({
    options: { state: { type: 'string' }, only: { type: 'string' }, keep: { type: 'boolean' } },
  });
  const only = values.only?.split(',').map((s) => s.trim());
  const questions = loadQuestions().filter((q) => !only || only.includes(q.id));
  const loadAtStart = loadavg().map((n) => Number(n.toFixed(2)));
  const date = new Date().toISOString();
  let stateDir = values.state;
  let built: string | undefined;
  let buildSeconds: number | null = null;
  if (!stateDir) {
    built = mkdtempSync(path.join(tmpdir(), 'bench-ask-'));
    stateDir = built;
    buildSeconds = buildState(built);
  }
  const graded: Graded[] = [];
  try {
    for (const q of questions) {
      const g = await grade(q, stateDir);
      graded.push(g);
      const mark = g.refuse ? (g.outcome === 'refused' ? 'ok (refused)' : `MISS (${g.outcome})`) : g.outcome;
      console.error(`${q.id} ${mark}${g.why ? `: ${g.why}` : ''} (${g.seconds.toFixed(1)} s)`);
    }
  } finally {
    if (built && !values.keep) rmSync(built, { recursive: true, force: true });
  }
  const answerable = graded.filter((g) => !g.refuse);
  const refusals = graded.filter((g) => g.refuse);
  const correct = answerable.filter((g) => g.outcome === 'correct');
  const secs = graded.map((g) => g.seconds).sort((a, b) => a - b);
  const args = process.argv.slice(2);
  const result = {
    command: `npm run bench:ask${args.length ? ` -- ${args.join(' ')}` : ''}`,
    date,
    machine: { cpus: cpus().length, node: process.version, load_average: loadAtStart },
    state: built ? 'built from scratch in a temp folder (BUILD_RUNS)' : `reused: ${stateDir}`,
    state_build_s: buildSeconds === null ? null : Number(buildSeconds.toFixed(1)),
    build_runs: BUILD_RUNS,
    questions: graded.length,
    answerable: answerable.length,
    answered: graded.filter((g) => g.outcome === 'correct' || g.outcome === 'wrong').length,
    correct: correct.length,
    correct_with_extra_columns: correct.filter((g) => g.shape === 'extra_columns').length,
    accuracy: answerable.length ? Number((correct.length / answerable.length).toFixed(4)) : 0,
    refuse_questions: refusals.length,
    refused_correctly: refusals.filter((g) => g.outcome === 'refused').length,
    wrong_on_refusal: refusals.filter((g) => g.outcome === 'wrong').length,
    refused_answerable: answerable.filter((g) => g.outcome === 'refused').length,
    errors: graded.filter((g) => g.outcome === 'error').length,
    seconds_per_question_median: Number((secs[Math.floor(secs.length / 2)] ?? 0).toFixed(2)),
    misses: graded
      .filter((g) => (g.refuse ? g.outcome !== 'refused' : g.outcome !== 'correct'))
      .map((g) => ({
        id: g.id,
        question: g.question,
        now: g.now,
        note: g.note,
        outcome: g.outcome,
        why: g.why ?? null,
        expected: g.refuse ? 'refusal' : shown(g.expected),
        ordered: g.ordered,
        got: g.outcome === 'refused' ? { refused: g.refusal } : shown(g.got),
        interpretation: g.interpretation,
        sql: g.sql,
      })),
    per_question: graded.map((g) => ({
      id: g.id,
      outcome: g.outcome,
      ...(g.shape ? { shape: g.shape } : {}),
      seconds: Number(g.seconds.toFixed(2)),
    })),
  };
  console.error(
    `accuracy ${result.accuracy} (${result.correct}/${result.answerable}); refused correctly ${result.refused_correctly}/${result.refuse_questions}; wrong on refusal ${result.wrong_on_refusal}; errors ${result.errors}`,
  );
  if (only) {
    console.log(JSON.stringify(result.misses, null, 2));
    return;
  }
  const dir = path.join(REPO_ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'ask.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(path.join(dir, 'ask.md'), markdown(result, graded));
  console.error('wrote bench/results/ask.json and bench/results/ask.md');
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
