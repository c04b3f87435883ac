import {
  type AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { describe, expect, it } from 'vitest';
import { AthenaQueryError, AthenaTimeoutError, athenaExecutor } from '../../lambdas/ask/athena';

type Command =
  | StartQueryExecutionCommand
  | GetQueryExecutionCommand
  | GetQueryResultsCommand
  | StopQueryExecutionCommand;

interface StubScript {
  /** States GetQueryExecution answers, one per poll (the last repeats). */
  readonly states: readonly (string | { State: string; StateChangeReason?: string })[];
  /** Pages GetQueryResults answers, in order. */
  readonly pages?: readonly { rows: (string | null)[][]; next?: string }[];
}

/** An Athena client stub: records every command it receives and answers from a script. */
function stubAthena(script: StubScript) {
  const calls: { name: string; input: Record<string, unknown> }[] = [];
  let poll = 0;
  let page = 0;
  const send = async (command: Command) => {
    calls.push({ name: command.constructor.name, input: command.input as Record<string, unknown> });
    if (command instanceof StartQueryExecutionCommand) return { QueryExecutionId: 'qe-1' };
    if (command instanceof GetQueryExecutionCommand) {
      const answer = script.states[Math.min(poll++, script.states.length - 1)]!;
      const status = typeof answer === 'string' ? { State: answer } : answer;
      return { QueryExecution: { QueryExecutionId: 'qe-1', Status: status } };
    }
    if (command instanceof GetQueryResultsCommand) {
      const current = script.pages![page++]!;
      return {
        ResultSet: {
          Rows: current.rows.map((row) => ({
            Data: row.map((value) => (value === null ? {} : { VarCharValue: value })),
          })),
        },
        NextToken: current.next,
      };
    }
    if (command instanceof StopQueryExecutionCommand) return {};
    throw new Error(`unexpected command ${String(command)}`);
  };
  return { client: { send } as unknown as AthenaClient, calls };
}

/** A clock that only moves when the executor sleeps. */
function fakeClock() {
  let t = 0;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
    sleeps,
  };
}

const OPTIONS = { workGroup: 'ingestion-ask', database: 'ingestion_db' };

describe('athenaExecutor', () => {
  it('starts the query in the workgroup with the Glue database as its context', async () => {
    const { client, calls } = stubAthena({ states: ['SUCCEEDED'], pages: [{ rows: [['n'], ['1']] }] });
    const clock = fakeClock();

    await athenaExecutor(client, { ...OPTIONS, ...clock }).run('SELECT count(*) AS n FROM cloud_billing');

    expect(calls[0]).toEqual({
      name: 'StartQueryExecutionCommand',
      input: {
        QueryString: 'SELECT count(*) AS n FROM cloud_billing',
        WorkGroup: 'ingestion-ask',
        QueryExecutionContext: { Database: 'ingestion_db', Catalog: 'AwsDataCatalog' },
      },
    });
  });

  it('polls with a doubling backoff, capped, until the query succeeds', async () => {
    const { client, calls } = stubAthena({
      states: ['QUEUED', 'RUNNING', 'RUNNING', 'RUNNING', 'RUNNING', 'SUCCEEDED'],
      pages: [{ rows: [['n'], ['1']] }],
    });
    const clock = fakeClock();

    await athenaExecutor(client, { ...OPTIONS, ...clock, initialPollMs: 100, maxPollMs: 500 }).run(
      'SELECT 1',
    );

    expect(calls.filter((c) => c.name === 'GetQueryExecutionCommand')).toHaveLength(6);
    expect(clock.sleeps).toEqual([100, 200, 400, 500, 500]);
  });

  it('reads every page, the first row as the header, values as Athena gives them (decimals exact, NULL as null)', async () => {
    const { client, calls } = stubAthena({
      states: ['SUCCEEDED'],
      pages: [
        {
          rows: [
            ['service_name', 'total'],
            ['Amazon S3', '12345678901234.123456'],
          ],
          next: 't1',
        },
        { rows: [['AWS Lambda', '0.000001']], next: 't2' },
        { rows: [[null, '7']] },
      ],
    });

    const result = await athenaExecutor(client, { ...OPTIONS, ...fakeClock() }).run('SELECT ...');

    expect(result).toEqual({
      columns: ['service_name', 'total'],
      rows: [
        ['Amazon S3', '12345678901234.123456'],
        ['AWS Lambda', '0.000001'],
        [null, '7'],
      ],
    });
    const pages = calls.filter((c) => c.name === 'GetQueryResultsCommand').map((c) => c.input);
    expect(pages).toEqual([
      { QueryExecutionId: 'qe-1', MaxResults: 1000, NextToken: undefined },
      { QueryExecutionId: 'qe-1', MaxResults: 1000, NextToken: 't1' },
      { QueryExecutionId: 'qe-1', MaxResults: 1000, NextToken: 't2' },
    ]);
  });

  it('stops paging at maxRows', async () => {
    const { client, calls } = stubAthena({
      states: ['SUCCEEDED'],
      pages: [{ rows: [['n'], ['1'], ['2']], next: 't1' }, { rows: [['3']] }],
    });

    const result = await athenaExecutor(client, { ...OPTIONS, ...fakeClock(), maxRows: 2 }).run('SELECT n');

    expect(result.rows).toEqual([['1'], ['2']]);
    expect(calls.filter((c) => c.name === 'GetQueryResultsCommand')).toHaveLength(1);
  });

  it("reports a failed query with its execution id and Athena's state change reason", async () => {
    const reason = "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved";
    const { client, calls } = stubAthena({
      states: ['RUNNING', { State: 'FAILED', StateChangeReason: reason }],
    });

    const error = await athenaExecutor(client, { ...OPTIONS, ...fakeClock() })
      .run('SELECT nope FROM cloud_billing')
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AthenaQueryError);
    expect((error as Error).message).toBe(`Athena query qe-1 FAILED: ${reason}`);
    expect(error).toMatchObject({ queryExecutionId: 'qe-1', state: 'FAILED', reason });
    expect(calls.some((c) => c.name === 'GetQueryResultsCommand')).toBe(false);
  });

  it('reports a query the workgroup cancelled (bytes-scanned cutoff) with its reason', async () => {
    const reason = 'Query exhausted the workgroup data usage limit';
    const { client } = stubAthena({ states: [{ State: 'CANCELLED', StateChangeReason: reason }] });

    await expect(athenaExecutor(client, { ...OPTIONS, ...fakeClock() }).run('SELECT 1')).rejects.toThrow(
      `Athena query qe-1 CANCELLED: ${reason}`,
    );
  });

  it('stops a query still running at the time limit and says so', async () => {
    const { client, calls } = stubAthena({ states: ['RUNNING'] });
    const clock = fakeClock();

    const error = await athenaExecutor(client, {
      ...OPTIONS,
      ...clock,
      timeoutMs: 10_000,
      initialPollMs: 1_000,
      maxPollMs: 4_000,
    })
      .run('SELECT 1')
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AthenaTimeoutError);
    expect((error as Error).message).toBe('Athena query qe-1 was still RUNNING after 10 s; it was stopped');
    expect(calls.at(-1)).toEqual({ name: 'StopQueryExecutionCommand', input: { QueryExecutionId: 'qe-1' } });
    // Never slept past the deadline: 1 + 2 + 4 = 7 s, the next 4 s would pass 10 s.
    expect(clock.sleeps).toEqual([1_000, 2_000, 4_000]);
  });
});
