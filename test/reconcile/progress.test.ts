import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManifestMissingError } from '../../lambdas/reconcile/errors';
import { makeReconcileHandler } from '../../lambdas/reconcile/handler';
import { type Progress, partitionPredicate, progressOf } from '../../lambdas/reconcile/progress';
import { loadDatasets } from '../../lib/config';
import type { FileOutcome } from '../../lib/contracts/batch';
import { plan, sourceFile, startTestAws, type TestAws, writeEtlRun, writeManifests } from './fixtures';

let aws: TestAws;

beforeAll(async () => {
  aws = await startTestAws();
});

afterAll(async () => {
  await aws?.emulator.stop();
});

const files = () => {
  const a = sourceFile('workforce_capacity/plans/a.csv', [
    plan('Data', '2025-Q1', 'Engineering', '10', '1'),
    plan('Data', '2025-Q2', 'Engineering', '11', '1'),
  ]);
  const b = sourceFile(
    'workforce_capacity/plans/b.csv',
    [plan("O'Brien & Co", '2025-Q3', 'Legal', '2', '1')],
    {
      rejectedRows: 4,
    },
  );
  const quarantined: FileOutcome = {
    status: 'quarantined',
    dataset: 'workforce_capacity',
    key: 'workforce_capacity/plans/broken.xlsx',
    versionId: 'v1',
    sourceId: 'q1',
    reason: 'the workbook is encrypted',
  };
  const failed: FileOutcome = {
    status: 'failed',
    dataset: 'workforce_capacity',
    key: 'workforce_capacity/plans/stuck.csv',
    versionId: null,
    sourceId: '',
    reason: 'normalize failed (States.Timeout) and quarantine failed (States.TaskFailed)',
  };
  const duplicate: FileOutcome = {
    status: 'duplicate',
    dataset: 'workforce_capacity',
    key: 'workforce_capacity/plans/a-again.csv',
    versionId: 'v9',
    sourceId: 'd1',
    duplicateOf: 'workforce_capacity/plans/a.csv',
  };
  return { a, b, outcomes: [a.outcome, b.outcome, quarantined, failed, duplicate] };
};

async function progress(
  env: Awaited<ReturnType<TestAws['newEnv']>>,
  outcomes: FileOutcome[],
  previous?: Progress,
  lastRunId?: string,
) {
  const handler = makeReconcileHandler(env, { s3: aws.s3, glue: aws.glue });
  return (await handler({
    action: 'progress',
    dataset: 'workforce_capacity',
    files: outcomes,
    ...(previous ? { previous } : {}),
    ...(lastRunId ? { lastRunId } : {}),
  })) as Progress;
}

