import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadDatasets } from '../../lib/config';
import { RUN_ETL_GRACE_MINUTES, STATE } from '../../lib/constructs/ingestion-state-machine';
import {
  type AslDefinition,
  type AslState,
  executeStateMachine,
  type GlueJobRunView,
  type LoadedStateMachine,
  localTaskTimeoutSeconds,
  MAX_LOCAL_TIMER_SECONDS,
  SERVICE_DEFAULT_TASK_TIMEOUT_SECONDS,
  statesEntered,
  withServiceTimeouts,
} from '../../local/state-machine';
import { batch, FakeBackends, loadSynthesizedStateMachine } from './harness';

const billing = STATE.of('cloud_billing');
let machine: LoadedStateMachine;

beforeAll(() => {
  machine = loadSynthesizedStateMachine();
});

afterEach(() => {
  vi.useRealTimers();
});

function findState(definition: AslDefinition, name: string): AslState | undefined {
  for (const [key, state] of Object.entries(definition.States)) {
    if (key === name) return state;
    for (const inner of [state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])]) {
      const found = inner ? findState(inner, name) : undefined;
      if (found) return found;
    }
  }
  return undefined;
}

/** A job whose run ends when the test says so. */
class SlowJobBackends extends FakeBackends {
  started = 0;
  private finish: ((state: GlueJobRunView['JobRunState']) => void) | undefined;

  override async runJob(input: {
    JobName: string;
    Arguments?: Record<string, string>;
  }): Promise<GlueJobRunView> {
    this.started += 1;
    this.jobRuns.push(input);
    const state = await new Promise<GlueJobRunView['JobRunState']>((resolve) => {
      this.finish = resolve;
    });
    return { Id: `jr_${this.jobRuns.length}`, JobName: input.JobName, JobRunState: state };
  }

  endRun(state: GlueJobRunView['JobRunState'] = 'SUCCEEDED'): void {
    this.finish?.(state);
  }
}

/** Advances the fake clock in small steps until `done()` or `maxMs` of fake time have passed. */
async function advanceUntil(done: () => boolean, maxMs: number, stepMs = 50): Promise<void> {
  for (let elapsed = 0; elapsed < maxMs && !done(); elapsed += stepMs)
    await vi.advanceTimersByTimeAsync(stepMs);
}

describe('the RunEtl state of the synthesized definition', () => {
  it('gives the Glue job run exactly etl.timeoutMinutes and the state 10 minutes more to learn its end', () => {
    // CDK's GlueStartJobRun renders `taskTimeout` as the job run's `Timeout` (minutes) and strips
    // the state's TimeoutSeconds; the construct puts the state's deadline back.
    const state = findState(machine.definition, billing.runEtl)!;
    const dataset = loadDatasets().find((d) => d.name === 'cloud_billing')!;

    expect(state.Resource).toMatch(/:states:::glue:startJobRun\.sync$/);
    expect((state.Parameters as { Timeout?: number }).Timeout).toBe(dataset.etl.timeoutMinutes);
    expect(state.TimeoutSeconds).toBe((dataset.etl.timeoutMinutes + RUN_ETL_GRACE_MINUTES) * 60);
    expect(state.TimeoutSecondsPath).toBeUndefined();
    expect(state.HeartbeatSeconds).toBeUndefined();
  });
});

describe('task timeouts in local executions', () => {
  it('gives a Task without TimeoutSeconds the service default, within what a Node timer holds', () => {
    expect(SERVICE_DEFAULT_TASK_TIMEOUT_SECONDS).toBe(99_999_999);
    expect(MAX_LOCAL_TIMER_SECONDS * 1000).toBeLessThanOrEqual(2 ** 31 - 1);
    expect(localTaskTimeoutSeconds({ Type: 'Task' })).toBe(MAX_LOCAL_TIMER_SECONDS);
    expect(localTaskTimeoutSeconds({ Type: 'Task', TimeoutSeconds: 900 })).toBe(900);
    expect(localTaskTimeoutSeconds({ Type: 'Task', TimeoutSeconds: 900, HeartbeatSeconds: 60 })).toBe(60);
    expect(localTaskTimeoutSeconds({ Type: 'Task', TimeoutSecondsPath: '$.t' })).toBeUndefined();
    expect(() => localTaskTimeoutSeconds({ Type: 'Task', HeartbeatSecondsPath: '$.h' })).toThrow(
      /not supported/,
    );

    const normalize = findState(withServiceTimeouts(machine.definition), billing.normalize)!;
    expect(normalize.TimeoutSeconds).toBe(900);
  });

  it('lets an ETL run go on for an hour: the library default of 60 s does not apply', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const backends = new SlowJobBackends();

    const execution = executeStateMachine(machine, batch('cloud_billing', 1), backends, {
      executionName: 'slow-etl',
    });
    await advanceUntil(() => backends.started > 0, 10_000);
    expect(backends.started).toBe(1);
    // 65 minutes of (fake) time with the job still running: far past the library's 60 s,
    // within the state's 70-minute deadline.
    await vi.advanceTimersByTimeAsync(65 * 60 * 1000);
    backends.endRun('SUCCEEDED');
    let settled = false;
    void execution.then(() => {
      settled = true;
    });
    await advanceUntil(() => settled, 60_000);
    const result = await execution;

    expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
    expect(statesEntered(result)).toContain(billing.checkProgress);
    expect(backends.jobRuns).toHaveLength(1);
  });

  it('ends a run that hangs past the job timeout plus the grace with States.Timeout and a failure alert', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const backends = new SlowJobBackends();
    const execution = executeStateMachine(machine, batch('cloud_billing', 1), backends, {
      executionName: 'hung-etl',
    });
    let settled = false;
    void execution.then(() => {
      settled = true;
    });
    await advanceUntil(() => backends.started > 0, 10_000);
    await vi.advanceTimersByTimeAsync(69 * 60 * 1000);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(2 * 60 * 1000);
    await advanceUntil(() => settled, 60_000);
    const result = await execution;

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('States.Timeout');
    expect(backends.calls('notify')[0]).toMatchObject({ kind: 'failure', stage: billing.runEtl });
  });

  it('still fails a Task that sets TimeoutSeconds with States.Timeout once that time has passed', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const backends = new SlowJobBackends();
    const loaded: LoadedStateMachine = {
      definition: {
        StartAt: 'Job',
        States: {
          Job: {
            Type: 'Task',
            Resource: 'arn:aws:states:::glue:startJobRun.sync',
            Parameters: { JobName: 'job' },
            TimeoutSeconds: 300,
            End: true,
          },
        },
      },
      routes: new Map([['Job', { kind: 'glue-job-sync' } as const]]),
    };

    const execution = executeStateMachine(loaded, {}, backends, { executionName: 'bounded' });
    let settled = false;
    void execution.then(() => {
      settled = true;
    });
    await advanceUntil(() => backends.started > 0, 10_000);
    await vi.advanceTimersByTimeAsync(299_000);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(2_000);
    const result = await execution;

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('States.Timeout');
  });

  it('does not time a Task out at once: its deadline fits a Node timer (99999999 s would not)', async () => {
    const backends = new SlowJobBackends();
    const execution = executeStateMachine(machine, batch('cloud_billing', 1), backends, {
      executionName: 'real-clock',
    });
    for (let i = 0; i < 200 && backends.started === 0; i++) await new Promise((r) => setTimeout(r, 10));
    // A timer of more than 2^31-1 ms fires after 1 ms: the run would already have timed out.
    await new Promise((r) => setTimeout(r, 50));
    backends.endRun('SUCCEEDED');
    const result = await execution;

    expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
  });
});
