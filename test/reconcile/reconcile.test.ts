import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JSON_MARKER, parseAlertData } from '../../lambdas/common/alerts';
import type { PipelineEnv } from '../../lambdas/common/env';
import { putJson } from '../../lambdas/common/s3';
import { makeReconcileHandler, type ReconcileResult } from '../../lambdas/reconcile/handler';
import type { FileOutcome } from '../../lib/contracts/batch';
import { etlRunReportKey } from '../../lib/contracts/layout';
import type { ReconciliationCheck, ReconciliationResult } from '../../lib/contracts/reconciliation';
import type { EtlRunReport } from '../../lib/contracts/run-report';
import {
  EXECUTION,
  plan,
  RecordingSns,
  type Row,
  roster,
  type SourceFile,
  snapshotOf,
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
  const alerts = published.filter((a) => a.kind === 'discrepancy');
  const notices = published.filter((a) => a.kind === 'restatement');
  expect(alerts.length + notices.length).toBe(published.length);
  expect(alerts.length).toBeLessThanOrEqual(1);
  expect(notices.length).toBeLessThanOrEqual(1);
  return { output, result, alert: alerts[0], notice: notices[0] };
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
    expect(rows.detail).toMatch(
      /1 row\(s\) were read but are neither in curated nor superseded nor rejected: lost/,
    );
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
    expect(cost.detail).toMatch(/Every row is accounted for, so values were changed/);
    expect(one(find(result, 'rows', file.sourceId)).status).toBe('pass');
  });

  it('counts rows of a redelivered object that were already in curated (identical rows) as in curated', async () => {
    const env = await aws.newEnv();
    // A retry of a file whose first execution failed after the commit: its rows are there already.
    const file = sourceFile('workforce_capacity/plans/retried.csv', q1Plan());
    await writeManifests(aws.s3, env.controlBucket, [file]);
    const [, ...again] = file.rows;
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_identical', [
      { file, identical: new Map([['2025-Q1', again]]) },
    ]);

    await balanced(env, [file]);
    const { output, result } = await reconcile(env, [file.outcome]);

    expect(output.status).toBe('pass');
    const rowsCheck = one(find(result, 'rows', file.sourceId));
    expect(rowsCheck).toMatchObject({ status: 'pass', expected: '3', actual: '3', delta: '0' });
    expect(rowsCheck.accounting).toMatchObject({
      curated: '3',
      identical: '2',
      superseded: '0',
      rejected: '0',
    });
    expect(rowsCheck.detail).toMatch(/2 of the rows in curated were already there with the same values/);
    expect(one(find(result, 'run_report', file.sourceId)).status).toBe('pass');
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
    expect(rowsCheck.detail).toMatch(
      /1 more row\(s\) were accounted for than read: rows were duplicated in curated/,
    );
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
      `2 row(s) rejected by the normalizer are in quarantine (rows/workforce_capacity/${file.sourceId}.jsonl)`,
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
    // The run finishes (writes its report) right after the handler's first read of it found
    // nothing: the handler passes only by waiting and reading again. No race against a timer.
    const reportKey = etlRunReportKey('workforce_capacity', 'jr_late');
    let reportReads = 0;
    const s3 = new Proxy(aws.s3, {
      get(target, property, receiver) {
        if (property !== 'send') return Reflect.get(target, property, receiver);
        const send = target.send.bind(target) as (...args: unknown[]) => Promise<unknown>;
        return async (command: unknown, ...rest: unknown[]) => {
          const readsReport = command instanceof GetObjectCommand && command.input.Key === reportKey;
          if (readsReport) reportReads++;
          try {
            return await send(command, ...rest);
          } finally {
            if (readsReport && reportReads === 1) {
              await putJson(aws.s3, env.controlBucket, reportKey, report);
            }
          }
        };
      },
    });
    const handler = makeReconcileHandler(env, { s3, glue: aws.glue, sns: new RecordingSns().client }, QUICK);

    const output = (await handler({
      action: 'reconcile',
      dataset: 'workforce_capacity',
      executionId: EXECUTION,
      files: [file.outcome],
    })) as ReconcileResult;

    expect(output.status).toBe('pass');
    expect(reportReads).toBe(2);
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
      'Why: 1 row(s) were read but are neither in curated nor superseded nor rejected: lost',
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

