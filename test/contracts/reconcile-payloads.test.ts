import { readFileSync } from 'node:fs';
import Ajv, { type ValidateFunction } from 'ajv';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PipelineEnv } from '../../lambdas/common/env';
import { makeReconcileHandler } from '../../lambdas/reconcile/handler';
import { progressOf } from '../../lambdas/reconcile/progress';
import type { FileOutcome } from '../../lib/contracts/batch';
import type { ReconcileResult, SchemaDriftResult } from '../../lib/contracts/reconcile';
import type { Progress } from '../../lib/contracts/workflow';
import type { LoadedStateMachine } from '../../local/state-machine';
import { schemaPath } from '../../scripts/contract-schemas';
import {
  dataset,
  EXECUTION,
  plan,
  RecordingSns,
  sourceFile,
  TEST_TOPIC,
  writeBalancedAggregates,
  writeEtlRun,
  writeManifests,
} from '../reconcile/fixtures';
import {
  batch,
  FakeBackends,
  loadSynthesizedStateMachine,
  NamedError,
  normalizedOutcome,
  run,
} from '../state-machine/harness';
import { MemoryGlue, memoryS3 } from './memory-aws';

const ajv = new Ajv({ strict: true, allErrors: true });
const validators = new Map<string, ValidateFunction>();

