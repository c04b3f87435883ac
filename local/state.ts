import type { ChildProcess } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT, spawnTied, VENV_PYTHON } from './processes';

/**
 * The local runtime's state folder (`--state DIR`, default `.pipeline-local/`).
 *
 *   DIR/.pipeline-local-state   marker: this tool made the folder (JSON); nothing else is ever
 *                               deleted or written into by `run`, `demo` or `reset`
 *   DIR/.lock                   the command lock (an OS lock held by a child, local/state_lock.py)
 *   DIR/current/                the last complete save: s3/, objects.json, catalog.json,
 *                               buckets.json, glue-bookmarks/, crawler-state.json, snapshot.json
 *   DIR/logs/                   one log per Glue job run (accumulates)
 *   DIR/tmp/                    scratch of the running command (Spark staging)
 *
 * Saving is all or nothing: a command writes its new state into a sibling `DIR/.next-<pid>-<n>/`
 * (snapshot.json last), then swaps it in with two renames (`current` -> `.previous-…`,
 * `.next-…` -> `current`) and removes the previous one. Until the second rename `current` is the
 * previous complete state; a crash between the two renames leaves both complete folders, and the
 * next command finishes the swap. Leftover `.next-…`/`.previous-…` folders are removed by the next
 * command. (Atomic against crashes of the process, which is what a local run meets; files are not
 * fsync'd, so a power cut may still lose the last save.)
 */
export const STATE_MARKER = '.pipeline-local-state';
export const LOCK_FILE = '.lock';
export const CURRENT = 'current';
const SNAPSHOT_FILE = 'snapshot.json';
const TOOL = 's3-ingestion-pipeline local runtime';
const FORMAT = 1;
/** Files of the layout before the marker existed (state directly in DIR): adopted on first use. */
const LEGACY_ENTRIES = new Set([
  's3',
  'catalog.json',
  'buckets.json',
  'glue-bookmarks',
  'crawler-state.json',
  'logs',
  'tmp',
]);
/** JSON documents of a snapshot, checked when the state is opened. */
const SNAPSHOT_JSON = ['snapshot.json', 'catalog.json', 'buckets.json', 'objects.json', 'crawler-state.json'];
/** Default bound on waiting for another command's lock. */
export const DEFAULT_LOCK_WAIT_MS = 10 * 60_000;

/** The state folder cannot be used (not ours, unreadable, in use): exit code 2, one line. */
export class StateError extends Error {
  override readonly name = 'StateError';
}

export type LockMode = 'exclusive' | 'shared';

export interface OpenOptions {
  /** `write`: run/demo (creates the folder and its marker when new or empty); `read`: query. */
  readonly mode: 'write' | 'read';
  /** Recorded in the lock for other commands' waiting message. */
  readonly command: string;
  /** How long to wait for another command's lock. @default 10 minutes */
  readonly waitMs?: number;
  /** Told once when another command holds the folder. */
  readonly onWait?: (line: string) => void;
}

interface SnapshotInfo {
  readonly savedAt: string;
  readonly command: string;
}

/** Refuses folders a state folder must never be (the checkout, home, cwd, the root or above them). */
export function checkStatePath(dir: string): string {
  const resolved = path.resolve(dir);
  const within = (folder: string) => folder === resolved || folder.startsWith(resolved + path.sep);
  const refuse = (what: string) =>
    new StateError(`refusing to use ${resolved} as the local state folder: it is ${what}`);
  if (path.parse(resolved).root === resolved) throw refuse('the filesystem root');
  if (within(REPO_ROOT)) throw refuse('the repository checkout (or a folder holding it)');
  if (within(homedir())) throw refuse('your home folder (or a folder holding it)');
  if (within(process.cwd())) throw refuse('the current folder (or a folder holding it)');
  if (existsSync(resolved) && !statSync(resolved).isDirectory()) throw refuse('a file, not a folder');
  return resolved;
}

type Kind = 'absent' | 'empty' | 'tool' | 'legacy' | 'foreign';

function classify(dir: string): Kind {
  if (!existsSync(dir)) return 'absent';
  const entries = readdirSync(dir);
  if (entries.length === 0) return 'empty';
  if (entries.includes(STATE_MARKER)) {
    const marker = path.join(dir, STATE_MARKER);
    const body = readStateJson(marker) as { tool?: string } | null;
    if (body?.tool !== TOOL) {
      throw new StateError(`the local state cannot be read: ${marker} is not this tool's marker`);
    }
    return 'tool';
  }
  // (The lock file appears once a command has locked the folder to adopt it.)
  const legacy = entries.filter((e) => e !== LOCK_FILE);
  if (legacy.every((e) => LEGACY_ENTRIES.has(e)) && legacy.some((e) => e === 's3' || e === 'catalog.json'))
    return 'legacy';
  return 'foreign';
}

