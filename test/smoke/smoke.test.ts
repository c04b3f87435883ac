import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../local/emulator';
import {
  DEFAULT_SAMPLE,
  describeReport,
  gzipWithName,
  inputHoldsFile,
  runSmoke,
  type SmokeOptions,
  SmokeSetupError,
} from '../../smoke/smoke';
import {
  type Deployment,
  deploy,
  type Harness,
  type PipelineOptions,
  runPipeline,
  startHarness,
} from './harness';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.stop();
});

const SAMPLE_ROWS = readFileSync(DEFAULT_SAMPLE, 'utf-8').trim().split(/\r?\n/).length - 1;

/** Runs the check against a deployment while the stand-in pipeline reacts to the upload. */
async function smoke(d: Deployment, pipeline: PipelineOptions = {}, options: Partial<SmokeOptions> = {}) {
  const running = runPipeline(h, d, pipeline);
  const lines: string[] = [];
  try {
    const report = await runSmoke(h.clients, {
      stackName: d.stackName,
      timeoutMs: 60_000,
      pollMs: 200,
      log: (line) => lines.push(line),
      ...options,
    });
    return { report, lines, outcomes: running.outcomes };
  } finally {
    await running.stop();
  }
}

describe('npm run smoke against a deployment in the local emulator', () => {
  it('passes when the file is normalized, merged and reconciled, and reports the curated rows', async () => {
    const d = await deploy(h);

    const { report, lines, outcomes } = await smoke(d);

    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(outcomes.map((o) => o.status)).toEqual(['normalized']);
    expect(report.landing.key).toMatch(/^cloud_billing\/smoke\/[A-Za-z0-9._-]+\/focus_sample\.csv\.gz$/);
    expect(report.execution).toMatchObject({ status: 'SUCCEEDED' });
    expect(report.execution.arn).toMatch(/:execution:smoke\d+-workflow:pipe-1$/);
    expect(lines.some((l) => l.endsWith(': RUNNING'))).toBe(true);
    expect(report.fileStatus).toBe('normalized');
    expect(report.rows).toEqual({ normalized: SAMPLE_ROWS, rejected: 0 });
    expect(report.curated).toMatchObject({ rows: SAMPLE_ROWS, written: SAMPLE_ROWS, identical: 0 });
    expect(report.curated!.objectsMerged).toBe(report.curated!.objects);
    expect(report.curated!.partitions).toEqual({
      '2024-09': { added: 999, deleted: 0 },
      '2024-10': { added: 1, deleted: 0 },
    });
    expect(report.reconciliation!.status).toBe('pass');
    expect(report.reconciliation!.file!.failed).toBe(0);
    expect(report.reconciliation!.file!.passed).toBeGreaterThanOrEqual(2);
    expect(describeReport(report)).toContain('SMOKE CHECK PASSED');
  });

  it("uploads different bytes every run, so a second run is merged again (replacing the first run's rows by key) and passes", async () => {
    const d = await deploy(h);
    const first = await smoke(d, {}, { runId: 'first' });

    const second = await smoke(d, {}, { runId: 'second' });

    expect(first.report.ok && second.report.ok, second.report.problems.join('; ')).toBe(true);
    expect(second.outcomes.map((o) => o.status)).toEqual(['normalized']);
    expect(second.report.curated).toMatchObject({ rows: SAMPLE_ROWS, written: SAMPLE_ROWS, superseded: 0 });
    expect(second.report.curated!.partitions).toEqual({
      '2024-09': { added: 999, deleted: 999 },
      '2024-10': { added: 1, deleted: 1 },
    });
    // The same bytes again (the same run id) are a duplicate: the check says so and fails.
    const same = await smoke(d, {}, { runId: 'third' });
    const again = await smoke(d, {}, { runId: 'third' });
    expect(same.report.ok).toBe(true);
    expect(again.report.ok).toBe(false);
    expect(again.report.fileStatus).toBe('duplicate');
    expect(again.report.problems.join('\n')).toMatch(
      /duplicate of cloud_billing\/smoke\/third\/focus_sample\.csv\.gz/,
    );
  });

  it('fails with the execution error when the execution fails', async () => {
    const d = await deploy(h, {
      end: {
        error: 'NoProgressError',
        cause: 'ETL run left 1 of 2 normalized objects of this batch unprocessed',
      },
    });

    const { report } = await smoke(d);

    expect(report.ok).toBe(false);
    expect(report.execution.status).toBe('FAILED');
    expect(report.problems[0]).toMatch(/^execution FAILED: NoProgressError \(ETL run left 1 of 2/);
    expect(describeReport(report)).toContain('SMOKE CHECK FAILED');
  });

  it('fails on a reconciliation discrepancy and shows the failing check', async () => {
    const d = await deploy(h);

    const { report } = await smoke(d, { etl: 'lose-a-row' });

    expect(report.execution.status).toBe('SUCCEEDED');
    expect(report.ok).toBe(false);
    expect(report.reconciliation!.status).toBe('fail');
    expect(report.reconciliation!.file!.failed).toBeGreaterThan(0);
    expect(report.problems.join('\n')).toMatch(/reconciliation fail: rows: expected 999, actual 998/);
    expect(report.curated!.rows).toBe(SAMPLE_ROWS - 1);
  });

  it('fails with the quarantine reason when the file cannot be normalized', async () => {
    const d = await deploy(h);
    const empty = path.join(mkdtempSync(path.join(tmpdir(), 'smoke-')), 'empty.csv');
    writeFileSync(empty, '');

    const { report, outcomes } = await smoke(d, {}, { file: empty });

    expect(outcomes.map((o) => o.status)).toEqual(['quarantined']);
    expect(report.ok).toBe(false);
    expect(report.fileStatus).toBe('quarantined');
    expect(report.problems.join('\n')).toMatch(/quarantined \(EmptyFileError\)/);
  });

  it('fails after its timeout when no execution takes the file', async () => {
    const d = await deploy(h);

    const { report } = await smoke(d, { start: false }, { timeoutMs: 1500 });

    expect(report.ok).toBe(false);
    expect(report.execution).toEqual({ arn: null, status: null });
    expect(report.problems[0]).toMatch(/^no execution of .* took the file within 2 s/);
  });

  it('refuses a stack without the outputs it needs, a missing stack and an undeployed dataset', async () => {
    const old = await deploy(h, { withoutOutputs: ['StateMachineArn', 'DatasetLandingPrefixes'] });
    await expect(runSmoke(h.clients, { stackName: old.stackName })).rejects.toThrow(
      /has no output StateMachineArn, DatasetLandingPrefixes: it was deployed by an older version/,
    );
    await expect(runSmoke(h.clients, { stackName: 'NoSuchStack' })).rejects.toThrow(SmokeSetupError);
    const d = await deploy(h);
    await expect(runSmoke(h.clients, { stackName: d.stackName, dataset: 'payroll' })).rejects.toThrow(
      /dataset "payroll" is not deployed in stack .* \(datasets: cloud_billing, workforce_capacity/,
    );
  });
});

describe('the smoke file', () => {
  it('is the sample gzip-compressed with the run in its header: other bytes, the same content', () => {
    const content = readFileSync(DEFAULT_SAMPLE);
    const a = gzipWithName(content, 'run-a');
    const b = gzipWithName(content, 'run-b');
    expect(a.equals(b)).toBe(false);
    expect(gunzipSync(a).equals(content) && gunzipSync(b).equals(content)).toBe(true);
    expect(a.subarray(10, 16).toString('latin1')).toBe('run-a\0');
  });

  it('is found in an execution input by its key, URL-encoded as S3 events carry it', () => {
    const input = JSON.stringify([
      { dataset: 'd', bucket: 'b', key: 'x/smoke/r+1/a+b.csv.gz', versionId: 'v' },
    ]);
    expect(inputHoldsFile(input, 'b', 'x/smoke/r 1/a b.csv.gz')).toBe(true);
    expect(inputHoldsFile(input, 'other', 'x/smoke/r 1/a b.csv.gz')).toBe(false);
    expect(inputHoldsFile(input, 'b', 'x/smoke/r 1/a.csv.gz')).toBe(false);
    expect(inputHoldsFile(input, 'b', 'x/smoke/r 1/a b.csv.gz', 'v')).toBe(true);
    expect(inputHoldsFile(input, 'b', 'x/smoke/r 1/a b.csv.gz', 'another version')).toBe(false);
    expect(inputHoldsFile('not json', 'b', 'x')).toBe(false);
  });
});

describe('the CLI', () => {
  /** `npm run smoke` as a user runs it, with the emulator as the AWS endpoint. */
  function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), ['bin/smoke.ts', ...args], {
        cwd: REPO_ROOT,
        // Credentials and region from the environment only (never a profile of this machine).
        env: {
          ...process.env,
          ...h.emulator.env,
          AWS_CONFIG_FILE: '/dev/null',
          AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
      });
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  it('exits 0 and prints the curated rows and the reconciliation when the check passes', async () => {
    const d = await deploy(h);
    const running = runPipeline(h, d);
    try {
      const result = await cli(['--stack', d.stackName, '--poll-seconds', '0.2', '--timeout-minutes', '1']);

      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(
        new RegExp(`curated rows of this file: ${SAMPLE_ROWS} \\(${SAMPLE_ROWS} written`),
      );
      expect(result.stdout).toMatch(/reconciliation pass: this file \d+ passed, 0 failed/);
      expect(result.stdout).toContain('SMOKE CHECK PASSED');
      expect(result.stderr).toMatch(/smoke: uploaded s3:\/\/smoke\d+-landing\/cloud_billing\/smoke\//);
      // What was uploaded is the sample, as the user's data would arrive.
      const key = /uploaded s3:\/\/[^/]+\/(\S+)/.exec(result.stderr)![1]!;
      const object = await h.clients.s3.send(new GetObjectCommand({ Bucket: d.env.landingBucket, Key: key }));
      expect(
        gunzipSync(Buffer.from(await object.Body!.transformToByteArray())).equals(
          readFileSync(DEFAULT_SAMPLE),
        ),
      ).toBe(true);
    } finally {
      await running.stop();
    }
  });

  it('exits 1 with what it saw when the execution fails, and 2 on a usage or setup error', async () => {
    const d = await deploy(h, {
      end: { error: 'CrawlerTimeoutError', cause: 'crawler still RUNNING after 40 polls' },
    });
    const running = runPipeline(h, d);
    try {
      const failed = await cli(['--stack', d.stackName, '--poll-seconds', '0.2', '--json']);

      expect(failed.code, failed.stderr).toBe(1);
      const report = JSON.parse(failed.stdout) as {
        ok: boolean;
        execution: { status: string };
        problems: string[];
      };
      expect(report.ok).toBe(false);
      expect(report.execution.status).toBe('FAILED');
      expect(report.problems[0]).toBe(
        'execution FAILED: CrawlerTimeoutError (crawler still RUNNING after 40 polls)',
      );
    } finally {
      await running.stop();
    }
    const missing = await cli(['--stack', 'NoSuchStack']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^smoke: cannot read stack "NoSuchStack": ValidationError/);
    const usage = await cli([]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--stack is required');
  });
});
