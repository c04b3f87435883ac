import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { sourceChecks } from '../../lambdas/reconcile/control-totals';
import { loadDatasets } from '../../lib/config';
import { etlRunReportKey, manifestKey, processedMarkerKey } from '../../lib/contracts/layout';
import type { NormalizerManifest } from '../../lib/contracts/manifest';
import type { EtlRunReport, ProcessedMarker } from '../../lib/contracts/run-report';
import { REPO_ROOT } from '../../local/emulator';
import { runPipeline } from '../../local/pipeline';
import { queryPipeline } from '../../local/query';
import { reprocessPartition } from '../../local/reprocess';
import { CURRENT } from '../../local/state';

// Each step starts the emulator and local Spark.
vi.setConfig({ testTimeout: 900_000, hookTimeout: 900_000 });

const SAMPLE = path.join(REPO_ROOT, 'samples', 'cloud_billing', 'focus_sample.csv');
const dataset = loadDatasets().find((d) => d.name === 'cloud_billing')!;

function controlFile(stateDir: string, key: string): string {
  return path.join(stateDir, CURRENT, 's3', 'control', ...key.split('/'));
}

function readJson<T>(stateDir: string, key: string): T | undefined {
  try {
    return JSON.parse(readFileSync(controlFile(stateDir, key), 'utf-8')) as T;
  } catch {
    return undefined;
  }
}

/** The reconciliation's control-total checks of every file the state holds, from its saved documents. */
function everyFileReconciled(stateDir: string) {
  const folder = path.dirname(controlFile(stateDir, manifestKey('cloud_billing', 'x')));
  const checks = readdirSync(folder).flatMap((name) => {
    const manifest = JSON.parse(readFileSync(path.join(folder, name), 'utf-8')) as NormalizerManifest;
    if (manifest.status !== 'normalized') return [];
    const markers = new Map(
      manifest.partitions.map((p) => [p.key, readJson<ProcessedMarker>(stateDir, processedMarkerKey(p.key))]),
    );
    const runIds = [...markers.values()].flatMap((m) =>
      m ? [m.runId, ...(m.origin ? [m.origin.runId] : [])] : [],
    );
    const reports = new Map(
      runIds.map((id) => [id, readJson<EtlRunReport>(stateDir, etlRunReportKey('cloud_billing', id))]),
    );
    return sourceChecks(dataset, { manifest, markers, reports });
  });
  return { checks, failed: checks.filter((c) => c.status === 'fail') };
}

async function totals(stateDir: string, period: string) {
  const { rows } = await queryPipeline(
    `SELECT count(*) AS n, CAST(sum(billed_cost) AS VARCHAR) AS cost FROM cloud_billing WHERE billing_period = '${period}'`,
    { stateDir },
  );
  return { rows: Number(rows[0]![0]), cost: String(rows[0]![1]) };
}

const savedAt = (stateDir: string) => readFileSync(path.join(stateDir, CURRENT, 'snapshot.json'), 'utf-8');

