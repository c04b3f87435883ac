/**
 * One question, answered the same way locally and on AWS: the offline parser reads it
 * (parser.ts); when it cannot and a model is configured (AWS only), the model's SQL is tried.
 * Whatever SQL results passes the guardrail (guardrail.ts) before it runs, so a parser bug or a
 * hostile model reply cannot reach outside the curated tables. A question that cannot be answered
 * gets a refusal with questions that can be, never a guess.
 */
import { checkSql } from './guardrail';
import { interpret } from './parser';
import type { AskAnswer, AskCatalog, QueryExecutor, TableFreshness } from './types';

export interface AnswerDeps {
  readonly catalog: AskCatalog;
  /** The clock time expressions are relative to ("last 5 days"). */
  readonly now: Date;
  readonly executor: QueryExecutor;
  readonly freshness: (tables: readonly string[]) => Promise<TableFreshness[]>;
  /** The model's SQL for a question the parser could not read (AWS with Bedrock configured); null: none. */
  readonly fallback?: (question: string, catalog: AskCatalog) => Promise<string | null>;
  /** Most rows an answer returns. @default 1000 */
  readonly maxRows?: number;
}

export async function answer(question: string, deps: AnswerDeps): Promise<AskAnswer> {
  const reading = interpret(question, deps.catalog, deps.now);
  const limits = { maxRows: deps.maxRows ?? 1000 };
  let engine: AskAnswer['engine'] = 'offline';
  let interpretation: string;
  let sql: string;
  if (reading.kind === 'answer') {
    interpretation = reading.interpretation;
    sql = reading.sql;
  } else {
    const modelSql = deps.fallback ? await deps.fallback(question, deps.catalog) : null;
    if (!modelSql) return refusal(question, reading.message, reading.suggestions);
    engine = 'bedrock';
    interpretation =
      'SQL written by the model for a question the offline parser could not read; checked by the guardrail.';
    sql = modelSql;
  }
  const verdict = checkSql(sql, deps.catalog, limits);
  if (!verdict.ok) {
    // The parser builds only SQL the guardrail accepts: a refusal here is a model reply (or a bug), never run.
    return refusal(question, `The SQL was refused by the guardrail: ${verdict.message}`, [], engine);
  }
  const result = await deps.executor.run(verdict.sql);
  const freshness = await deps.freshness(verdict.tables);
  return {
    question,
    interpretation,
    sql: verdict.sql,
    columns: result.columns,
    rows: result.rows,
    freshness,
    engine,
  };
}

function refusal(
  question: string,
  message: string,
  suggestions: readonly string[],
  engine: AskAnswer['engine'] = 'offline',
): AskAnswer {
  return {
    question,
    interpretation: message,
    sql: null,
    columns: [],
    rows: [],
    freshness: [],
    engine,
    refused: { message, suggestions },
  };
}
