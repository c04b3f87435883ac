import { describe, expect, it } from 'vitest';
import { loadDatasets } from '../../lib/config';
import type { EtlRunReport } from '../../lib/contracts/run-report';
import { STACK_OUTPUTS } from '../../lib/contracts/stack-outputs';
import {
  describeReprocessReport,
  formatReprocessReport,
  parsePartition,
  type ReprocessAwsClients,
  reprocessPartition,
} from '../../local/reprocess';

const billing = loadDatasets().find((d) => d.name === 'cloud_billing')!;
const KEY = 'cloud_billing/billing_period=2024-10/abc.jsonl.gz';

type Handlers = Record<string, (input: Record<string, unknown>) => unknown>;

/** Clients whose `send` answers each command by its class name, and records the calls. */
function stubClients(handlers: Handlers) {
  const calls: { command: string; input: Record<string, unknown> }[] = [];
  const client = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const name = command.constructor.name;
      calls.push({ command: name, input: command.input });
      const handler = handlers[name];
      if (!handler) throw new Error(`unexpected ${name}`);
      return handler(command.input);
    },
  };
  return {
    clients: { cloudFormation: client, glue: client, s3: client } as unknown as ReprocessAwsClients,
    calls,
  };
}

const stack = {
  DescribeStacksCommand: () => ({
    Stacks: [
      {
        Outputs: [
          { OutputKey: STACK_OUTPUTS.glueDatabase, OutputValue: 'finance_ingest' },
          { OutputKey: STACK_OUTPUTS.controlBucket, OutputValue: 'control-bucket' },
        ],
      },
    ],
  }),
};

const runReport = {
  runId: 'jr_1',
  filesRead: 1,
  snapshotId: '42',
  previousSnapshotId: '41',
  sources: [{ normalizedKeys: [KEY] }],
  reprocess: {
    partition: 'billing_period=2024-10',
    column: 'billing_period',
    value: '2024-10',
    objects: 1,
    rowsBefore: 2,
    rowsAfter: 1,
    rowsInserted: 0,
    rowsUpdated: 1,
    rowsDeleted: 1,
    rowsUnchanged: 0,
    committed: true,
    otherPartitionRowsDisplaced: 0,
  },
} as unknown as EtlRunReport;

const base = { dataset: 'cloud_billing', partition: 'billing_period=2024-10', stack: 'Finance', pollMs: 1 };

