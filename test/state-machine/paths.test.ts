import { beforeAll, describe, expect, it } from 'vitest';
import { STATE } from '../../lib/constructs/ingestion-state-machine';
import { type LoadedStateMachine, statesEntered } from '../../local/state-machine';
import { batch, FakeBackends, loadSynthesizedStateMachine, NamedError, run } from './harness';

const billing = STATE.of('cloud_billing');
let machine: LoadedStateMachine;

beforeAll(() => {
  machine = loadSynthesizedStateMachine();
});

function subjects(backends: FakeBackends): string[] {
  return backends.published.map((p) => p.Subject ?? '');
}

describe('the synthesized state machine', () => {
  it('routes every Task state to a local backend', () => {
    const kinds = new Set(
      [...machine.routes.values()].map((r) => (r.kind === 'lambda' ? r.handler : r.kind)),
    );
    expect(kinds).toEqual(
      new Set([
        'normalize',
        'quarantine',
        'reconcile',
        'notify',
        'glue-start-crawler',
        'glue-get-crawler',
        'glue-job-sync',
        'sns-publish',
      ]),
    );
  });
});

describe('happy path', () => {
  it('normalizes every file, crawls, runs the ETL once, reconciles and ends without alerts', async () => {
    const backends = new FakeBackends();
    const result = await run(machine, batch('cloud_billing', 3), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(backends.calls('normalize')).toHaveLength(3);
    expect(backends.crawlerStarts).toEqual(['ingestion-cloud_billing-normalized']);
    expect(backends.jobRuns).toHaveLength(1);
    expect(backends.jobRuns[0]!.JobName).toBe('ingestion-cloud_billing-curate');
    expect(backends.jobRuns[0]!.Arguments?.['--push_down_predicate']).toBe("billing_period in ('2024-09')");
    expect(backends.calls('reconcile').map((p) => p.action)).toEqual([
      'progress',
      'schema-drift',
      'progress',
      'reconcile',
    ]);
    expect(backends.published).toEqual([]);
    const entered = statesEntered(result);
    expect(entered.indexOf(billing.startCrawler)).toBeLessThan(entered.indexOf(billing.runEtl));
    expect(entered.at(-1)).toBe(STATE.done);
  });

  it('passes the batch files, their outcomes and the execution id to Reconcile', async () => {
    const backends = new FakeBackends();
    const result = await run(machine, batch('cloud_billing', 2), backends);

    const reconcile = backends.calls('reconcile').find((p) => p.action === 'reconcile')!;
    expect(reconcile.executionId).toBe(result.executionArn);
    expect((reconcile.files as { key: string; status: string }[]).map((f) => [f.key, f.status])).toEqual([
      ['cloud_billing/file-1.csv', 'normalized'],
      ['cloud_billing/file-2.csv', 'normalized'],
    ]);
  });

  it('runs the workforce dataset through its own crawler and job', async () => {
    const backends = new FakeBackends();
    const result = await run(machine, batch('workforce_capacity', 2), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(backends.crawlerStarts).toEqual(['ingestion-workforce_capacity-normalized']);
    expect(backends.jobRuns.map((r) => r.JobName)).toEqual(['ingestion-workforce_capacity-curate']);
  });

  it('skips the crawler and the ETL when nothing of the batch is left to process', async () => {
    const backends = new FakeBackends();
    backends.remaining = [0];
    const result = await run(machine, batch('cloud_billing', 2), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(backends.crawlerStarts).toEqual([]);
    expect(backends.jobRuns).toEqual([]);
    expect(statesEntered(result)).toContain(STATE.reconcile);
  });
});

describe('crawler', () => {
  it('retries StartCrawler while another crawl is running, then succeeds', async () => {
    const backends = new FakeBackends();
    backends.startCrawlerErrors = [
      new NamedError(
        'CrawlerRunningException',
        'Crawler with name ingestion-cloud_billing-normalized has already started',
      ),
      new NamedError('CrawlerRunningException', 'still running'),
    ];
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(backends.crawlerStarts).toHaveLength(3);
    expect(backends.jobRuns).toHaveLength(1);
  });

  it('fails with an alert when the crawl ends FAILED', async () => {
    const backends = new FakeBackends();
    backends.crawlerStates = [
      { Name: 'c', State: 'RUNNING' },
      { Name: 'c', State: 'READY', LastCrawl: { Status: 'FAILED', ErrorMessage: 'Internal service error' } },
    ];
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('CrawlerFailedError');
    expect(result.cause).toContain('FAILED');
    expect(backends.jobRuns).toEqual([]);
    const failure = backends.calls('notify').find((p) => p.kind === 'failure')!;
    expect(failure.stage).toBe(billing.getCrawler);
    expect(subjects(backends)).toEqual([`[cloud_billing] failure at ${billing.getCrawler}`]);
  });

  it('fails with CrawlerTimeoutError when the poll limit is reached', async () => {
    const backends = new FakeBackends();
    backends.crawlerStates = [{ Name: 'c', State: 'RUNNING' }];
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('CrawlerTimeoutError');
    expect(statesEntered(result).filter((s) => s === billing.getCrawler)).toHaveLength(60);
    expect(backends.published).toHaveLength(1);
  });

  it('fails when StartCrawler keeps failing with an error that is not retried', async () => {
    const backends = new FakeBackends();
    backends.startCrawlerErrors = [new NamedError('EntityNotFoundException', 'no such crawler')];
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('Glue.EntityNotFoundException');
    expect(backends.crawlerStarts).toHaveLength(1);
    expect(backends.calls('notify')[0]!.stage).toBe(billing.startCrawler);
  });
});

describe('ETL', () => {
  it('retries the job start on ConcurrentRunsExceededException, then succeeds', async () => {
    const backends = new FakeBackends();
    backends.jobStartErrors = [new NamedError('ConcurrentRunsExceededException', 'Concurrent runs exceeded')];
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('SUCCEEDED');
    const retried = result.events.filter(
      (e) => e.type === 'StateRetried' && e.state?.name === billing.runEtl,
    );
    expect(retried).toHaveLength(1);
    expect(backends.jobRuns).toHaveLength(1);
  });

  it('drains a batch larger than the file cap: runs again while files remain and the last run made progress', async () => {
    const backends = new FakeBackends();
    backends.remaining = [900, 450, 0];
    const result = await run(machine, batch('cloud_billing', 3), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(backends.jobRuns).toHaveLength(2);
    const again = new FakeBackends();
    again.remaining = [1000, 550, 100, 0];
    expect((await run(machine, batch('cloud_billing', 3), again)).status).toBe('SUCCEEDED');
    expect(again.jobRuns).toHaveLength(3);
  });

  it('fails with NoProgressError when a run leaves as many files as before, instead of looping', async () => {
    const backends = new FakeBackends();
    backends.remaining = [3, 2, 2];
    const result = await run(machine, batch('cloud_billing', 3), backends);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('NoProgressError');
    expect(backends.jobRuns).toHaveLength(2);
    expect(backends.calls('notify')[0]!.stage).toBe(billing.runEtl);
  });

  it('fails with an alert when the job run fails', async () => {
    const backends = new FakeBackends();
    backends.jobStates = ['FAILED'];
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('States.TaskFailed');
    const failure = backends.calls('notify')[0]!;
    expect(failure.stage).toBe(billing.runEtl);
    expect((failure.error as { Cause: string }).Cause).toContain('"JobRunState":"FAILED"');
  });
});

describe('reconciliation and alerts', () => {
  it('publishes the discrepancy alert with its subject and attributes, and completes', async () => {
    const backends = new FakeBackends();
    backends.reconcileResult = {
      status: 'fail',
      failedChecks: 1,
      pendingChecks: 0,
      resultKey: 'reconciliation/x.json',
      alert: {
        kind: 'discrepancy',
        severity: 'critical',
        dataset: 'cloud_billing',
        subject: '[cloud_billing] 1 reconciliation check failed',
        message: 'rows: expected 10, actual 9',
      },
    };
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(backends.published).toHaveLength(1);
    const [alert] = backends.published;
    expect(alert!.Subject).toBe('[cloud_billing] 1 reconciliation check failed');
    expect(alert!.Message).toBe('rows: expected 10, actual 9');
    expect(alert!.MessageAttributes).toEqual({
      severity: { DataType: 'String', StringValue: 'critical' },
      dataset: { DataType: 'String', StringValue: 'cloud_billing' },
      kind: { DataType: 'String', StringValue: 'discrepancy' },
    });
  });

  it('publishes a schema-drift notice and goes on to the ETL', async () => {
    const backends = new FakeBackends();
    backends.drift = {
      changed: true,
      alert: {
        kind: 'schema_drift',
        severity: 'info',
        dataset: 'cloud_billing',
        subject: 'drift',
        message: 'added x',
      },
    };
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(subjects(backends)).toEqual(['drift']);
    expect(backends.jobRuns).toHaveLength(1);
  });

  it('fails with a failure alert naming the stage when a later Lambda fails', async () => {
    const backends = new FakeBackends();
    backends.reconcileError = new NamedError(
      'ManifestMissingError',
      'manifest manifests/x.json does not exist',
    );
    const result = await run(machine, batch('cloud_billing', 2), backends);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('ManifestMissingError');
    const failure = backends.calls('notify')[0]!;
    expect(failure).toMatchObject({
      kind: 'failure',
      stage: STATE.reconcile,
      dataset: 'cloud_billing',
      executionId: result.executionArn,
    });
    expect(JSON.parse((failure.error as { Cause: string }).Cause).errorMessage).toBe(
      'manifest manifests/x.json does not exist',
    );
    expect((failure.files as { key: string }[]).map((f) => f.key)).toEqual([
      'cloud_billing/file-1.csv',
      'cloud_billing/file-2.csv',
    ]);
    expect(subjects(backends)).toEqual([`[cloud_billing] failure at ${STATE.reconcile}`]);
  });

  it('still publishes a plain failure alert when the alert formatter itself fails', async () => {
    const backends = new FakeBackends();
    backends.reconcileError = new NamedError('Boom', 'reconcile broke');
    const original = backends.invokeLambda.bind(backends);
    backends.invokeLambda = async (handler, payload) => {
      if (handler === 'notify') throw new Error('formatter broke');
      return original(handler, payload);
    };
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('Boom');
    expect(backends.published).toHaveLength(1);
    expect(backends.published[0]!.Subject).toBe('Ingestion pipeline failure');
    expect(backends.published[0]!.Message).toContain(`stage ${STATE.reconcile} (Boom)`);
  });
});

describe('a file that fails normalization', () => {
  it('is quarantined inside the Map while the other files go on, and the batch ends with an alert', async () => {
    const backends = new FakeBackends();
    backends.normalizeFailures.set(
      'cloud_billing/file-2.csv',
      new NamedError('EmptyFileError', '"cloud_billing/file-2.csv" is empty (0 bytes)'),
    );
    const result = await run(machine, batch('cloud_billing', 3), backends);

    expect(result.status).toBe('SUCCEEDED');
    const [quarantine] = backends.calls('quarantine');
    expect(quarantine!.file).toMatchObject({ key: 'cloud_billing/file-2.csv' });
    expect(quarantine!.error).toMatchObject({ Error: 'EmptyFileError' });
    expect(backends.jobRuns).toHaveLength(1);
    const alert = backends.calls('notify').find((p) => p.kind === 'quarantine')!;
    const files = alert.files as { key: string; status: string; reason?: string }[];
    expect(files.map((f) => f.status)).toEqual(['normalized', 'quarantined', 'normalized']);
    expect(files[1]!.reason).toContain('is empty');
    expect(subjects(backends)).toEqual(['[cloud_billing] quarantine']);
  });

  it('is recorded as failed when quarantining it fails too, and the batch still completes', async () => {
    const backends = new FakeBackends();
    backends.normalizeFailures.set('cloud_billing/file-1.csv', new NamedError('UnreadableFileError', 'bad'));
    const original = backends.invokeLambda.bind(backends);
    backends.invokeLambda = async (handler, payload) => {
      if (handler === 'quarantine') throw new NamedError('AccessDenied', 'no access to quarantine');
      return original(handler, payload);
    };
    const result = await run(machine, batch('cloud_billing', 2), backends);

    expect(result.status).toBe('SUCCEEDED');
    const alert = backends.calls('notify').find((p) => p.kind === 'quarantine')!;
    expect((alert.files as { status: string; reason: string }[])[0]).toMatchObject({
      status: 'failed',
      reason: 'normalize failed (UnreadableFileError) and quarantine failed (AccessDenied)',
    });
  });

  it('raises the quarantine alert for rejected rows even when every file was normalized', async () => {
    const backends = new FakeBackends();
    const original = backends.invokeLambda.bind(backends);
    backends.invokeLambda = async (handler, payload) => {
      const result = (await original(handler, payload)) as Record<string, unknown>;
      return handler === 'normalize' ? { ...result, rejectedRows: 2 } : result;
    };
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(subjects(backends)).toEqual(['[cloud_billing] quarantine']);
  });
});

describe('a file that landed with an unknown template', () => {
  /** Normalize outcomes as the normalizer returns them for a dataset with `unknownTemplate: 'flag'`. */
  function flagging(backends: FakeBackends, keys: string[], extra: Record<string, unknown> = {}) {
    const original = backends.invokeLambda.bind(backends);
    backends.invokeLambda = async (handler, payload) => {
      const result = (await original(handler, payload)) as Record<string, unknown>;
      if (handler !== 'normalize' || !keys.includes(String(result.key))) return result;
      return {
        ...result,
        ...extra,
        template: null,
        flag: 'unknown_template',
        reason: 'header matches no template of cloud_billing; closest template: focus (missing columns: id)',
      };
    };
  }

  it('raises an unknown_template warning of its own naming the file, after the tail decides on quarantine', async () => {
    const backends = new FakeBackends();
    flagging(backends, ['cloud_billing/file-2.csv']);
    const result = await run(machine, batch('cloud_billing', 2), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(subjects(backends)).toEqual(['[cloud_billing] unknown_template']);
    const alert = backends.calls('notify').find((p) => p.kind === 'unknown_template')!;
    expect(alert).toMatchObject({
      dataset: 'cloud_billing',
      executionId: expect.stringContaining(':execution:'),
    });
    const files = alert.files as { key: string; flag?: string; reason?: string }[];
    expect(files.filter((f) => f.flag === 'unknown_template').map((f) => f.key)).toEqual([
      'cloud_billing/file-2.csv',
    ]);
    expect(backends.published[0]!.MessageAttributes?.kind).toMatchObject({ StringValue: 'unknown_template' });
    const entered = statesEntered(result);
    expect(entered.indexOf(STATE.filesQuarantined)).toBeLessThan(entered.indexOf(STATE.templatesFlagged));
    expect(entered.slice(-4)).toEqual([
      STATE.templatesFlagged,
      STATE.formatUnknownTemplateAlert,
      STATE.publishUnknownTemplateAlert,
      STATE.done,
    ]);
  });

  it('publishes the quarantine notice first, then the unknown_template warning, when a batch has both', async () => {
    const backends = new FakeBackends();
    flagging(backends, ['cloud_billing/file-1.csv'], { rejectedRows: 1 });
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(subjects(backends)).toEqual(['[cloud_billing] quarantine', '[cloud_billing] unknown_template']);
  });
});

describe('invalid input', () => {
  it('fails with an alert for an empty batch', async () => {
    const backends = new FakeBackends();
    const result = await run(machine, [], backends);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('InvalidBatchError');
    expect(backends.calls('notify')[0]).toMatchObject({ stage: STATE.validateBatch, dataset: 'unknown' });
  });

  it('fails with an alert for a dataset that is not configured', async () => {
    const backends = new FakeBackends();
    const result = await run(machine, batch('payroll', 1), backends);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('UnknownDatasetError');
    expect(result.cause).toBe('No dataset named payroll is configured');
    expect(backends.calls('normalize')).toEqual([]);
  });
});

describe('a burst', () => {
  // Measured: about 170 KB for these 400 files (~420 bytes per file outcome), hence LIMITS.maxBatchSize.
  it('handles 400 files in one execution with the state payload under the 256 KiB limit', async () => {
    const backends = new FakeBackends();
    backends.remaining = [400, 250, 100, 0];
    const files = batch('cloud_billing', 400, 'billing-export-2024-09-hourly-detail-with-a-long-name');
    const result = await run(machine, files, backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(backends.calls('normalize')).toHaveLength(400);
    expect(backends.jobRuns).toHaveLength(3);
    const largest = Math.max(
      ...result.events
        .filter((e) => e.type === 'StateExited' && e.index === undefined)
        .map((e) => Buffer.byteLength(JSON.stringify(e.state?.output ?? null))),
    );
    expect(largest).toBeGreaterThan(50_000);
    expect(largest).toBeLessThan(256 * 1024);
  });
});
