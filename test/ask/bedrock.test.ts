/** The Bedrock fallback (lambdas/ask/bedrock.ts): the prompt it sends and the SQL it takes from a reply. */
import {
  type BedrockRuntimeClient,
  ConverseCommand,
  type ConverseCommandInput,
} from '@aws-sdk/client-bedrock-runtime';
import { describe, expect, it } from 'vitest';
import { bedrockFallback, extractSql, NO_SQL, systemPrompt } from '../../lambdas/ask/bedrock';
import { askCatalog } from '../../lambdas/ask/catalog';
import { loadDatasets } from '../../lib/config';

const catalog = askCatalog(loadDatasets(), 'ingestion_db', {
  purchase_orders: { category: ['Software', 'Hardware'] },
});

/** A Bedrock Runtime stub answering every Converse call with `reply`, recording the inputs. */
function stubBedrock(reply: string) {
  const inputs: ConverseCommandInput[] = [];
  const send = async (command: ConverseCommand) => {
    if (!(command instanceof ConverseCommand)) throw new Error('only Converse is expected');
    inputs.push(command.input);
    return { output: { message: { role: 'assistant', content: [{ text: reply }] } }, stopReason: 'end_turn' };
  };
  return { client: { send } as unknown as BedrockRuntimeClient, inputs };
}

describe('the system prompt', () => {
  const prompt = systemPrompt(catalog);

  it('holds every curated table with its columns, types and descriptions', () => {
    expect(prompt).toContain('Database: ingestion_db');
    for (const table of catalog.tables) {
      expect(prompt).toContain(`Table ${table.name}: ${table.description}`);
      for (const column of table.columns) expect(prompt).toContain(`- ${column.name} ${column.type}`);
    }
    const described = catalog.tables.flatMap((t) => t.columns).find((c) => c.description)!;
    expect(prompt).toContain(`${described.name} ${described.type}: ${described.description}`);
  });

  it('lists the sample values of low-cardinality columns', () => {
    const line = prompt.split('\n').find((l) => l.includes('- category string'));
    expect(line).toContain('[values: "Software", "Hardware"]');
  });

  it('asks for one read-only SELECT over these tables only, and NO_SQL otherwise', () => {
    expect(prompt).toMatch(/exactly one read-only SELECT statement/);
    expect(prompt).toMatch(/Read only the tables and columns listed below/);
    expect(prompt).toContain(`answer exactly ${NO_SQL}`);
  });
});

describe('extractSql', () => {
  it('takes the sql fenced block, without its trailing semicolon', () => {
    expect(
      extractSql(
        'Here it is:\n```sql\nSELECT service_name FROM cloud_billing LIMIT 10;\n```\nThis lists services.',
      ),
    ).toBe('SELECT service_name FROM cloud_billing LIMIT 10');
  });

  it('prefers a block marked sql over an unmarked one, and takes an unmarked one when alone', () => {
    expect(extractSql('```\nnot this\n```\n```sql\nSELECT 1\n```')).toBe('SELECT 1');
    expect(extractSql('```\nSELECT 2\n```')).toBe('SELECT 2');
  });

  it('takes the whole reply when it is a query without a fence', () => {
    expect(extractSql('  WITH t AS (SELECT 1 AS n) SELECT n FROM t  ')).toBe(
      'WITH t AS (SELECT 1 AS n) SELECT n FROM t',
    );
  });

  it('returns null when the reply holds no SQL', () => {
    expect(extractSql(NO_SQL)).toBeNull();
    expect(extractSql('I cannot answer that from these tables.')).toBeNull();
    expect(extractSql('```sql\n  \n```')).toBeNull();
    expect(extractSql('')).toBeNull();
  });

  it('keeps hostile SQL as written for the guardrail to refuse (it does not clean it)', () => {
    expect(extractSql('```sql\nSELECT 1; DROP TABLE cloud_billing\n```')).toBe(
      'SELECT 1; DROP TABLE cloud_billing',
    );
    expect(extractSql('DELETE FROM cloud_billing')).toBeNull();
  });
});

describe('bedrockFallback', () => {
  it('sends the question to the configured model with the schema as the system prompt, deterministically', async () => {
    const { client, inputs } = stubBedrock('```sql\nSELECT count(*) FROM purchase_orders\n```');

    const sql = await bedrockFallback(client, { modelId: 'anthropic.claude-3-haiku-20240307-v1:0' })(
      'how many purchase orders?',
      catalog,
    );

    expect(sql).toBe('SELECT count(*) FROM purchase_orders');
    expect(inputs).toEqual([
      {
        modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
        system: [{ text: systemPrompt(catalog) }],
        messages: [{ role: 'user', content: [{ text: 'how many purchase orders?' }] }],
        inferenceConfig: { maxTokens: 1024, temperature: 0 },
      },
    ]);
  });

  it('returns null when the model says the tables cannot answer', async () => {
    const { client } = stubBedrock(NO_SQL);

    await expect(
      bedrockFallback(client, { modelId: 'm' })('what is the weather?', catalog),
    ).resolves.toBeNull();
  });
});
