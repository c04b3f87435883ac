/**
 * A cross-template rule waiting for the other template says whether that side is late: the
 * late-data check's open finding for the template and the group's org unit (lambdas/reconcile/late-pending.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putJson } from '../../lambdas/common/s3';
import { makeLateHandler } from '../../lambdas/late/handler';
import { makeReconcileHandler, type ReconcileResult } from '../../lambdas/reconcile/handler';
import { lateSideOf } from '../../lambdas/reconcile/late-pending';
import { datasetByName } from '../../lib/config';
import { type ArrivalRecord, arrivalKey } from '../../lib/contracts/operations';
import type { ReconciliationCheck, ReconciliationResult } from '../../lib/contracts/reconciliation';
import {
  EXECUTION,
  plan,
  RecordingSns,
  roster,
  sourceFile,
  startTestAws,
  type TestAws,
  writeAggregates,
  writeEtlRun,
  writeManifests,
} from '../reconcile/fixtures';

const workforce = datasetByName('workforce_capacity')!;

let aws: TestAws;
beforeAll(async () => {
  aws = await startTestAws();
});
afterAll(async () => {
  await aws?.emulator.stop();
});

const pendingCheck = (over: Partial<ReconciliationCheck>): ReconciliationCheck => ({
  check: 'cross_template:headcount_matches_roster',
  status: 'pending',
  scope: { org_unit: 'Payments', quarter: '2025-Q1' },
  expected: '10',
  actual: null,
  delta: null,
  tolerance: '0',
  detail: 'No capacity_plan data for this group yet',
  ...over,
});

describe('pending cross-template checks', () => {
  it('name the late side only for the missing template and the group of its source', () => {
    const finding = {
      schemaVersion: 1,
      dataset: 'workforce_capacity',
      expectation: 'quarterly_capacity_plan',
      source: 'Payments',
      template: 'capacity_plan',
      every: 'quarter',
      minFiles: 1,
      since: '2025-02-15T23:59:00.000Z',
      periodStart: '2025-01-01T00:00:00.000Z',
      dueAt: '2025-02-15T23:59:00.000Z',
      filesSeen: 0,
      lastArrival: null,
      openedAt: '2025-02-16T00:00:00.000Z',
      checkedAt: '2025-02-16T00:00:00.000Z',
      lastAlertedAt: null,
      alerts: 0,
    } as const;
    expect(lateSideOf(workforce, pendingCheck({}), [finding])).toBe(finding);
    expect(
      lateSideOf(workforce, pendingCheck({ scope: { org_unit: 'Research', quarter: '2025-Q1' } }), [finding]),
    ).toBeUndefined();
    // The roster side is waited for: a capacity-plan finding does not explain it.
    expect(lateSideOf(workforce, pendingCheck({ actual: '10', expected: null }), [finding])).toBeUndefined();
    expect(lateSideOf(workforce, pendingCheck({ status: 'pass' }), [finding])).toBeUndefined();
  });

  it('say in their detail that the other template is late, by when and since when', async () => {
    const env = await aws.newEnv();
    const sns = new RecordingSns();
    // The roster of record names Payments and Research; only Research planned for Q1.
    const plans = sourceFile('workforce_capacity/plans/research-q1.csv', [
      plan('Research', '2025-Q1', 'Engineering', '4', '400'),
    ]);
    const rosterFile = sourceFile('workforce_capacity/roster/q1.csv', [
      roster('Payments', '2025-Q1', '10'),
      roster('Research', '2025-Q1', '4'),
    ]);
    await writeManifests(aws.s3, env.controlBucket, [plans, rosterFile]);
    await writeEtlRun(aws.s3, env.controlBucket, 'jr_late', [{ file: plans }, { file: rosterFile }]);
    await writeAggregates(aws.s3, env.controlBucket, '2025-Q1', [...plans.rows, ...rosterFile.rows]);
    // What landed, as reconciliation records it: the roster and Research's plan.
    for (const [file, source, template] of [
      [rosterFile, '', 'org_roster'],
      [plans, 'Research', 'capacity_plan'],
    ] as const) {
      const record: ArrivalRecord = {
        schemaVersion: 1,
        dataset: 'workforce_capacity',
        source,
        template,
        key: file.outcome.key,
        versionId: null,
        sourceId: file.outcome.sourceId!,
        landedAt: '2025-01-20T09:00:00.000Z',
        rowCount: file.rows.length,
      };
      await putJson(
        aws.s3,
        env.controlBucket,
        arrivalKey('workforce_capacity', '2025-01-20', source, record.sourceId),
        record,
      );
    }
    // The late check after the plans' due date finds the other org units' plans late.
    const late = makeLateHandler(
      env,
      { s3: aws.s3, sns: sns.client },
      { datasets: [workforce], metrics: { disabled: true } },
    );
    const check = await late({ action: 'check', now: '2025-02-16T08:00:00Z' });
    expect(check.datasets[0]!.late.map((f) => f.source)).toEqual([
      'Corporate IT',
      'Data Engineering',
      'Payments',
      'Platform',
      'Retail Apps',
    ]);

    const reconcile = makeReconcileHandler(
      env,
      { s3: aws.s3, glue: aws.glue, sns: sns.client },
      {
        reportWait: { attempts: 2, delayMs: 50 },
      },
    );
    const output = (await reconcile({
      action: 'reconcile',
      dataset: 'workforce_capacity',
      executionId: EXECUTION,
      files: [rosterFile.outcome],
    })) as ReconcileResult;
    expect(output).toMatchObject({ status: 'pending', failedChecks: 0, pendingChecks: 1 });
    const result = (await aws.read<ReconciliationResult>(env.controlBucket, output.resultKey))!;
    const pending = result.checks.find((c) => c.status === 'pending')!;
    expect(pending.scope).toMatchObject({ org_unit: 'Payments' });
    expect(pending.detail).toContain(
      'capacity_plan for org_unit Payments is late: expected by 2025-02-15T23:59:00.000Z (expectation quarterly_capacity_plan), missing since 2025-02-15T23:59:00.000Z.',
    );
    const passed = result.checks.find((c) => c.scope?.org_unit === 'Research')!;
    expect(passed).toMatchObject({ status: 'pass' });
    expect(passed.detail).not.toContain('late');
  });
});
