import {
  type Column,
  CreateDatabaseCommand,
  CreateTableCommand,
  GetTableVersionsCommand,
  UpdateTableCommand,
} from '@aws-sdk/client-glue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAlertData } from '../../lambdas/common/alerts';
import type { PipelineEnv } from '../../lambdas/common/env';
import { makeReconcileHandler, type SchemaDriftResult } from '../../lambdas/reconcile/handler';
import { diffSchemas, type SchemaState } from '../../lambdas/reconcile/schema-drift';
import type { Alert, AlertReceipt } from '../../lib/contracts/alerts';
import { schemaStateKey } from '../../lib/contracts/layout';
import { EXECUTION, RecordingSns, startTestAws, type TestAws } from './fixtures';

let aws: TestAws;

beforeAll(async () => {
  aws = await startTestAws();
});

afterAll(async () => {
  await aws?.emulator.stop();
});

const TABLE = 'normalized_workforce_capacity';
const BASE: Column[] = [
  { Name: 'org_unit', Type: 'string' },
  { Name: 'cost_center', Type: 'string' },
  { Name: 'headcount', Type: 'string' },
  { Name: 'fte', Type: 'string' },
  { Name: 'ingest_row_number', Type: 'int' },
];

let databases = 0;

/** A fresh control bucket and Glue database holding the crawled table with `columns`. */
async function crawledTable(columns: Column[]): Promise<PipelineEnv> {
  const env = { ...(await aws.newEnv()), glueDatabase: `drift_${++databases}` };
  await aws.glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: env.glueDatabase } }));
  await aws.glue.send(
    new CreateTableCommand({ DatabaseName: env.glueDatabase, TableInput: tableInput(columns) }),
  );
  return env;
}

const tableInput = (columns: Column[]) => ({
  Name: TABLE,
  TableType: 'EXTERNAL_TABLE',
  PartitionKeys: [{ Name: 'quarter', Type: 'string' }],
  StorageDescriptor: { Columns: columns, Location: 's3://normalized/workforce_capacity/' },
});

/** What a crawl with UPDATE_IN_DATABASE does: a new table version with the new columns. */
const recrawl = (env: PipelineEnv, columns: Column[]) =>
  aws.glue.send(new UpdateTableCommand({ DatabaseName: env.glueDatabase, TableInput: tableInput(columns) }));

/**
 * Runs the schema-drift action through the handler. It publishes the notice itself and returns
 * only the receipt (`receipt`); `alert` is the notice as published, null when none was.
 */
async function detect(
  env: PipelineEnv,
  sns = new RecordingSns(),
): Promise<Omit<SchemaDriftResult, 'alert'> & { alert: Alert | null; receipt: AlertReceipt | null }> {
  const handler = makeReconcileHandler(env, { s3: aws.s3, glue: aws.glue, sns: sns.client });
  const result = (await handler({
    action: 'schema-drift',
    dataset: 'workforce_capacity',
    executionId: EXECUTION,
    files: [],
  })) as SchemaDriftResult;
  const published = sns.alerts();
  expect(published.length).toBe(result.alert?.published ? 1 : 0);
  return { ...result, alert: published[0] ?? null, receipt: result.alert };
}

