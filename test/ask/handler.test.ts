/** The ask function behind its function URL (lambdas/ask/handler.ts), with stub Athena, Glue and S3 clients. */
import {
  type AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { type BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import type { GetTableCommand, GlueClient } from '@aws-sdk/client-glue';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { makeAskHandler, questionOf } from '../../lambdas/ask/handler';
import type { AskAnswer } from '../../lambdas/ask/types';
import type { PipelineEnv } from '../../lambdas/common/env';
import { loadDatasets } from '../../lib/config';

const env: PipelineEnv = {
  pipelineName: 'ingestion',
  landingBucket: 'landing',
  normalizedBucket: 'normalized',
  curatedBucket: 'curated',
  quarantineBucket: 'quarantine',
  controlBucket: 'control',
  glueDatabase: 'ingestion',
  athenaWorkgroup: 'ingestion-ask',
  endpointUrl: undefined,
  region: 'us-east-1',
};

const post = (body: unknown, base64 = false) => {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return {
    version: '2.0',
    requestContext: { http: { method: 'POST' } },
    body: base64 ? Buffer.from(text).toString('base64') : text,
    isBase64Encoded: base64,
  };
};

/**
 * Stubs: Athena answers the column values query with two services and every other query with one
 * result set, Glue knows cloud_billing's FOCUS columns, S3 lists nothing.
 */
function stubs(
  options: { athenaState?: string; reason?: string; modelReply?: string; valuesState?: string } = {},
) {
  /** The answers' queries (the cold-start query of column values apart). */
  const queries: string[] = [];
  const valueQueries: string[] = [];
  const athena = {
    send: async (command: unknown) => {
      if (command instanceof StartQueryExecutionCommand) {
        const sql = command.input.QueryString!;
        if (sql.includes(' AS t, ')) {
          valueQueries.push(sql);
          return { QueryExecutionId: 'qe-values' };
        }
        queries.push(sql);
        return { QueryExecutionId: 'qe-7' };
      }
      if (command instanceof GetQueryExecutionCommand)
        return {
          QueryExecution: {
            Status:
              command.input.QueryExecutionId === 'qe-values'
                ? { State: options.valuesState ?? 'SUCCEEDED' }
                : { State: options.athenaState ?? 'SUCCEEDED', StateChangeReason: options.reason },
          },
        };
      if (command instanceof GetQueryResultsCommand && command.input.QueryExecutionId === 'qe-values')
        return {
          ResultSet: {
            Rows: [
              ['t', 'c', 'v'],
              ['cloud_billing', 'service_name', 'Amazon S3'],
              ['cloud_billing', 'service_name', 'AWS Lambda'],
            ].map((row) => ({ Data: row.map((v) => ({ VarCharValue: v })) })),
          },
        };
      if (command instanceof GetQueryResultsCommand)
        return {
          ResultSet: {
            Rows: [
              { Data: [{ VarCharValue: 'service_name' }, { VarCharValue: 'total_billed_cost' }] },
              { Data: [{ VarCharValue: 'Amazon S3' }, { VarCharValue: '10.500000000000000000' }] },
            ],
          },
        };
      throw new Error('unexpected Athena command');
    },
  } as unknown as AthenaClient;
  const glue = {
    send: async (command: GetTableCommand) => {
      if (command.input.Name === 'cloud_billing')
        return {
          Table: {
            StorageDescriptor: {
              Columns: [
                { Name: 'service_name', Type: 'string' },
                { Name: 'billed_cost', Type: 'decimal(38,18)' },
              ],
            },
          },
        };
      throw Object.assign(new Error('not found'), { name: 'EntityNotFoundException' });
    },
  } as unknown as GlueClient;
  const s3 = {
    send: async (command: unknown) => {
      if (command instanceof ListObjectsV2Command) return { Contents: [] };
      throw new Error('unexpected S3 command');
    },
  } as unknown as S3Client;
  const bedrock = {
    send: async (command: unknown) => {
      if (!(command instanceof ConverseCommand)) throw new Error('unexpected Bedrock command');
      return {
        output: { message: { role: 'assistant', content: [{ text: options.modelReply ?? 'NO_SQL' }] } },
      };
    },
  } as unknown as BedrockRuntimeClient;
  return { athena, glue, s3, bedrock, queries, valueQueries };
}

const handlerWith = (s: ReturnType<typeof stubs>, e: PipelineEnv = env) =>
  makeAskHandler(e, {
    datasets: loadDatasets(),
    s3: s.s3,
    glue: s.glue,
    athena: s.athena,
    bedrock: s.bedrock,
    now: () => new Date('2025-03-15T12:00:00Z'),
  });

describe('the request', () => {
  it('is a POST with a JSON body holding the question (base64 bodies too), trimmed', () => {
    expect(questionOf(post({ question: '  total spend by service ' }))).toBe('total spend by service');
    expect(questionOf(post({ question: 'total spend by service' }, true))).toBe('total spend by service');
  });

  it('without a question, not JSON, or over 500 characters is a 400 saying so', async () => {
    const ask = handlerWith(stubs());
    const cases: [unknown, RegExp][] = [
      [post({}), /"question" is missing or empty/],
      [post({ question: '   ' }), /"question" is missing or empty/],
      [post({ question: 42 }), /"question" is missing or empty/],
      [post('not json'), /the body is not JSON/],
      [{ requestContext: { http: { method: 'POST' } } }, /the request has no body/],
      [post({ question: 'x'.repeat(501) }), /501 characters long; at most 500/],
    ];
    for (const [event, message] of cases) {
      const response = await ask(event);
      expect(response.statusCode).toBe(400);
      expect(JSON.parse(response.body).error).toMatch(message);
    }
    expect((await ask(post({ question: 'x'.repeat(500) }))).statusCode).toBe(200);
  });

  it('other than POST is a 405', async () => {
    const response = await handlerWith(stubs())({ requestContext: { http: { method: 'GET' } } });
    expect(response.statusCode).toBe(405);
  });
});

describe('the answer', () => {
  it('runs the offline reading in Athena and returns the AskAnswer as JSON, decimals exact', async () => {
    const s = stubs();

    const response = await handlerWith(s)(post({ question: 'total spend by service' }));

    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(response.body) as AskAnswer;
    // service_name is a column only the Glue catalog names (not declared in the dataset config).
    expect(s.queries).toHaveLength(1);
    expect(s.queries[0]).toContain('GROUP BY "service_name"');
    expect(body).toMatchObject({
      question: 'total spend by service',
      engine: 'offline',
      columns: ['service_name', 'total_billed_cost'],
      rows: [['Amazon S3', '10.500000000000000000']],
    });
    expect(body.sql).toBe(s.queries[0]);
    expect(body.freshness).toEqual([
      {
        table: 'cloud_billing',
        latestLanding: null,
        lastSuccessfulRun: null,
        filesInFlight: 0,
        filesQuarantined: 0,
      },
    ]);
  });

  it('is a 502 naming the query execution and the reason when Athena fails the query', async () => {
    const response = await handlerWith(stubs({ athenaState: 'FAILED', reason: 'TABLE_NOT_FOUND' }))(
      post({ question: 'total spend by service' }),
    );

    expect(response.statusCode).toBe(502);
    expect(JSON.parse(response.body).error).toBe('Athena query qe-7 FAILED: TABLE_NOT_FOUND');
  });

  it('asks no model when none is configured, and refuses what the parser cannot read', async () => {
    const s = stubs({ modelReply: '```sql\nSELECT 1\n```' });

    const body = JSON.parse((await handlerWith(s)(post({ question: 'what is the weather on Mars' }))).body);

    expect(body.engine).toBe('offline');
    expect(body.refused.message).toBeTruthy();
    expect(s.queries).toEqual([]);
  });

  it("with a model configured, runs the model's SQL only once the guardrail passed it", async () => {
    const withModel = { ...env, bedrockModelId: 'anthropic.claude-3-haiku-20240307-v1:0' };
    const good = stubs({ modelReply: '```sql\nSELECT vendor FROM purchase_orders\n```' });
    const hostile = stubs({ modelReply: '```sql\nDROP TABLE purchase_orders\n```' });

    const answered = JSON.parse(
      (await handlerWith(good, withModel)(post({ question: 'what is the weather on Mars' }))).body,
    );
    const refused = JSON.parse(
      (await handlerWith(hostile, withModel)(post({ question: 'what is the weather on Mars' }))).body,
    );

    expect(answered.engine).toBe('bedrock');
    expect(good.queries).toHaveLength(1);
    expect(good.queries[0]).toMatch(/^SELECT "vendor" FROM "purchase_orders" LIMIT \d+$/);
    expect(refused.refused.message).toMatch(/guardrail/);
    expect(hostile.queries).toEqual([]);
  });

  it('reads the low-cardinality values once per container, so a question can name a value', async () => {
    const s = stubs();
    const ask = handlerWith(s);

    await ask(post({ question: 'total spend by service' }));
    await ask(post({ question: 'total spend on amazon s3' }));

    expect(s.valueQueries).toHaveLength(1);
    expect(s.valueQueries[0]).toContain(`CAST("service_name" AS VARCHAR) AS v FROM "cloud_billing"`);
    expect(s.queries[1]).toContain(`'Amazon S3'`);
  });

  it('still answers when the values query fails (values then come from the configs only)', async () => {
    const s = stubs({ valuesState: 'CANCELLED' });

    const response = await handlerWith(s)(post({ question: 'total spend by service' }));

    expect(response.statusCode).toBe(200);
    expect(s.queries).toHaveLength(1);
  });
});