describe('reprocessing one partition of cloud_billing on the local runtime', () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'pipeline-reprocess-'));
  const lines: string[] = [];
  const options = { dataset: 'cloud_billing', stateDir, onProgress: (line: string) => lines.push(line) };

  it('lists the partition in a dry run, changing nothing', async () => {
    const run = await runPipeline([SAMPLE], { stateDir });
    expect(run.ok).toBe(true);
    const before = await totals(stateDir, '2024-09');
    expect(before.rows).toBe(999);
    const saved = savedAt(stateDir);

    const report = await reprocessPartition({
      ...options,
      partition: 'billing_period=2024-09',
      dryRun: true,
    });

    expect(report).toMatchObject({ ok: true, dryRun: true, target: 'local', rowsBefore: 999, runId: null });
    expect(report.objects).toHaveLength(1);
    expect(report.objects[0]!.key).toMatch(/^cloud_billing\/billing_period=2024-09\/[0-9a-f]+\.jsonl\.gz$/);
    expect(report.objects[0]!.marked).toBe(true);
    expect(savedAt(stateDir)).toBe(saved);
    expect(await totals(stateDir, '2024-09')).toEqual(before);
  });

  it('reprocesses the partition with totals exact, and every file still reconciles', async () => {
    const before = {
      september: await totals(stateDir, '2024-09'),
      october: await totals(stateDir, '2024-10'),
    };

    const report = await reprocessPartition({
      ...options,
      partition: 'billing_period=2024-09',
      dryRun: false,
    });

    expect(report).toMatchObject({ ok: true, rowsBefore: 999, rowsAfter: 999, objectsRead: 1 });
    expect(report.changes).toEqual({
      rowsInserted: 0,
      rowsUpdated: 0,
      rowsDeleted: 0,
      rowsUnchanged: 999,
      committed: false,
    });
    expect(report.runReport).toBe(
      `s3://ingestion-control/${etlRunReportKey('cloud_billing', report.runId!)}`,
    );
    expect(report.objects.map((o) => o.markerRunId)).toEqual([report.runId]);
    expect(await totals(stateDir, '2024-09')).toEqual(before.september);
    expect(await totals(stateDir, '2024-10')).toEqual(before.october);
    const runReport = readJson<EtlRunReport>(stateDir, etlRunReportKey('cloud_billing', report.runId!))!;
    expect(runReport.mode).toBe('reprocess');
    // The sample file has rows in both months: its September marker names the reprocessing and
    // keeps the first run's counts, and the first run's report still checks out.
    const { checks, failed } = everyFileReconciled(stateDir);
    expect(failed).toEqual([]);
    expect(checks.filter((c) => c.check === 'run_report')).toHaveLength(2);
  });

  it('changes nothing when run again', async () => {
    const before = await totals(stateDir, '2024-09');

    const report = await reprocessPartition({
      ...options,
      partition: 'billing_period=2024-09',
      dryRun: false,
    });

    expect(report.changes).toMatchObject({ committed: false, rowsUnchanged: 999 });
    expect(report.snapshotId).toBeNull();
    expect(await totals(stateDir, '2024-09')).toEqual(before);
    expect(everyFileReconciled(stateDir).failed).toEqual([]);
  });

  it("does not make the next execution's reconciliation fail", async () => {
    // A later file restating three September rows (same keys, another cost).
    const [header, ...rows] = readFileSync(SAMPLE, 'utf-8').trim().split(/\r?\n/);
    const folder = mkdtempSync(path.join(tmpdir(), 'pipeline-reprocess-drop-'));
    mkdirSync(path.join(folder, 'cloud_billing'));
    const fixed = rows
      .filter((r) => r.includes('"2024-09-01 00:00:00"'))
      .slice(0, 3)
      .map((r) => r.replace(/^NULL,[0-9.]+,/, 'NULL,1.00000000000,'));
    writeFileSync(path.join(folder, 'cloud_billing', 'focus_fix.csv'), `${[header, ...fixed].join('\n')}\n`);

    const run = await runPipeline([folder], { stateDir });

    expect(run.ok).toBe(true);
    expect(run.report.reconciliation.filter((c) => c.status === 'fail')).toEqual([]);
    expect(run.report.reconciliation.length).toBeGreaterThan(0);
    expect((await totals(stateDir, '2024-09')).rows).toBe(999);
    expect(everyFileReconciled(stateDir).failed).toEqual([]);
  });

  it('refuses a partition of another column, and an empty partition, changing nothing', async () => {
    await expect(
      reprocessPartition({ ...options, partition: 'quarter=2024-Q3', dryRun: false }),
    ).rejects.toThrow(/cloud_billing is partitioned by "billing_period"/);
    const saved = savedAt(stateDir);

    const report = await reprocessPartition({
      ...options,
      partition: 'billing_period=2031-01',
      dryRun: false,
    });

    expect(report.ok).toBe(false);
    expect(report.error).toMatch(
      /EmptyPartitionError: partition billing_period=2031-01 of cloud_billing has no normalized objects/,
    );
    expect(savedAt(stateDir)).toBe(saved);
  });
});
