import { beforeAll, describe, expect, it } from 'vitest';
import * as normalizeErrors from '../../lambdas/normalize/errors';
import { parseNormalizeEvent } from '../../lambdas/normalize/handler';
import { FILE_ERROR_NAMES, MAX_CRAWLS, STATE } from '../../lib/constructs/ingestion-state-machine';
import { type ExecutionResult, type LoadedStateMachine, statesEntered } from '../../local/state-machine';
import {
  batch,
  FakeBackends,
  loadSynthesizedStateMachine,
  NamedError,
  outcomes,
  run,
  SharedJob,
} from './harness';

const billing = STATE.of('cloud_billing');
let machine: LoadedStateMachine;

beforeAll(() => {
  machine = loadSynthesizedStateMachine();
});

const retriesOf = (result: ExecutionResult, state: string) =>
  result.events.filter((e) => e.type === 'StateRetried' && e.state?.name === state).length;
const throttled = () => new NamedError('Lambda.TooManyRequestsException', 'Rate Exceeded.');

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
        // RecordRequests of purchase_orders (the approval workflow).
        'approvals',
        'glue-start-crawler',
        'glue-get-crawler',
        'glue-job-sync',
        'sns-publish',
      ]),
    );
  });

  it('quarantines on exactly the named errors of lambdas/normalize/errors.ts, listed from the module', () => {
    const named = Object.entries(normalizeErrors)
      .filter(([, value]) => typeof value === 'function' && value.prototype instanceof Error)
      .map(([exported]) => exported)
      .filter((exported) => exported !== 'FileRejectedError')
      .sort();
    expect(FILE_ERROR_NAMES).toEqual(named);
    expect(FILE_ERROR_NAMES).toContain('UnknownTemplateError');
    expect(FILE_ERROR_NAMES).not.toContain('States.Timeout');
  });
});

