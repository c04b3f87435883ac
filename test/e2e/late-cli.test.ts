/**
 * `pipeline late` as a user runs it: the real late handler under its synthesized role against a
 * state folder's control bucket. No Spark: the arrival records are written into the saved state
 * as reconciliation writes them (lib/contracts/operations.ts), between two checks.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { sourceIdOf } from '../../lib/contracts/layout';
import { type ArrivalRecord, arrivalKey } from '../../lib/contracts/operations';
import { REPO_ROOT } from '../../local/emulator';
import { StateFolder } from '../../local/state';

vi.setConfig({ testTimeout: 300_000 });

const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const CLI = path.join(REPO_ROOT, 'bin', 'pipeline.ts');

const cli = (args: string[]) =>
  spawnSync(TSX, [CLI, ...args], { cwd: REPO_ROOT, encoding: 'utf-8', env: process.env, timeout: 240_000 });

/** Adds an object to the saved state's control bucket, as a command saving it would. */
async function addToControlBucket(stateDir: string, key: string, body: unknown) {
  const state = await StateFolder.open(stateDir, { mode: 'write', command: 'test' });
  try {
    const next = state.prepareNext();
    if (existsSync(state.currentDir)) cpSync(state.currentDir, next, { recursive: true });
    const file = path.join(next, 's3', 'control', ...key.split('/'));
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(body));
    state.commit(next, 'test');
  } finally {
    await state.release();
  }
}

describe('pipeline late', () => {
  it('alerts the late providers of a fresh state, then recovers the one whose export lands', async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'pipeline-late-'));
    const first = cli([
      'late',
      '--dataset',
      'cloud_billing',
      '--now',
      '2025-03-12T07:00:00Z',
      '--state',
      stateDir,
    ]);
    expect(first.status, first.stderr.slice(-2000)).toBe(0);
    expect(first.stdout).toContain(
      'late-data check as of 2025-03-12T07:00:00.000Z (on AWS: rate(1 hour)): 1 dataset(s), 3 late, 0 still late, 0 recovered',
    );
    expect(first.stdout).toContain(
      'cloud_billing daily_export "Oracle": 0 of 1 file(s), due 2025-03-11T23:59:00.000Z, missing since 2025-03-11T23:59:00.000Z [alerted]',
    );
    expect(first.stdout).toContain('[late / warning] [cloud_billing] Late: daily_export, 3 sources');
    expect(first.stderr).not.toContain('[iam] denied');

    const key = 'cloud_billing/aws/focus-2025-03-12.csv';
    const sourceId = sourceIdOf(key, 'v1');
    const record: ArrivalRecord = {
      schemaVersion: 1,
      dataset: 'cloud_billing',
      source: 'AWS',
      template: 'focus',
      key,
      versionId: 'v1',
      sourceId,
      landedAt: '2025-03-12T07:30:00.000Z',
      rowCount: 1000,
    };
    await addToControlBucket(stateDir, arrivalKey('cloud_billing', '2025-03-12', 'AWS', sourceId), record);

    const second = cli([
      'late',
      '--dataset',
      'cloud_billing',
      '--now',
      '2025-03-12T08:00:00Z',
      '--json',
      '--state',
      stateDir,
    ]);
    expect(second.status, second.stderr.slice(-2000)).toBe(0);
    const output = JSON.parse(second.stdout);
    expect(output.datasets).toEqual([
      expect.objectContaining({
        dataset: 'cloud_billing',
        late: [],
        stillLate: [
          expect.objectContaining({ source: 'Microsoft', alerted: false }),
          expect.objectContaining({ source: 'Oracle', alerted: false }),
        ],
        recovered: [
          expect.objectContaining({ source: 'AWS', since: '2025-03-11T23:59:00.000Z', alerted: true }),
        ],
        open: 2,
      }),
    ]);
    expect(output.schedule).toEqual({
      expression: 'rate(1 hour)',
      input: JSON.stringify({ action: 'check', now: '<aws.scheduler.scheduled-time>' }),
    });
    expect(output.published.map((a: { subject: string }) => a.subject)).toEqual([
      '[cloud_billing] Recovered: daily_export, provider_name "AWS"',
    ]);

    const unknown = cli(['late', '--dataset', 'account_hierarchy', '--state', stateDir]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('dataset "account_hierarchy" declares no expected arrivals');
  });
});
