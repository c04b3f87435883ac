import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { REPO_ROOT } from '../../local/processes';
import { CURRENT, StateFolder } from '../../local/state';

// Each command starts the emulator and local Spark.
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

const CLI = path.join(REPO_ROOT, 'bin', 'pipeline.ts');
const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const TSX_LOADER = pathToFileURL(path.join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const focus = path.join(REPO_ROOT, 'samples', 'cloud_billing', 'focus_sample.csv');
const roster = path.join(REPO_ROOT, 'samples', 'workforce_capacity', 'org_roster_2025Q1.csv');

/** Parent pid of every process (Linux /proc). */
function parents(): Map<number, number> {
  const map = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf-8');
      map.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // ended while listing
    }
  }
  return map;
}

/** Every process below `pid`, with its command line. */
function descendants(pid: number): { pid: number; command: string }[] {
  const byParent = parents();
  const found: { pid: number; command: string }[] = [];
  const visit = (parent: number) => {
    for (const [child, ppid] of byParent) {
      if (ppid !== parent) continue;
      let command = '';
      try {
        command = readFileSync(`/proc/${child}/cmdline`, 'utf-8').replace(/\0/g, ' ').trim();
      } catch {
        // ended
      }
      found.push({ pid: child, command });
      visit(child);
    }
  };
  visit(pid);
  return found;
}

/** Running: present and not a zombie (a zombie has ended; only its exit status is left). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf-8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function survivors(pids: readonly number[], withinMs: number): Promise<number[]> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const alive = pids.filter(running);
    if (alive.length === 0 || Date.now() > deadline) return alive;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Starts a CLI run and resolves once its progress shows `line` (the ETL running, say). */
function startRun(
  launcher: 'node' | 'tsx',
  args: string[],
  line: string,
): Promise<{ child: ChildProcess; stderr: () => string }> {
  const child =
    launcher === 'node'
      ? spawn(process.execPath, ['--import', TSX_LOADER, CLI, ...args], {
          cwd: REPO_ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
        })
      : spawn(TSX, [CLI, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes(line)) resolve({ child, stderr: () => stderr });
    });
    child.stdout!.resume();
    child.once('exit', (code) => reject(new Error(`the run exited (${code}) before "${line}": ${stderr}`)));
  });
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

function savedTables(stateDir: string): string[] {
  const catalog = JSON.parse(readFileSync(path.join(stateDir, CURRENT, 'catalog.json'), 'utf-8')) as {
    tables: { versions: { Name: string }[] }[];
  };
  return catalog.tables.map((t) => t.versions[0]!.Name).sort();
}

describe('a command that dies', () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'pipeline-crash-'));
  let savedBefore: string[];

  beforeAll(() => {
    const first = spawnSync(TSX, [CLI, 'run', focus, '--state', stateDir], {
      cwd: REPO_ROOT,
      encoding: 'utf-8',
    });
    expect(first.status, first.stderr.slice(-2000)).toBe(0);
    savedBefore = savedTables(stateDir);
    expect(savedBefore).toContain('cloud_billing');
  });

  it('kill -9 mid-run: none of its processes survive, and the previous state is intact and unlocked', async () => {
    const { child } = await startRun('node', ['run', roster, '--state', stateDir], 'ETL run:');
    const started = descendants(child.pid!);
    // The emulator, the state lock holder and the Spark driver (with its JVM) at least.
    expect(started.map((p) => p.command).join('\n')).toMatch(/emulator_server\.py/);
    expect(started.map((p) => p.command).join('\n')).toMatch(/state_lock\.py/);
    expect(started.map((p) => p.command).join('\n')).toMatch(/job_server\.py/);

    child.kill('SIGKILL');
    await exitOf(child);

    expect(
      await survivors(
        started.map((p) => p.pid),
        20_000,
      ),
    ).toEqual([]);
    const state = await StateFolder.open(stateDir, { mode: 'write', command: 'test', waitMs: 0 });
    await state.release();
    expect(savedTables(stateDir)).toEqual(savedBefore);
    expect(readdirSync(stateDir).filter((e) => e.startsWith('.next-'))).toEqual([]);
  });

  it('kill -9 of the tsx launcher: the CLI it started stops too, with its processes', async () => {
    const { child } = await startRun('tsx', ['run', roster, '--state', stateDir], 'ETL run:');
    const started = descendants(child.pid!);
    expect(started.map((p) => p.command).join('\n')).toMatch(/bin\/pipeline\.ts run/);
    expect(started.map((p) => p.command).join('\n')).toMatch(/emulator_server\.py/);

    child.kill('SIGKILL');
    await exitOf(child);

    expect(
      await survivors(
        started.map((p) => p.pid),
        20_000,
      ),
    ).toEqual([]);
    expect(savedTables(stateDir)).toEqual(savedBefore);
  });

  it('Ctrl-C: exits 130 and says that the last complete state was kept', async () => {
    const { child, stderr } = await startRun('node', ['run', roster, '--state', stateDir], 'normalizing');
    const started = descendants(child.pid!);

    child.kill('SIGINT');
    const { code } = await exitOf(child);

    expect(code).toBe(130);
    expect(stderr()).toMatch(
      new RegExp(
        `interrupted \\(SIGINT\\): nothing of this command was saved; ${path.join(stateDir, CURRENT)} keeps the last complete state \\(saved \\S+ by "run"\\)`,
      ),
    );
    expect(
      await survivors(
        started.map((p) => p.pid),
        20_000,
      ),
    ).toEqual([]);
    expect(savedTables(stateDir)).toEqual(savedBefore);
    expect(existsSync(path.join(stateDir, CURRENT, 'snapshot.json'))).toBe(true);
  });
});
