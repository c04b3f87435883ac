import { beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../lib/config/validate';
import { STATE } from '../../lib/constructs/ingestion-state-machine';
import {
  executeStateMachine,
  HISTORY_EVENT_LIMIT,
  type LoadedStateMachine,
  STATE_PAYLOAD_LIMIT_BYTES,
  statesEntered,
} from '../../local/state-machine';
import {
  type BatchFileInput,
  FakeBackends,
  loadSynthesizedStateMachine,
  NamedError,
  outcomes,
  run,
} from './harness';

const billing = STATE.of('cloud_billing');
let machine: LoadedStateMachine;

beforeAll(() => {
  machine = loadSynthesizedStateMachine();
});

/**
 * Keys as long as real billing exports get (about 110 characters), versioned as S3 versions
 * them, with the event's time and a sequencer as S3 writes them (18 hexadecimal characters), in
 * a landing bucket with a name of 63 characters (the longest S3 allows).
 */
function longBatch(count: number): BatchFileInput[] {
  return Array.from({ length: count }, (_, i) => ({
    dataset: 'cloud_billing',
    bucket: `ingestionpipeline-landing1a2b3c4d-${'x'.repeat(29)}`,
    key: `cloud_billing/aws/payer-123456789012/2024/09/billing-export-2024-09-hourly-detail-part-${String(i).padStart(5, '0')}.csv.gz`,
    versionId: `3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLU${String(i).padStart(4, '0')}`,
    size: 104_857_600,
    eventTime: '2024-09-30T23:59:59Z',
    sequencer: (0x0066fb3b7f1a2b3c4dn + BigInt(i)).toString(16).toUpperCase().padStart(18, '0'),
  }));
}

/** Reasons as long as the normalizer and quarantine Lambdas make them (500 characters). */
const LONG_DETAIL =
  `header matches no template of cloud_billing; closest template: focus (missing columns: ${'x'.repeat(400)})`.slice(
    0,
    500,
  );

describe('Step Functions limits in local executions', () => {
  it(`runs a batch of ${LIMITS.maxBatchSize} files (the configured maximum) with every kind of notice under the payload and history limits, with margin`, async () => {
    const files = longBatch(LIMITS.maxBatchSize);
    const backends = new FakeBackends();
    // A third of the files quarantined (500-character reasons), a third flagged (500-character
    // details), rejected rows, a transiently throttled file; drift and a discrepancy on top.
    files.forEach((file, i) => {
      if (i % 3 === 0)
        backends.normalizeFailures.set(file.key, new NamedError('UnknownTemplateError', LONG_DETAIL));
      else if (i % 3 === 1)
        backends.normalizeAs.set(file.key, { unknownTemplate: LONG_DETAIL, rejectedRows: 3 });
    });
    backends.normalizeErrors.set(files[2]!.key, [
      new NamedError('Lambda.TooManyRequestsException', 'Rate Exceeded.'),
    ]);
    backends.drift = { subject: '[cloud_billing] schema change in normalized_cloud_billing: 40 added' };
    backends.discrepancy = { subject: '[cloud_billing] 167 reconciliation checks failed' };
    backends.remaining = [167, 100, 0];

    const result = await run(machine, files, backends);

    expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
    expect(outcomes(result)).toHaveLength(LIMITS.maxBatchSize);
    expect(backends.alerts.map((a) => a.kind).sort()).toEqual(
      ['discrepancy', 'quarantine', 'schema_drift', 'unknown_template'].sort(),
    );
    // Measured: 189,050 bytes at most (72% of the limit: PrepareBatch's output, the batch as the
    // Pipe delivered it; 155,050 without the files' event time and sequencer, 68 bytes a file),
    // 169,691 bytes for the largest state holding the compact outcomes (about 330 bytes each;
    // they carry neither) and 6,450 history events (26%).
    expect(Buffer.byteLength(JSON.stringify(files))).toBeLessThan(0.75 * STATE_PAYLOAD_LIMIT_BYTES);
    expect(result.limits.largestPayloadBytes).toBeLessThan(0.75 * STATE_PAYLOAD_LIMIT_BYTES);
    expect(result.limits.historyEvents).toBeLessThan(0.5 * HISTORY_EVENT_LIMIT);
  });

  it(`keeps ${LIMITS.maxBatchSize} quarantined files, each with a 500-character reason, under the payload limit`, async () => {
    const files = longBatch(LIMITS.maxBatchSize);
    const backends = new FakeBackends();
    for (const file of files)
      backends.normalizeFailures.set(file.key, new NamedError('UnreadableFileError', LONG_DETAIL));

    const result = await run(machine, files, backends);

    expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
    expect(outcomes(result).every((f) => f.status === 'quarantined' && f.reason === undefined)).toBe(true);
    // Measured: 189,050 bytes (72%; the batch as PrepareBatch passes it on, event times and
    // sequencers included); with the reasons kept the outcomes would be about 420 KB.
    expect(result.limits.largestPayloadBytes).toBeLessThan(0.75 * STATE_PAYLOAD_LIMIT_BYTES);
  });

  it('fails the execution with States.DataLimitExceeded, past every Catch, when a task result passes 256 KiB', async () => {
    const backends = new FakeBackends();
    const original = backends.invokeLambda.bind(backends);
    backends.invokeLambda = async (handler, payload) => {
      const result = (await original(handler, payload)) as Record<string, unknown>;
      const p = payload as { action?: string };
      // A progress answer listing 30,000 partitions: 300 KB.
      return handler === 'reconcile' && p.action === 'progress'
        ? {
            ...result,
            partitions: Array.from({ length: 30_000 }, (_, i) => `p-${String(i).padStart(5, '0')}`),
          }
        : result;
    };

    const result = await run(machine, longBatch(2), backends);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('States.DataLimitExceeded');
    expect(result.cause).toContain(`The result of task "${billing.planEtl}"`);
    // PlanEtl has a Catch of States.ALL: it is not taken, no failure alert is sent (the backstop's job).
    expect(statesEntered(result)).not.toContain(STATE.notifyFailure);
    expect(backends.calls('notify')).toEqual([]);
  });

  it('fails when a state output (the task result merged into the state) passes 256 KiB, though the result alone fits', async () => {
    const loaded: LoadedStateMachine = {
      definition: {
        StartAt: 'Grow',
        States: {
          Grow: {
            Type: 'Task',
            Resource: 'arn:aws:states:::sns:publish',
            ResultPath: '$.second',
            Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
            End: true,
          },
          Caught: { Type: 'Succeed' },
        },
      },
      routes: new Map([['Grow', { kind: 'sns-publish' } as const]]),
    };
    const half = 'x'.repeat(150_000);
    const backends = new FakeBackends();
    backends.publish = async () => ({ MessageId: half });

    const result = await executeStateMachine(loaded, { first: half }, backends, { executionName: 'grow' });

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('States.DataLimitExceeded');
    expect(result.cause).toContain('The output of state "Grow"');
    expect(statesEntered(result)).not.toContain('Caught');
  });

  it('fails with States.Runtime at 25,000 history events, as AWS does for a loop that never ends', async () => {
    const loaded: LoadedStateMachine = {
      definition: {
        StartAt: 'Spin',
        States: {
          Spin: { Type: 'Pass', Next: 'Again?' },
          'Again?': {
            Type: 'Choice',
            Choices: [{ Variable: '$.stop', IsPresent: true, Next: 'Stop' }],
            Default: 'Spin',
          },
          Stop: { Type: 'Succeed' },
        },
      },
      routes: new Map(),
    };

    const result = await executeStateMachine(loaded, {}, new FakeBackends(), { executionName: 'spin' });

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('States.Runtime');
    expect(result.cause).toContain('The execution reached the maximum number of history events (25000).');
    expect(result.limits.historyEvents).toBe(HISTORY_EVENT_LIMIT);
  });
});
