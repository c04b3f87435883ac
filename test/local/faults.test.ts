import { describe, expect, it, vi } from 'vitest';
import { placeholderResolver } from '../../local/cfn';
import { FaultPlanError, GLUE_SLOW_START_SECONDS, LocalFaults, parseFaultPlan } from '../../local/faults';
import { LocalGlueJobs } from '../../local/glue-job';
import type { JobServer } from '../../local/job-server';
import {
  checkGlueArguments,
  checkLambdaResponse,
  checkSnsPublish,
  GLUE_JOB_ARGUMENTS_LIMIT_BYTES,
  LAMBDA_RESPONSE_LIMIT_BYTES,
  SNS_MESSAGE_LIMIT_BYTES,
} from '../../local/limits';

describe('a fault plan', () => {
  it('reads service:fault[:target][:count] entries, count 1 when left out', () => {
    expect(
      parseFaultPlan(
        's3:slowdown:GetObject:3, lambda:throttle:normalize:2,crawler:events-late,glue:fail-mid-write:4',
      ),
    ).toEqual([
      { kind: 's3:slowdown', target: 'GetObject', count: 3, text: 's3:slowdown:GetObject:3' },
      { kind: 'lambda:throttle', target: 'normalize', count: 2, text: 'lambda:throttle:normalize:2' },
      { kind: 'crawler:events-late', count: 1, text: 'crawler:events-late' },
      { kind: 'glue:fail-mid-write', count: 4, text: 'glue:fail-mid-write:4' },
    ]);
    expect(parseFaultPlan(undefined)).toEqual([]);
    expect(parseFaultPlan('  ')).toEqual([]);
  });

  it.each([
    ['lambda:explode:normalize', /unknown fault "lambda:explode:normalize"/],
    ['lambda:throttle', /needs a target/],
    ['crawler:running:0', /count must be a positive integer/],
    ['glue:concurrent-runs:two', /count must be a positive integer/],
    ['s3:slowdown:GetObject:1:2', /too many parts/],
  ])('refuses %s, naming the entry', (plan, message) => {
    expect(() => parseFaultPlan(plan)).toThrow(FaultPlanError);
    expect(() => parseFaultPlan(plan)).toThrow(message);
  });

  it('hands out each fault as many times as planned, to matching calls only, and counts what fired', () => {
    const faults = LocalFaults.fromPlan('lambda:throttle:normalize:2,crawler:running');

    const normalize = [1, 2, 3].map(() => faults.take('lambda:throttle', (t) => t === 'normalize'));
    const reconcile = faults.take('lambda:throttle', (t) => t === 'reconcile');

    expect(normalize.map(Boolean)).toEqual([true, true, false]);
    expect(reconcile).toBeUndefined();
    expect(faults.summary()).toEqual([
      { fault: 'lambda:throttle:normalize:2', planned: 2, injected: 2 },
      { fault: 'crawler:running', planned: 1, injected: 0 },
    ]);
  });
});

describe('a fault planned twice', () => {
  it('is two faults, each counted on its own (the first job run fails mid-write, then its retry)', () => {
    const faults = LocalFaults.fromPlan('glue:fail-mid-write:1,glue:fail-mid-write:1');
    faults.setCuratedBucket('curated');
    faults.armHttpBoundary(true);
    const write = () =>
      faults.s3Fault({ operation: 'PutObject', method: 'PUT', bucket: 'curated', key: 'k' });

    const runs = ['jr_1', 'jr_2', 'jr_3'].map((run) => {
      faults.jobRunStarted(run);
      const answers = [write(), write()].map((f) => f?.status ?? 200);
      faults.jobRunEnded(run);
      return answers;
    });

    expect(runs).toEqual([
      [200, 500],
      [200, 500],
      [200, 200],
    ]);
    expect(faults.summary().map((f) => f.injected)).toEqual([1, 1]);
  });
});

