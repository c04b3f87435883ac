import {
  type Column,
  CreateDatabaseCommand,
  CreatePartitionCommand,
  CreateTableCommand,
  GetPartitionsCommand,
} from '@aws-sdk/client-glue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineEnv } from '../../lambdas/common/env';
import { makeReconcileHandler } from '../../lambdas/reconcile/handler';
import type { CatalogPartitionsOutput } from '../../lambdas/reconcile/partitions';
import type { FileOutcome } from '../../lib/contracts/batch';
import { plan, RecordingSns, sourceFile, startTestAws, type TestAws, writeManifests } from './fixtures';

let aws: TestAws;
let databases = 0;

beforeAll(async () => {
  aws = await startTestAws();
});

afterAll(async () => {
  await aws?.emulator.stop();
});

const TABLE = 'normalized_workforce_capacity';
const COLUMNS: Column[] = [
  { Name: 'org_unit', Type: 'string' },
  { Name: 'headcount', Type: 'string' },
];
const STORAGE = {
  Columns: COLUMNS,
  Location: 's3://normalized/workforce_capacity/',
  InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
  OutputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
  SerdeInfo: { SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe' },
  Compressed: true,
};

async function catalog(options: { table: boolean; partitions?: string[] }): Promise<PipelineEnv> {
  const env = { ...(await aws.newEnv()), glueDatabase: `partitions_${++databases}` };
  await aws.glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: env.glueDatabase } }));
  if (options.table) {
    await aws.glue.send(
      new CreateTableCommand({
        DatabaseName: env.glueDatabase,
        TableInput: {
          Name: TABLE,
          TableType: 'EXTERNAL_TABLE',
          PartitionKeys: [{ Name: 'quarter', Type: 'string' }],
          StorageDescriptor: STORAGE,
        },
      }),
    );
  }
  for (const value of options.partitions ?? []) {
    await aws.glue.send(
      new CreatePartitionCommand({
        DatabaseName: env.glueDatabase,
        TableName: TABLE,
        PartitionInput: {
          Values: [value],
          StorageDescriptor: { ...STORAGE, Location: `s3://normalized/workforce_capacity/quarter=${value}/` },
        },
      }),
    );
  }
  return env;
}

async function ensure(env: PipelineEnv, files: readonly FileOutcome[]): Promise<CatalogPartitionsOutput> {
  const handler = makeReconcileHandler(env, { s3: aws.s3, glue: aws.glue, sns: new RecordingSns().client });
  return (await handler({
    action: 'partitions',
    dataset: 'workforce_capacity',
    files,
  })) as CatalogPartitionsOutput;
}

async function partitionsOf(env: PipelineEnv) {
  const response = await aws.glue.send(
    new GetPartitionsCommand({ DatabaseName: env.glueDatabase, TableName: TABLE }),
  );
  return (response.Partitions ?? [])
    .map((p) => ({ value: p.Values?.[0], location: p.StorageDescriptor?.Location, sd: p.StorageDescriptor }))
    .sort((a, b) => String(a.value).localeCompare(String(b.value)));
}

describe('partitions action: every partition of the batch is in the catalog before the ETL', () => {
  it('registers the partition a crawl missed (its S3 events had not reached the crawler), inheriting the table schema', async () => {
    const env = await catalog({ table: true, partitions: ['2025-Q1'] });
    const q1 = sourceFile('workforce_capacity/plans/q1.csv', [plan('Data', '2025-Q1', 'eng', '3', '100')]);
    const q2 = sourceFile('workforce_capacity/plans/q2.csv', [
      plan('Data', '2025-Q2', 'eng', '4', '100'),
      plan('Ops', '2025-Q1', 'ops', '1', '10'),
    ]);
    await writeManifests(aws.s3, env.controlBucket, [q1, q2]);

    const output = await ensure(env, [q1.outcome, q2.outcome]);

    expect(output).toEqual({ table: TABLE, tableMissing: false, partitions: 2, registered: 1 });
    const partitions = await partitionsOf(env);
    expect(partitions.map((p) => [p.value, p.location])).toEqual([
      ['2025-Q1', 's3://normalized/workforce_capacity/quarter=2025-Q1/'],
      ['2025-Q2', 's3://normalized/workforce_capacity/quarter=2025-Q2/'],
    ]);
    expect(partitions[1]!.sd).toMatchObject({
      Columns: COLUMNS,
      InputFormat: STORAGE.InputFormat,
      SerdeInfo: STORAGE.SerdeInfo,
    });
    // Run again (a retry of the state): nothing left to register.
    expect(await ensure(env, [q1.outcome, q2.outcome])).toMatchObject({ registered: 0, partitions: 2 });
  });

  it('says the table is missing (the state machine crawls again) instead of creating it', async () => {
    const env = await catalog({ table: false });
    const file = sourceFile('workforce_capacity/plans/first.csv', [plan('Data', '2025-Q3', 'eng', '1', '1')]);
    await writeManifests(aws.s3, env.controlBucket, [file]);

    expect(await ensure(env, [file.outcome])).toEqual({
      table: TABLE,
      tableMissing: true,
      partitions: 1,
      registered: 0,
    });
  });

  it('registers more partitions than one BatchCreatePartition call takes (100), and ignores quarantined files', async () => {
    const env = await catalog({ table: true });
    const quarters = Array.from({ length: 130 }, (_, i) => `${2000 + Math.floor(i / 4)}-Q${(i % 4) + 1}`);
    const files = Array.from({ length: 3 }, (_, f) =>
      sourceFile(
        `workforce_capacity/plans/history-${f}.csv`,
        quarters.filter((_, i) => i % 3 === f).map((q) => plan('Data', q, 'eng', '1', '1')),
      ),
    );
    await writeManifests(aws.s3, env.controlBucket, files);
    const quarantined: FileOutcome = {
      status: 'quarantined',
      dataset: 'workforce_capacity',
      key: 'workforce_capacity/bad.csv',
      versionId: 'v1',
      sourceId: 's',
      quarantineKey: 'files/workforce_capacity/s/',
    };

    const output = await ensure(env, [...files.map((f) => f.outcome), quarantined]);

    expect(output).toMatchObject({ partitions: 130, registered: 130 });
    expect((await partitionsOf(env)).map((p) => p.value)).toEqual([...quarters].sort());
  });
});
