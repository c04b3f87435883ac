import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { parseAlertData } from '../../lambdas/common/alerts';
import { REPO_ROOT } from '../../local/emulator';
import { runPipeline } from '../../local/pipeline';
import type { RunReport } from '../../local/report';
import { formatRunSummary } from '../../local/summary';
import { actingPrincipals, expectEveryCallAllowed } from '../iam/expectations';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

// Two runs, each starting the emulator and local Spark.
vi.setConfig({ testTimeout: 900_000, hookTimeout: 900_000 });

const sample = (name: string) => path.join(REPO_ROOT, 'samples', 'volume', 'cloud_billing', name);

describe('volume anomalies through the local pipeline (samples/volume/cloud_billing)', () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'pipeline-e2e-volume-'));
  let usual: { report: RunReport; ok: boolean };
  let partial: { report: RunReport; ok: boolean };

  beforeAll(async () => {
    usual = await runPipeline(
      ['aws_export_2024-10-01.csv', 'aws_export_2024-10-02.csv', 'aws_export_2024-10-03.csv'].map(sample),
      { stateDir },
    );
    partial = await runPipeline([sample('aws_export_2024-10-04_partial.csv')], { stateDir });
  });

  it('records three usual exports without a verdict and sends no warning', () => {
    expect(usual.ok, JSON.stringify(usual.report.executions)).toBe(true);
    expect(usual.report.alerts.map((a) => a.kind)).not.toContain('volume_anomaly');
    const volume = path.join(
      stateDir,
      'current',
      's3',
      'control',
      'operations',
      'volume',
      'cloud_billing',
      'focus',
      'AWS',
    );
    expect(existsSync(volume)).toBe(true);
  });

  it('warns once about the export with a tenth of the rows, with its numbers, and the batch still succeeds', () => {
    expect(partial.ok, JSON.stringify(partial.report.executions)).toBe(true);
    expect(partial.report.executions.map((e) => e.status)).toEqual(['SUCCEEDED']);
    const warnings = partial.report.alerts.filter((a) => a.kind === 'volume_anomaly');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.severity).toBe('warning');
    expect(warnings[0]!.subject).toBe('[cloud_billing] 1 file outside usual volume: rows x0.0889 of median');
    expect(warnings[0]!.message).toContain('rows 4 vs median 45 (ratio 0.0889; usual band 0.5 to 2)');
    const data = parseAlertData(warnings[0]!.message) as {
      anomalies: { key: string; source: string; history: number; outside: { metric: string }[] }[];
    };
    expect(data.anomalies).toHaveLength(1);
    expect(data.anomalies[0]).toMatchObject({
      key: 'cloud_billing/aws_export_2024-10-04_partial.csv',
      source: 'AWS',
      history: 3,
    });
    expect(data.anomalies[0]!.outside.map((o) => o.metric)).toContain('billed_cost');
    expect(formatRunSummary(partial.report)).toContain(
      '[warning] volume_anomaly: [cloud_billing] 1 file outside usual volume: rows x0.0889 of median',
    );
  });

  it('writes one arrival record per export under its landing day, for the late-data check', () => {
    const arrivals = path.join(
      stateDir,
      'current',
      's3',
      'control',
      'operations',
      'arrivals',
      'cloud_billing',
    );
    const files = readdirSync(arrivals, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    expect(files).toHaveLength(4);
    const records = files.map((f) => JSON.parse(readFileSync(path.join(f.parentPath, f.name), 'utf8')));
    expect(records.map((r) => [r.source, r.rowCount]).sort()).toEqual([
      ['AWS', 4],
      ['AWS', 45],
      ['AWS', 45],
      ['AWS', 45],
    ]);
  });

  it('runs the volume check under the reconcile role without a denied call', () => {
    expectEveryCallAllowed(partial.report, actingPrincipals('cloud_billing'));
  });
});
