/**
 * The AWS engine's QueryExecutor (issue 14, docs/ask.md "On AWS"): runs a guardrail-checked SQL
 * text in Amazon Athena and returns its result set as strings.
 *
 * - StartQueryExecution in the ask workgroup, with the Glue database as QueryExecutionContext.
 *   The workgroup enforces its configuration (results location and encryption, the bytes-scanned
 *   cutoff), so this client sets no ResultConfiguration of its own: with
 *   EnforceWorkGroupConfiguration "the settings for the workgroup override client-side settings"
 *   (Athena API reference, WorkGroupConfiguration).
 * - GetQueryExecution polled with exponential backoff until a final state (SUCCEEDED, FAILED,
 *   CANCELLED); a query still QUEUED/RUNNING at the time limit is stopped (StopQueryExecution)
 *   and reported as AthenaTimeoutError. A query over the workgroup's per-query data limit "is
 *   canceled" by Athena (Athena user guide, "Configure per-query and per-workgroup data usage
 *   controls"): it ends CANCELLED with Athena's reason, reported as AthenaQueryError.
 * - GetQueryResults paged by NextToken (at most 1000 rows a page, Athena's MaxResults bound). For a
 *   SELECT the first row of the first page holds the column names; every value is Athena's
 *   VarCharValue string (a decimal stays its exact text, never a JS number); a NULL has no
 *   VarCharValue and is returned as null.
 */
import {
  type AthenaClient,
  GetQueryExecutionCommand,
  type GetQueryExecutionCommandOutput,
  GetQueryResultsCommand,
  type GetQueryResultsCommandOutput,
  StartQueryExecutionCommand,
  type StartQueryExecutionCommandOutput,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import type { QueryExecutor } from './types';

/** A query that ended FAILED or CANCELLED (or could not start): names the execution and Athena's reason. */
export class AthenaQueryError extends Error {
  override readonly name = 'AthenaQueryError';
  constructor(
    message: string,
    readonly queryExecutionId: string | undefined,
    readonly state: string | undefined,
    readonly reason: string | undefined,
  ) {
    super(message);
  }
}

/** A query still running at the time limit: it was stopped. */
export class AthenaTimeoutError extends Error {
  override readonly name = 'AthenaTimeoutError';
  constructor(
    message: string,
    readonly queryExecutionId: string,
  ) {
    super(message);
  }
}

/** The one method of the Athena client the executor uses (tests inject a stub). */
export type AthenaSend = Pick<AthenaClient, 'send'>;

export interface AthenaExecutorOptions {
  /** The dedicated workgroup (enforced configuration: results location, encryption, bytes cutoff). */
  readonly workGroup: string;
  /** The Glue database of the curated tables (QueryExecutionContext.Database). */
  readonly database: string;
  /** @default 'AwsDataCatalog' */
  readonly catalog?: string;
  /** How long a query may stay QUEUED/RUNNING before it is stopped. @default 45 seconds */
  readonly timeoutMs?: number;
  /** First wait between polls; doubled after each poll up to `maxPollMs`. @default 200 ms */
  readonly initialPollMs?: number;
  /** @default 2000 ms */
  readonly maxPollMs?: number;
  /** Rows per GetQueryResults page (Athena allows at most 1000). @default 1000 */
  readonly pageSize?: number;
  /**
   * Most data rows read (the guardrail already puts a LIMIT on the SQL; this bounds paging if a
   * result were larger anyway). @default 10000
   */
  readonly maxRows?: number;
  /** Injected for tests. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Injected for tests. @default Date.now */
  readonly now?: () => number;
}

const FINAL_STATES = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);
const MAX_PAGE = 1000;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function athenaExecutor(client: AthenaSend, options: AthenaExecutorOptions): QueryExecutor {
  const timeoutMs = options.timeoutMs ?? 45_000;
  const initialPollMs = options.initialPollMs ?? 200;
  const maxPollMs = options.maxPollMs ?? 2_000;
  const pageSize = Math.min(options.pageSize ?? MAX_PAGE, MAX_PAGE);
  const maxRows = options.maxRows ?? 10_000;
  const sleep = options.sleep ?? defaultSleep;
  const now = options.now ?? Date.now;

  async function start(sql: string): Promise<string> {
    let started: StartQueryExecutionCommandOutput;
    try {
      started = await client.send(
        new StartQueryExecutionCommand({
          QueryString: sql,
          WorkGroup: options.workGroup,
          QueryExecutionContext: { Database: options.database, Catalog: options.catalog ?? 'AwsDataCatalog' },
        }),
      );
    } catch (error) {
      const message = (error as Error).message;
      throw new AthenaQueryError(
        `Athena did not start the query in workgroup ${options.workGroup}: ${message}`,
        undefined,
        undefined,
        message,
      );
    }
    if (!started.QueryExecutionId)
      throw new AthenaQueryError(
        'Athena started the query but returned no QueryExecutionId',
        undefined,
        undefined,
        undefined,
      );
    return started.QueryExecutionId;
  }

  async function waitFor(id: string): Promise<void> {
    const deadline = now() + timeoutMs;
    let wait = initialPollMs;
    for (;;) {
      const { QueryExecution: execution }: GetQueryExecutionCommandOutput = await client.send(
        new GetQueryExecutionCommand({ QueryExecutionId: id }),
      );
      const state = execution?.Status?.State;
      if (state === 'SUCCEEDED') return;
      if (state && FINAL_STATES.has(state)) {
        const reason =
          execution?.Status?.StateChangeReason ?? execution?.Status?.AthenaError?.ErrorMessage ?? undefined;
        throw new AthenaQueryError(
          `Athena query ${id} ${state}: ${reason ?? 'Athena gave no reason'}`,
          id,
          state,
          reason,
        );
      }
      if (now() + wait > deadline) {
        let stopped = 'it was stopped';
        try {
          await client.send(new StopQueryExecutionCommand({ QueryExecutionId: id }));
        } catch (error) {
          stopped = `stopping it failed too: ${(error as Error).message}`;
        }
        throw new AthenaTimeoutError(
          `Athena query ${id} was still ${state ?? 'not started'} after ${Math.round(timeoutMs / 1000)} s; ${stopped}`,
          id,
        );
      }
      await sleep(wait);
      wait = Math.min(wait * 2, maxPollMs);
    }
  }

  async function results(id: string): Promise<{ columns: string[]; rows: unknown[][] }> {
    let columns: string[] | undefined;
    const rows: unknown[][] = [];
    let token: string | undefined;
    do {
      const page: GetQueryResultsCommandOutput = await client.send(
        new GetQueryResultsCommand({ QueryExecutionId: id, MaxResults: pageSize, NextToken: token }),
      );
      const values = (page.ResultSet?.Rows ?? []).map((row) =>
        (row.Data ?? []).map((datum) => datum.VarCharValue ?? null),
      );
      if (columns === undefined) {
        // A SELECT's first row holds the column names; the metadata names them too (an empty result).
        const header = values.shift();
        columns =
          header?.map((name, i) => name ?? `_col${i}`) ??
          (page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? []).map((c, i) => c.Name ?? `_col${i}`);
      }
      rows.push(...values.slice(0, maxRows - rows.length));
      token = rows.length < maxRows ? page.NextToken : undefined;
    } while (token);
    return { columns: columns ?? [], rows };
  }

  return {
    async run(sql: string) {
      const id = await start(sql);
      await waitFor(id);
      return results(id);
    },
  };
}