function notOurs(dir: string): StateError {
  return new StateError(
    `refusing to use ${dir} as the local state folder: it is not empty and this tool did not create it (no ${STATE_MARKER} marker); give --state a new or empty folder`,
  );
}

/** Parses a JSON file of the state; a broken one is a one-line StateError naming it. */
export function readStateJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf-8');
  } catch (error) {
    throw new StateError(`the local state cannot be read: ${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new StateError(
      `the local state cannot be read: ${file} is not valid JSON (${(error as Error).message})`,
    );
  }
}

function writeMarker(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, STATE_MARKER),
    `${JSON.stringify({ tool: TOOL, format: FORMAT, createdAt: new Date().toISOString() }, null, 1)}\n`,
  );
}

function copyTree(from: string, to: string): void {
  if (!existsSync(from)) return;
  if (statSync(from).isDirectory()) {
    mkdirSync(to, { recursive: true });
    for (const entry of readdirSync(from)) copyTree(path.join(from, entry), path.join(to, entry));
  } else {
    copyFileSync(from, to);
  }
}

/** The OS lock on DIR/.lock, held by a child process for as long as this command runs. */
class StateLock {
  private constructor(private readonly child: ChildProcess) {}

  /** Resolves with the lock, or `gone` when the folder was removed while waiting. */
  static acquire(
    root: string,
    mode: LockMode,
    options: { command: string; waitMs: number; onWait?: (line: string) => void },
  ): Promise<StateLock | 'gone'> {
    if (!existsSync(VENV_PYTHON)) {
      throw new StateError(`the Python virtualenv is missing (${VENV_PYTHON}): run "npm run setup" first`);
    }
    const owner = JSON.stringify({
      pid: process.pid,
      command: options.command,
      since: new Date().toISOString(),
    });
    const child = spawnTied(
      VENV_PYTHON,
      [
        path.join(REPO_ROOT, 'local', 'state_lock.py'),
        path.join(root, LOCK_FILE),
        '--mode',
        mode,
        '--wait',
        String(options.waitMs / 1000),
        '--owner',
        owner,
      ],
      { tied: 'self', stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    const holder = (o: { pid?: number; command?: string; since?: string }) =>
      o.pid
        ? `pid ${o.pid}${o.command ? ` (${o.command})` : ''}${o.since ? ` since ${o.since}` : ''}`
        : 'another command';
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (!settled) {
          settled = true;
          fn();
        }
      };
      createInterface({ input: child.stdout! }).on('line', (line) => {
        let message: {
          waiting?: Record<string, unknown>;
          acquired?: boolean;
          timeout?: Record<string, unknown>;
          gone?: boolean;
        };
        try {
          message = JSON.parse(line);
        } catch {
          return;
        }
        if (message.waiting) {
          options.onWait?.(
            `waiting for the state folder ${root}, in use by ${holder(message.waiting)}; waiting up to ${Math.round(options.waitMs / 1000)} s`,
          );
        } else if (message.acquired) {
          settle(() => resolve(new StateLock(child)));
        } else if (message.timeout) {
          settle(() =>
            reject(
              new StateError(
                `the state folder ${root} is in use by ${holder(message.timeout!)}: gave up after ${Math.round(options.waitMs / 1000)} s`,
              ),
            ),
          );
        } else if (message.gone) {
          settle(() => resolve('gone'));
        }
      });
      child.once('error', (error) =>
        settle(() => reject(new StateError(`cannot lock the state folder ${root}: ${error.message}`))),
      );
      child.once('exit', (code) =>
        settle(() =>
          reject(
            new StateError(
              `cannot lock the state folder ${root}: the lock holder exited (${code}) ${stderr.trim()}`.trim(),
            ),
          ),
        ),
      );
    });
  }

  /** Releases the lock (the holder exits when its stdin closes). */
  async release(): Promise<void> {
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin?.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * A state folder opened by one command: validated, locked, recovered from an interrupted save.
 * `release()` when the command ends (the lock also ends with the process).
 */
export class StateFolder {
  private nextCounter = 0;
  private committedAt: string | undefined;

  private constructor(
    readonly root: string,
    private lock: StateLock,
    readonly mode: LockMode,
  ) {}

  /** Opens (and for `write`, creates) the state folder, waiting for another command's lock. */
  static async open(dir: string, options: OpenOptions): Promise<StateFolder> {
    const root = checkStatePath(dir);
    const waitMs = options.waitMs ?? DEFAULT_LOCK_WAIT_MS;
    for (;;) {
      const kind = classify(root);
      if (kind === 'foreign') throw notOurs(root);
      if (options.mode === 'read' && (kind === 'absent' || kind === 'empty')) {
        throw new StateError(
          `no local pipeline state in ${root}: run "npm run pipeline -- run <files>" first`,
        );
      }
      if (kind === 'absent' || kind === 'empty') writeMarker(root);
      const needsExclusive = options.mode === 'write' || kind === 'legacy' || StateFolder.needsRecovery(root);
      const mode: LockMode = needsExclusive ? 'exclusive' : 'shared';
      const lock = await StateLock.acquire(root, mode, {
        command: options.command,
        waitMs,
        onWait: options.onWait,
      });
      if (lock === 'gone') continue; // removed by `reset` while we waited: look again
      const state = new StateFolder(root, lock, mode);
      try {
        // Another command may have changed the folder while we waited.
        const now = classify(root);
        if (now === 'foreign') throw notOurs(root);
        if (now === 'absent' || now === 'empty') {
          await lock.release();
          continue;
        }
        if (mode === 'shared' && StateFolder.needsRecovery(root)) {
          await lock.release();
          continue;
        }
        if (mode === 'exclusive') {
          if (now === 'legacy') state.adoptLegacy();
          state.recover();
        }
        if (options.mode === 'read' && !existsSync(state.currentDir)) {
          throw new StateError(
            `no local pipeline state in ${root}: run "npm run pipeline -- run <files>" first`,
          );
        }
        state.validate();
        return state;
      } catch (error) {
        await state.release();
        throw error;
      }
    }
  }

  /** `current` is missing while an interrupted save left folders behind, or leftovers exist. */
  private static needsRecovery(root: string): boolean {
    if (!existsSync(root)) return false;
    return readdirSync(root).some((e) => e.startsWith('.next-') || e.startsWith('.previous-'));
  }

  get currentDir(): string {
    return path.join(this.root, CURRENT);
  }

  get logDir(): string {
    return path.join(this.root, 'logs');
  }

  get tmpDir(): string {
    return path.join(this.root, 'tmp');
  }

  /** When the state this command started from was saved, if any was. */
  snapshot(): SnapshotInfo | undefined {
    const file = path.join(this.currentDir, SNAPSHOT_FILE);
    return existsSync(file) ? (readStateJson(file) as SnapshotInfo) : undefined;
  }

  /** What an interruption leaves: said when the command is stopped. */
  describeKept(): string {
    if (this.committedAt)
      return `this command's state was saved in ${this.currentDir} at ${this.committedAt}`;
    const saved = this.snapshot();
    return saved
      ? `nothing of this command was saved; ${this.currentDir} keeps the last complete state (saved ${saved.savedAt} by "${saved.command}")`
      : `nothing was saved; ${this.root} holds no saved state yet`;
  }

  /**
   * A new folder for the state this command will save, seeded with the working files the run
   * updates in place (job bookmarks, crawler state) from the current state.
   */
  prepareNext(): string {
    this.nextCounter += 1;
    const next = path.join(this.root, `.next-${process.pid}-${this.nextCounter}`);
    rmSync(next, { recursive: true, force: true });
    mkdirSync(next, { recursive: true });
    copyTree(path.join(this.currentDir, 'glue-bookmarks'), path.join(next, 'glue-bookmarks'));
    copyTree(path.join(this.currentDir, 'crawler-state.json'), path.join(next, 'crawler-state.json'));
    return next;
  }

  /** Makes a fully written `prepareNext()` folder the current state, all or nothing. */
  commit(next: string, command: string): void {
    if (this.mode !== 'exclusive') throw new Error('commit needs the exclusive lock');
    const savedAt = new Date().toISOString();
    const info: SnapshotInfo = { savedAt, command };
    writeFileSync(path.join(next, SNAPSHOT_FILE), `${JSON.stringify(info)}\n`);
    const previous = path.join(this.root, `.previous-${path.basename(next).slice('.next-'.length)}`);
    const hadCurrent = existsSync(this.currentDir);
    if (hadCurrent) renameSync(this.currentDir, previous);
    renameSync(next, this.currentDir);
    this.committedAt = savedAt;
    if (hadCurrent) rmSync(previous, { recursive: true, force: true });
  }

  /** Drops a `prepareNext()` folder that will not be committed. */
  discard(next: string): void {
    rmSync(next, { recursive: true, force: true });
  }

  async release(): Promise<void> {
    await this.lock.release();
  }

  /** Finishes or undoes an interrupted save; removes leftovers and the scratch folder. */
  private recover(): void {
    const entries = readdirSync(this.root);
    const complete = (name: string) => existsSync(path.join(this.root, name, SNAPSHOT_FILE));
    if (!existsSync(this.currentDir)) {
      // Crashed between the swap's two renames: the new state is complete, finish the swap.
      const swapped = entries.find(
        (e) =>
          e.startsWith('.next-') && complete(e) && entries.includes(`.previous-${e.slice('.next-'.length)}`),
      );
      const previous = entries.filter((e) => e.startsWith('.previous-') && complete(e)).sort();
      const pick = swapped ?? previous.at(-1);
      if (pick) renameSync(path.join(this.root, pick), this.currentDir);
    }
    for (const entry of readdirSync(this.root)) {
      if (entry.startsWith('.next-') || entry.startsWith('.previous-'))
        rmSync(path.join(this.root, entry), { recursive: true, force: true });
    }
    rmSync(this.tmpDir, { recursive: true, force: true });
  }

  /** The layout before the marker: the state sat directly in DIR. Moved into `current/`. */
  private adoptLegacy(): void {
    const current = this.currentDir;
    mkdirSync(current, { recursive: true });
    for (const entry of readdirSync(this.root)) {
      if (entry === 'logs' || entry === 'tmp' || entry === CURRENT || entry === LOCK_FILE) continue;
      if (LEGACY_ENTRIES.has(entry)) renameSync(path.join(this.root, entry), path.join(current, entry));
    }
    writeFileSync(
      path.join(current, SNAPSHOT_FILE),
      `${JSON.stringify({ savedAt: new Date().toISOString(), command: 'adopted (earlier layout)' })}\n`,
    );
    writeMarker(this.root);
  }

  /**
   * Every JSON document the runtime itself reads from the current state parses; a broken one is
   * named in one line. (Job bookmarks are the Glue job's to read: a broken one fails the ETL
   * stage, with the job's error, as a bookmark problem would on AWS.)
   */
  private validate(): void {
    const current = this.currentDir;
    if (!existsSync(current)) return;
    for (const name of SNAPSHOT_JSON) {
      const file = path.join(current, name);
      if (existsSync(file)) readStateJson(file);
    }
  }
}

