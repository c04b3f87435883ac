/**
 * The ask function (issue 14, docs/ask.md "On AWS"), behind a Lambda function URL with AWS_IAM
 * auth: only requests signed with SigV4 by a principal allowed lambda:InvokeFunctionUrl reach it.
 *
 * Function URL events use the API Gateway payload format 2.0 (Lambda developer guide, "Invoking
 * Lambda function URLs"): `requestContext.http.method`, `body` (base64 when `isBase64Encoded`);
 * the response is `{statusCode, headers, body}`.
 *
 *   POST {"question": "total billed cost by service for October 2024"}
 *   200  AskAnswer JSON (an answer, or a refusal with the questions it can answer)
 *   400  {"error": ...} no question, not JSON, or a question over 500 characters
 *   405  {"error": ...} not a POST
 *   502  {"error": ...} Athena failed the query (its execution id and reason)
 *
 * The catalog is built once per container from the dataset configs (lib/config) plus the columns
 * the Glue catalog has for each curated table (a FOCUS export's undeclared columns are columns of
 * the table too) and the values of their low-cardinality string columns (values.ts: one Athena
 * query at the first request; if it fails, values are matched only through the configs' words).
 */
import { AthenaClient } from '@aws-sdk/client-athena';
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { GetTableCommand, type GlueClient } from '@aws-sdk/client-glue';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { loadDatasets } from '../../lib/config';
import type { ResolvedDataset } from '../../lib/config/types';
import { type AwsClients, SERVICE_RETRY } from '../common/aws';
import { ConfigurationError, PIPELINE_ENV_VARS, type PipelineEnv } from '../common/env';
import { lambdaHandler } from '../common/handler';
import { createLogger } from '../common/logger';
import { getJson } from '../common/s3';
import { answer } from './answer';
import { AthenaQueryError, AthenaTimeoutError, athenaExecutor } from './athena';
import { bedrockFallback } from './bedrock';
import { askCatalog, type ColumnValues, type ObservedColumns } from './catalog';
import { type ControlStore, type ListedObject, tableFreshness } from './freshness';
import type { AskCatalog } from './types';
import { columnValues } from './values';

const logger = createLogger('ask');

/** The longest question accepted, in characters. */
export const MAX_QUESTION_LENGTH = 500;
/** How long one Athena query may run before it is stopped (the function's timeout is 90 s). */
export const QUERY_TIMEOUT_MS = 60_000;
/** How long the cold-start query of column values may run (values.ts). */
export const VALUES_TIMEOUT_MS = 20_000;

export interface HttpResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

interface UrlEvent {
  readonly requestContext?: { readonly http?: { readonly method?: string } };
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
}

/** A request that is not `POST {"question": "..."}` with a question of 1-500 characters. */
export class AskRequestError extends Error {
  override readonly name = 'AskRequestError';
  constructor(
    message: string,
    readonly statusCode: 400 | 405,
  ) {
    super(message);
  }
}

const json = (statusCode: number, value: unknown): HttpResponse => ({
  statusCode,
  headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
  body: JSON.stringify(value),
});

/** The question of a function URL request, or an AskRequestError saying what is wrong. */
export function questionOf(raw: unknown): string {
  const event = (raw ?? {}) as UrlEvent;
  const method = event.requestContext?.http?.method;
  if (method !== undefined && method !== 'POST')
    throw new AskRequestError(`use POST with a JSON body {"question": "..."} (got ${method})`, 405);
  if (!event.body) throw new AskRequestError('the request has no body: send {"question": "..."}', 400);
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new AskRequestError('the body is not JSON: send {"question": "..."}', 400);
  }
  const question = (body as { question?: unknown } | null)?.question;
  if (typeof question !== 'string' || question.trim() === '')
    throw new AskRequestError('"question" is missing or empty: send {"question": "..."}', 400);
  const trimmed = question.trim();
  if (trimmed.length > MAX_QUESTION_LENGTH)
    throw new AskRequestError(
      `the question is ${trimmed.length} characters long; at most ${MAX_QUESTION_LENGTH} are accepted`,
      400,
    );
  return trimmed;
}

/** Freshness reads the pipeline's buckets through S3: listings (paged) and JSON documents. */
export function s3ControlStore(s3: S3Client): ControlStore {
  return {
    async list(bucket, prefix) {
      const objects: ListedObject[] = [];
      let token: string | undefined;
      do {
        const page = await s3.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const o of page.Contents ?? [])
          if (o.Key) objects.push({ key: o.Key, lastModified: o.LastModified?.toISOString() ?? null });
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return objects;
    },
    getJson: (bucket, key) => getJson<unknown>(s3, bucket, key),
  };
}

