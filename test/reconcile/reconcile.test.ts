import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JSON_MARKER, parseAlertData } from '../../lambdas/common/alerts';
import type { PipelineEnv } from '../../lambdas/common/env';
import { putJson } from '../../lambdas/common/s3';
import { makeReconcileHandler, type ReconcileResult } from '../../lambdas/reconcile/handler';
import type { FileOutcome } from '../../lib/contracts/batch';
import { etlRunReportKey } from '../../lib/contracts/layout';
import type { ReconciliationCheck, ReconciliationResult } from '../../lib/contracts/reconciliation';
import {
  EXECUTION,
  plan,
  RecordingSns,
  type Row,
  roster,
  type SourceFile,
  sourceFile,
  startTestAws,
  type TestAws,
  writeAggregates,
  writeBalancedAggregates,
  writeEtlRun,
  writeManifests,
} from './fixtures';

let aws: TestAws;

beforeAll(async () => {
  aws = await startTestAws();
});

afterAll(async () => {
  await aws?.emulator.stop();
});

/** Missing run reports are read again twice, 50 ms apart (15 s in production). */
const QUICK = { reportWait: { attempts: 3, delayMs: 50 } };

/** Reconciles through the handler; `alert` is what it published (it returns only the receipt). */
async function reconcile(
  env: PipelineEnv,
  files: readonly FileOutcome[],
  executionId = EXECUTION,
  sns = new RecordingSns(),
) {
  const handler = makeReconcileHandler(env, { s3: aws.s3, glue: aws.glue, sns: sns.client }, QUICK);
  const output = (await handler({
    action: 'reconcile',
    dataset: 'workforce_capacity',
    executionId,
    files,
  })) as ReconcileResult;
  const result = await aws.read<ReconciliationResult>(env.controlBucket, output.resultKey);
  if (!result) throw new Error(`no result document at ${output.resultKey}`);
  const published = sns.alerts();
  expect(published.length).toBeLessThanOrEqual(1);
  return { output, result, alert: published[0] };
}

const failed = (result: ReconciliationResult) => result.checks.filter((c) => c.status === 'fail');
const find = (result: ReconciliationResult, check: string, sourceId?: string, quarter?: string) =>
  result.checks.filter(
    (c) =>
      c.check === check &&
      (sourceId === undefined || c.source?.sourceId === sourceId) &&
      (quarter === undefined || c.scope?.quarter === quarter),
  );
const one = (checks: ReconciliationCheck[]): ReconciliationCheck => {
  expect(checks).toHaveLength(1);
  return checks[0]!;
};

const q1Plan = (): Row[] => [
  plan('Data', '2025-Q1', 'Engineering', '10', '150000.25'),
  plan('Data', '2025-Q1', 'Analytics', '4', '52000.10'),
  plan('Finance', '2025-Q1', 'Controlling', '3', '41000'),
];

/** Writes the manifests and an ETL run that merged every file faithfully. */
async function faithfulRun(env: PipelineEnv, files: readonly SourceFile[], runId = 'jr_faithful') {
  await writeManifests(aws.s3, env.controlBucket, files);
  return writeEtlRun(
    aws.s3,
    env.controlBucket,
    runId,
    files.map((file) => ({ file })),
  );
}

/** The ETL's aggregates for the files' partitions, with rosters that agree (rule passes). */
const balanced = (env: PipelineEnv, files: readonly SourceFile[]) =>
  writeBalancedAggregates(
    aws.s3,
    env.controlBucket,
    files.flatMap((f) => f.rows),
  );

