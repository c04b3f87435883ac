import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, VENV_BIN } from '../../local/emulator';
import { meanRetryDelaySeconds } from '../../local/state-machine';

describe('the emulator speed-ups the local runtime loads', () => {
  it('answer moto SQS exactly as unpatched moto does, faster, and export buckets as a listing shows them', () => {
    // Runs in its own process: the patch changes moto for the whole interpreter.
    const result = spawnSync(
      path.join(VENV_BIN, 'python'),
      [path.join(REPO_ROOT, 'local', 'moto_speedups.py'), '--self-test', '100'],
      { encoding: 'utf-8', timeout: 120_000 },
    );

    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/observations equal/);
    expect(result.stdout).toMatch(/export: matches the listing/);
  });
});

describe('local time scaling of retries', () => {
  it('waits the mean of a retrier backoff sequence, halved by full jitter, capped by MaxDelaySeconds', () => {
    expect(meanRetryDelaySeconds({ IntervalSeconds: 2, BackoffRate: 2, MaxAttempts: 3 })).toBeCloseTo(14 / 3);
    expect(
      meanRetryDelaySeconds({ IntervalSeconds: 2, BackoffRate: 2, MaxAttempts: 3, JitterStrategy: 'FULL' }),
    ).toBeCloseTo(7 / 3);
    expect(
      meanRetryDelaySeconds({ IntervalSeconds: 60, BackoffRate: 2, MaxAttempts: 4, MaxDelaySeconds: 100 }),
    ).toBeCloseTo((60 + 100 + 100 + 100) / 4);
    expect(meanRetryDelaySeconds({ MaxAttempts: 0 })).toBe(0);
  });
});