/** The columns the Glue catalog has for each curated table; a table not created yet is skipped. */
export async function glueColumns(
  glue: Pick<GlueClient, 'send'>,
  database: string,
  tables: readonly string[],
): Promise<ObservedColumns> {
  const observed: Record<string, { name: string; type: string }[]> = {};
  await Promise.all(
    tables.map(async (table) => {
      try {
        const { Table } = await glue.send(new GetTableCommand({ DatabaseName: database, Name: table }));
        observed[table] = [...(Table?.StorageDescriptor?.Columns ?? []), ...(Table?.PartitionKeys ?? [])]
          .filter((c) => c.Name)
          .map((c) => ({ name: c.Name!, type: c.Type ?? 'string' }));
      } catch (error) {
        if ((error as { name?: string }).name !== 'EntityNotFoundException') throw error;
      }
    }),
  );
  return observed;
}

export interface AskHandlerDeps {
  readonly datasets: readonly ResolvedDataset[];
  readonly s3: S3Client;
  readonly glue: Pick<GlueClient, 'send'>;
  readonly athena: Pick<AthenaClient, 'send'>;
  /** Set when a Bedrock model is configured. */
  readonly bedrock?: Pick<BedrockRuntimeClient, 'send'>;
  readonly now?: () => Date;
}

export function makeAskHandler(
  env: PipelineEnv,
  deps: AskHandlerDeps,
): (event: unknown) => Promise<HttpResponse> {
  const workGroup = env.athenaWorkgroup;
  if (!workGroup)
    throw new ConfigurationError(
      `environment variable ${PIPELINE_ENV_VARS.athenaWorkgroup} is required but not set`,
    );
  const tables = deps.datasets.map((d) => d.name);
  const executor = athenaExecutor(deps.athena, {
    workGroup,
    database: env.glueDatabase,
    timeoutMs: QUERY_TIMEOUT_MS,
  });
  const model =
    env.bedrockModelId && deps.bedrock
      ? bedrockFallback(deps.bedrock, { modelId: env.bedrockModelId })
      : undefined;
  // A model failure (throttled, not enabled in the account) is logged and read as "no SQL": the
  // user gets the refusal with the questions that can be answered, not an error.
  const fallback = model
    ? async (question: string, catalog: AskCatalog) => {
        try {
          return await model(question, catalog);
        } catch (error) {
          logger.error('the Bedrock fallback failed', { error });
          return null;
        }
      }
    : undefined;
  const store = s3ControlStore(deps.s3);
  const buckets = {
    control: env.controlBucket,
    quarantine: env.quarantineBucket,
    normalized: env.normalizedBucket,
  };
  const valuesExecutor = athenaExecutor(deps.athena, {
    workGroup,
    database: env.glueDatabase,
    timeoutMs: VALUES_TIMEOUT_MS,
  });
  const buildCatalog = async (): Promise<AskCatalog> => {
    const observed = await glueColumns(deps.glue, env.glueDatabase, tables);
    let values: ColumnValues = {};
    try {
      values = await columnValues(
        valuesExecutor,
        askCatalog(deps.datasets, env.glueDatabase, {}, observed),
        observed,
      );
    } catch (error) {
      logger.warn("column values not read: values are matched only through the dataset configs' words", {
        error,
      });
    }
    return askCatalog(deps.datasets, env.glueDatabase, values, observed);
  };
  let catalog: Promise<AskCatalog> | undefined;
  const catalogOnce = () => {
    catalog ??= buildCatalog().catch((error: unknown) => {
      catalog = undefined; // read again on the next request
      throw error;
    });
    return catalog;
  };

  return async (event) => {
    let question: string;
    try {
      question = questionOf(event);
    } catch (error) {
      if (error instanceof AskRequestError) return json(error.statusCode, { error: error.message });
      throw error;
    }
    try {
      const result = await answer(question, {
        catalog: await catalogOnce(),
        now: deps.now?.() ?? new Date(),
        executor,
        freshness: (used) => tableFreshness(store, buckets, deps.datasets, used),
        ...(fallback ? { fallback } : {}),
      });
      logger.info('answered', { engine: result.engine, refused: Boolean(result.refused), sql: result.sql });
      return json(200, result);
    } catch (error) {
      if (error instanceof AthenaQueryError || error instanceof AthenaTimeoutError) {
        logger.warn('the query failed', { error });
        return json(502, { error: error.message });
      }
      logger.error('the question could not be answered', { error });
      return json(500, { error: 'the question could not be answered (see the function logs)' });
    }
  };
}

/** Athena and Bedrock clients beside the common ones, built once per container. */
function askClients(env: PipelineEnv, clients: AwsClients): AskHandlerDeps {
  const common = {
    region: env.region,
    ...(env.endpointUrl ? { endpoint: env.endpointUrl } : {}),
    ...SERVICE_RETRY,
  };
  return {
    datasets: loadDatasets(),
    s3: clients.s3,
    glue: clients.glue,
    athena: new AthenaClient(common),
    ...(env.bedrockModelId ? { bedrock: new BedrockRuntimeClient(common) } : {}),
  };
}

export const handler = lambdaHandler(logger, (env, clients) => {
  const ask = makeAskHandler(env, askClients(env, clients));
  return (event) => ask(event);
});
