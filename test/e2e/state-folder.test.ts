import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { REPO_ROOT } from '../../local/processes';
import { CURRENT, LOCK_FILE, STATE_MARKER, StateError, StateFolder } from '../../local/state';

// No emulator and no Spark here: every command below stops before starting them.
vi.setConfig({ testTimeout: 120_000 });

const CLI = path.join(REPO_ROOT, 'bin', 'pipeline.ts');
/** tsx's loader by path: the CLI also runs with a working folder outside the checkout. */
const TSX_LOADER = pathToFileURL(path.join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const focus = path.join(REPO_ROOT, 'samples', 'cloud_billing', 'focus_sample.csv');
const newDir = (prefix = 'pipeline-state-') => mkdtempSync(path.join(tmpdir(), prefix));

/** The CLI in one Node process (no `tsx` launcher in between). */
function cli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  return spawnSync(process.execPath, ['--import', TSX_LOADER, CLI, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    encoding: 'utf-8',
    env: { ...process.env, ...options.env },
    timeout: 90_000,
  });
}

/** stderr as the user sees it: exactly one line, and no stack trace. */
function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
  return lines[0]!;
}

/** A state folder made by the tool, with one saved state holding `label`. */
async function toolMadeState(label = 'first'): Promise<string> {
  const dir = newDir();
  const state = await StateFolder.open(dir, { mode: 'write', command: 'test' });
  const next = state.prepareNext();
  writeFileSync(path.join(next, 'catalog.json'), JSON.stringify({ tables: [], label }));
  state.commit(next, 'test');
  await state.release();
  return dir;
}

const savedLabel = (dir: string) =>
  (JSON.parse(readFileSync(path.join(dir, CURRENT, 'catalog.json'), 'utf-8')) as { label: string }).label;

const holders: StateFolder[] = [];
afterEach(async () => {
  for (const holder of holders.splice(0)) await holder.release();
});

