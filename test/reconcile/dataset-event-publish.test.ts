/**
 * The reconcile handler's `publish` action against the emulator: after Reconcile wrote the result
 * document, it puts exactly one DatasetUpdated or DatasetHeld event on the default bus; a rule on
 * the pipeline's source (the local runtime's consumer, local/dataset-events.ts) routes it to a
 * queue, where it is read back and validated against its JSON Schema.
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import Ajv from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineEnv } from '../../lambdas/common/env';
import { makeReconcileHandler } from '../../lambdas/reconcile/handler';
import type { FileOutcome } from '../../lib/contracts/batch';
import type { DatasetEventReceipt } from '../../lib/contracts/dataset-events';
import heldSchema from '../../lib/contracts/schemas/dataset-held.schema.json';
import updatedSchema from '../../lib/contracts/schemas/dataset-updated.schema.json';
import { DatasetEventInbox, type ReceivedDatasetEvent } from '../../local/dataset-events';
import {
  EXECUTION,
  plan,
  RecordingSns,
  roster,
  sourceFile,
  startTestAws,
  type TestAws,
  writeBalancedAggregates,
  writeEtlRun,
  writeManifests,
} from './fixtures';

let aws: TestAws;
let events: EventBridgeClient;
let inbox: DatasetEventInbox;
const ajv = new Ajv({ allErrors: true, strict: false });
const schemas = { DatasetUpdated: ajv.compile(updatedSchema), DatasetHeld: ajv.compile(heldSchema) };

beforeAll(async () => {
  aws = await startTestAws();
  const common = {
    endpoint: aws.emulator.endpoint,
    region: aws.emulator.env.AWS_REGION!,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };
  events = new EventBridgeClient(common);
  // The test environment's pipeline name is test-pipeline: its events' source is test-pipeline.pipeline.
  inbox = await DatasetEventInbox.provision({ events, sqs: new SQSClient(common) }, 'test-pipeline');
});

afterAll(async () => {
  await aws?.emulator.stop();
});

const QUICK = { reportWait: { attempts: 2, delayMs: 20 } };

function handlerFor(env: PipelineEnv) {
  return makeReconcileHandler(
    env,
    { s3: aws.s3, glue: aws.glue, sns: new RecordingSns().client, events },
    QUICK,
  );
}

async function reconcileAndPublish(env: PipelineEnv, files: readonly FileOutcome[], executionId = EXECUTION) {
  const handler = handlerFor(env);
  await handler({ action: 'reconcile', dataset: 'workforce_capacity', executionId, files });
  const receipt = (await handler({
    action: 'publish',
    dataset: 'workforce_capacity',
    executionId,
    files,
  })) as DatasetEventReceipt;
  return { receipt, delivered: await inbox.drain() };
}

function expectValid(event: ReceivedDatasetEvent): void {
  const validate = schemas[event['detail-type']];
  const ok = validate(event.detail);
  expect(validate.errors ?? []).toEqual([]);
  expect(ok).toBe(true);
}

const q1 = () => [
  plan('Data', '2025-Q1', 'Engineering', '10', '150000.25'),
  plan('Data', '2025-Q1', 'Analytics', '4', '52000.10'),
  roster('Data', '2025-Q1', '14'),
];

describe('the publish action', () => {
  it('puts exactly one DatasetUpdated event for a reconciled batch, valid against its schema and routed by a rule on the source', async () => {
    const env = await aws.newEnv();
    const file = sourceFile('workforce_capacity/plans/data-q1.csv', q1().slice(0, 2));
    await writeManifests(aws.s3, env.controlBucket, [file]);
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_pub_1', [{ file }]);
    await writeBalancedAggregates(aws.s3, env.controlBucket, file.rows);

    const { receipt, delivered } = await reconcileAndPublish(env, [file.outcome]);

    expect(delivered).toHaveLength(1);
    const [event] = delivered as [ReceivedDatasetEvent];
    expect(event.source).toBe('test-pipeline.pipeline');
    expect(event['detail-type']).toBe('DatasetUpdated');
    expect(event.id).toBe(receipt.eventId);
    expect(receipt).toMatchObject({
      detailType: 'DatasetUpdated',
      published: true,
      reconciliation: 'passed',
      partitions: 1,
      rowsWritten: 2,
    });
    expectValid(event);
    expect(event.detail).toMatchObject({
      pipeline: 'test-pipeline',
      dataset: 'workforce_capacity',
      executionId: EXECUTION,
      executionName: 'batch-0001',
      changed: true,
      tables: [{ database: 'test_pipeline', table: 'workforce_capacity' }],
      partitions: { column: 'quarter', values: ['2025-Q1'], omitted: 0 },
      etlRuns: [{ runId: 'jr_pub_1', jobName: expect.any(String) }],
      rows: { normalized: 2, written: 2 },
      reconciliation: { status: 'passed', resultKey: 'reconciliation/workforce_capacity/batch-0001.json' },
      files: { total: 1, normalized: 1, failed: 0 },
    });
    expect(event.detail.tables[0]!.snapshotId).toBe(event.detail.etlRuns[0]!.snapshotId);
  });

  it('puts DatasetHeld when a file of the batch failed, and the same content again when published again', async () => {
    const env = await aws.newEnv();
    const file = sourceFile('workforce_capacity/plans/data-q1-held.csv', q1().slice(0, 2));
    await writeManifests(aws.s3, env.controlBucket, [file]);
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_pub_2', [{ file }]);
    await writeBalancedAggregates(aws.s3, env.controlBucket, file.rows);
    const failed: FileOutcome = {
      status: 'failed',
      dataset: 'workforce_capacity',
      key: 'workforce_capacity/plans/timed-out.csv',
      versionId: 'v1',
      sourceId: 'f'.repeat(32),
      errorName: 'States.Timeout',
      reason: 'The task timed out',
    };
    const execution = `${EXECUTION}-held`;

    const first = await reconcileAndPublish(env, [file.outcome, failed], execution);
    const again = (await handlerFor(env)({
      action: 'publish',
      dataset: 'workforce_capacity',
      executionId: execution,
      files: [file.outcome, failed],
    })) as DatasetEventReceipt;
    const second = await inbox.drain();

    expect(first.delivered).toHaveLength(1);
    expect(second).toHaveLength(1);
    const [event] = first.delivered as [ReceivedDatasetEvent];
    expect(event['detail-type']).toBe('DatasetHeld');
    expectValid(event);
    expect(event.detail).toMatchObject({
      executionId: execution,
      reconciliation: { status: 'passed' },
      files: { total: 2, normalized: 1, failed: 1 },
      reasons: [{ code: 'files_failed' }],
    });
    // A consumer deduplicates on detail.executionId + detail-type: the repeat carries the same detail.
    expect(second[0]!['detail-type']).toBe('DatasetHeld');
    expect(second[0]!.detail).toEqual(event.detail);
    expect(second[0]!.id).toBe(again.eventId);
    expect(second[0]!.id).not.toBe(event.id);
  });

  it('puts DatasetHeld naming the failed checks when the batch was not merged', async () => {
    const env = await aws.newEnv();
    const file = sourceFile('workforce_capacity/plans/never-merged.csv', q1().slice(0, 2));
    await writeManifests(aws.s3, env.controlBucket, [file]);

    const { receipt, delivered } = await reconcileAndPublish(env, [file.outcome], `${EXECUTION}-unmerged`);

    expect(delivered).toHaveLength(1);
    const [event] = delivered as [ReceivedDatasetEvent];
    expect(event['detail-type']).toBe('DatasetHeld');
    expect(receipt.reconciliation).toBe('failed');
    expectValid(event);
    expect(event.detail).toMatchObject({ changed: false, etlRuns: [], rows: { normalized: 2, written: 0 } });
    expect(event.detail.reconciliation.failedChecks.length).toBeGreaterThan(0);
    expect('reasons' in event.detail && event.detail.reasons.map((r) => r.code)).toEqual([
      'reconciliation_failed',
    ]);
  });

  it('refuses to publish before the batch is reconciled: a clear error and no event', async () => {
    const env = await aws.newEnv();
    const file = sourceFile('workforce_capacity/plans/not-reconciled.csv', q1().slice(0, 2));
    await writeManifests(aws.s3, env.controlBucket, [file]);

    await expect(
      handlerFor(env)({
        action: 'publish',
        dataset: 'workforce_capacity',
        executionId: `${EXECUTION}-early`,
        files: [file.outcome],
      }),
    ).rejects.toThrow(
      'reconciliation result reconciliation/workforce_capacity/batch-0001-early.json does not exist: the batch must be reconciled before its event is published',
    );
    expect(await inbox.drain()).toEqual([]);
  });
});
