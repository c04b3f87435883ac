import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { REPO_ROOT } from '../../local/processes';
import { queryPipeline } from '../../local/query';

// Two runs, one after the other, each starting the emulator and local Spark.
vi.setConfig({ testTimeout: 900_000 });

const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const CLI = path.join(REPO_ROOT, 'bin', 'pipeline.ts');

/** A capacity plan file of one org unit, in a folder named after the dataset. */
function plan(unit: string, quarter: string, headcount: number): string {
  const folder = path.join(mkdtempSync(path.join(tmpdir(), 'pipeline-concurrent-in-')), 'workforce_capacity');
  mkdirSync(folder);
  const file = path.join(folder, `plan_${unit.toLowerCase()}.csv`);
  writeFileSync(
    file,
    `Org Unit,Cost Center,Quarter,Job Family,Location,HC,FTE\n${unit},CC-1,${quarter},Engineering,Dublin,${headcount},${headcount}\n`,
  );
  return file;
}

function run(file: string, stateDir: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(TSX, [CLI, 'run', file, '--state', stateDir], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

describe('two runs on one state folder at the same time', () => {
  it('the second waits for the first, and both files are in curated afterwards', async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'pipeline-concurrent-'));

    const [first, second] = await Promise.all([
      run(plan('Alpha', '2025-Q1', 3), stateDir),
      // Started a moment later, while the first holds the folder.
      new Promise((resolve) => setTimeout(resolve, 1500)).then(() =>
        run(plan('Beta', '2025-Q2', 4), stateDir),
      ),
    ]);

    expect(first.code, first.stderr.slice(-2000)).toBe(0);
    expect(second.code, second.stderr.slice(-2000)).toBe(0);
    // Whichever locked the folder first, the other one waited for it (and said so).
    const waited = [first, second].filter((r) =>
      /waiting for the state folder .*, in use by pid \d+ \(run\) since /.test(r.stderr),
    );
    expect(waited).toHaveLength(1);
    const { rows } = await queryPipeline(
      'select org_unit, quarter, sum(headcount) from workforce_capacity group by 1, 2 order by 1',
      { stateDir },
    );
    expect(rows).toEqual([
      ['Alpha', '2025-Q1', '3.000000'],
      ['Beta', '2025-Q2', '4.000000'],
    ]);
  });
});
