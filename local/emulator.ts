import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT, spawnTied, VENV_BIN, VENV_PYTHON } from './processes';

export { REPO_ROOT, VENV_BIN } from './processes';

export class EmulatorError extends Error {
  override readonly name = 'EmulatorError';
}

/** What an object's identity is to S3 readers that list it: kept across a save and a restore. */
export interface ObjectMetadata {
  readonly bucket: string;
  readonly key: string;
  /** ISO-8601, as ListObjectsV2 reported it when the state was saved. */
  readonly lastModified: string;
  readonly etag: string;
  /**
   * The current version's id (versioned buckets): restored, so that the landing object is the
   * version its manifests and quarantine reasons name (`pipeline replay` replays exact versions).
   */
  readonly versionId?: string;
}

/** A running local AWS API emulator (moto): S3, SNS, SQS, Glue Data Catalog and more. */
export interface Emulator {
  readonly endpoint: string;
  readonly port: number;
  /** Region and dummy credentials the emulator accepts; set these on every client. */
  readonly env: Readonly<Record<string, string>>;
  /**
   * Sets LastModified and ETag of objects back to what they were when saved (a local-only
   * route of local/emulator_server.py; no AWS API does this). Returns the objects not found.
   */
  setObjectMetadata(objects: readonly ObjectMetadata[]): Promise<string[]>;
  stop(): Promise<void>;
}

/** A free TCP port of 127.0.0.1 (for servers that cannot bind port 0 themselves). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

const SERVER = path.join(REPO_ROOT, 'local', 'emulator_server.py');

/**
 * Starts the emulator (moto's server application through local/emulator_server.py, from the
 * project's virtualenv) on a free port of 127.0.0.1 and waits until it listens. It is stopped
 * by `stop()`, on exit, Ctrl-C and failure, and it stops by itself when this process dies
 * (even by `kill -9`): see local/lifeline.py.
 */
export async function startEmulator(
  options: {
    readonly region?: string;
    readonly timeoutMs?: number;
    /**
     * The account every resource belongs to, whatever access key signs the request (moto
     * otherwise derives it from the key): ARNs the emulator returns match the ones the local
     * runtime resolves from the template, which the IAM policies name. @default 000000000000
     */
    readonly account?: string;
  } = {},
): Promise<Emulator> {
  if (!existsSync(path.join(VENV_BIN, 'moto_server'))) {
    throw new EmulatorError(
      `the local AWS emulator is not installed (${path.join(VENV_BIN, 'moto_server')} is missing): run "npm run setup" first`,
    );
  }
  const region = options.region ?? 'us-east-1';
  // stdin stays open: its end of file tells the emulator that this process is gone.
  const child = spawnTied(VENV_PYTHON, [SERVER, '--host', '127.0.0.1'], {
    tied: 'self',
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      ...process.env,
      MOTO_ALLOW_NONEXISTENT_REGION: 'true',
      MOTO_ACCOUNT_ID: options.account ?? '000000000000',
      PYTHONUNBUFFERED: '1',
    },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), options.timeoutMs ?? 30_000);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        const message = JSON.parse(line) as { port?: number };
        if (typeof message.port === 'number') {
          clearTimeout(timer);
          lines.close();
          resolve(message.port);
        }
      } catch {
        // not the ready line
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
  if (port === undefined) {
    child.kill('SIGKILL');
    await exited;
    throw new EmulatorError(`the local AWS emulator did not start: ${stderr.trim() || 'no output'}`);
  }
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
    },
    async setObjectMetadata(objects) {
      const missing: string[] = [];
      for (let i = 0; i < objects.length; i += 2000) {
        const response = await fetch(`${endpoint}/_pipeline_local/s3/object-metadata`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ objects: objects.slice(i, i + 2000) }),
        });
        const body = (await response.json()) as { missing?: string[]; error?: string };
        if (!response.ok) throw new EmulatorError(`restoring object metadata failed: ${body.error}`);
        missing.push(...(body.missing ?? []));
      }
      return missing;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