describe('restatements and conflicts are accounted for, not discrepancies', () => {
  const dataQ1 = (): Row[] => [
    plan('Data', '2025-Q1', 'Engineering', '10', '150000.25'),
    plan('Data', '2025-Q1', 'Analytics', '4', '52000.10'),
    plan('Data', '2025-Q1', 'Research', '2', '30000'),
  ];

  it('passes a correction that removes rows: the old version is superseded by the new one (same_object)', async () => {
    const env = await aws.newEnv();
    // Version 1 of the plan and its correction (same landing key) arrive in one batch; the
    // correction drops the Research row and changes the Analytics row.
    const key = 'workforce_capacity/plans/data-q1.csv';
    const v1 = sourceFile(key, dataQ1(), { versionId: 'v1' });
    const v2 = sourceFile(key, [dataQ1()[0]!, plan('Data', '2025-Q1', 'Analytics', '5', '65000')], {
      versionId: 'v2',
    });
    await writeManifests(aws.s3, env.controlBucket, [v1, v2]);
    const newer = { sourceId: v2.sourceId, key };
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_correction', [
      { file: v1, displaced: new Map([['2025-Q1', [{ by: newer, reason: 'same_object', rows: v1.rows }]]]) },
      { file: v2 },
    ]);
    await balanced(env, [v2]);

    const { output, result, alert } = await reconcile(env, [v1.outcome, v2.outcome]);

    expect(output).toMatchObject({ status: 'pass', failedChecks: 0, alert: null });
    expect(alert).toBeUndefined();
    const old = one(find(result, 'rows', v1.sourceId));
    expect(old).toMatchObject({ status: 'pass', expected: '3', actual: '3', delta: '0' });
    expect(old.accounting).toMatchObject({
      curated: '0',
      superseded: '3',
      supersededBy: [{ sourceId: v2.sourceId, sourceKey: key, reason: 'same_object', amount: '3' }],
      rejected: '0',
      runId: 'jr_correction',
    });
    expect(old.detail).toBe(
      `All 3 row(s) are accounted for: 0 in curated, 3 superseded by ${key} ` +
        `(3: a newer version of the same landing object) (ETL run jr_correction, snapshot ${snapshotOf('jr_correction')}).`,
    );
    expect(one(find(result, 'measure:cost_usd', v1.sourceId))).toMatchObject({
      status: 'pass',
      expected: '232000.35',
      actual: '232000.35',
      accounting: { curated: '0', superseded: '232000.35', rejected: '0' },
    });
    expect(one(find(result, 'rows', v2.sourceId))).toMatchObject({ status: 'pass', actual: '2' });
    expect(one(find(result, 'rows', v2.sourceId)).detail).toMatch(/^All 2 row\(s\) are in curated/);
  });

  it('passes a file whose replacement scope a newer file covers (scope), naming that file', async () => {
    const env = await aws.newEnv();
    const older = sourceFile('workforce_capacity/plans/data-q1-march.csv', dataQ1());
    const newer = sourceFile('workforce_capacity/plans/data-q1-april.csv', dataQ1().slice(0, 1));
    await writeManifests(aws.s3, env.controlBucket, [older, newer]);
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_scope', [
      {
        file: older,
        displaced: new Map([
          [
            '2025-Q1',
            [{ by: { sourceId: newer.sourceId, key: newer.key }, reason: 'scope', rows: older.rows }],
          ],
        ]),
      },
      { file: newer },
    ]);
    await balanced(env, [newer]);

    const { output, result } = await reconcile(env, [older.outcome, newer.outcome]);

    expect(output.status).toBe('pass');
    const rows = one(find(result, 'rows', older.sourceId));
    expect(rows).toMatchObject({
      status: 'pass',
      actual: '3',
      accounting: { curated: '0', superseded: '3' },
    });
    expect(rows.detail).toContain(
      `3 superseded by ${newer.key} (3: a newer file covering the same ingest_template + org_unit + quarter)`,
    );
  });

  it('passes rows rejected as key conflicts (policy reject), naming the file they collide with and the quarantine', async () => {
    const env = await aws.newEnv();
    // Another org unit's file repeats the key of one row of the Data plan already in curated.
    const first = sourceFile('workforce_capacity/plans/data-q1.csv', dataQ1());
    const clash = plan('Data', '2025-Q1', 'Engineering', '12', '180000');
    const second = sourceFile('workforce_capacity/plans/finance-q1.csv', [
      clash,
      plan('Finance', '2025-Q1', 'Controlling', '3', '41000'),
    ]);
    await writeManifests(aws.s3, env.controlBucket, [first, second]);
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_first', [{ file: first }], {
      finishedAt: '2025-01-15T10:01:00.000Z',
    });
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_conflict', [
      {
        file: second,
        displaced: new Map([
          [
            '2025-Q1',
            [{ by: { sourceId: first.sourceId, key: first.key }, reason: 'conflict', rows: [clash] }],
          ],
        ]),
      },
    ]);
    await writeBalancedAggregates(aws.s3, env.controlBucket, [...first.rows, ...second.rows.slice(1)]);

    const { output, result, notice } = await reconcile(env, [second.outcome]);

    expect(output.status).toBe('pass');
    const rows = one(find(result, 'rows', second.sourceId));
    expect(rows).toMatchObject({
      status: 'pass',
      expected: '2',
      actual: '2',
      accounting: {
        curated: '1',
        superseded: '0',
        rejected: '1',
        conflictsWith: [{ sourceId: first.sourceId, sourceKey: first.key, reason: 'conflict', amount: '1' }],
        rejectedKey: 'rows/workforce_capacity/conflicts/jr_conflict/',
      },
    });
    expect(rows.detail).toContain(
      '1 rejected to quarantine (rows/workforce_capacity/conflicts/jr_conflict/), colliding on the key ' +
        `(ingest_template, org_unit, quarter, cost_center, job_family, location) with ${first.key}`,
    );
    expect(one(find(result, 'measure:headcount', second.sourceId))).toMatchObject({
      status: 'pass',
      expected: '15',
      actual: '15',
      accounting: { curated: '3', rejected: '12' },
    });
    expect(notice!.message).toContain(`- ${second.key}: 1 row rejected; they have the same key`);
  });

  it('passes repeated keys within one file (a later row of the same file wins, policy latest)', async () => {
    const env = await aws.newEnv();
    const [firstRow, secondRow, thirdRow] = dataQ1();
    const repeated = { ...firstRow!, headcount: '11', cost_usd: '151000' };
    const file = sourceFile('workforce_capacity/plans/repeated.csv', [
      firstRow!,
      secondRow!,
      thirdRow!,
      repeated,
    ]);
    await writeManifests(aws.s3, env.controlBucket, [file]);
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_repeated', [
      {
        file,
        displaced: new Map([
          ['2025-Q1', [{ by: { sourceId: file.sourceId, key: file.key }, reason: 'key', rows: [firstRow!] }]],
        ]),
      },
    ]);
    await balanced(env, [file]);

    const { output, result } = await reconcile(env, [file.outcome]);

    expect(output.status).toBe('pass');
    expect(one(find(result, 'rows', file.sourceId)).detail).toContain(
      '1 superseded by this file (1: a later row of the same file with the same key)',
    );
  });

  it('fails rows the marker does not account for, saying where the others went', async () => {
    const env = await aws.newEnv();
    const older = sourceFile('workforce_capacity/plans/lossy.csv', dataQ1());
    await writeManifests(aws.s3, env.controlBucket, [older]);
    const newer = { sourceId: 'newer-file', key: 'workforce_capacity/plans/newer.csv' };
    // One row superseded, one in curated, the third nowhere.
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_lossy', [
      {
        file: older,
        curated: new Map([['2025-Q1', older.rows.slice(0, 1)]]),
        displaced: new Map([['2025-Q1', [{ by: newer, reason: 'key', rows: older.rows.slice(1, 2) }]]]),
      },
    ]);
    await balanced(env, [older]);

    const { output, result, alert } = await reconcile(env, [older.outcome]);

    expect(output.status).toBe('fail');
    const rows = one(find(result, 'rows', older.sourceId));
    expect(rows).toMatchObject({ status: 'fail', expected: '3', actual: '2', delta: '-1' });
    expect(rows.detail).toMatch(
      /^1 row\(s\) were read but are neither in curated nor superseded nor rejected: lost\. The ETL accounts for them as: 1 in curated, 1 superseded by workforce_capacity\/plans\/newer\.csv/,
    );
    expect(one(find(result, 'measure:cost_usd', older.sourceId))).toMatchObject({
      status: 'fail',
      delta: '-30000',
    });
    expect(alert!.message).toMatch(/Source file +Accounted for +Difference/);
  });

  it('fails superseded rows whose files the marker does not name', async () => {
    const env = await aws.newEnv();
    const file = sourceFile('workforce_capacity/plans/unnamed.csv', dataQ1());
    await writeManifests(aws.s3, env.controlBucket, [file]);
    await writeEtlRun(
      aws.s3,
      env.controlBucket,
      'jr_unnamed',
      [
        {
          file,
          displaced: new Map([
            [
              '2025-Q1',
              [{ by: { sourceId: 'n', key: 'n.csv' }, reason: 'key', rows: file.rows.slice(0, 2) }],
            ],
          ]),
        },
      ],
      { markerOverride: (m) => ({ ...m, supersededBy: m.supersededBy.map((d) => ({ ...d, rows: 1 })) }) },
    );
    await balanced(env, [file]);

    const { result } = await reconcile(env, [file.outcome]);

    const rows = one(find(result, 'rows', file.sourceId));
    expect(rows.status).toBe('fail');
    expect(rows.detail).toMatch(/^The ETL names the files of 1 of its 2 superseded row\(s\)/);
  });

  it('says in the detail when a later run of the batch superseded rows of an already reconciled file', async () => {
    const env = await aws.newEnv();
    const older = sourceFile('workforce_capacity/plans/march.csv', dataQ1());
    const newer = sourceFile('workforce_capacity/plans/april.csv', dataQ1().slice(0, 2));
    await writeManifests(aws.s3, env.controlBucket, [older, newer]);
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_march', [{ file: older }], {
      finishedAt: '2025-01-15T10:01:00.000Z',
    });
    // The next run merges the newer plan, which replaces the older plan's scope.
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_april', [{ file: newer }], {
      restatements: [
        {
          sourceId: newer.sourceId,
          sourceKey: newer.key,
          supersededSourceId: older.sourceId,
          supersededSourceKey: older.key,
          reason: 'scope',
          rows: 3,
        },
      ],
      previousSnapshotId: snapshotOf('jr_march'),
    });
    await balanced(env, [newer]);

    const { output, result, notice } = await reconcile(env, [older.outcome, newer.outcome]);

    expect(output.status).toBe('pass');
    expect(one(find(result, 'rows', older.sourceId)).detail).toContain(
      `Since then, rows of this file were superseded: 3 by ${newer.key} (ETL run jr_april, scope).`,
    );
    expect(notice!.message).toContain(`- ${newer.key} replaced 3 rows of ${older.key}`);
  });

  it('refuses processed markers and run reports of schema version 1 with a failing check that says why', async () => {
    const env = await aws.newEnv();
    const file = sourceFile('workforce_capacity/plans/old-marker.csv', dataQ1());
    const other = sourceFile('workforce_capacity/plans/old-report.csv', q1Plan());
    await writeManifests(aws.s3, env.controlBucket, [file, other]);
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_old_marker', [{ file }], {
      markerOverride: ({ rowsRead, rowsWritten, runId, normalizedKey, sourceId, dataset, measures }) => ({
        schemaVersion: 1,
        dataset,
        runId,
        normalizedKey,
        sourceId,
        rowsRead,
        rowsWritten,
        duplicateRows: 0,
        measures,
      }),
    });
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_old_report', [{ file: other }], {
      reportOverride: (r) => ({ ...r, schemaVersion: 1 }) as unknown as EtlRunReport,
    });
    await balanced(env, [file, other]);

    const { output, result } = await reconcile(env, [file.outcome, other.outcome]);

    expect(output.status).toBe('fail');
    const marker = one(find(result, 'marker', file.sourceId));
    expect(marker).toMatchObject({ status: 'fail', expected: '3', actual: null });
    expect(marker.detail).toMatch(
      /has schemaVersion 1, written by the ETL before curated tables became Apache Iceberg tables/,
    );
    expect(find(result, 'rows', file.sourceId)).toHaveLength(0);
    const report = one(find(result, 'run_report', other.sourceId));
    expect(report.status).toBe('fail');
    expect(report.detail).toContain(
      'its run report has schemaVersion 1; this reconciler reads schemaVersion 2',
    );
  });

  it('fails when the run report names another snapshot than the markers', async () => {
    const env = await aws.newEnv();
    const file = sourceFile('workforce_capacity/plans/snapshot-mismatch.csv', q1Plan());
    await writeManifests(aws.s3, env.controlBucket, [file]);
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_snap', [{ file }], {
      reportOverride: (r) => ({ ...r, snapshotId: '42' }),
    });
    await balanced(env, [file]);

    const { result } = await reconcile(env, [file.outcome]);

    const report = one(find(result, 'run_report', file.sourceId));
    expect(report.status).toBe('fail');
    expect(report.detail).toContain(`snapshot 42 vs ${snapshotOf('jr_snap')} in the markers`);
  });
});

