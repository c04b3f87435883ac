import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { type BurstExpectation, writeBurstFiles } from '../../bench/burst-files';
import type { CfnTemplate } from '../../local/cfn';
import { runPipeline } from '../../local/pipeline';
import { queryPipeline } from '../../local/query';
import type { RunReport } from '../../local/report';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

// Each run starts the emulator and local Spark and runs the Glue job at least once.
vi.setConfig({ testTimeout: 900_000, hookTimeout: 900_000 });

const tmp = (prefix: string) => mkdtempSync(path.join(tmpdir(), prefix));

/** Small billing files (three rows each, two billing periods) in a `cloud_billing` folder. */
function billingFiles(count: number): { dir: string; expected: BurstExpectation } {
  const dir = path.join(tmp('faults-input-'), 'cloud_billing');
  return { dir, expected: writeBurstFiles(dir, count, 3) };
}

/** Every curated billing row: id, exact billed cost, partition. */
async function curatedRows(stateDir: string): Promise<{ id: string; billed: string; period: string }[]> {
  const { columns, rows } = await queryPipeline(
    'select id, billed_cost as billed, billing_period as period from cloud_billing order by id',
    { stateDir },
  );
  return rows.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i]])) as never);
}

const expectedRows = (expected: BurstExpectation) =>
  expected.rowList.map((r) => ({ id: r.id, billed: r.billedCost, period: r.period }));

const quarantined = (report: RunReport) => report.files.filter((f) => f.status === 'quarantined');

describe('transient faults injected into a local run', () => {
  // Every transient fault once or more in one run: each must be retried (by the SDK or by the
  // state machine) so that the run ends as if nothing had happened.
  const plan = [
    'lambda:throttle:normalize:2',
    'lambda:timeout:normalize:1',
    's3:slowdown:GetObject:3',
    's3:slowdown:PutObject:2',
    'crawler:running:1',
    'crawler:events-late:1',
    'glue:concurrent-runs:1',
    'glue:fail-mid-write:1',
  ];
  const { dir, expected } = billingFiles(8);
  const stateDir = tmp('faults-transient-');
  let run: { report: RunReport; ok: boolean };

  beforeAll(async () => {
    run = await runPipeline([dir], { stateDir, faults: plan.join(',') });
  });

  it('injects every planned fault', () => {
    expect(run.report.faults).toEqual(
      plan.map((fault) => ({
        fault,
        planned: fault.startsWith('glue:fail-mid-write') ? 1 : Number(fault.split(':').pop()),
        injected: fault.startsWith('glue:fail-mid-write') ? 1 : Number(fault.split(':').pop()),
      })),
    );
  });

  it('quarantines no good file and fails no execution', () => {
    expect(quarantined(run.report)).toEqual([]);
    expect(run.report.executions.map((e) => [e.status, e.error ?? null])).toEqual([['SUCCEEDED', null]]);
    expect(run.ok).toBe(true);
    expect(run.report.files.map((f) => f.status)).toEqual(Array(8).fill('processed'));
  });

  it('curates every row exactly once, with its exact billed cost', async () => {
    expect(await curatedRows(stateDir)).toEqual(expectedRows(expected));
  });
});

describe('the Glue job failing mid-write, again when retried', () => {
  // The first run fails after one curated object, and so does the state machine's retry: the
  // execution fails loudly; the files are failed (never quarantined); a new drop converges.
  const { dir, expected } = billingFiles(6);
  const stateDir = tmp('faults-midwrite-');
  let failed: { report: RunReport; ok: boolean };
  let again: { report: RunReport; ok: boolean };

  beforeAll(async () => {
    failed = await runPipeline([dir], { stateDir, faults: 'glue:fail-mid-write:1,glue:fail-mid-write:1' });
    again = await runPipeline([dir], { stateDir, faults: '' });
  });

  it('fails the execution with a failure alert, quarantining nothing', () => {
    expect(failed.ok).toBe(false);
    expect(failed.report.faults?.map((f) => f.injected)).toEqual([1, 1]);
    expect(failed.report.executions).toEqual([expect.objectContaining({ status: 'FAILED' })]);
    expect(quarantined(failed.report)).toEqual([]);
    expect(failed.report.files.map((f) => f.status)).toEqual(Array(6).fill('failed'));
    expect(failed.report.alerts.map((a) => a.kind)).toContain('failure');
    // Failed before Reconcile: no DatasetUpdated (nor DatasetHeld) says anything of this batch.
    // (The account hierarchy seed landed first on this fresh state has its own event.)
    expect(failed.report.datasetEvents?.filter((e) => e.dataset === 'cloud_billing')).toEqual([]);
  });

  it('converges when the files are dropped again: every row once, exact', async () => {
    expect(again.ok).toBe(true);
    expect(quarantined(again.report)).toEqual([]);
    expect(again.report.datasetEvents).toEqual([
      expect.objectContaining({
        dataset: 'cloud_billing',
        detailType: 'DatasetUpdated',
        reconciliation: 'passed',
      }),
    ]);
    expect(await curatedRows(stateDir)).toEqual(expectedRows(expected));
  });
});

describe('five executions in flight for one Glue job (MaxConcurrentRuns 1)', () => {
  // 20 files in Pipe batches of 4: the Pipe starts all five executions at once, four of them meet
  // ConcurrentRunsExceeded from the job and wait for its one run slot. Each run holds its slot as
  // long as a Glue run's start-up at least (`glue:slow-start`): the warm local driver finishes a
  // run in seconds, so without it whether two executions overlap is a matter of timing.
  const { dir, expected } = billingFiles(20);
  const stateDir = tmp('faults-burst-');
  const progress: string[] = [];
  let run: { report: RunReport; ok: boolean };
  const batchesOfFour = (template: CfnTemplate): CfnTemplate => {
    for (const resource of Object.values(template.Resources)) {
      const sqs = (resource.Properties?.SourceParameters as { SqsQueueParameters?: { BatchSize?: number } })
        ?.SqsQueueParameters;
      if (resource.Type === 'AWS::Pipes::Pipe' && sqs) sqs.BatchSize = 4;
    }
    return template;
  };

  beforeAll(async () => {
    run = await runPipeline([dir], {
      stateDir,
      faults: 'glue:slow-start:5',
      templateTransform: batchesOfFour,
      onProgress: (line) => progress.push(line),
    });
  });

  it('starts the five executions before any of them ends, and names each in its progress lines', () => {
    const started = progress.findIndex((l) => /\] execution \S+ (succeeded|FAILED)/.test(l));
    const starts = progress.filter((l) =>
      /^\[cloud_billing #[1-5]\] execution local-\S+: 4 file\(s\)$/.test(l),
    );
    expect(starts).toHaveLength(5);
    expect(progress.slice(0, started).filter((l) => starts.includes(l))).toHaveLength(5);
  });

  it('meets ConcurrentRunsExceeded and still succeeds every execution', () => {
    expect(progress.some((l) => /RunEtl: Glue\.ConcurrentRunsExceededException$/.test(l))).toBe(true);
    expect(run.report.executions.map((e) => e.status)).toEqual(Array(5).fill('SUCCEEDED'));
    expect(run.ok).toBe(true);
  });

  it('curates every row exactly once', async () => {
    expect(quarantined(run.report)).toEqual([]);
    expect(await curatedRows(stateDir)).toEqual(expectedRows(expected));
  });
});