describe('reprocessing a partition of a deployed stack', () => {
  it('starts the job of the stack with the partition and reports the run report', async () => {
    const states = ['RUNNING', 'SUCCEEDED'];
    const { clients, calls } = stubClients({
      ...stack,
      StartJobRunCommand: () => ({ JobRunId: 'jr_1' }),
      GetJobRunCommand: () => ({ JobRun: { JobRunState: states.shift() } }),
      GetObjectCommand: () => ({ Body: { transformToString: async () => JSON.stringify(runReport) } }),
    });
    const lines: string[] = [];

    const report = await reprocessPartition({
      ...base,
      dryRun: false,
      awsClients: clients,
      onProgress: (l) => lines.push(l),
    });

    expect(calls.find((c) => c.command === 'StartJobRunCommand')!.input).toEqual({
      JobName: 'finance-ingest-cloud_billing-curate',
      Arguments: { '--reprocess_partition': 'billing_period=2024-10' },
    });
    expect(calls.filter((c) => c.command === 'GetJobRunCommand')).toHaveLength(2);
    expect(calls.find((c) => c.command === 'GetObjectCommand')!.input).toEqual({
      Bucket: 'control-bucket',
      Key: 'etl/runs/cloud_billing/jr_1.json',
    });
    expect(report).toMatchObject({
      ok: true,
      target: 'aws',
      runId: 'jr_1',
      rowsBefore: 2,
      rowsAfter: 1,
      snapshotId: '42',
      changes: { rowsUpdated: 1, rowsDeleted: 1, committed: true },
      runReport: 's3://control-bucket/etl/runs/cloud_billing/jr_1.json',
      objects: [{ key: KEY, marked: true, markerRunId: 'jr_1' }],
    });
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
    expect(describeReprocessReport(report)).toBe(
      'reprocessed cloud_billing billing_period=2024-10: 1 object(s) read, 2 row(s) before, 1 after ' +
        '(0 inserted, 1 updated, 1 deleted, 0 unchanged); snapshot 42 committed; ' +
        'run jr_1, report s3://control-bucket/etl/runs/cloud_billing/jr_1.json',
    );
    expect(lines.some((l) => l.includes('started finance-ingest-cloud_billing-curate run jr_1'))).toBe(true);
  });

  it('reports a failed run with its error, not success', async () => {
    const { clients } = stubClients({
      ...stack,
      StartJobRunCommand: () => ({ JobRunId: 'jr_2' }),
      GetJobRunCommand: () => ({
        JobRun: { JobRunState: 'FAILED', ErrorMessage: 'EmptyPartitionError: nothing' },
      }),
    });

    const report = await reprocessPartition({
      ...base,
      dryRun: false,
      awsClients: clients,
      onProgress: () => undefined,
    });

    expect(report).toMatchObject({
      ok: false,
      runId: 'jr_2',
      error: 'FAILED: EmptyPartitionError: nothing',
      changes: null,
    });
    expect(describeReprocessReport(report)).toBe(
      'reprocessing cloud_billing billing_period=2024-10 FAILED (run jr_2): FAILED: EmptyPartitionError: nothing; nothing changed',
    );
  });

  it('says to wait when the job is running for an execution', async () => {
    const busy = Object.assign(new Error('Too many jobs are being run concurrently'), {
      name: 'ConcurrentRunsExceededException',
    });
    const { clients } = stubClients({
      ...stack,
      StartJobRunCommand: () => {
        throw busy;
      },
    });

    await expect(
      reprocessPartition({ ...base, dryRun: false, awsClients: clients, onProgress: () => undefined }),
    ).rejects.toThrow(/is running for an execution \(one run at a time\)/);
  });

  it('lists the partition in a dry run without starting anything', async () => {
    const { clients, calls } = stubClients({
      ...stack,
      GetPartitionsCommand: () => ({
        Partitions: [
          { StorageDescriptor: { Location: 's3://normalized/cloud_billing/billing_period=2024-10/' } },
        ],
      }),
      ListObjectsV2Command: (input) => ({
        Contents:
          input.Bucket === 'normalized'
            ? [{ Key: KEY }, { Key: 'cloud_billing/billing_period=2024-10/def.jsonl.gz' }]
            : [{ Key: `etl/processed/${KEY}.json` }],
      }),
    });

    const report = await reprocessPartition({
      ...base,
      dryRun: true,
      awsClients: clients,
      onProgress: () => undefined,
    });

    expect(calls.map((c) => c.command)).not.toContain('StartJobRunCommand');
    expect(calls.find((c) => c.command === 'GetPartitionsCommand')!.input).toMatchObject({
      DatabaseName: 'finance_ingest',
      TableName: 'normalized_cloud_billing',
      Expression: "billing_period in ('2024-10')",
    });
    expect(report).toMatchObject({
      ok: true,
      dryRun: true,
      runId: null,
      objects: [
        { key: KEY, marked: true },
        { key: 'cloud_billing/billing_period=2024-10/def.jsonl.gz', marked: false },
      ],
    });
    expect(formatReprocessReport(report)).toBe(
      'dry run of cloud_billing billing_period=2024-10: 2 normalized object(s) (1 with a marker); nothing changed\n' +
        `  ${KEY}  marked\n` +
        '  cloud_billing/billing_period=2024-10/def.jsonl.gz  no marker yet\n',
    );
  });
});

describe('the partition argument', () => {
  it('is one value of the dataset partition column', () => {
    expect(parsePartition(billing, 'billing_period=2024-10')).toEqual({
      column: 'billing_period',
      value: '2024-10',
    });
    expect(parsePartition(billing, 'billing_period=a=b')).toEqual({ column: 'billing_period', value: 'a=b' });
    expect(() => parsePartition(billing, '2024-10')).toThrow(/must be <partition column>=<value>/);
    expect(() => parsePartition(billing, 'billing_period=')).toThrow(/must be <partition column>=<value>/);
    expect(() => parsePartition(billing, 'quarter=2024-Q4')).toThrow(/partitioned by "billing_period"/);
  });

  it('names an unknown dataset', async () => {
    await expect(
      reprocessPartition({ ...base, dataset: 'nope', dryRun: true, onProgress: () => undefined }),
    ).rejects.toThrow(/unknown dataset "nope"/);
  });
});
