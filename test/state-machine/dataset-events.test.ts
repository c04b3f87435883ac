/**
 * The DatasetUpdated / DatasetHeld event in the synthesized state machine (docs/events.md): the
 * PublishDatasetEvent task runs on the success path and on the failed-files path, after the other
 * notices and before the failed files end the execution; an event that cannot be put is retried,
 * then recorded in $.notices, and the batch still ends SUCCEEDED for the backstop to alert.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { formatAlert } from '../../lambdas/common/alerts';
import { DATASET_EVENT_NOT_PUBLISHED } from '../../lib/contracts/dataset-events';
import { STATE } from '../../lib/contracts/workflow';
import { type LoadedStateMachine, statesEntered } from '../../local/state-machine';
import { batch, FakeBackends, loadSynthesizedStateMachine, NamedError, run } from './harness';

let machine: LoadedStateMachine;

beforeAll(() => {
  machine = loadSynthesizedStateMachine();
});

const notices = (output: unknown) => (output as { notices: Record<string, unknown> }).notices;

describe('PublishDatasetEvent', () => {
  it('publishes DatasetUpdated once a clean batch is reconciled, after the other notices, and records its receipt', async () => {
    const backends = new FakeBackends();
    const files = batch('cloud_billing', 2);
    const result = await run(machine, files, backends);

    expect(result.status).toBe('SUCCEEDED');
    const entered = statesEntered(result);
    expect(entered.slice(-5)).toEqual([
      STATE.templatesFlagged,
      STATE.publishDatasetEvent,
      STATE.filesFailed,
      STATE.noticesPublished,
      STATE.done,
    ]);
    expect(entered.indexOf(STATE.reconcile)).toBeLessThan(entered.indexOf(STATE.publishDatasetEvent));
    const [call, ...more] = backends.calls('reconcile', 'publish');
    expect(more).toEqual([]);
    expect(call).toEqual({
      action: 'publish',
      dataset: 'cloud_billing',
      executionId: expect.stringContaining('test-'),
      files: expect.arrayContaining([expect.objectContaining({ status: 'normalized' })]),
    });
    expect(backends.datasetEvents).toEqual(['DatasetUpdated']);
    expect(notices(result.output).datasetEvent).toEqual({
      detailType: 'DatasetUpdated',
      published: true,
      eventId: 'event-1',
      reconciliation: 'passed',
      partitions: 1,
      rowsWritten: 10,
    });
  });

  it('publishes DatasetHeld on the failed-files path before the failure alert, and the execution still fails', async () => {
    const backends = new FakeBackends();
    backends.normalizeFailures.set(
      'cloud_billing/file-2.csv',
      new NamedError('States.Timeout', 'The task timed out after 900 seconds'),
    );
    const result = await run(machine, batch('cloud_billing', 3), backends);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('FilesFailedError');
    expect(backends.datasetEvents).toEqual(['DatasetHeld']);
    const entered = statesEntered(result);
    expect(entered.indexOf(STATE.publishDatasetEvent)).toBeGreaterThan(entered.indexOf(STATE.reconcile));
    expect(entered.indexOf(STATE.publishDatasetEvent)).toBeLessThan(entered.indexOf(STATE.failFiles));
    expect(entered.indexOf(STATE.failFiles)).toBeLessThan(entered.indexOf(STATE.notifyFailure));
    const published = backends.calls('reconcile', 'publish')[0]!;
    expect((published.files as { status: string }[]).map((f) => f.status).sort()).toEqual([
      'failed',
      'normalized',
      'normalized',
    ]);
  });

  it('publishes DatasetHeld after a discrepancy, once the discrepancy alert went out; the batch is merged, so it succeeds', async () => {
    const backends = new FakeBackends();
    backends.discrepancy = { subject: '[cloud_billing] 1 reconciliation check failed' };
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(backends.datasetEvents).toEqual(['DatasetHeld']);
    expect(backends.alerts.map((a) => a.kind)).toEqual(['discrepancy']);
    expect(statesEntered(result).at(-1)).toBe(STATE.done);
  });

  it('retries an event that could not be put, and goes on when a retry puts it', async () => {
    const backends = new FakeBackends();
    backends.datasetEventErrors = [
      new NamedError(
        DATASET_EVENT_NOT_PUBLISHED,
        'DatasetUpdated event of cloud_billing was not put: InternalFailure',
      ),
    ];
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(backends.calls('reconcile', 'publish')).toHaveLength(2);
    expect(backends.datasetEvents).toEqual(['DatasetUpdated']);
    expect(statesEntered(result).at(-1)).toBe(STATE.done);
  });

  it('ends SUCCEEDED with the unpublished event recorded in $.notices when it can never be put, and the backstop alert names it', async () => {
    const backends = new FakeBackends();
    const message =
      'DatasetUpdated event of cloud_billing (execution test-x) was not put on the default event bus after 3 attempts: InternalFailure: try again';
    backends.datasetEventFailure = new NamedError(DATASET_EVENT_NOT_PUBLISHED, message);
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('SUCCEEDED');
    // The first try and the task's two retries.
    expect(backends.calls('reconcile', 'publish')).toHaveLength(3);
    expect(backends.datasetEvents).toEqual([]);
    expect(statesEntered(result).at(-1)).toBe(STATE.noticesNotPublished);
    expect(statesEntered(result)).not.toContain(STATE.notifyFailure);
    const recorded = notices(result.output).datasetEvent as { Error: string; Cause: string };
    expect(recorded.Error).toBe(DATASET_EVENT_NOT_PUBLISHED);

    // What the backstop (notify, on the SUCCEEDED status change) sends from that output.
    const alert = formatAlert({
      kind: 'failure',
      dataset: 'cloud_billing',
      stage: 'notices',
      executionId: 'arn:aws:states:us-east-1:000000000000:execution:ingestion:test-x',
      error: {
        Error: 'NoticeNotPublishedError',
        Cause: 'The batch was merged and reconciled, but 1 notice(s) could not be published: datasetEvent',
      },
      notices: notices(result.output),
      backstop: { status: 'SUCCEEDED' },
    });
    expect(alert.subject).toContain('datasetEvent');
    const line = alert.message.split('\n').find((l) => l.startsWith('- datasetEvent: '));
    expect(line).toContain(DATASET_EVENT_NOT_PUBLISHED);
    expect(line).toContain(
      'DatasetUpdated event of cloud_billing (execution test-x) was not put on the default event bus',
    );
  });

  it('records any other failure of the task (a missing result document) without retrying it, and the batch still succeeds', async () => {
    const backends = new FakeBackends();
    backends.datasetEventFailure = new NamedError(
      'ControlDocumentError',
      'reconciliation result reconciliation/cloud_billing/x.json does not exist',
    );
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(backends.calls('reconcile', 'publish')).toHaveLength(1);
    expect(notices(result.output).datasetEvent).toMatchObject({ Error: 'ControlDocumentError' });
    expect(statesEntered(result).at(-1)).toBe(STATE.noticesNotPublished);
  });
});