/** The errors of `document` against lib/contracts/schemas/<name>.schema.json ([] when valid). */
function errorsOf(name: string, document: unknown): string[] {
  let validate = validators.get(name);
  if (!validate) {
    validate = ajv.compile(JSON.parse(readFileSync(schemaPath(name), 'utf-8')) as object);
    validators.set(name, validate);
  }
  return validate(document) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

function renamed<T extends object>(document: T, field: keyof T & string): Record<string, unknown> {
  const { [field]: value, ...rest } = document as Record<string, unknown>;
  return { ...rest, [`${field}_renamed`]: value };
}

const env: PipelineEnv = {
  pipelineName: 'test-pipeline',
  landingBucket: 'landing',
  normalizedBucket: 'normalized',
  curatedBucket: 'curated',
  quarantineBucket: 'quarantine',
  controlBucket: 'control',
  glueDatabase: 'test_pipeline',
  alertTopicArn: TEST_TOPIC,
  endpointUrl: undefined,
  region: 'eu-west-1',
};

describe('what the reconcile Lambda returns and writes matches its schema', () => {
  /**
   * A batch of two files of which the ETL merged one: progress has work left, the catalog has
   * a table without the batch's partitions, and reconciliation fails (a discrepancy alert).
   */
  async function setUp() {
    const { s3, objects } = memoryS3();
    const glue = new MemoryGlue();
    const sns = new RecordingSns();
    const merged = sourceFile('capacity/q1.csv', [plan('eng', '2026-Q1', 'swe', '3', '300')]);
    const waiting = sourceFile('capacity/q2.csv', [plan('ops', '2026-Q2', 'sre', '2', '200')]);
    await writeManifests(s3, env.controlBucket, [merged, waiting]);
    await writeEtlRun(s3, env.controlBucket, 'jr_1', [{ file: merged }]);
    await writeBalancedAggregates(s3, env.controlBucket, [...merged.rows, ...waiting.rows]);
    const handler = makeReconcileHandler(
      env,
      { s3, glue: glue.client, sns: sns.client },
      { reportWait: { attempts: 1, delayMs: 0 } },
    );
    const files = [merged.outcome, waiting.outcome];
    return { objects, glue, handler, files, ds: dataset().name };
  }

  it('progress: the result of the first round and of a round after an ETL run', async () => {
    const { handler, files, ds } = await setUp();
    const first = (await handler({ action: 'progress', dataset: ds, files })) as Progress;
    expect(first.remainingObjects).toBe(1);
    expect(errorsOf('progress', first)).toEqual([]);
    expect(errorsOf('reconcile-response', first)).toEqual([]);

    const next = await handler({
      action: 'progress',
      dataset: ds,
      files,
      previous: first,
      lastRunId: 'jr_1',
    });
    expect(next).toMatchObject({ round: 2, lastRunFilesRead: 1 });
    expect(errorsOf('progress', next)).toEqual([]);
    expect(errorsOf('progress', renamed(first, 'remainingObjects'))).not.toEqual([]);
  });

  it('partitions: a missing table, then partitions registered', async () => {
    const { handler, glue, files, ds } = await setUp();
    const missing = await handler({ action: 'partitions', dataset: ds, files });
    expect(missing).toMatchObject({ tableMissing: true });
    expect(errorsOf('reconcile-response', missing)).toEqual([]);

    glue.table = { Name: 'normalized', StorageDescriptor: { Location: 's3://normalized/x/' } };
    const registered = await handler({ action: 'partitions', dataset: ds, files });
    expect(registered).toMatchObject({ tableMissing: false, registered: 2 });
    expect(errorsOf('reconcile-response', registered)).toEqual([]);
  });

  it('schema-drift: the first sighting, then a change with the notice receipt', async () => {
    const { handler, glue, ds } = await setUp();
    const columns = [{ Name: 'org_unit', Type: 'string' }];
    glue.table = { Name: 'normalized', VersionId: '1', StorageDescriptor: { Columns: columns } };
    const first = await handler({ action: 'schema-drift', dataset: ds, executionId: EXECUTION, files: [] });
    expect(first).toMatchObject({ firstSighting: true, alert: null });
    expect(errorsOf('reconcile-response', first)).toEqual([]);

    glue.table = {
      Name: 'normalized',
      VersionId: '2',
      StorageDescriptor: { Columns: [...columns, { Name: 'bonus', Type: 'double' }] },
    };
    const changed = (await handler({
      action: 'schema-drift',
      dataset: ds,
      executionId: EXECUTION,
      files: [],
    })) as SchemaDriftResult;
    expect(changed).toMatchObject({ changed: true, alert: { kind: 'schema_drift', published: true } });
    expect(errorsOf('reconcile-response', changed)).toEqual([]);
    expect(errorsOf('reconcile-response', renamed(changed, 'firstSighting'))).not.toEqual([]);
  });

  it('reconcile: the result with its alert receipt, and the result document it writes', async () => {
    const { handler, objects, files, ds } = await setUp();
    const result = (await handler({
      action: 'reconcile',
      dataset: ds,
      executionId: EXECUTION,
      files,
    })) as ReconcileResult;
    expect(result).toMatchObject({ status: 'fail', alert: { kind: 'discrepancy', published: true } });
    expect(errorsOf('reconcile-response', result)).toEqual([]);
    expect(errorsOf('reconcile-response', renamed(result, 'resultKey'))).not.toEqual([]);

    const document = JSON.parse(objects.get(`${env.controlBucket}/${result.resultKey}`)!) as object;
    expect(errorsOf('reconciliation-result', document)).toEqual([]);
    expect(errorsOf('reconciliation-result', renamed(document as { checks: unknown }, 'checks'))).not.toEqual(
      [],
    );
  });

  it('progressOf counts quarantined, failed and flagged files into a valid progress', () => {
    const files: FileOutcome[] = [
      { status: 'quarantined', dataset: 'd', key: 'a.csv', versionId: null, sourceId: 'a', errorName: 'E' },
      { status: 'failed', dataset: 'd', key: 'b.csv', versionId: 'v', sourceId: 'b', reason: 'r' },
    ];
    const objects = [{ sourceId: 'c', partition: "it's", normalizedKey: 'k' }];
    const progress = progressOf(dataset(), files, objects, [false], { round: 1, remainingObjects: 2 }, 0);
    expect(progress).toMatchObject({ quarantinedFiles: 1, failedFiles: 1, madeProgress: true });
    expect(errorsOf('progress', progress)).toEqual([]);
    for (const file of files) expect(errorsOf('file-outcome', file)).toEqual([]);
  });
});

describe('what the state machine sends the reconcile Lambda matches its schema', () => {
  let machine: LoadedStateMachine;

  beforeAll(() => {
    machine = loadSynthesizedStateMachine();
  });

  /** Every call the synthesized state machine made to the reconcile Lambda in one execution. */
  async function reconcileCalls(backends: FakeBackends, files = batch('cloud_billing', 3)) {
    const result = await run(machine, files, backends);
    expect(result.status).toBe('SUCCEEDED');
    return backends.calls('reconcile');
  }

  it('in a batch with a normalized, a flagged, a duplicate and a quarantined file, over two ETL rounds', async () => {
    const backends = new FakeBackends();
    const files = batch('cloud_billing', 4);
    backends.normalizeAs.set(files[1]!.key, { unknownTemplate: 'no template matched', rejectedRows: 1 });
    backends.normalizeAs.set(files[2]!.key, { duplicateOf: 'cloud_billing/earlier.csv' });
    backends.normalizeFailures.set(files[3]!.key, new NamedError('EmptyFileError', 'empty'));
    backends.remaining = [2, 1, 0];
    const calls = await reconcileCalls(backends, files);

    expect(calls.map((c) => c.action)).toEqual([
      'progress',
      'partitions',
      'schema-drift',
      'progress',
      'progress',
      'reconcile',
      'publish',
    ]);
    expect(calls.some((c) => c.previous !== undefined && c.lastRunId !== undefined)).toBe(true);
    for (const call of calls) expect(errorsOf('reconcile-event', call), JSON.stringify(call)).toEqual([]);
    // Reconcile and the dataset event it is followed by are sent the same outcomes.
    expect(calls.at(-1)!.files).toEqual(calls.at(-2)!.files);
    const outcomes = calls.at(-1)!.files as FileOutcome[];
    expect(outcomes.map((f) => f.status)).toEqual(['normalized', 'normalized', 'duplicate', 'quarantined']);
    for (const outcome of outcomes) expect(errorsOf('file-outcome', outcome)).toEqual([]);
    // The notify Lambda's calls: the quarantine and unknown-template notices.
    const notices = backends.calls('notify');
    expect(notices.map((n) => n.kind).sort()).toEqual(['quarantine', 'unknown_template']);
    for (const notice of notices)
      expect(errorsOf('notify-event', notice), JSON.stringify(notice)).toEqual([]);
  });

  it('with a file that could be neither normalized nor quarantined (the outcome the state machine builds)', async () => {
    const backends = new FakeBackends();
    const files = batch('cloud_billing', 2);
    backends.normalizeFailures.set(files[0]!.key, new NamedError('UnreadableFileError', 'bad'));
    backends.quarantineErrors = Array.from({ length: 3 }, () => new NamedError('AccessDenied', 'no access'));
    const result = await run(machine, files, backends);
    expect(result.status).toBe('FAILED');

    const calls = backends.calls('reconcile');
    const failed = (calls.at(-1)!.files as FileOutcome[]).filter((f) => f.status === 'failed');
    expect(failed).toHaveLength(1);
    for (const call of calls) expect(errorsOf('reconcile-event', call), JSON.stringify(call)).toEqual([]);

    // The notify Lambda's call: the failure alert naming the file.
    const notices = backends.calls('notify');
    expect(notices.map((n) => n.kind)).toEqual(['failure']);
    for (const notice of notices)
      expect(errorsOf('notify-event', notice), JSON.stringify(notice)).toEqual([]);
    expect(errorsOf('notify-event', renamed(notices[0]!, 'dataset'))).not.toEqual([]);
  });

  it('rejects an event whose files field is renamed, and an outcome with an unknown status', () => {
    const outcome = normalizedOutcome('cloud_billing', batch('cloud_billing', 1)[0]!);
    expect(errorsOf('file-outcome', outcome)).toEqual([]);
    expect(errorsOf('file-outcome', { ...outcome, status: 'merged' })).not.toEqual([]);
    const event = { action: 'partitions', dataset: 'cloud_billing', files: [outcome] };
    expect(errorsOf('reconcile-event', event)).toEqual([]);
    expect(errorsOf('reconcile-event', renamed(event, 'files'))).not.toEqual([]);
  });
});
