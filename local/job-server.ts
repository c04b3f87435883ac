import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT, spawnTied, VENV_BIN } from './processes';

const MARKER = '@@job-server@@ ';

export class JobServerError extends Error {
  override readonly name = 'JobServerError';
}

/** A run that passed its timeout (the driver running it is stopped; the next run starts a new one). */
export class JobRunTimeoutError extends Error {
  override readonly name = 'JobRunTimeoutError';
}

interface Pending {
  readonly onLine: (line: string) => void;
  readonly resolve: (code: number) => void;
  readonly reject: (error: Error) => void;
}

/**
 * One warm local Spark driver (glue-scripts/local/job_server.py) for the duration of a local
 * run: started early, so that Spark boots and warms up while files are normalized and
 * crawled; each Glue job run is the real script executed in it. Runs are serialized.
 */
export class JobServer {
  private child: ChildProcessWithoutNullStreams | undefined;
  private ready: Promise<void> | undefined;
  private pending: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly startupOutput: string[] = [];
  private exited = false;
  /** Whether the current driver came up (only a driver that did is replaced when it exits). */
  private wasReady = false;

  constructor(private readonly env: Record<string, string>) {}

  /**
   * Starts the driver (idempotent while it runs; a driver that exited is replaced); resolves once
   * Spark is up and warmed. The driver dies with this process, even on `kill -9` of it
   * (local/lifeline.py sets the Linux death signal; Spark's JVM exits when the driver's pipe to
   * it closes).
   */
  start(): Promise<void> {
    if (this.exited && this.wasReady) {
      this.ready = undefined;
      this.exited = false;
      this.wasReady = false;
      this.startupOutput.length = 0;
    }
    this.ready ??= new Promise<void>((resolve, reject) => {
      const child = spawnTied(
        path.join(VENV_BIN, 'python'),
        [path.join(REPO_ROOT, 'glue-scripts', 'local', 'job_server.py')],
        {
          tied: 'wrap',
          cwd: REPO_ROOT,
          env: {
            ...process.env,
            ...this.env,
            PYTHONPATH: [
              path.join(REPO_ROOT, 'glue-scripts', 'local'),
              path.join(REPO_ROOT, 'glue-scripts', 'lib'),
            ].join(path.delimiter),
            PYSPARK_PYTHON: path.join(VENV_BIN, 'python'),
            PYTHONUNBUFFERED: '1',
          },
        },
      ) as ChildProcessWithoutNullStreams;
      this.child = child;
      let started = false;
      const onLine = (line: string) => {
        if (line.startsWith(MARKER)) {
          const message = JSON.parse(line.slice(MARKER.length)) as { ready?: boolean; exitCode?: number };
          if (message.ready) {
            started = true;
            this.wasReady = true;
            resolve();
          } else if (message.exitCode !== undefined && this.pending) {
            const { resolve: done } = this.pending;
            this.pending = undefined;
            // Let stderr lines written before the marker arrive first.
            setImmediate(() => done(message.exitCode!));
          }
          return;
        }
        if (this.pending) this.pending.onLine(line);
        else if (!started) {
          this.startupOutput.push(line);
          if (this.startupOutput.length > 60) this.startupOutput.shift();
        }
      };
      createInterface({ input: child.stdout }).on('line', onLine);
      createInterface({ input: child.stderr }).on('line', onLine);
      child.on('error', (error) => reject(new JobServerError(`cannot start local Spark: ${error.message}`)));
      child.on('exit', (code) => {
        this.exited = true;
        const error = new JobServerError(
          `local Spark driver exited (code ${code})${started ? '' : ' before it was ready'}: ${this.startupOutput.slice(-15).join('\n')}`,
        );
        if (!started) reject(error);
        this.pending?.reject(error);
        this.pending = undefined;
      });
    });
    return this.ready;
  }

  /**
   * Runs a script in the driver; resolves with its exit code. One run at a time: `onStart` is
   * called when this run's turn comes and the script is handed to the driver.
   */
  run(
    script: string,
    argv: readonly string[],
    env: Record<string, string>,
    onLine: (line: string) => void,
    timeoutMs: number,
    onStart?: () => void,
  ): Promise<number> {
    const next = this.queue.then(async () => {
      await this.start();
      if (this.exited || !this.child) throw new JobServerError('local Spark driver is not running');
      const child = this.child;
      onStart?.();
      return new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.pending = undefined;
          this.child?.kill('SIGKILL');
          reject(new JobRunTimeoutError(`job run timed out after ${Math.round(timeoutMs / 60_000)} minutes`));
        }, timeoutMs);
        this.pending = {
          onLine,
          resolve: (code) => {
            clearTimeout(timer);
            resolve(code);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        };
        child.stdin.write(`${JSON.stringify({ script, argv, env })}\n`);
      });
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || this.exited) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