describe('the snapshot the reconciliation checked', () => {
  it('records the snapshot of the latest run that merged the batch, per dataset', async () => {
    const env = await aws.newEnv();
    const a = sourceFile('workforce_capacity/plans/a.csv', q1Plan());
    const b = sourceFile('workforce_capacity/plans/b.csv', [
      plan('Ops', '2025-Q2', 'Support', '8', '80000.75'),
    ]);
    await writeManifests(aws.s3, env.controlBucket, [a, b]);
    // Run ids sort the other way round from the order the runs finished in.
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_z_first', [{ file: a }], {
      snapshotId: '5551234567890123456',
      finishedAt: '2025-01-15T10:01:00.000Z',
    });
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_a_second', [{ file: b }], {
      snapshotId: '7771234567890123456',
      previousSnapshotId: '5551234567890123456',
      finishedAt: '2025-01-15T10:02:00.000Z',
    });
    await balanced(env, [a, b]);

    const { output, result } = await reconcile(env, [a.outcome, b.outcome]);

    expect(result.schemaVersion).toBe(2);
    expect(result.snapshotIds).toEqual({ workforce_capacity: '7771234567890123456' });
    expect(output.snapshotIds).toEqual(result.snapshotIds);
    expect(one(find(result, 'rows', a.sourceId)).accounting?.snapshotId).toBe('5551234567890123456');
  });

  it("uses the marker's snapshot when the latest run committed nothing (the rows were already there)", async () => {
    const env = await aws.newEnv();
    const file = sourceFile('workforce_capacity/plans/again.csv', q1Plan());
    await writeManifests(aws.s3, env.controlBucket, [file]);
    await writeEtlRun(
      aws.s3,
      env.controlBucket,
      'jr_nothing',
      [{ file, identical: new Map([['2025-Q1', file.rows]]) }],
      {
        snapshotId: '123',
        reportOverride: (r) => ({ ...r, snapshotId: null, previousSnapshotId: '123' }),
      },
    );
    await balanced(env, [file]);

    const { result } = await reconcile(env, [file.outcome]);

    expect(result.status).toBe('pass');
    expect(result.snapshotIds).toEqual({ workforce_capacity: '123' });
  });

  it('records null when the batch merged nothing', async () => {
    const env = await aws.newEnv();
    const { result } = await reconcile(env, [
      {
        status: 'duplicate',
        dataset: 'workforce_capacity',
        key: 'workforce_capacity/x.csv',
        versionId: 'v',
        sourceId: 's',
      },
    ]);
    expect(result.snapshotIds).toEqual({ workforce_capacity: null });
  });
});

