import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../local/processes';

const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const CLI = path.join(REPO_ROOT, 'bin', 'pipeline.ts');

function cli(args: string[]) {
  return spawnSync(TSX, [CLI, ...args], { cwd: REPO_ROOT, encoding: 'utf-8', timeout: 120_000 });
}

describe('pipeline replay on the command line', () => {
  it('answers a bad selection with the reason and exit code 2, before starting anything', () => {
    const result = cli([
      'replay',
      '--dataset',
      'cloud_billing',
      '--from',
      '2024-10-02',
      '--to',
      '2024-10-01',
    ]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error: --from 2024-10-02 is after --to 2024-10-01$/m);
    const both = cli([
      'replay',
      '--dataset',
      'cloud_billing',
      '--quarantined',
      '--partition',
      'billing_period=2024-10',
    ]);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/one selection, got --quarantined and --partition/);
  });

  it('says there is nothing to replay in a state folder no run has written (exit code 2)', () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'pipeline-replay-empty-'));
    const result = cli([
      'replay',
      '--dataset',
      'cloud_billing',
      '--quarantined',
      '--dry-run',
      '--state',
      empty,
    ]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error: .*run "npm run pipeline -- run <files>" first/m);
  });

  it('refuses a --config module whose default export is not a function (exit code 2)', () => {
    const result = cli([
      'replay',
      '--dataset',
      'cloud_billing',
      '--quarantined',
      '--config',
      path.join(REPO_ROOT, 'test', 'fixtures', 'replay', 'bad-config', 'not-a-function.ts'),
    ]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/must export by default a function from the dataset definitions/);
  });
});
