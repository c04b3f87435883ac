import type { Context } from 'aws-lambda';
import { loadDatasets } from '../../lib/config';
import type { ResolvedDataset } from '../../lib/config/types';
import type { BatchFile, FileOutcome } from '../../lib/contracts/batch';
import { type AwsClients, createClients } from '../common/aws';
import { type Env, type PipelineEnv, readPipelineEnv } from '../common/env';
import { createLogger } from '../common/logger';
import { type NormalizeInput, normalizeFile } from './core';
import { InvalidEventError } from './errors';

const logger = createLogger('normalize');

/** The Normalize task's event: one file of the batch (see the state machine's Map ItemSelector). */
export interface NormalizeEvent {
  readonly dataset: string;
  readonly file: BatchFile;
  readonly executionId?: string;
}

export function parseNormalizeEvent(event: unknown): NormalizeInput {
  const e = event as Partial<NormalizeEvent> | null;
  const file = e?.file as Partial<BatchFile> | undefined;
  if (
    !e ||
    typeof e.dataset !== 'string' ||
    !file ||
    typeof file.bucket !== 'string' ||
    typeof file.key !== 'string' ||
    !(file.versionId === null || file.versionId === undefined || typeof file.versionId === 'string')
  ) {
    throw new InvalidEventError(
      `expected {dataset, file: {bucket, key, versionId}}, got ${JSON.stringify(event)?.slice(0, 300)}`,
    );
  }
  return {
    dataset: e.dataset,
    executionId: typeof e.executionId === 'string' && e.executionId !== '' ? e.executionId : null,
    file: {
      dataset: e.dataset,
      bucket: file.bucket,
      key: file.key,
      // The Pipe renders a missing version id as an empty string.
      versionId: file.versionId ? file.versionId : null,
      size: typeof file.size === 'number' ? file.size : 0,
    },
  };
}

export function makeNormalizeHandler(
  env: PipelineEnv,
  clients: Pick<AwsClients, 's3'>,
  datasets: readonly ResolvedDataset[] = loadDatasets(),
) {
  return async (event: unknown, _context?: Context): Promise<FileOutcome> => {
    const input = parseNormalizeEvent(event);
    logger.appendKeys({ dataset: input.dataset, key: input.file.key, versionId: input.file.versionId });
    try {
      const outcome = await normalizeFile({ s3: clients.s3, env, datasets }, input);
      logger.info('normalized', {
        status: outcome.status,
        rows: outcome.rows,
        rejectedRows: outcome.rejectedRows,
      });
      return outcome;
    } catch (error) {
      logger.error('normalize failed', error as Error);
      throw error;
    } finally {
      logger.resetKeys();
    }
  };
}

let cached: ReturnType<typeof makeNormalizeHandler> | undefined;

/** Lambda entry point: environment read and clients created once per container, on first use. */
export const handler = (event: unknown, context?: Context) => {
  cached ??= (() => {
    const env = readPipelineEnv(process.env as Env);
    return makeNormalizeHandler(env, createClients(env));
  })();
  return cached(event, context);
};