/** What `reset` did. */
export interface ResetResult {
  readonly root: string;
  readonly removed: boolean;
  /** Entries this tool did not create, left in place (the folder is then kept). */
  readonly kept: readonly string[];
}

/**
 * Clears a state folder this tool created: its own entries, then the folder when nothing else is
 * in it. A folder without the marker is refused; a missing or empty one is left alone.
 */
export async function resetState(
  dir: string,
  options: { waitMs?: number; onWait?: (line: string) => void } = {},
): Promise<ResetResult> {
  const root = checkStatePath(dir);
  for (;;) {
    const kind = classify(root);
    if (kind === 'foreign') throw notOurs(root);
    if (kind === 'absent' || kind === 'empty') return { root, removed: false, kept: [] };
    const lock = await StateLock.acquire(root, 'exclusive', {
      command: 'reset',
      waitMs: options.waitMs ?? DEFAULT_LOCK_WAIT_MS,
      onWait: options.onWait,
    });
    if (lock === 'gone') continue;
    try {
      const now = classify(root);
      if (now === 'foreign') throw notOurs(root);
      if (now === 'absent' || now === 'empty') return { root, removed: false, kept: [] };
      const ours = (entry: string) =>
        entry === CURRENT ||
        entry === STATE_MARKER ||
        entry === LOCK_FILE ||
        entry.startsWith('.next-') ||
        entry.startsWith('.previous-') ||
        LEGACY_ENTRIES.has(entry);
      const entries = readdirSync(root);
      const kept = entries.filter((e) => !ours(e));
      // The marker and the lock go last: a crash midway leaves a folder still recognised as ours.
      const order = entries.filter(ours).sort((a, b) => rank(a) - rank(b));
      for (const entry of order) {
        if (kept.length > 0 && (entry === STATE_MARKER || entry === LOCK_FILE)) continue;
        rmSync(path.join(root, entry), { recursive: true, force: true });
      }
      if (kept.length === 0) rmSync(root, { recursive: true, force: true });
      return { root, removed: kept.length === 0, kept };
    } finally {
      await lock.release();
    }
  }
}

function rank(entry: string): number {
  if (entry === STATE_MARKER) return 2;
  if (entry === LOCK_FILE) return 3;
  return 1;
}