describe('batch progress (the drain loop input)', () => {
  it("counts a run that read only other batches' objects as progress; a run that read nothing is not", async () => {
    const env = await aws.newEnv();
    const { a, b, outcomes } = files();
    await writeManifests(aws.s3, env.controlBucket, [a, b]);
    const first = await progress(env, outcomes);
    // In a burst into one partition the job takes the oldest unmerged objects: another batch's.
    const other = sourceFile('workforce_capacity/plans/older.csv', [
      plan('Ops', '2025-Q1', 'Legal', '1', '1'),
    ]);
    await writeManifests(aws.s3, env.controlBucket, [other]);
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_other', [{ file: other }]);
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_empty', []);

    const afterOther = await progress(env, outcomes, first, 'jr_other');
    const afterEmpty = await progress(env, outcomes, afterOther, 'jr_empty');

    expect(afterOther).toMatchObject({ remainingObjects: 3, madeProgress: true, lastRunFilesRead: 1 });
    expect(afterEmpty).toMatchObject({ remainingObjects: 3, madeProgress: false, lastRunFilesRead: 0 });
    // Without a run report to read, only fewer remaining objects count.
    expect(await progress(env, outcomes, afterOther, 'jr_missing')).toMatchObject({ madeProgress: false });
  });

  it('counts every normalized object as remaining before the first ETL run, with the predicate for them', async () => {
    const env = await aws.newEnv();
    const { a, b, outcomes } = files();
    await writeManifests(aws.s3, env.controlBucket, [a, b]);

    const result = await progress(env, outcomes);

    expect(result).toEqual({
      round: 1,
      totalObjects: 3,
      processedObjects: 0,
      remainingObjects: 3,
      remainingFiles: 2,
      partitions: ['2025-Q1', '2025-Q2', '2025-Q3'],
      pushDownPredicate: "quarter in ('2025-Q1', '2025-Q2', '2025-Q3')",
      madeProgress: true,
      // One quarantined file (a bad file) and one failed file (not normalized, not quarantined).
      quarantinedFiles: 1,
      failedFiles: 1,
      rejectedRows: 4,
      flaggedFiles: 0,
    });
  });

  it('narrows the remaining objects and the predicate after a run merged some of them', async () => {
    const env = await aws.newEnv();
    const { a, b, outcomes } = files();
    await writeManifests(aws.s3, env.controlBucket, [a, b]);
    const first = await progress(env, outcomes);
    // A capped run merged a's Q1 object and b's only object.
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_capped', [
      { file: a, partitions: ['2025-Q1'] },
      { file: b },
    ]);

    const second = await progress(env, outcomes, first);

    expect(second).toMatchObject({
      round: 2,
      processedObjects: 2,
      remainingObjects: 1,
      remainingFiles: 1,
      partitions: ['2025-Q2'],
      pushDownPredicate: "quarter in ('2025-Q2')",
      madeProgress: true,
    });
  });

  it('reports no progress when a run left as many objects as the round before', async () => {
    const env = await aws.newEnv();
    const { a, b, outcomes } = files();
    await writeManifests(aws.s3, env.controlBucket, [a, b]);
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_partial', [{ file: b }]);
    const first = await progress(env, outcomes);

    const second = await progress(env, outcomes, first);

    expect(first.remainingObjects).toBe(2);
    expect(second).toMatchObject({ round: 2, remainingObjects: 2, madeProgress: false });
  });

  it('is drained (nothing remaining, empty predicate) once every object has a processed marker', async () => {
    const env = await aws.newEnv();
    const { a, b, outcomes } = files();
    await writeManifests(aws.s3, env.controlBucket, [a, b]);
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_all', [{ file: a }, { file: b }]);

    const result = await progress(env, outcomes, {
      ...(await progress(env, [])),
      round: 1,
      remainingObjects: 3,
    });

    expect(result).toMatchObject({
      round: 2,
      remainingObjects: 0,
      remainingFiles: 0,
      partitions: [],
      pushDownPredicate: '',
      madeProgress: true,
    });
  });

  it('fails with ManifestMissingError when a normalized file has no manifest', async () => {
    const env = await aws.newEnv();
    const { a } = files();

    await expect(progress(env, [a.outcome])).rejects.toBeInstanceOf(ManifestMissingError);
  });
});

describe('progressOf', () => {
  it('counts the normalized files that landed flagged with an unknown template (for their own alert)', () => {
    const workforce = loadDatasets().find((d) => d.name === 'workforce_capacity')!;
    const { a, b } = files();
    const flagged: FileOutcome = { ...b.outcome, flag: 'unknown_template', reason: 'matches no template' };
    const quarantined: FileOutcome = {
      status: 'quarantined',
      dataset: 'workforce_capacity',
      key: 'workforce_capacity/plans/unknown.csv',
      versionId: 'v2',
      sourceId: 'q2',
      errorName: 'UnknownTemplateError',
    };

    const result = progressOf(workforce, [a.outcome, flagged, quarantined], [], []);

    expect(result).toMatchObject({ flaggedFiles: 1, quarantinedFiles: 1, rejectedRows: 4 });
  });
});

describe('partitionPredicate', () => {
  it('escapes quotes and backslashes as Spark SQL string literals', () => {
    expect(partitionPredicate('quarter', ["O'Brien", 'a\\b'])).toBe("quarter in ('O\\'Brien', 'a\\\\b')");
  });

  it('is empty for no values', () => {
    expect(partitionPredicate('quarter', [])).toBe('');
  });
});