describe('schema drift of the crawled table', () => {
  it('records the state on first sighting and reports no change', async () => {
    const env = await crawledTable(BASE);

    const output = await detect(env);

    expect(output).toMatchObject({ changed: false, alert: null, firstSighting: true, table: TABLE });
    const state = await aws.read<SchemaState>(env.controlBucket, schemaStateKey('workforce_capacity', TABLE));
    expect(state?.columns.map((c) => c.name)).toEqual(BASE.map((c) => c.Name));
    expect(state?.partitionKeys).toEqual([{ name: 'quarter', type: 'string' }]);
    expect(state?.versionId).toBe(output.versionId);
  });

  it('reports nothing when a later crawl left the columns as they were', async () => {
    const env = await crawledTable(BASE);
    await detect(env);
    await recrawl(env, BASE);

    const output = await detect(env);

    expect(output).toMatchObject({ changed: false, alert: null, firstSighting: false });
  });

  it('reports an added column as an informational notice, once', async () => {
    const env = await crawledTable(BASE);
    const before = await detect(env);
    await recrawl(env, [
      ...BASE,
      { Name: 'remote_share', Type: 'string' },
      { Name: 'location', Type: 'string' },
    ]);

    const output = await detect(env);
    const again = await detect(env);

    expect(output.changed).toBe(true);
    const versions = await aws.glue.send(
      new GetTableVersionsCommand({ DatabaseName: env.glueDatabase, TableName: TABLE }),
    );
    expect(versions.TableVersions?.length).toBe(2);
    expect(output.versionId).not.toBe(before.versionId);
    const alert = output.alert!;
    expect(alert).toMatchObject({ kind: 'schema_drift', severity: 'info', dataset: 'workforce_capacity' });
    expect(alert.subject).toBe(`[workforce_capacity] schema change in ${TABLE}: 2 added`);
    expect(alert.message).toContain(
      '- remote_share (string): not declared in the dataset configuration, kept as it arrives',
    );
    expect(alert.message).toContain('- location (string)\n');
    expect(parseAlertData(alert.message)).toMatchObject({
      table: TABLE,
      database: env.glueDatabase,
      fromVersion: before.versionId,
      toVersion: output.versionId,
      added: [
        { name: 'remote_share', type: 'string', declared: false },
        { name: 'location', type: 'string', declared: true },
      ],
      removed: [],
      retyped: [],
    });
    expect(again).toMatchObject({ changed: false, alert: null });
  });

  it('reports a removed column', async () => {
    const env = await crawledTable(BASE);
    await detect(env);
    await recrawl(
      env,
      BASE.filter((c) => c.Name !== 'cost_center'),
    );

    const output = await detect(env);

    expect(output.changed).toBe(true);
    expect(output.alert!.subject).toBe(`[workforce_capacity] schema change in ${TABLE}: 1 removed`);
    expect(output.alert!.message).toContain('COLUMNS REMOVED\n- cost_center (was string)');
    expect(parseAlertData(output.alert!.message)).toMatchObject({
      added: [],
      removed: [{ name: 'cost_center', type: 'string' }],
    });
  });

  it('reports a retyped column', async () => {
    const env = await crawledTable(BASE);
    await detect(env);
    await recrawl(
      env,
      BASE.map((c) => (c.Name === 'ingest_row_number' ? { ...c, Type: 'bigint' } : c)),
    );

    const output = await detect(env);

    expect(output.changed).toBe(true);
    expect(output.alert!.subject).toBe(`[workforce_capacity] schema change in ${TABLE}: 1 retyped`);
    expect(output.alert!.message).toContain('- ingest_row_number: int -> bigint');
    expect(parseAlertData(output.alert!.message)).toMatchObject({
      retyped: [{ name: 'ingest_row_number', from: 'int', to: 'bigint' }],
    });
    const state = await aws.read<SchemaState>(env.controlBucket, schemaStateKey('workforce_capacity', TABLE));
    expect(state?.columns.find((c) => c.name === 'ingest_row_number')?.type).toBe('bigint');
  });

  it('publishes the notice before saving the new schema: a notice SNS refused is detected and sent again next time', async () => {
    const env = await crawledTable(BASE);
    await detect(env);
    await recrawl(env, [...BASE, { Name: 'remote_share', Type: 'string' }]);
    const refusing = new RecordingSns();
    refusing.refuse = Object.assign(new Error('Key is disabled'), { name: 'KMSDisabledException' });

    const failed = await detect(env, refusing);
    const retried = await detect(env);

    expect(failed).toMatchObject({ changed: true, alert: null });
    expect(failed.receipt).toMatchObject({
      kind: 'schema_drift',
      published: false,
      error: 'KMSDisabledException: Key is disabled',
    });
    expect(retried.changed).toBe(true);
    expect(retried.receipt).toMatchObject({ published: true, messageId: 'm-1' });
    expect(retried.alert!.message).toContain('- remote_share (string)');
    expect((await detect(env)).changed).toBe(false);
  });

  it('reports nothing when the crawled table does not exist yet', async () => {
    const env = { ...(await aws.newEnv()), glueDatabase: `drift_${++databases}` };
    await aws.glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: env.glueDatabase } }));

    const output = await detect(env);

    expect(output).toMatchObject({ changed: false, alert: null, firstSighting: false, versionId: null });
  });
});

describe('diffSchemas', () => {
  it('compares names case-insensitively and types ignoring case and spaces', () => {
    const diff = diffSchemas(
      [
        { name: 'A', type: 'decimal(38, 6)' },
        { name: 'b', type: 'string' },
      ],
      [
        { name: 'a', type: 'DECIMAL(38,6)' },
        { name: 'b', type: 'int' },
        { name: 'c', type: 'string' },
      ],
    );

    expect(diff).toEqual({
      added: [{ name: 'c', type: 'string' }],
      removed: [],
      retyped: [{ name: 'b', from: 'string', to: 'int' }],
    });
  });
});
