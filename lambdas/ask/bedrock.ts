/**
 * The AWS engine's optional model fallback (issue 14, docs/ask.md "On AWS"): when the offline
 * parser cannot read a question and a Bedrock model is configured (`-c askBedrockModel=<id>`),
 * Amazon Bedrock's Converse API is asked for ONE read-only SELECT over the curated tables.
 *
 * The Converse API (bedrock-runtime `POST /model/{modelId}/converse`) takes a `system` prompt
 * (SystemContentBlock[], text here), `messages` (role user/assistant, ContentBlock[]) and
 * `inferenceConfig` (maxTokens, temperature, ...); the reply is `output.message.content[]`. It
 * "requires permission for the bedrock:InvokeModel action" (Bedrock API reference, Converse), which
 * the stack grants on the configured foundation model only (lib/constructs/ask-api.ts).
 *
 * This module never runs what the model says: it returns the SQL text, or null when the reply
 * holds none, and answer.ts passes it through the guardrail (guardrail.ts) before anything runs.
 */
import {
  type BedrockRuntimeClient,
  ConverseCommand,
  type ConverseCommandOutput,
} from '@aws-sdk/client-bedrock-runtime';
import type { AskCatalog } from './types';

/** The one method of the Bedrock Runtime client used (tests inject a stub). */
export type BedrockSend = Pick<BedrockRuntimeClient, 'send'>;

export interface BedrockFallbackOptions {
  /** A foundation model id (e.g. `anthropic.claude-3-haiku-20240307-v1:0`). */
  readonly modelId: string;
  /** @default 1024 */
  readonly maxTokens?: number;
}

/** What the model answers when the tables cannot answer the question. */
export const NO_SQL = 'NO_SQL';

/** The most sample values listed per column in the prompt. */
const SAMPLE_VALUES = 20;

/** The catalog as the model reads it: every table, column, type, description, synonyms and sample values. */
export function schemaText(catalog: AskCatalog): string {
  const lines: string[] = [`Database: ${catalog.database}`];
  for (const table of catalog.tables) {
    lines.push('', `Table ${table.name}: ${table.description}`);
    if (table.measures.length > 0)
      lines.push(`  Measures (summed by "total", "how much"): ${table.measures.join(', ')}`);
    if (table.timeColumn) lines.push(`  Time column (for date ranges): ${table.timeColumn}`);
    lines.push('  Columns:');
    for (const column of table.columns) {
      const parts = [`    - ${column.name} ${column.type}`];
      if (column.description) parts.push(`: ${column.description}`);
      const other = column.synonyms.filter((s) => s !== column.name.replace(/_/g, ' '));
      if (other.length > 0) parts.push(` (also called: ${other.join(', ')})`);
      if (column.values && column.values.length > 0) {
        const shown = column.values.slice(0, SAMPLE_VALUES).map((v) => JSON.stringify(v));
        const more = column.values.length > SAMPLE_VALUES ? `, ... (${column.values.length} values)` : '';
        parts.push(` [values: ${shown.join(', ')}${more}]`);
      }
      lines.push(parts.join(''));
    }
  }
  return lines.join('\n');
}

/** The system prompt: the rules of the answer, then the schema. */
export function systemPrompt(catalog: AskCatalog): string {
  return [
    'You translate a question about data into ONE SQL query for Amazon Athena (Trino SQL).',
    'Rules:',
    '- Answer with exactly one read-only SELECT statement (a WITH ... SELECT is allowed), in one ```sql fenced block, and nothing else.',
    '- Read only the tables and columns listed below; never any other table, schema, catalog or system table.',
    '- Never write INSERT, UPDATE, DELETE, MERGE, CREATE, DROP, ALTER, GRANT, CALL, UNLOAD, MSCK, EXPLAIN, SHOW or DESCRIBE, and no second statement.',
    '- No SQL comments. No functions that reach outside the data.',
    '- Compare string values case-insensitively with lower(...) when a value in the question may differ in case from the data.',
    '- Keep decimal columns as they are (no cast to double); add a LIMIT of at most 1000 rows.',
    `- If the tables below cannot answer the question, answer exactly ${NO_SQL} and nothing else.`,
    '',
    'Schema:',
    schemaText(catalog),
  ].join('\n');
}

const FENCED = /```[ \t]*([A-Za-z]*)[ \t]*\r?\n([\s\S]*?)```/g;
const STARTS_AS_QUERY = /^\s*(select|with)\b/i;

/**
 * The SQL of a model reply: the first fenced block marked sql (or unmarked), else the whole text
 * when it reads as a query; null when the reply has none (NO_SQL, prose, an empty block). One
 * trailing semicolon is dropped; everything else is kept as written for the guardrail to judge.
 */
export function extractSql(reply: string): string | null {
  const text = reply.trim();
  if (text === '' || text === NO_SQL) return null;
  const blocks = [...text.matchAll(FENCED)];
  const block =
    blocks.find((m) => m[1]!.toLowerCase() === 'sql') ?? blocks.find((m) => m[1] === '') ?? undefined;
  let sql: string | undefined;
  if (block) sql = block[2];
  else if (blocks.length === 0 && STARTS_AS_QUERY.test(text)) sql = text;
  const cleaned = sql?.trim().replace(/;\s*$/, '').trim();
  return cleaned ? cleaned : null;
}

/** The text of a Converse reply (its text content blocks, joined). */
export function replyText(output: ConverseCommandOutput): string {
  return (output.output?.message?.content ?? [])
    .map((block) => ('text' in block && typeof block.text === 'string' ? block.text : ''))
    .join('');
}

/** The fallback answer.ts takes: the question and the catalog in, a SQL text (unchecked) or null out. */
export function bedrockFallback(
  client: BedrockSend,
  options: BedrockFallbackOptions,
): (question: string, catalog: AskCatalog) => Promise<string | null> {
  return async (question, catalog) => {
    const output = await client.send(
      new ConverseCommand({
        modelId: options.modelId,
        system: [{ text: systemPrompt(catalog) }],
        messages: [{ role: 'user', content: [{ text: question }] }],
        // Deterministic as the model allows: the same question gives the same SQL.
        inferenceConfig: { maxTokens: options.maxTokens ?? 1024, temperature: 0 },
      }),
    );
    return extractSql(replyText(output));
  };
}