describe('source -> curated control totals', () => {
  it('passes every check when curated holds exactly the source rows and sums', async () => {
    // Prepare
    const env = await aws.newEnv();
    const q1 = sourceFile('workforce_capacity/plans/data-q1.csv', q1Plan());
    const twoQuarters = sourceFile('workforce_capacity/plans/ops-h1.csv', [
      plan('Ops', '2025-Q1', 'Support', '7', '70000.5'),
      plan('Ops', '2025-Q2', 'Support', '8', '80000.75'),
    ]);
    await faithfulRun(env, [q1, twoQuarters]);
    await balanced(env, [q1, twoQuarters]);
    // Act
    const { output, result } = await reconcile(env, [q1.outcome, twoQuarters.outcome]);
    // Assess
    expect(output).toMatchObject({ status: 'pass', failedChecks: 0, pendingChecks: 0, alert: null });
    expect(output.resultKey).toBe('reconciliation/workforce_capacity/batch-0001.json');
    expect(result.status).toBe('pass');
    expect(result.executionId).toBe(EXECUTION);
    // One rows check and one check per measure for each file and partition, plus one run-report check per file.
    expect(find(result, 'rows')).toHaveLength(3);
    expect(find(result, 'measure:cost_usd')).toHaveLength(3);
    expect(find(result, 'run_report')).toHaveLength(2);
    const cost = one(find(result, 'measure:cost_usd', q1.sourceId, '2025-Q1'));
    expect(cost).toMatchObject({ expected: '243000.35', actual: '243000.35', delta: '0', status: 'pass' });
    expect(result.summary).toEqual({
      checks: result.checks.length,
      passed: result.checks.length,
      failed: 0,
      pending: 0,
    });
  });

  it('detects a dropped row: the row count and the measures of its partition fail', async () => {
    const env = await aws.newEnv();
    const file = sourceFile('workforce_capacity/plans/dropped.csv', q1Plan());
    await writeManifests(aws.s3, env.controlBucket, [file]);
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_dropped', [
      { file, curated: new Map([['2025-Q1', q1Plan().slice(0, 2)]]) },
    ]);

    await balanced(env, [file]);
    const { output, result } = await reconcile(env, [file.outcome]);

    expect(output.status).toBe('fail');
    const rows = one(find(result, 'rows', file.sourceId, '2025-Q1'));
    expect(rows).toMatchObject({ status: 'fail', expected: '3', actual: '2', delta: '-1' });
    expect(rows.detail).toMatch(/1 row\(s\) were read but neither written nor counted as duplicates: lost/);
    expect(one(find(result, 'measure:headcount', file.sourceId))).toMatchObject({
      status: 'fail',
      expected: '17',
      actual: '14',
      delta: '-3',
    });
    expect(output.failedChecks).toBe(failed(result).length);
    expect(output.alert).toMatchObject({ kind: 'discrepancy', published: true });
    expect(output.alert!.subject).toContain(`${output.failedChecks} reconciliation checks failed`);
  });

  it('detects a changed measure with the row count intact', async () => {
    const env = await aws.newEnv();
    const file = sourceFile('workforce_capacity/plans/changed.csv', q1Plan());
    const curated = q1Plan().map((row, i) => (i === 1 ? { ...row, cost_usd: '52000.11' } : row));
    await writeManifests(aws.s3, env.controlBucket, [file]);
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_changed', [
      { file, curated: new Map([['2025-Q1', curated]]) },
    ]);

    await balanced(env, [file]);
    const { output, result } = await reconcile(env, [file.outcome]);

    expect(output.status).toBe('fail');
    expect(failed(result).map((c) => c.check)).toEqual(['measure:cost_usd']);
    const cost = one(find(result, 'measure:cost_usd', file.sourceId));
    expect(cost).toMatchObject({ expected: '243000.35', actual: '243000.36', delta: '0.01', tolerance: '0' });
    expect(cost.detail).toMatch(/row count matches, so values were changed/);
    expect(one(find(result, 'rows', file.sourceId)).status).toBe('pass');
  });

  it('detects a duplicate row that the ETL dropped by key: duplicates are not delivered rows', async () => {
    const env = await aws.newEnv();
    const rows = [...q1Plan(), plan('Data', '2025-Q1', 'Engineering', '10', '150000.25')];
    const file = sourceFile('workforce_capacity/plans/duplicate-key.csv', rows);
    await writeManifests(aws.s3, env.controlBucket, [file]);
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_dedup', [
      { file, curated: new Map([['2025-Q1', q1Plan()]]), duplicateRows: new Map([['2025-Q1', 1]]) },
    ]);

    await balanced(env, [file]);
    const { output, result } = await reconcile(env, [file.outcome]);

    expect(output.status).toBe('fail');
    const rowsCheck = one(find(result, 'rows', file.sourceId));
    expect(rowsCheck).toMatchObject({ status: 'fail', expected: '4', actual: '3', delta: '-1' });
    expect(rowsCheck.detail).toMatch(/1 row\(s\) were dropped as duplicates/);
    expect(rowsCheck.detail).not.toMatch(/lost/);
    expect(one(find(result, 'measure:headcount', file.sourceId))).toMatchObject({
      status: 'fail',
      delta: '-10',
    });
    // The run report agrees with the markers: the discrepancy is in the data, not in the ETL's bookkeeping.
    expect(one(find(result, 'run_report', file.sourceId)).status).toBe('pass');
  });

  it('counts rows dropped for identical kept rows (the same data delivered again) as delivered', async () => {
    const env = await aws.newEnv();
    // A retry of a file whose first execution failed: the ETL kept the other copy's equal rows.
    const file = sourceFile('workforce_capacity/plans/retried.csv', q1Plan());
    await writeManifests(aws.s3, env.controlBucket, [file]);
    const [kept, ...rest] = q1Plan();
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_identical', [
      {
        file,
        curated: new Map([['2025-Q1', [kept!]]]),
        duplicateRows: new Map([['2025-Q1', rest.length]]),
        identical: new Map([['2025-Q1', rest]]),
      },
    ]);

    await balanced(env, [file]);
    const { output, result } = await reconcile(env, [file.outcome]);

    expect(output.status).toBe('pass');
    const rowsCheck = one(find(result, 'rows', file.sourceId));
    expect(rowsCheck).toMatchObject({ status: 'pass', expected: '3', actual: '3', delta: '0' });
    expect(rowsCheck.detail).toMatch(/2 of them were already there with the same values/);
    for (const measure of ['headcount', 'cost_usd']) {
      expect(one(find(result, `measure:${measure}`, file.sourceId))).toMatchObject({
        status: 'pass',
        delta: '0',
      });
    }
    expect(one(find(result, 'run_report', file.sourceId)).status).toBe('pass');
  });

  it('still fails rows dropped for a kept row with other values, beside identical ones', async () => {
    const env = await aws.newEnv();
    const file = sourceFile('workforce_capacity/plans/mixed.csv', q1Plan());
    await writeManifests(aws.s3, env.controlBucket, [file]);
    // The third row lost to a row with the same key and other values.
    const [first, second] = q1Plan();
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_mixed', [
      {
        file,
        curated: new Map([['2025-Q1', [first!]]]),
        duplicateRows: new Map([['2025-Q1', 2]]),
        identical: new Map([['2025-Q1', [second!]]]),
      },
    ]);

    await balanced(env, [file]);
    const { output, result } = await reconcile(env, [file.outcome]);

    expect(output.status).toBe('fail');
    const rowsCheck = one(find(result, 'rows', file.sourceId));
    expect(rowsCheck).toMatchObject({ status: 'fail', expected: '3', actual: '2', delta: '-1' });
    expect(rowsCheck.detail).toMatch(/^1 row\(s\) were dropped as duplicates/);
  });

  it('detects a duplicate row written twice to curated', async () => {
    const env = await aws.newEnv();
    const file = sourceFile('workforce_capacity/plans/written-twice.csv', q1Plan());
    const curated = [...q1Plan(), q1Plan()[2]!];
    await writeManifests(aws.s3, env.controlBucket, [file]);
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_twice', [
      { file, curated: new Map([['2025-Q1', curated]]) },
    ]);

    await balanced(env, [file]);
    const { output, result } = await reconcile(env, [file.outcome]);

    expect(output.status).toBe('fail');
    const rowsCheck = one(find(result, 'rows', file.sourceId));
    expect(rowsCheck).toMatchObject({ status: 'fail', expected: '3', actual: '4', delta: '1' });
    expect(rowsCheck.detail).toMatch(/1 more row\(s\) were written than read/);
    expect(one(find(result, 'measure:cost_usd', file.sourceId))).toMatchObject({
      status: 'fail',
      delta: '41000',
    });
  });

  it('accounts for rows rejected to quarantine instead of counting them as lost', async () => {
    const env = await aws.newEnv();
    // The file had 5 data rows: 3 normalized, 2 rejected (in the quarantine rows object).
    const file = sourceFile('workforce_capacity/plans/with-rejects.csv', q1Plan(), { rejectedRows: 2 });
    await faithfulRun(env, [file], 'jr_rejects');

    await balanced(env, [file]);
    const { output, result } = await reconcile(env, [file.outcome]);

    expect(output).toMatchObject({ status: 'pass', failedChecks: 0, alert: null });
    const rowsCheck = one(find(result, 'rows', file.sourceId));
    expect(rowsCheck).toMatchObject({ status: 'pass', expected: '3', actual: '3' });
    expect(rowsCheck.detail).toContain(
      `2 rejected row(s) are in quarantine (rows/workforce_capacity/${file.sourceId}.jsonl)`,
    );
  });

  it('finds a file processed by another execution through its markers and that run report', async () => {
    const env = await aws.newEnv();
    const mine = sourceFile('workforce_capacity/plans/mine.csv', q1Plan());
    const theirs = sourceFile('workforce_capacity/plans/merged-earlier.csv', [
      plan('Legal', '2025-Q1', 'Counsel', '2', '30000'),
    ]);
    await writeManifests(aws.s3, env.controlBucket, [mine, theirs]);
    // Another execution's run merged `theirs` (its normalized object matched that run's predicate).
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_other_execution', [{ file: theirs }]);
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_this_execution', [{ file: mine }]);

    await balanced(env, [mine, theirs]);
    const { output, result } = await reconcile(env, [mine.outcome, theirs.outcome]);

    expect(output.status).toBe('pass');
    const report = one(find(result, 'run_report', theirs.sourceId));
    expect(report).toMatchObject({ status: 'pass', expected: '1', actual: '1' });
    expect(report.detail).toContain('jr_other_execution');
    expect(one(find(result, 'rows', theirs.sourceId)).detail).toContain('jr_other_execution');
  });

  it('fails when a marker names a run whose report does not exist', async () => {
    const env = await aws.newEnv();
    const file = sourceFile('workforce_capacity/plans/no-report.csv', q1Plan());
    await writeManifests(aws.s3, env.controlBucket, [file]);
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_unreported', [{ file }], { writeReport: false });

    await balanced(env, [file]);
    const { result } = await reconcile(env, [file.outcome]);

    const report = one(find(result, 'run_report', file.sourceId));
    expect(report.status).toBe('fail');
    expect(report.detail).toMatch(/jr_unreported .* run report does not exist/);
  });

  it('waits for a run report that a finishing run writes after its markers', async () => {
    const env = await aws.newEnv();
    const file = sourceFile('workforce_capacity/plans/late-report.csv', q1Plan());
    await writeManifests(aws.s3, env.controlBucket, [file]);
    await balanced(env, [file]);
    const { report } = await writeEtlRun(aws.s3, env.controlBucket, 'jr_late', [{ file }], {
      writeReport: false,
    });
    const handler = makeReconcileHandler(
      env,
      { s3: aws.s3, glue: aws.glue, sns: new RecordingSns().client },
      { reportWait: { attempts: 20, delayMs: 100 } },
    );
    const late = new Promise((resolve) => setTimeout(resolve, 300)).then(() =>
      putJson(aws.s3, env.controlBucket, etlRunReportKey('workforce_capacity', 'jr_late'), report),
    );

    const output = (await handler({
      action: 'reconcile',
      dataset: 'workforce_capacity',
      executionId: EXECUTION,
      files: [file.outcome],
    })) as ReconcileResult;
    await late;

    expect(output.status).toBe('pass');
  });

  it('fails when the run report disagrees with the processed markers', async () => {
    const env = await aws.newEnv();
    const file = sourceFile('workforce_capacity/plans/report-mismatch.csv', q1Plan());
    await writeManifests(aws.s3, env.controlBucket, [file]);
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_mismatch', [{ file }], {
      reportOverride: (r) => ({
        ...r,
        sources: r.sources.map((s) => ({ ...s, measures: { ...s.measures, fte: '16.5' } })),
      }),
    });

    await balanced(env, [file]);
    const { result } = await reconcile(env, [file.outcome]);

    const report = one(find(result, 'run_report', file.sourceId));
    expect(report.status).toBe('fail');
    expect(report.detail).toContain('fte 16.5 vs 17 in the markers');
  });

  it('fails a normalized object the ETL never merged (no marker): nothing is left silently', async () => {
    const env = await aws.newEnv();
    const file = sourceFile('workforce_capacity/plans/half-merged.csv', [
      plan('Ops', '2025-Q1', 'Support', '7', '70000.5'),
      plan('Ops', '2025-Q2', 'Support', '8', '80000.75'),
    ]);
    await writeManifests(aws.s3, env.controlBucket, [file]);
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_half', [{ file, partitions: ['2025-Q1'] }]);

    await balanced(env, [file]);
    const { output, result } = await reconcile(env, [file.outcome]);

    expect(output.status).toBe('fail');
    expect(one(find(result, 'unprocessed', file.sourceId, '2025-Q2'))).toMatchObject({
      status: 'fail',
      expected: '1',
      actual: null,
    });
    expect(one(find(result, 'rows', file.sourceId, '2025-Q1')).status).toBe('pass');
  });

  it('applies the per-measure tolerance from the dataset config (default 0)', async () => {
    const env = await aws.newEnv();
    const file = sourceFile('workforce_capacity/plans/tolerance.csv', q1Plan());
    const curated = q1Plan().map((row, i) => (i === 0 ? { ...row, cost_usd: '150000.2500001' } : row));
    await writeManifests(aws.s3, env.controlBucket, [file]);
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_tolerance', [
      { file, curated: new Map([['2025-Q1', curated]]) },
    ]);
    const handler = makeReconcileHandler(
      env,
      { s3: aws.s3, glue: aws.glue, sns: new RecordingSns().client },
      QUICK,
    );

    // workforce_capacity declares no tolerances: a difference of 1e-7 is a discrepancy.
    const output = (await handler({
      action: 'reconcile',
      dataset: 'workforce_capacity',
      executionId: EXECUTION,
      files: [file.outcome],
    })) as ReconcileResult;

    expect(output.status).toBe('fail');
    const result = await aws.read<ReconciliationResult>(env.controlBucket, output.resultKey);
    expect(one(find(result!, 'measure:cost_usd'))).toMatchObject({ delta: '0.0000001', tolerance: '0' });
  });

  it('reconciles nothing for quarantined and duplicate files, and passes', async () => {
    const env = await aws.newEnv();
    const files: FileOutcome[] = [
      {
        status: 'quarantined',
        dataset: 'workforce_capacity',
        key: 'workforce_capacity/bad.bin',
        versionId: null,
        sourceId: 's1',
        reason: 'unsupported file type',
        quarantineKey: 'files/workforce_capacity/s1/bad.bin',
      },
      {
        status: 'duplicate',
        dataset: 'workforce_capacity',
        key: 'workforce_capacity/again.csv',
        versionId: 'v',
        sourceId: 's2',
      },
    ];

    const { output, result } = await reconcile(env, files);

    expect(output).toMatchObject({ status: 'pass', failedChecks: 0, alert: null });
    expect(result.checks).toHaveLength(0);
  });
});