describe('S3 faults at the HTTP boundary', () => {
  it('meet no request while disarmed (the runtime restoring or saving its state)', () => {
    const faults = LocalFaults.fromPlan('s3:slowdown:*:5');

    const answer = faults.s3Fault({ operation: 'GetObject', method: 'GET', bucket: 'b', key: 'k' });

    expect(answer).toBeUndefined();
    expect(faults.summary()[0]?.injected).toBe(0);
  });

  it('answer 503 SlowDown to the planned operation (or class of operations) only', () => {
    const faults = LocalFaults.fromPlan('s3:slowdown:GetObject:2,s3:slowdown:write:1');
    faults.armHttpBoundary(true);
    const get = { operation: 'GetObject', method: 'GET', bucket: 'b', key: 'k' };
    const put = { operation: 'PutObject', method: 'PUT', bucket: 'b', key: 'k' };
    const list = { operation: 'ListObjectsV2', method: 'GET', bucket: 'b' };

    const answers = [faults.s3Fault(list), faults.s3Fault(get), faults.s3Fault(put), faults.s3Fault(put)];
    const later = faults.s3Fault(get);

    expect(answers.map((a) => a?.code)).toEqual([undefined, 'SlowDown', 'SlowDown', undefined]);
    expect(answers[1]).toMatchObject({ status: 503 });
    expect(later?.code).toBe('SlowDown');
    expect(faults.s3Fault(get)).toBeUndefined();
  });

  it('fail one job run mid-write: its first n curated writes pass, every later one (retries too) gets 500', () => {
    const faults = LocalFaults.fromPlan('glue:fail-mid-write:2');
    faults.setCuratedBucket('curated');
    faults.armHttpBoundary(true);
    const write = (key: string) =>
      faults.s3Fault({ operation: 'PutObject', method: 'PUT', bucket: 'curated', key });
    const elsewhere = () =>
      faults.s3Fault({ operation: 'PutObject', method: 'PUT', bucket: 'normalized', key: 'x' });

    const beforeAnyRun = write('a');
    faults.jobRunStarted('jr_1');
    const during = [write('p1'), write('p2'), write('p3'), write('p3'), elsewhere()];
    faults.jobRunEnded('jr_1');
    faults.jobRunStarted('jr_2');
    const nextRun = write('p1');
    faults.jobRunEnded('jr_2');

    expect(beforeAnyRun).toBeUndefined();
    expect(during.map((f) => f?.status)).toEqual([undefined, undefined, 500, 500, undefined]);
    expect(during[2]?.code).toBe('InternalError');
    expect(nextRun).toBeUndefined();
    expect(faults.summary()).toEqual([{ fault: 'glue:fail-mid-write:2', planned: 1, injected: 1 }]);
  });
});

describe('service limits outside the state machine', () => {
  it('SNS: a message of 256 KiB (attributes included) passes; one byte more is InvalidParameterException', () => {
    const attributes = { kind: { DataType: 'String', StringValue: 'failure' } };
    const attributeBytes = 'kind'.length + 'String'.length + 'failure'.length;
    const fits = {
      Message: 'a'.repeat(SNS_MESSAGE_LIMIT_BYTES - attributeBytes),
      MessageAttributes: attributes,
    };
    const over = { Message: `${fits.Message}a`, MessageAttributes: attributes };

    expect(() => checkSnsPublish(fits)).not.toThrow();
    expect(() => checkSnsPublish(over)).toThrow(
      expect.objectContaining({ name: 'InvalidParameterException' }),
    );
  });

  it('SNS counts bytes, not characters: 131,073 two-byte characters are too long', () => {
    expect(() => checkSnsPublish({ Message: 'é'.repeat(131_072) })).not.toThrow();
    expect(() => checkSnsPublish({ Message: 'é'.repeat(131_073) })).toThrow(/Message too long/);
  });

  it('SNS: a subject of 100 characters passes; 101, a line break or an empty subject fail', () => {
    expect(() => checkSnsPublish({ Message: 'm', Subject: 's'.repeat(100) })).not.toThrow();
    for (const subject of ['s'.repeat(101), 'two\nlines', ''])
      expect(() => checkSnsPublish({ Message: 'm', Subject: subject })).toThrow(/Invalid parameter: Subject/);
  });

  it('Lambda: a result over 6 MB cannot be returned and fails as Lambda.Unknown', () => {
    const justFits = { data: 'x'.repeat(LAMBDA_RESPONSE_LIMIT_BYTES - '{"data":""}'.length) };
    const over = { data: `${justFits.data}x` };

    expect(() => checkLambdaResponse('reconcile', justFits)).not.toThrow();
    expect(() => checkLambdaResponse('reconcile', over)).toThrow(
      expect.objectContaining({ name: 'Lambda.Unknown', message: expect.stringContaining('6291556') }),
    );
  });

  it('Glue: job arguments up to 260 KB pass; more is InvalidInputException', () => {
    const key = '--dataset_config';
    const fits = { [key]: 'v'.repeat(GLUE_JOB_ARGUMENTS_LIMIT_BYTES - key.length) };

    expect(() => checkGlueArguments('curate', fits)).not.toThrow();
    expect(() => checkGlueArguments('curate', { ...fits, '--x': '' })).toThrow(
      expect.objectContaining({ name: 'InvalidInputException' }),
    );
  });
});

const jobTemplate = {
  Resources: {
    CurateJob: {
      Type: 'AWS::Glue::Job',
      Properties: { Name: 'curate', ExecutionProperty: { MaxConcurrentRuns: 1 }, DefaultArguments: {} },
    },
  },
};