describe('folders the local runtime refuses as its state folder', () => {
  it('reset and demo refuse a folder the tool did not create, and leave it as it was', () => {
    const dir = newDir();
    writeFileSync(path.join(dir, 'thesis.txt'), 'four years of work');

    for (const command of [['reset'], ['demo']]) {
      const result = cli([...command, '--state', dir]);

      expect(result.status, result.stderr).toBe(2);
      expect(oneLine(result.stderr)).toMatch(
        new RegExp(`refusing to use ${dir} .*did not create it \\(no ${STATE_MARKER} marker\\)`),
      );
      expect(readdirSync(dir)).toEqual(['thesis.txt']);
    }
  });

  it('run refuses a non-empty folder without the marker, before touching it', () => {
    const dir = newDir();
    mkdirSync(path.join(dir, 'src'));

    const result = cli(['run', focus, '--state', dir]);

    expect(result.status, result.stderr).toBe(2);
    expect(oneLine(result.stderr)).toContain('did not create it');
    expect(readdirSync(dir)).toEqual(['src']);
  });

  it('refuses the current folder, the repository, the home folder and the root, even when tool-made', async () => {
    const home = await toolMadeState();
    const cwd = await toolMadeState();
    const cases: { args: string[]; cwd?: string; env?: Record<string, string>; why: string }[] = [
      { args: ['reset', '--state', '.'], cwd, why: 'the current folder' },
      { args: ['reset', '--state', REPO_ROOT], why: 'the repository checkout' },
      { args: ['reset', '--state', path.dirname(REPO_ROOT)], why: 'the repository checkout' },
      { args: ['reset', '--state', home], env: { HOME: home }, why: 'your home folder' },
      { args: ['run', focus, '--state', '/'], why: 'the filesystem root' },
    ];

    for (const c of cases) {
      const result = cli(c.args, { cwd: c.cwd, env: c.env });

      expect(result.status, `${c.args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(oneLine(result.stderr)).toContain(`it is ${c.why}`);
    }
    expect(savedLabel(home)).toBe('first');
    expect(savedLabel(cwd)).toBe('first');
    expect(existsSync(path.join(REPO_ROOT, 'package.json'))).toBe(true);
  });
});

describe('folders the tool made', () => {
  it('a new or empty folder becomes a state folder with the marker', async () => {
    const empty = newDir();
    const fresh = path.join(newDir(), 'nested', 'state');

    for (const dir of [empty, fresh]) {
      const state = await StateFolder.open(dir, { mode: 'write', command: 'test' });
      await state.release();

      const marker = JSON.parse(readFileSync(path.join(dir, STATE_MARKER), 'utf-8')) as { tool: string };
      expect(marker.tool).toMatch(/local runtime/);
    }
  });

  it('reset clears a folder the tool made', async () => {
    const dir = await toolMadeState();

    const result = cli(['reset', '--state', dir]);

    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('local pipeline state cleared');
    expect(existsSync(dir)).toBe(false);
  });

  it('reset keeps what the tool did not create in a folder it made', async () => {
    const dir = await toolMadeState();
    writeFileSync(path.join(dir, 'notes.txt'), 'mine');

    const result = cli(['reset', '--state', dir]);

    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('kept what this tool did not create: notes.txt');
    expect(readdirSync(dir).sort()).toEqual([LOCK_FILE, STATE_MARKER, 'notes.txt'].sort());
  });

  it('a state folder of the layout before the marker is adopted, its saved state kept', async () => {
    const dir = newDir();
    writeFileSync(path.join(dir, 'catalog.json'), JSON.stringify({ tables: [], label: 'legacy' }));
    writeFileSync(path.join(dir, 'buckets.json'), '{}');
    mkdirSync(path.join(dir, 's3', 'landing'), { recursive: true });

    const state = await StateFolder.open(dir, { mode: 'write', command: 'test' });
    await state.release();

    expect(existsSync(path.join(dir, STATE_MARKER))).toBe(true);
    expect(savedLabel(dir)).toBe('legacy');
    expect(existsSync(path.join(dir, CURRENT, 's3', 'landing'))).toBe(true);
  });
});

describe('a state that cannot be read', () => {
  it('names the broken file in one line, exit 2, for run and query alike', async () => {
    const dir = await toolMadeState();
    const catalog = path.join(dir, CURRENT, 'catalog.json');
    writeFileSync(catalog, '{"tables": [{"database": "ingestion", "versions": [');

    for (const args of [
      ['run', focus, '--state', dir],
      ['query', 'select 1', '--state', dir],
    ]) {
      const result = cli(args);

      expect(result.status, result.stderr).toBe(2);
      expect(oneLine(result.stderr)).toBe(
        `error: the local state cannot be read: ${catalog} is not valid JSON (Unexpected end of JSON input)`,
      );
    }
  });
});

describe('saving the state is all or nothing', () => {
  it('a save cut midway (the command killed) leaves the previous state, and the next command restores it', async () => {
    const dir = await toolMadeState('before');
    const writer = spawn(
      process.execPath,
      ['--import', TSX_LOADER, path.join(REPO_ROOT, 'test', 'e2e', 'state-writer.ts'), dir, 'half'],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    await new Promise<void>((resolve, reject) => {
      writer.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('mid-save')) resolve();
      });
      writer.once('exit', (code) => reject(new Error(`the writer exited (${code}) before its save`)));
    });
    expect(readdirSync(dir).some((e) => e.startsWith('.next-'))).toBe(true);

    writer.kill('SIGKILL');
    await new Promise((resolve) => writer.once('exit', resolve));
    // The writer held the lock: the next command gets it at once (it died with the writer).
    const state = await StateFolder.open(dir, { mode: 'write', command: 'test', waitMs: 5_000 });
    await state.release();

    expect(savedLabel(dir)).toBe('before');
    expect(readdirSync(dir).filter((e) => e.startsWith('.next-') || e.startsWith('.previous-'))).toEqual([]);
  });

  it('a crash between the two renames of the swap: the next command completes the swap', async () => {
    const dir = await toolMadeState('old');
    // What the swap leaves after its first rename: no `current`, the old state and the new one aside.
    const { renameSync, cpSync } = await import('node:fs');
    renameSync(path.join(dir, CURRENT), path.join(dir, '.previous-999-1'));
    cpSync(path.join(dir, '.previous-999-1'), path.join(dir, '.next-999-1'), { recursive: true });
    writeFileSync(
      path.join(dir, '.next-999-1', 'catalog.json'),
      JSON.stringify({ tables: [], label: 'new' }),
    );

    const state = await StateFolder.open(dir, { mode: 'read', command: 'test' });
    await state.release();

    expect(savedLabel(dir)).toBe('new');
    expect(readdirSync(dir).filter((e) => e.startsWith('.'))).toEqual(
      expect.not.arrayContaining([expect.stringMatching(/^\.(next|previous)-/)]),
    );
  });

  it('an unfinished new state (no snapshot.json) is dropped and the current one kept', async () => {
    const dir = await toolMadeState('kept');
    mkdirSync(path.join(dir, '.next-999-1'));
    writeFileSync(
      path.join(dir, '.next-999-1', 'catalog.json'),
      JSON.stringify({ tables: [], label: 'partial' }),
    );

    const state = await StateFolder.open(dir, { mode: 'write', command: 'test' });
    await state.release();

    expect(savedLabel(dir)).toBe('kept');
    expect(existsSync(path.join(dir, '.next-999-1'))).toBe(false);
  });
});

describe('one command at a time per state folder', () => {
  it('a second command waits, says for whom, and fails clearly when the wait runs out', async () => {
    const dir = await toolMadeState();
    holders.push(await StateFolder.open(dir, { mode: 'write', command: 'holder' }));

    const result = cli(['reset', '--state', dir, '--wait', '1']);

    expect(result.status, result.stderr).toBe(2);
    expect(result.stderr).toMatch(
      new RegExp(`waiting for the state folder ${dir}, in use by pid ${process.pid} \\(holder\\) since \\S+`),
    );
    expect(result.stderr).toMatch(
      new RegExp(`error: the state folder ${dir} is in use by pid ${process.pid}.*gave up after 1 s`),
    );
    expect(savedLabel(dir)).toBe('first');
  });

  it('a waiting command goes on as soon as the holder is done', async () => {
    const dir = await toolMadeState();
    const holder = await StateFolder.open(dir, { mode: 'write', command: 'holder' });
    const waiting = spawn(
      process.execPath,
      ['--import', TSX_LOADER, CLI, 'reset', '--state', dir, '--wait', '60'],
      {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      waiting.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('waiting for the state folder')) resolve();
      });
      waiting.once('exit', (code) => reject(new Error(`reset exited (${code}) without waiting: ${stderr}`)));
    });
    expect(existsSync(dir)).toBe(true);

    await holder.release();
    const code = await new Promise<number | null>((resolve) => waiting.once('exit', resolve));

    expect(code, stderr).toBe(0);
    expect(existsSync(dir)).toBe(false);
  });

  it('a lock file left by a process that died is no obstacle', async () => {
    const dir = await toolMadeState();
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    writeFileSync(
      path.join(dir, LOCK_FILE),
      JSON.stringify({ pid: dead, command: 'run', since: '2020-01-01' }),
    );

    const result = cli(['reset', '--state', dir, '--wait', '0']);

    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).not.toContain('waiting');
    expect(existsSync(dir)).toBe(false);
  });

  it('queries share the folder with each other, not with a command that writes', async () => {
    const dir = await toolMadeState();
    holders.push(await StateFolder.open(dir, { mode: 'read', command: 'query' }));
    const second = await StateFolder.open(dir, { mode: 'read', command: 'query', waitMs: 0 });
    await second.release();

    await expect(StateFolder.open(dir, { mode: 'write', command: 'run', waitMs: 0 })).rejects.toThrow(
      StateError,
    );
  });
});