describe('cross-template rule headcount_matches_roster', () => {
  it('passes when plan and roster headcount agree per org unit and quarter', async () => {
    const env = await aws.newEnv();
    const plans = sourceFile('workforce_capacity/plans/q1.csv', q1Plan());
    const rosterFile = sourceFile('workforce_capacity/roster/q1.csv', [
      roster('Data', '2025-Q1', '14'),
      roster('Finance', '2025-Q1', '3'),
    ]);
    await faithfulRun(env, [plans, rosterFile]);
    await writeAggregates(aws.s3, env.controlBucket, '2025-Q1', [...plans.rows, ...rosterFile.rows]);

    const { output, result } = await reconcile(env, [plans.outcome, rosterFile.outcome]);

    expect(output.status).toBe('pass');
    const checks = find(result, 'cross_template:headcount_matches_roster');
    expect(checks.map((c) => [c.scope, c.status, c.expected, c.actual])).toEqual([
      [{ org_unit: 'Data', quarter: '2025-Q1' }, 'pass', '14', '14'],
      [{ org_unit: 'Finance', quarter: '2025-Q1' }, 'pass', '3', '3'],
    ]);
  });

  it('fails a group whose sums differ and names the org unit and quarter', async () => {
    const env = await aws.newEnv();
    const plans = sourceFile('workforce_capacity/plans/q1.csv', q1Plan());
    const rosterFile = sourceFile('workforce_capacity/roster/q1.csv', [
      roster('Data', '2025-Q1', '15'),
      roster('Finance', '2025-Q1', '3'),
    ]);
    await faithfulRun(env, [plans, rosterFile]);
    await writeAggregates(aws.s3, env.controlBucket, '2025-Q1', [...plans.rows, ...rosterFile.rows]);

    const { output, result, alert } = await reconcile(env, [plans.outcome, rosterFile.outcome]);

    expect(output).toMatchObject({ status: 'fail', failedChecks: 1 });
    const [check] = failed(result);
    expect(check).toMatchObject({
      check: 'cross_template:headcount_matches_roster',
      scope: { org_unit: 'Data', quarter: '2025-Q1' },
      expected: '15',
      actual: '14',
      delta: '-1',
    });
    expect(alert!.message).toContain('Org unit Data, quarter 2025-Q1: rule headcount_matches_roster');
    expect(alert!.message).toContain("org_unit = 'Data' AND quarter = '2025-Q1'");
  });

  it('reports a group whose other template has not arrived as pending, not as a discrepancy', async () => {
    const env = await aws.newEnv();
    const plans = sourceFile('workforce_capacity/plans/q1.csv', q1Plan());
    const rosterFile = sourceFile('workforce_capacity/roster/q1-partial.csv', [
      roster('Data', '2025-Q1', '14'),
    ]);
    await faithfulRun(env, [plans, rosterFile]);
    await writeAggregates(aws.s3, env.controlBucket, '2025-Q1', [...plans.rows, ...rosterFile.rows]);

    const { output, result } = await reconcile(env, [plans.outcome]);

    expect(output).toMatchObject({ status: 'pending', failedChecks: 0, pendingChecks: 1, alert: null });
    const pending = one(result.checks.filter((c) => c.status === 'pending'));
    expect(pending).toMatchObject({
      scope: { org_unit: 'Finance', quarter: '2025-Q1' },
      expected: null,
      actual: '3',
    });
    expect(pending.detail).toMatch(/No org_roster data for this group yet/);
  });

  it('evaluates only the partitions the batch touched, over the whole curated partition', async () => {
    const env = await aws.newEnv();
    const plansQ2 = sourceFile('workforce_capacity/plans/q2.csv', [
      plan('Data', '2025-Q2', 'Engineering', '9', '1'),
    ]);
    // Q1 holds a discrepancy from earlier batches; this batch only touched Q2.
    await writeAggregates(aws.s3, env.controlBucket, '2025-Q1', [
      ...q1Plan(),
      roster('Data', '2025-Q1', '99'),
    ]);
    await writeAggregates(aws.s3, env.controlBucket, '2025-Q2', [
      ...plansQ2.rows,
      roster('Data', '2025-Q2', '9'), // arrived in an earlier batch, already in curated
    ]);
    await faithfulRun(env, [plansQ2]);

    const { output, result } = await reconcile(env, [plansQ2.outcome]);

    expect(output.status).toBe('pass');
    expect(find(result, 'cross_template:headcount_matches_roster').map((c) => c.scope)).toEqual([
      { org_unit: 'Data', quarter: '2025-Q2' },
    ]);
  });

  it('fails when the ETL wrote no aggregates for a touched partition', async () => {
    const env = await aws.newEnv();
    const plans = sourceFile('workforce_capacity/plans/q3.csv', [
      plan('Data', '2025-Q3', 'Engineering', '9', '1'),
    ]);
    await faithfulRun(env, [plans]);

    const { result } = await reconcile(env, [plans.outcome]);

    const check = one(find(result, 'cross_template:headcount_matches_roster'));
    expect(check).toMatchObject({ status: 'fail', scope: { quarter: '2025-Q3' } });
    expect(check.detail).toContain('etl/aggregates/workforce_capacity/2025-Q3.json');
  });
});