/** A Spark driver double whose runs end when the test says so. */
function heldServer() {
  const pending: (() => void)[] = [];
  const started: string[] = [];
  const server = {
    run: (
      _script: string,
      argv: readonly string[],
      _env: unknown,
      _onLine: unknown,
      _timeout: number,
      onStart?: () => void,
    ) => {
      onStart?.();
      started.push(argv[argv.indexOf('--JOB_RUN_ID') + 1]!);
      return new Promise<number>((resolve) => pending.push(() => resolve(0)));
    },
  };
  return { server: server as unknown as JobServer, pending, started };
}

describe('local Glue job runs and MaxConcurrentRuns', () => {
  it('refuse a second StartJobRun while one runs with ConcurrentRunsExceededException, and accept it after', async () => {
    const { server, pending } = heldServer();
    const jobs = new LocalGlueJobs(jobTemplate, placeholderResolver(), {
      env: {},
      server,
      bookmarks: '/tmp/x',
    });

    const first = jobs.run({ JobName: 'curate' });
    const second = jobs.run({ JobName: 'curate' });
    await expect(second).rejects.toMatchObject({ name: 'ConcurrentRunsExceededException' });
    await new Promise((resolve) => setImmediate(resolve));
    pending.shift()!();
    await expect(first).resolves.toMatchObject({ JobRunState: 'SUCCEEDED' });
    const third = jobs.run({ JobName: 'curate' });
    await new Promise((resolve) => setImmediate(resolve));
    pending.shift()!();

    await expect(third).resolves.toMatchObject({ JobRunState: 'SUCCEEDED' });
  });

  it('refuse starts as planned by glue:concurrent-runs, and run arguments over 260 KB with InvalidInputException', async () => {
    const { server, pending } = heldServer();
    const jobs = new LocalGlueJobs(jobTemplate, placeholderResolver(), {
      env: {},
      server,
      bookmarks: '/tmp/x',
      faults: LocalFaults.fromPlan('glue:concurrent-runs:1'),
    });

    await expect(jobs.run({ JobName: 'curate' })).rejects.toMatchObject({
      name: 'ConcurrentRunsExceededException',
    });
    await expect(
      jobs.run({ JobName: 'curate', Arguments: { '--push_down_predicate': 'x'.repeat(270_000) } }),
    ).rejects.toMatchObject({ name: 'InvalidInputException' });
    const run = jobs.run({ JobName: 'curate' });
    await new Promise((resolve) => setImmediate(resolve));
    pending.shift()!();
    await expect(run).resolves.toMatchObject({ JobRunState: 'SUCCEEDED' });
  });

  it('hold the run slot for a Glue start-up before the script starts, as planned by glue:slow-start', async () => {
    vi.useFakeTimers();
    try {
      const { server, pending, started } = heldServer();
      const jobs = new LocalGlueJobs(jobTemplate, placeholderResolver(), {
        env: {},
        server,
        bookmarks: '/tmp/x',
        faults: LocalFaults.fromPlan('glue:slow-start:1'),
      });

      const slow = jobs.run({ JobName: 'curate' });
      await vi.advanceTimersByTimeAsync(GLUE_SLOW_START_SECONDS * 1000 - 1);
      expect(started).toHaveLength(0);
      await expect(jobs.run({ JobName: 'curate' })).rejects.toMatchObject({
        name: 'ConcurrentRunsExceededException',
      });
      await vi.advanceTimersByTimeAsync(1);
      expect(started).toHaveLength(1);
      pending.shift()!();
      await expect(slow).resolves.toMatchObject({ JobRunState: 'SUCCEEDED' });
      // The plan held one run: the next starts at once.
      const next = jobs.run({ JobName: 'curate' });
      await vi.advanceTimersByTimeAsync(0);
      expect(started).toHaveLength(2);
      pending.shift()!();
      await expect(next).resolves.toMatchObject({ JobRunState: 'SUCCEEDED' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('arm glue:fail-mid-write for the run the driver starts', async () => {
    const { server, pending, started } = heldServer();
    const faults = LocalFaults.fromPlan('glue:fail-mid-write:1');
    faults.setCuratedBucket('curated');
    faults.armHttpBoundary(true);
    const jobs = new LocalGlueJobs(jobTemplate, placeholderResolver(), {
      env: {},
      server,
      bookmarks: '/tmp/x',
      faults,
    });
    const write = () =>
      faults.s3Fault({ operation: 'PutObject', method: 'PUT', bucket: 'curated', key: 'k' });

    const run = jobs.run({ JobName: 'curate' });
    await new Promise((resolve) => setImmediate(resolve));
    const during = [write(), write()];
    pending.shift()!();
    await run;

    expect(started).toHaveLength(1);
    expect(during.map((f) => f?.status)).toEqual([undefined, 500]);
    expect(write()).toBeUndefined();
  });
});
