import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import * as path from 'node:path';

/** Repository root (this file lives in local/). */
export const REPO_ROOT = path.resolve(__dirname, '..');
export const VENV_BIN = path.join(REPO_ROOT, '.venv', 'bin');
export const VENV_PYTHON = path.join(VENV_BIN, 'python');
/** Ties a child to this process's life (see local/lifeline.py). */
export const LIFELINE = path.join(REPO_ROOT, 'local', 'lifeline.py');

/**
 * Children of this process that must not outlive it. Each is started with
 * `PIPELINE_PARENT_PID` and ties itself to this process (local/lifeline.py: a death signal on
 * Linux, a parent watch and end of file on stdin everywhere), so that even a `kill -9` of the
 * CLI, which runs none of the handlers below, leaves none of them running. On a normal exit,
 * Ctrl-C or SIGTERM they are stopped here as well.
 */
const children = new Set<ChildProcess>();
const interruptNotes = new Set<() => string | undefined>();
let handlersInstalled = false;
/** Whether an interruption is reported on stderr: by the CLI; not inside a test worker that is torn down. */
let reportInterruptions = false;

/** Makes an interruption print what it stopped and what state was kept (the CLI calls this). */
export function reportInterruptionsOnStderr(): void {
  reportInterruptions = true;
}

function stopChildren(): void {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.once('exit', stopChildren);
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    process.once(signal, () => interrupted(`interrupted (${signal})`, code));
  }
}

/** Stops every child, prints what the registered notes say (what state was kept) and exits. */
export function interrupted(reason: string, code: number): never {
  stopChildren();
  const notes = [...interruptNotes].map((note) => note()).filter((n): n is string => Boolean(n));
  if (reportInterruptions || notes.length > 0) {
    process.stderr.write(`\n${reason}${notes.length > 0 ? `: ${notes.join('; ')}` : ''}\n`);
  }
  process.exit(code);
}

/**
 * Adds a line to what an interruption prints (e.g. which state the state folder kept).
 * Returns the function that removes it.
 */
export function onInterrupt(note: () => string | undefined): () => void {
  installHandlers();
  interruptNotes.add(note);
  return () => interruptNotes.delete(note);
}

/** Marks a child as one to stop with this process. */
export function track<T extends ChildProcess>(child: T): T {
  installHandlers();
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/**
 * Spawns a program that dies with this process. `tied: 'self'` for programs of ours that call
 * `lifeline.tie_to_parent()` themselves; `'wrap'` runs the program through local/lifeline.py,
 * which sets the Linux death signal and then becomes the program (same pid).
 */
export function spawnTied(
  command: string,
  args: readonly string[],
  options: SpawnOptions & { tied: 'self' | 'wrap' },
): ChildProcess {
  const { tied, env, ...rest } = options;
  const [file, argv] = tied === 'wrap' ? [VENV_PYTHON, [LIFELINE, command, ...args]] : [command, [...args]];
  return track(
    spawn(file, argv, {
      ...rest,
      env: { ...(env ?? process.env), PIPELINE_PARENT_PID: String(process.pid) },
    }),
  );
}

/**
 * When the process that started this one exits (e.g. `kill -9` of the `tsx` launcher, whose
 * child the CLI runs in), this process is re-parented: it then stops as on SIGTERM instead of
 * running on unseen. Linux and macOS report the new parent through `process.ppid`.
 */
export function exitWithParent(intervalMs = 500): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) interrupted('the process that started this command has exited', 143);
  }, intervalMs);
  timer.unref();
}