describe('restatement notice', () => {
  it('tells the owners which files restated or collided with which, as an info alert the handler publishes', async () => {
    const env = await aws.newEnv();
    const key = 'workforce_capacity/plans/data-q1.csv';
    const earlier = { sourceId: 'earlier-v1', key };
    const correction = sourceFile(key, [plan('Data', '2025-Q1', 'Engineering', '9', '1')], {
      versionId: 'v2',
    });
    const clash = plan('Data', '2025-Q1', 'Engineering', '1', '1');
    const other = sourceFile('workforce_capacity/plans/finance-q1.csv', [
      clash,
      plan('Finance', '2025-Q1', 'Controlling', '3', '41000'),
    ]);
    await writeManifests(aws.s3, env.controlBucket, [correction, other]);
    await writeEtlRun(
      aws.s3,
      env.controlBucket,
      'jr_notice',
      [
        { file: correction },
        {
          file: other,
          displaced: new Map([
            ['2025-Q1', [{ by: { sourceId: correction.sourceId, key }, reason: 'conflict', rows: [clash] }]],
          ]),
        },
      ],
      {
        snapshotId: '8000000000000000001',
        previousSnapshotId: '8000000000000000000',
        // The correction replaced every row of the version curated by an earlier run.
        restatements: [
          {
            sourceId: correction.sourceId,
            sourceKey: key,
            supersededSourceId: earlier.sourceId,
            supersededSourceKey: earlier.key,
            reason: 'same_object',
            rows: 3,
          },
        ],
      },
    );
    await writeBalancedAggregates(aws.s3, env.controlBucket, [...correction.rows, ...other.rows.slice(1)]);
    const sns = new RecordingSns();

    const { output, result, notice } = await reconcile(
      env,
      [correction.outcome, other.outcome],
      EXECUTION,
      sns,
    );

    expect(result.status).toBe('pass');
    expect(output.alert).toBeNull();
    expect(output.restatementAlert).toEqual({
      kind: 'restatement',
      severity: 'info',
      subject: '[workforce_capacity] 1 file replaced 3 rows, 1 file collided, 1 row rejected',
      published: true,
      messageId: 'm-1',
    });
    expect(notice).toMatchObject({ kind: 'restatement', severity: 'info', dataset: 'workforce_capacity' });
    expect(notice!.subject).toBe(output.restatementAlert!.subject);
    expect(notice!.message).toContain(
      `- ${key} replaced 3 rows of its older version (source id earlier-v1): it is a newer version of the same landing object, which replaces every row of the older version (ETL run jr_notice).`,
    );
    expect(notice!.message).toContain(
      '- workforce_capacity/plans/finance-q1.csv: 1 row rejected; they have the same key (ingest_template, org_unit, quarter, cost_center, job_family, location) ' +
        `as rows of ${key}, which stay in curated (ETL run jr_notice).`,
    );
    expect(notice!.message).toContain(
      '  Rejected rows: s3://quarantine/rows/workforce_capacity/conflicts/jr_notice/',
    );
    expect(notice!.message).toContain(
      'SELECT * FROM "test_pipeline"."workforce_capacity" FOR VERSION AS OF 8000000000000000001;',
    );
    expect(notice!.message).toContain(
      '- ETL run jr_notice: before it snapshot 8000000000000000000, after it 8000000000000000001.',
    );
    const data = parseAlertData(notice!.message);
    expect(data).toMatchObject({
      kind: 'restatement',
      severity: 'info',
      snapshotId: '8000000000000000001',
      result: `s3://${env.controlBucket}/${output.resultKey}`,
      restatements: [
        { runId: 'jr_notice', supersededSourceId: 'earlier-v1', reason: 'same_object', rows: 3 },
      ],
      conflicts: [
        {
          runId: 'jr_notice',
          sourceId: other.sourceId,
          conflictsWithSourceId: correction.sourceId,
          rows: 1,
          quarantineKey: 'rows/workforce_capacity/conflicts/jr_notice/',
        },
      ],
    });
  });

  it('leaves out restatements of runs that involve no file of the batch, and sends nothing without any', async () => {
    const env = await aws.newEnv();
    const file = sourceFile('workforce_capacity/plans/plain.csv', q1Plan());
    await writeManifests(aws.s3, env.controlBucket, [file]);
    // The same run merged another batch's correction of a file of that batch.
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_shared', [{ file }], {
      restatements: [
        {
          sourceId: 'other-batch-v2',
          sourceKey: 'workforce_capacity/plans/other.csv',
          supersededSourceId: 'other-batch-v1',
          supersededSourceKey: 'workforce_capacity/plans/other.csv',
          reason: 'same_object',
          rows: 2,
        },
      ],
    });
    await balanced(env, [file]);

    const { output, notice } = await reconcile(env, [file.outcome]);

    expect(output.status).toBe('pass');
    expect(output.restatementAlert).toBeNull();
    expect(notice).toBeUndefined();
  });

  it('returns an unpublished receipt when SNS refuses the notice, after writing the result', async () => {
    const env = await aws.newEnv();
    const key = 'workforce_capacity/plans/refused.csv';
    const v1 = sourceFile(key, q1Plan(), { versionId: 'v1' });
    const v2 = sourceFile(key, q1Plan().slice(0, 2), { versionId: 'v2' });
    await writeManifests(aws.s3, env.controlBucket, [v1, v2]);
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_refused_notice', [
      {
        file: v1,
        displaced: new Map([
          ['2025-Q1', [{ by: { sourceId: v2.sourceId, key }, reason: 'same_object', rows: v1.rows }]],
        ]),
      },
      { file: v2 },
    ]);
    await balanced(env, [v2]);
    const sns = new RecordingSns();
    sns.refuse = Object.assign(new Error('Rate exceeded'), { name: 'ThrottledException' });

    const { output, result } = await reconcile(env, [v1.outcome, v2.outcome], EXECUTION, sns);

    expect(result.status).toBe('pass');
    expect(output.restatementAlert).toMatchObject({
      kind: 'restatement',
      published: false,
      error: 'ThrottledException: Rate exceeded',
    });
  });
});
