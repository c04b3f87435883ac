import type { Context } from 'aws-lambda';
import { datasetByName } from '../../lib/config';
import type { FileOutcome } from '../../lib/contracts/batch';
import { type AwsClients, createClients } from '../common/aws';
import { type Env, type PipelineEnv, readPipelineEnv } from '../common/env';
import { createLogger } from '../common/logger';
import { InvalidEventError } from '../normalize/errors';
import { batchProgress, type Progress, type ReconcileOutput, reconcileBatch } from './core';

const logger = createLogger('reconcile');

export type ReconcileEvent =
  | {
      readonly action: 'progress';
      readonly dataset: string;
      readonly files: FileOutcome[];
      readonly previous?: Progress;
    }
  | {
      readonly action: 'reconcile';
      readonly dataset: string;
      readonly executionId: string;
      readonly files: FileOutcome[];
    };

export class UnknownDatasetError extends Error {
  override readonly name = 'UnknownDatasetError';
}

export function parseReconcileEvent(event: unknown): ReconcileEvent {
  const e = event as Partial<{ action: string; dataset: string; files: unknown; executionId: string }> | null;
  if (!e || typeof e.dataset !== 'string' || !Array.isArray(e.files)) {
    throw new InvalidEventError(
      `expected {action, dataset, files}, got ${JSON.stringify(event)?.slice(0, 300)}`,
    );
  }
  if (e.action === 'progress') return e as ReconcileEvent;
  if (e.action === 'reconcile' && typeof e.executionId === 'string') return e as ReconcileEvent;
  throw new InvalidEventError(
    `unknown action "${e.action}" (progress or reconcile, the latter with executionId)`,
  );
}

export function makeReconcileHandler(env: PipelineEnv, clients: Pick<AwsClients, 's3'>) {
  return async (event: unknown, _context?: Context): Promise<Progress | ReconcileOutput> => {
    const input = parseReconcileEvent(event);
    const dataset = datasetByName(input.dataset);
    if (!dataset) throw new UnknownDatasetError(`dataset "${input.dataset}" is not configured`);
    const deps = { s3: clients.s3, env };
    if (input.action === 'progress') {
      const progress = await batchProgress(deps, dataset, input.files, input.previous);
      logger.info('progress', { dataset: dataset.name, ...progress, partitions: progress.partitions.length });
      return progress;
    }
    const output = await reconcileBatch(deps, dataset, input.executionId, input.files);
    logger.info('reconciled', { dataset: dataset.name, status: output.status, failed: output.failedChecks });
    return output;
  };
}

let cached: ReturnType<typeof makeReconcileHandler> | undefined;

export const handler = (event: unknown, context?: Context) => {
  cached ??= (() => {
    const env = readPipelineEnv(process.env as Env);
    return makeReconcileHandler(env, createClients(env));
  })();
  return cached(event, context);
};