describe('happy path', () => {
  it('normalizes every file, crawls, checks the partitions, runs the ETL once, reconciles, and alerts nobody', async () => {
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
      'partitions',
      'schema-drift',
      'progress',
      'reconcile',
      'publish',
    ]);
    expect(backends.alerts).toEqual([]);
    expect(backends.datasetEvents).toEqual(['DatasetUpdated']);
    const entered = statesEntered(result);
    expect(entered.indexOf(billing.startCrawler)).toBeLessThan(entered.indexOf(billing.ensurePartitions));
    expect(entered.indexOf(billing.ensurePartitions)).toBeLessThan(entered.indexOf(billing.runEtl));
    expect(entered.at(-1)).toBe(STATE.done);
  });

  it('hands Normalize each file as the Pipe rendered it, event time and sequencer included, in a shape its handler accepts', async () => {
    const backends = new FakeBackends();
    const files = batch('cloud_billing', 2);
    await run(machine, files, backends);

    const calls = backends.calls('normalize');
    expect(calls.map((c) => c.file)).toEqual(files);
    const parsed = parseNormalizeEvent(calls[1]);
    expect(parsed.file).toMatchObject({ eventTime: files[1]!.eventTime, sequencer: files[1]!.sequencer });
  });

  it('passes the batch files, their compact outcomes and the execution id to Reconcile', async () => {
    const backends = new FakeBackends();
    const result = await run(machine, batch('cloud_billing', 2), backends);

    const reconcile = backends.calls('reconcile', 'reconcile')[0]!;
    expect(reconcile.executionId).toBe(result.executionArn);
    const files = reconcile.files as Record<string, unknown>[];
    expect(files.map((f) => [f.key, f.status])).toEqual([
      ['cloud_billing/file-1.csv', 'normalized'],
      ['cloud_billing/file-2.csv', 'normalized'],
    ]);
    // Partition lists and the manifest key stay out (the manifest, whose key derives from
    // dataset and sourceId, holds them): outcomes carry what the later states need.
    expect(Object.keys(files[0]!).sort()).toEqual(
      ['dataset', 'key', 'rejectedRows', 'rows', 'sourceId', 'status', 'template', 'versionId'].sort(),
    );
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
  it('retries StartCrawler while another crawl is running (the crawler already running), then succeeds', async () => {
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
    expect(backends.calls('quarantine')).toEqual([]);
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
    expect(backends.subjects()).toEqual([`[cloud_billing] failure at ${billing.getCrawler}`]);
  });

  it('fails with CrawlerTimeoutError when the poll limit is reached', async () => {
    const backends = new FakeBackends();
    backends.crawlerStates = [{ Name: 'c', State: 'RUNNING' }];
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('CrawlerTimeoutError');
    expect(statesEntered(result).filter((s) => s === billing.getCrawler)).toHaveLength(60);
    expect(backends.alerts).toHaveLength(1);
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

describe('partitions the crawl missed (finding 5)', () => {
  it('crawls again when the table is not in the catalog yet (events late for the first crawl), then merges', async () => {
    const backends = new FakeBackends();
    backends.tableMissing = [true, false];
    const result = await run(machine, batch('cloud_billing', 2), backends);

    expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
    expect(backends.crawlerStarts).toHaveLength(2);
    expect(backends.calls('reconcile', 'partitions')).toHaveLength(2);
    expect(backends.jobRuns).toHaveLength(1);
    const entered = statesEntered(result);
    expect(entered.indexOf(billing.waitBeforeRecrawl)).toBeLessThan(
      entered.lastIndexOf(billing.startCrawler),
    );
  });

  it(`fails with TableMissingError after ${MAX_CRAWLS} crawls that never catalogued the table, instead of running an ETL that reads nothing`, async () => {
    const backends = new FakeBackends();
    backends.tableMissing = [true];
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('TableMissingError');
    expect(backends.crawlerStarts).toHaveLength(MAX_CRAWLS);
    expect(backends.jobRuns).toEqual([]);
    expect(backends.calls('notify')[0]!.stage).toBe(billing.ensurePartitions);
  });

  it('passes the batch outcomes to the partitions action', async () => {
    const backends = new FakeBackends();
    await run(machine, batch('cloud_billing', 2), backends);

    const [call] = backends.calls('reconcile', 'partitions');
    expect(call).toMatchObject({ dataset: 'cloud_billing' });
    expect((call!.files as { key: string }[]).map((f) => f.key)).toEqual([
      'cloud_billing/file-1.csv',
      'cloud_billing/file-2.csv',
    ]);
  });
});

describe('ETL', () => {
  it('retries the job start on ConcurrentRunsExceededException, then succeeds', async () => {
    const backends = new FakeBackends();
    backends.jobStartErrors = [new NamedError('ConcurrentRunsExceededException', 'Concurrent runs exceeded')];
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(retriesOf(result, billing.runEtl)).toBe(1);
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
    // CheckProgress names the run that just ended (a run that read files made progress).
    const checks = backends.calls('reconcile', 'progress').filter((c) => c.previous !== undefined);
    expect(checks.map((c) => c.lastRunId)).toEqual(backends.jobRuns.map((_, i) => `jr_${i + 1}`));
    expect(backends.calls('notify')[0]!.stage).toBe(billing.runEtl);
  });

  it('runs a job that failed mid-run once more; a second success merges the batch', async () => {
    const backends = new FakeBackends();
    backends.jobStates = ['FAILED', 'SUCCEEDED'];
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(backends.jobRuns).toHaveLength(2);
    expect(backends.alerts).toEqual([]);
  });

  it('fails with an alert when the job run fails again; no file is quarantined, and running again converges', async () => {
    const backends = new FakeBackends();
    backends.jobStates = ['FAILED'];
    const files = batch('cloud_billing', 2);
    const result = await run(machine, files, backends);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('States.TaskFailed');
    expect(backends.jobRuns).toHaveLength(2);
    expect(backends.calls('quarantine')).toEqual([]);
    const failure = backends.calls('notify')[0]!;
    expect(failure.stage).toBe(billing.runEtl);
    expect((failure.error as { Cause: string }).Cause).toContain('"JobRunState":"FAILED"');
    expect((failure.files as { key: string; status: string }[]).map((f) => f.status)).toEqual([
      'normalized',
      'normalized',
    ]);

    const again = new FakeBackends();
    const second = await run(machine, files, again);
    expect(second.status).toBe('SUCCEEDED');
    expect(outcomes(second).map((f) => f.status)).toEqual(['normalized', 'normalized']);
  });

  it('gives the job run exactly the configured timeout', async () => {
    const backends = new FakeBackends();
    await run(machine, batch('cloud_billing', 1), backends);

    expect(backends.jobRuns[0]!.Timeout).toBe(60);
  });
});

describe('the Glue job busy with another execution (finding 4)', () => {
  const busy = () => new NamedError('ConcurrentRunsExceededException', 'Concurrent runs exceeded');

  it('waits out ConcurrentRunsExceeded 20 times in a row (not counted as no progress), then merges', async () => {
    const job = new SharedJob(1);
    job.refuseNext = 20;
    const backends = new FakeBackends();
    backends.sharedJob = { job, execution: 'e' };
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
    expect(job.refusals).toHaveLength(20);
    expect(backends.jobRuns).toHaveLength(1);
    expect(job.unmerged.size).toBe(0);
    const entered = statesEntered(result);
    expect(entered.filter((s) => s === billing.waitForEtlSlot).length).toBeGreaterThanOrEqual(6);
    expect(entered).not.toContain(billing.noProgress);
    const waits = result.events
      .filter((e) => e.type === 'StateExited' && e.state?.name === billing.jitterEtlWait)
      .map((e) => (e.state!.output as { etlWait: { seconds: number } }).etlWait.seconds);
    expect(waits.length).toBeGreaterThanOrEqual(6);
    for (const seconds of waits) {
      expect(seconds).toBeGreaterThanOrEqual(60);
      expect(seconds).toBeLessThanOrEqual(180);
    }
  });

  it('needs no run of its own when another execution’s run merged its objects while it waited', async () => {
    const backends = new FakeBackends();
    backends.jobStartErrors = Array.from({ length: 3 }, busy);
    backends.remaining = [2, 0];
    const result = await run(machine, batch('cloud_billing', 2), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(backends.jobRuns).toEqual([]);
    expect(statesEntered(result)).toContain(billing.etlBusy);
    expect(backends.calls('reconcile', 'reconcile')).toHaveLength(1);
  });

  it('five executions of a burst racing for MaxConcurrentRuns 1 all succeed, and every object is merged', async () => {
    const job = new SharedJob(20);
    const executions = Array.from({ length: 5 }, (_, i) => {
      const backends = new FakeBackends();
      backends.sharedJob = { job, execution: `e${i}` };
      return { backends, files: batch('cloud_billing', 40, `burst-${i}`) };
    });

    const results = await Promise.all(
      executions.map(({ backends, files }) => run(machine, files, backends, { waitMs: 5 })),
    );

    for (const result of results) expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
    expect(job.refusals.length).toBeGreaterThan(0);
    expect(job.unmerged.size).toBe(0);
    expect(job.runs.reduce((sum, r) => sum + r.merged, 0)).toBe(200);
    expect(job.runs.length).toBeLessThanOrEqual(5);
    for (const { backends } of executions) expect(backends.calls('quarantine')).toEqual([]);
  });
});

describe('transient faults in Normalize (finding 2): retried, never quarantined', () => {
  it('rides out Lambda throttling (TooManyRequests 5 times, then success)', async () => {
    const backends = new FakeBackends();
    backends.normalizeErrors.set('cloud_billing/file-2.csv', Array.from({ length: 5 }, throttled));
    const result = await run(machine, batch('cloud_billing', 3), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(backends.calls('quarantine')).toEqual([]);
    expect(retriesOf(result, billing.normalize)).toBe(5);
    expect(outcomes(result).map((f) => f.status)).toEqual(['normalized', 'normalized', 'normalized']);
  });

  it.each([
    ['Lambda.ServiceException'],
    ['Lambda.AWSLambdaException'],
    ['Lambda.SdkClientException'],
    ['Lambda.ClientExecutionTimeoutException'],
  ])('retries %s, a transient Lambda service error', async (name) => {
    const backends = new FakeBackends();
    backends.normalizeErrors.set('cloud_billing/file-1.csv', [
      new NamedError(name, 'x'),
      new NamedError(name, 'y'),
    ]);
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(backends.calls('quarantine')).toEqual([]);
  });

  it('retries a Lambda timeout (States.Timeout) once', async () => {
    const backends = new FakeBackends();
    backends.normalizeErrors.set('cloud_billing/file-1.csv', [
      new NamedError('States.Timeout', 'The task timed out after 900 seconds'),
    ]);
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(backends.calls('normalize')).toHaveLength(2);
  });

  it('marks a file failed when a timeout outlasts the retries: the rest is merged and reconciled first, then FAILED with an alert naming it; a retry converges', async () => {
    const backends = new FakeBackends();
    backends.normalizeFailures.set(
      'cloud_billing/file-2.csv',
      new NamedError('States.Timeout', 'The task timed out after 900 seconds'),
    );
    const files = batch('cloud_billing', 3);
    const result = await run(machine, files, backends);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('FilesFailedError');
    expect(backends.calls('quarantine')).toEqual([]);
    expect(backends.jobRuns).toHaveLength(1);
    const entered = statesEntered(result);
    expect(entered.indexOf(STATE.reconcile)).toBeLessThan(entered.indexOf(STATE.notifyFailure));
    const failure = backends.calls('notify').find((p) => p.kind === 'failure')!;
    expect(failure.stage).toBe(STATE.failedFilesStage);
    const named = (failure.files as { key: string; status: string; errorName?: string }[]).filter(
      (f) => f.status === 'failed',
    );
    expect(named).toEqual([
      expect.objectContaining({ key: 'cloud_billing/file-2.csv', errorName: 'States.Timeout' }),
    ]);
    expect(backends.subjects()).toEqual([`[cloud_billing] failure at ${STATE.failedFilesStage}`]);

    // Dropped again (issue 9: a file that never reached curated is processed again).
    const again = new FakeBackends();
    const retried = await run(machine, [files[1]!], again);
    expect(retried.status).toBe('SUCCEEDED');
    expect(outcomes(retried)).toEqual([expect.objectContaining({ status: 'normalized' })]);
  });

  it('retries any other error (an S3 SlowDown that outlasted the SDK) twice before marking the file failed', async () => {
    const backends = new FakeBackends();
    backends.normalizeFailures.set(
      'cloud_billing/file-1.csv',
      new NamedError('SlowDown', 'Please reduce your request rate.'),
    );
    const result = await run(machine, batch('cloud_billing', 2), backends);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('FilesFailedError');
    expect(
      backends
        .calls('normalize')
        .filter((p) => (p.file as { key: string }).key === 'cloud_billing/file-1.csv'),
    ).toHaveLength(3);
    expect(backends.calls('quarantine')).toEqual([]);
    expect(outcomes(result).map((f) => f.status)).toEqual(['failed', 'normalized']);
  });
});

describe('a bad file (named file error)', () => {
  it.each(FILE_ERROR_NAMES.map((name) => [name]))(
    '%s: quarantined at once, without retries',
    async (name) => {
      const backends = new FakeBackends();
      backends.normalizeFailures.set('cloud_billing/file-1.csv', new NamedError(name, 'bad file'));
      const result = await run(machine, batch('cloud_billing', 2), backends);

      expect(result.status).toBe('SUCCEEDED');
      expect(backends.calls('normalize')).toHaveLength(2);
      expect(backends.calls('quarantine')).toHaveLength(1);
      expect(outcomes(result).map((f) => f.status)).toEqual(['quarantined', 'normalized']);
    },
  );

  it('is quarantined inside the Map while the other files go on, and the batch ends with a quarantine notice', async () => {
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
    const files = alert.files as { key: string; status: string; reason?: string; sourceId?: string }[];
    expect(files.map((f) => f.status)).toEqual(['normalized', 'quarantined', 'normalized']);
    // The reason stays in the reason document (notify derives its key from dataset and
    // sourceId and reads it): the state stays small.
    expect(files[1]!.reason).toBeUndefined();
    expect(files[1]!.sourceId).toMatch(/^[0-9a-f]{32}$/);
    expect(backends.subjects()).toEqual(['[cloud_billing] quarantine']);
  });

  it('is recorded as failed when quarantining it fails too: the batch is merged, then FAILED with an alert', async () => {
    const backends = new FakeBackends();
    backends.normalizeFailures.set('cloud_billing/file-1.csv', new NamedError('UnreadableFileError', 'bad'));
    backends.quarantineErrors = Array.from({ length: 3 }, () => new NamedError('AccessDenied', 'no access'));
    const result = await run(machine, batch('cloud_billing', 2), backends);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('FilesFailedError');
    expect(backends.jobRuns).toHaveLength(1);
    const failure = backends.calls('notify').find((p) => p.kind === 'failure')!;
    expect((failure.files as { status: string; reason: string }[])[0]).toMatchObject({
      status: 'failed',
      reason: 'normalize failed (UnreadableFileError) and quarantine failed (AccessDenied)',
    });
  });

  it('raises the quarantine notice for rejected rows even when every file was normalized', async () => {
    const backends = new FakeBackends();
    backends.normalizeAs.set('cloud_billing/file-1.csv', { rejectedRows: 2 });
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(backends.subjects()).toEqual(['[cloud_billing] quarantine']);
  });
});

describe('a file that landed with an unknown template', () => {
  const detail = 'header matches no template of cloud_billing; closest template: focus (missing columns: id)';

  it('raises an unknown_template warning of its own naming the file, after the tail decides on quarantine', async () => {
    const backends = new FakeBackends();
    backends.normalizeAs.set('cloud_billing/file-2.csv', { unknownTemplate: detail });
    const result = await run(machine, batch('cloud_billing', 2), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(backends.subjects()).toEqual(['[cloud_billing] unknown_template']);
    const alert = backends.calls('notify').find((p) => p.kind === 'unknown_template')!;
    expect(alert).toMatchObject({
      dataset: 'cloud_billing',
      executionId: expect.stringContaining(':execution:'),
    });
    const flagged = (
      alert.files as { key: string; flag?: string; sourceId?: string; reason?: string }[]
    ).filter((f) => f.flag === 'unknown_template');
    expect(flagged.map((f) => f.key)).toEqual(['cloud_billing/file-2.csv']);
    expect(flagged[0]!.sourceId).toMatch(/^[0-9a-f]{32}$/);
    expect(flagged[0]!.reason).toBeUndefined();
    const entered = statesEntered(result);
    expect(entered.indexOf(STATE.filesQuarantined)).toBeLessThan(entered.indexOf(STATE.templatesFlagged));
    expect(entered.slice(-6)).toEqual([
      STATE.templatesFlagged,
      STATE.notifyUnknownTemplate,
      STATE.publishDatasetEvent,
      STATE.filesFailed,
      STATE.noticesPublished,
      STATE.done,
    ]);
  });

  it('publishes the quarantine notice first, then the unknown_template warning, when a batch has both', async () => {
    const backends = new FakeBackends();
    backends.normalizeAs.set('cloud_billing/file-1.csv', { unknownTemplate: detail, rejectedRows: 1 });
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(backends.subjects()).toEqual(['[cloud_billing] quarantine', '[cloud_billing] unknown_template']);
  });

  it('keeps a duplicate as a compact outcome naming the content it duplicates', async () => {
    const backends = new FakeBackends();
    backends.normalizeAs.set('cloud_billing/file-1.csv', { duplicateOf: 'cloud_billing/earlier.csv' });
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(outcomes(result)[0]).toEqual(
      expect.objectContaining({ status: 'duplicate', duplicateOf: 'cloud_billing/earlier.csv' }),
    );
  });
});

describe('reconciliation and notices', () => {
  it('lets Reconcile publish the discrepancy alert and records its receipt with the notices', async () => {
    const backends = new FakeBackends();
    backends.discrepancy = { subject: '[cloud_billing] 1 reconciliation check failed' };
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(backends.alerts).toEqual([
      { kind: 'discrepancy', subject: '[cloud_billing] 1 reconciliation check failed', by: 'reconcile' },
    ]);
    expect(backends.published).toEqual([]);
    expect((result.output as { notices: Record<string, unknown> }).notices.discrepancy).toMatchObject({
      kind: 'discrepancy',
      published: true,
    });
  });

  it('records the restatement notice Reconcile published with the notices; a refused one ends for the backstop', async () => {
    const backends = new FakeBackends();
    backends.restatement = { subject: '[workforce_capacity] 1 file replaced 6 rows' };
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(backends.alerts).toEqual([
      { kind: 'restatement', subject: '[workforce_capacity] 1 file replaced 6 rows', by: 'reconcile' },
    ]);
    expect((result.output as { notices: Record<string, unknown> }).notices.restatement).toMatchObject({
      kind: 'restatement',
      published: true,
    });

    const refused = new FakeBackends();
    refused.restatement = { subject: 'restated' };
    refused.refusedNotices.add('restatement');
    const failed = await run(machine, batch('cloud_billing', 1), refused);
    expect(failed.status).toBe('SUCCEEDED');
    expect(statesEntered(failed).at(-1)).toBe(STATE.noticesNotPublished);
    expect(notices(failed).restatement).toMatchObject({ kind: 'restatement', published: false });
    expect(statesEntered(failed)).not.toContain(STATE.notifyFailure);
  });

  it('records the volume-anomaly warning Reconcile published with the notices; a refused or failed one ends for the backstop', async () => {
    const backends = new FakeBackends();
    backends.volumeAnomaly = { subject: '[cloud_billing] 1 file outside usual volume: rows x0.1 of median' };
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(statesEntered(result)).toContain(STATE.recordVolumeNotice);
    expect(statesEntered(result).at(-1)).toBe(STATE.done);
    expect(backends.alerts).toEqual([
      {
        kind: 'volume_anomaly',
        subject: '[cloud_billing] 1 file outside usual volume: rows x0.1 of median',
        by: 'reconcile',
      },
    ]);
    expect(notices(result).volumeAnomaly).toMatchObject({ kind: 'volume_anomaly', published: true });

    const refused = new FakeBackends();
    refused.volumeAnomaly = { subject: 'anomaly' };
    refused.refusedNotices.add('volume_anomaly');
    const unsent = await run(machine, batch('cloud_billing', 1), refused);
    expect(unsent.status).toBe('SUCCEEDED');
    expect(statesEntered(unsent).at(-1)).toBe(STATE.noticesNotPublished);
    expect(notices(unsent).volumeAnomaly).toMatchObject({ kind: 'volume_anomaly', published: false });

    const broken = new FakeBackends();
    broken.volumeAnomaly = { error: 'ControlDocumentError: volume record s3://c/k is missing or malformed' };
    const failedCheck = await run(machine, batch('cloud_billing', 1), broken);
    expect(failedCheck.status).toBe('SUCCEEDED');
    expect(statesEntered(failedCheck).at(-1)).toBe(STATE.noticesNotPublished);
    expect(notices(failedCheck).volumeAnomaly).toMatchObject({
      published: false,
      error: 'ControlDocumentError: volume record s3://c/k is missing or malformed',
    });
    expect(statesEntered(failedCheck)).not.toContain(STATE.notifyFailure);
  });

  it('publishes a schema-drift notice and goes on to the ETL', async () => {
    const backends = new FakeBackends();
    backends.drift = { subject: 'drift' };
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(backends.subjects()).toEqual(['drift']);
    expect(backends.jobRuns).toHaveLength(1);
  });

  const notices = (result: ExecutionResult) =>
    (result.output as { notices: Record<string, Record<string, unknown> | null> }).notices;

  it('merges and reconciles when the drift notice is refused, and records it for the backstop instead of failing the batch', async () => {
    const backends = new FakeBackends();
    backends.drift = { subject: 'drift' };
    backends.refusedNotices.add('schema_drift');
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(statesEntered(result).at(-1)).toBe(STATE.noticesNotPublished);
    expect(notices(result).schemaDrift).toMatchObject({
      changed: true,
      alert: {
        kind: 'schema_drift',
        published: false,
        error: expect.stringContaining('KMSThrottlingException'),
      },
    });
    expect(backends.jobRuns).toHaveLength(1);
    expect(backends.calls('reconcile', 'reconcile')).toHaveLength(1);
    // No failure alert: publishing is what failed; the backstop alerts from the output.
    expect(statesEntered(result)).not.toContain(STATE.notifyFailure);
  });

  it('does not let a failing drift detection block the merge', async () => {
    const backends = new FakeBackends();
    backends.driftError = new NamedError('ControlDocumentError', 'schema state is not JSON');
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(backends.jobRuns).toHaveLength(1);
    expect(backends.calls('reconcile', 'reconcile')).toHaveLength(1);
    expect(result.status).toBe('SUCCEEDED');
    expect(notices(result).schemaDrift).toMatchObject({ Error: 'ControlDocumentError' });
    expect(statesEntered(result).at(-1)).toBe(STATE.noticesNotPublished);
  });

  it('finishes the other notices when the quarantine notice fails, and records the failure', async () => {
    const backends = new FakeBackends();
    backends.normalizeFailures.set('cloud_billing/file-1.csv', new NamedError('EmptyFileError', 'empty'));
    backends.normalizeAs.set('cloud_billing/file-2.csv', { unknownTemplate: 'no template' });
    backends.notifyErrors = [new Error('notify crashed')];
    const result = await run(machine, batch('cloud_billing', 2), backends);

    expect(result.status).toBe('SUCCEEDED');
    expect(notices(result).quarantine).toMatchObject({ Error: 'Error' });
    expect(notices(result).unknownTemplate).toMatchObject({ published: true });
    expect(backends.subjects()).toEqual(['[cloud_billing] unknown_template']);
    expect(statesEntered(result).at(-1)).toBe(STATE.noticesNotPublished);
  });

  it('ends at Done when every notice went out', async () => {
    const backends = new FakeBackends();
    backends.drift = { subject: 'drift' };
    backends.discrepancy = { subject: 'discrepancy' };
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(statesEntered(result).at(-1)).toBe(STATE.done);
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
      notices: {},
    });
    expect(JSON.parse((failure.error as { Cause: string }).Cause).errorMessage).toBe(
      'manifest manifests/x.json does not exist',
    );
    expect((failure.files as { key: string }[]).map((f) => f.key)).toEqual([
      'cloud_billing/file-1.csv',
      'cloud_billing/file-2.csv',
    ]);
    expect(backends.subjects()).toEqual([`[cloud_billing] failure at ${STATE.reconcile}`]);
  });

  it('still publishes a plain failure alert when the notify Lambda itself fails', async () => {
    const backends = new FakeBackends();
    backends.reconcileError = new NamedError('Boom', 'reconcile broke');
    backends.notifyErrors = [new Error('formatter broke')];
    const result = await run(machine, batch('cloud_billing', 1), backends);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('Boom');
    expect(backends.published).toHaveLength(1);
    expect(backends.published[0]!.Subject).toBe('Ingestion pipeline failure');
    expect(backends.published[0]!.Message).toContain(`stage ${STATE.reconcile} (Boom)`);
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