describe('discrepancy alert from reconciliation', () => {
  it('names dataset, file, period, expected vs actual and carries the full JSON', async () => {
    const env = await aws.newEnv();
    const file = sourceFile('workforce_capacity/plans/alerted.csv', q1Plan());
    await writeManifests(aws.s3, env.controlBucket, [file]);
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_alert', [
      { file, curated: new Map([['2025-Q1', q1Plan().slice(1)]]) },
    ]);

    await balanced(env, [file]);
    const { output, alert: published } = await reconcile(env, [file.outcome]);
    const alert = published!;

    expect(output.alert).toEqual({
      kind: 'discrepancy',
      severity: 'critical',
      subject: alert.subject,
      published: true,
      messageId: 'm-1',
    });
    expect(alert).toMatchObject({ kind: 'discrepancy', severity: 'critical', dataset: 'workforce_capacity' });
    expect(alert.subject.length).toBeLessThanOrEqual(100);
    expect(alert.subject).toBe(`[workforce_capacity] ${output.failedChecks} reconciliation checks failed`);
    expect(alert.message).toContain(
      `File workforce_capacity/plans/alerted.csv (version ${file.versionId}), quarter 2025-Q1`,
    );
    expect(alert.message).toMatch(/\n {3}rows +3 +2 +-1 +0\n/);
    expect(alert.message).toMatch(/\n {3}headcount +17 +7 +-10 +0\n/);
    expect(alert.message).toContain(
      'Why: 1 row(s) were read but neither written nor counted as duplicates: lost',
    );
    expect(alert.message).toContain(`WHERE ingest_source_id = '${file.sourceId}' GROUP BY quarter`);
    expect(alert.message).toContain(`s3://${env.controlBucket}/${output.resultKey}`);
    expect(alert.message).toContain('https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1');
    expect(alert.message).toContain(JSON_MARKER);
    const data = parseAlertData(alert.message);
    expect(data).toMatchObject({ kind: 'discrepancy', dataset: 'workforce_capacity', status: 'fail' });
    expect((data.failedChecks as unknown[]).length).toBe(output.failedChecks);
  });

  it('keeps the result document and returns an unpublished receipt when SNS refuses the alert', async () => {
    const env = await aws.newEnv();
    const file = sourceFile('workforce_capacity/plans/refused.csv', q1Plan());
    await writeManifests(aws.s3, env.controlBucket, [file]);
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_refused', [
      { file, curated: new Map([['2025-Q1', q1Plan().slice(1)]]) },
    ]);
    await balanced(env, [file]);
    const sns = new RecordingSns();
    sns.refuse = Object.assign(new Error('Rate exceeded'), { name: 'ThrottledException' });

    const { output, result } = await reconcile(env, [file.outcome], EXECUTION, sns);

    expect(result.status).toBe('fail');
    expect(output.alert).toMatchObject({
      kind: 'discrepancy',
      published: false,
      error: 'ThrottledException: Rate exceeded',
    });
  });
});
