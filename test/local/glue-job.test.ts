import { describe, expect, it } from 'vitest';
import { placeholderResolver } from '../../local/cfn';
import { LocalGlueJobs } from '../../local/glue-job';
import { JobRunTimeoutError, type JobServer } from '../../local/job-server';

/** A job definition as the stack synthesizes it, with its own Timeout (minutes). */
const template = {
  Resources: {
    CurateJob: {
      Type: 'AWS::Glue::Job',
      Properties: {
        Name: 'curate',
        Timeout: 60,
        ExecutionProperty: { MaxConcurrentRuns: 1 },
        DefaultArguments: {},
      },
    },
  },
};

/** A Spark driver double: records the deadline each run gets, and ends the run as told. */
function server(outcome: 'succeed' | 'time out'): { server: JobServer; deadlines: number[] } {
  const deadlines: number[] = [];
  const double = {
    run: async (
      _script: string,
      _argv: readonly string[],
      _env: unknown,
      _onLine: unknown,
      timeoutMs: number,
    ) => {
      deadlines.push(timeoutMs);
      if (outcome === 'time out') throw new JobRunTimeoutError('job run timed out');
      return 0;
    },
  };
  return { server: double as unknown as JobServer, deadlines };
}

describe('local Glue job runs', () => {
  it("run with the StartJobRun Timeout, which overrides the job's own, as Glue does", async () => {
    const { server: s, deadlines } = server('succeed');
    const jobs = new LocalGlueJobs(template, placeholderResolver(), {
      env: {},
      server: s,
      bookmarks: '/tmp/unused',
    });

    const run = await jobs.run({ JobName: 'curate', Timeout: 70 });
    const fallback = await jobs.run({ JobName: 'curate' });

    expect(run.JobRunState).toBe('SUCCEEDED');
    expect(deadlines).toEqual([70 * 60_000, 60 * 60_000]);
    expect(fallback.JobRunState).toBe('SUCCEEDED');
  });

  it('end TIMEOUT (not FAILED) when the run passes its timeout', async () => {
    const { server: s } = server('time out');
    const jobs = new LocalGlueJobs(template, placeholderResolver(), {
      env: {},
      server: s,
      bookmarks: '/tmp/unused',
    });

    const run = await jobs.run({ JobName: 'curate', Timeout: 5 });

    expect(run.JobRunState).toBe('TIMEOUT');
    expect(run.ErrorMessage).toBe('Job run timed out after 5 minutes');
  });
});
