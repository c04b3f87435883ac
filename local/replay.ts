/**
 * `pipeline replay` on this machine (docs/operations.md, "Replay and backfill"): the versions
 * local/replay-selection.ts selects from the state folder are sent through the synthesized state
 * machine in the local runtime, in batches shaped exactly as the intake Pipe delivers them, and
 * each file's outcome is read back from the buckets. `--dry-run` reads the saved state only.
 * With `--stack`, local/replay-aws.ts does the same against a deployed pipeline.
 *
 * The operator's reads and StartExecution are the local runtime's own calls (admin key, not
 * checked: docs/local-iam.md); the executions run as the state machine's role, the handlers,
 * crawler and job as theirs, as in `pipeline run`.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { InputError } from './inputs';
import { runLocalSession } from './pipeline';
import {
  datasetOf,
  planReplay,
  type ReplayBuckets,
  type ReplayExecutionReport,
  type ReplayReport,
  type ReplayRequest,
  type ReplaySelector,
  reportAfterExecutions,
  reportWithoutExecutions,
} from './replay-selection';
import { s3ReplayStore, savedReplayStore } from './replay-store';
import type { RunReport } from './report';
import { readStateJson, type StateFolder } from './state';
import { openStateFolder } from './state-dir';

export interface LocalReplayOptions {
  /** A state folder the caller holds (the demo); else `stateDir` is opened and released here. */
  readonly state?: StateFolder;
  readonly stateDir?: string;
  readonly lockWaitMs?: number;
  readonly onProgress?: (line: string) => void;
}

/** The local report, with the run's own (alerts, reconciliation, IAM) when anything was executed. */
export type LocalReplayReport = ReplayReport & {
  readonly run?: Pick<RunReport, 'alerts' | 'reconciliation' | 'iam'>;
};

/** A replay in the local runtime's state folder (`--state DIR`, default .pipeline-local). */
export async function replayLocally(
  request: ReplayRequest,
  options: LocalReplayOptions = {},
): Promise<LocalReplayReport> {
  const progress = options.onProgress ?? (() => undefined);
  if (!request.selector)
    throw new InputError('replay needs a selection (--quarantined, --prefix or --from/--to)');
  const planned = { ...request, selector: request.selector as ReplaySelector };
  const dataset = datasetOf(request.dataset);
  const state = await openStateFolder({
    ...(options.state ? { state: options.state } : {}),
    stateDir: options.stateDir,
    mode: request.dryRun ? 'read' : 'write',
    command: 'replay',
    lockWaitMs: options.lockWaitMs,
    onWait: progress,
  });
  const target = { kind: 'local' as const, stateDir: path.relative(process.cwd(), state.root) || state.root };
  try {
    // Selected from the saved state first: a dry run reads the saved buckets as files (no
    // emulator, no Spark); when nothing needs replaying, nothing is started or saved either.
    const saved = savedBuckets(state.currentDir);
    const preview = await planReplay(savedReplayStore(state.currentDir), saved, planned, progress);
    if (request.dryRun || preview.batches.length === 0)
      return reportWithoutExecutions(preview, target, request.dryRun);
    const startedAt = new Date().toISOString();
    const { report: run, result } = await runLocalSession(
      state,
      { command: 'replay', onProgress: progress },
      async (session) => {
        const store = s3ReplayStore(session.s3);
        const buckets = {
          landing: session.bucket('Landing'),
          control: session.bucket('Control'),
          quarantine: session.bucket('Quarantine'),
        };
        const plan = await planReplay(store, buckets, planned, progress);
        const { batches } = plan;
        // StartExecution for every batch at once, as the Pipe starts a burst's batches.
        const executed = await Promise.all(
          batches.map((batch, i) =>
            session.execute(batch.files, {
              name: batch.name,
              dataset: dataset.name,
              label: batches.length > 1 ? `${dataset.name} replay #${i + 1}` : `${dataset.name} replay`,
            }),
          ),
        );
        const executions: ReplayExecutionReport[] = executed.map((e, i) => ({
          name: batches[i]!.name,
          files: e.files,
          status: e.result.status,
          ...(e.result.error ? { error: e.result.error } : {}),
          ...(e.result.cause ? { cause: e.result.cause.slice(0, 2000) } : {}),
        }));
        return {
          executions: executed,
          result: await reportAfterExecutions(store, buckets, plan, target, executions, startedAt),
        };
      },
    );
    return {
      ...result,
      run: { alerts: run.alerts, reconciliation: run.reconciliation, ...(run.iam ? { iam: run.iam } : {}) },
    };
  } finally {
    if (!options.state) await state.release();
  }
}

/** The stack's bucket names as the saved state names them (buckets.json: name -> folder). */
function savedBuckets(dir: string): ReplayBuckets {
  if (!existsSync(path.join(dir, 'buckets.json')))
    throw new InputError(`nothing to replay: ${dir} holds no pipeline state (run the pipeline first)`);
  const folders = readStateJson(path.join(dir, 'buckets.json')) as Record<string, string>;
  const byFolder = (folder: string) => {
    const name = Object.keys(folders).find((bucket) => folders[bucket] === folder);
    if (!name)
      throw new InputError(`the local state in ${dir} has no ${folder} bucket: run the pipeline first`);
    return name;
  };
  return { landing: byFolder('landing'), control: byFolder('control'), quarantine: byFolder('quarantine') };
}
