import type { Context } from 'aws-lambda';
import { loadDatasets } from '../../lib/config';
import type { ResolvedDataset } from '../../lib/config/types';
import type { BatchFile, FileOutcome } from '../../lib/contracts/batch';
import type { AwsClients } from '../common/aws';
import type { PipelineEnv } from '../common/env';
import { lambdaHandler } from '../common/handler';
import { createLogger } from '../common/logger';
import { type DatasetMetrics, type MetricsSettings, withDatasetMetrics } from '../common/metrics';
import { type NormalizeInput, normalizeFile } from './core';
import { InvalidEventError } from './errors';

const logger = createLogger('normalize');

/** The Normalize task's event: one file of the batch (see the state machine's Map ItemSelector). */
export interface NormalizeEvent {
  readonly dataset: string;
  readonly file: BatchFile;
  readonly executionId?: string;
}

/**
 * The S3 event's `time` as EventBridge writes it: ISO-8601 UTC (`2024-09-01T10:00:00Z`;
 * fractional seconds accepted). The ETL orders files by it, so a file without one cannot land.
 */
const EVENT_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
/** A sequencer is hexadecimal; empty when an event carries none (ordered as all zeros). */
const SEQUENCER = /^[0-9A-Fa-f]*$/;

export function parseNormalizeEvent(event: unknown): NormalizeInput {
  const e = event as Partial<NormalizeEvent> | null;
  const file = e?.file as Partial<BatchFile> | undefined;
  if (
    !e ||
    typeof e.dataset !== 'string' ||
    !file ||
    typeof file.bucket !== 'string' ||
    typeof file.key !== 'string' ||
    !(file.versionId === null || file.versionId === undefined || typeof file.versionId === 'string') ||
    typeof file.eventTime !== 'string' ||
    !EVENT_TIME.test(file.eventTime) ||
    !(file.sequencer === undefined || (typeof file.sequencer === 'string' && SEQUENCER.test(file.sequencer)))
  ) {
    throw new InvalidEventError(
      `expected {dataset, file: {bucket, key, versionId, eventTime (ISO-8601 UTC), sequencer (hex)}}, got ${JSON.stringify(event)?.slice(0, 300)}`,
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
      eventTime: file.eventTime,
      // The Pipe renders a missing sequencer as an empty string, as it does a missing version id.
      sequencer: file.sequencer ?? '',
    },
  };
}

/**
 * FilesNormalized, RowsNormalized and RowsRejected of a normalized outcome (lib/contracts/
 * metrics.ts); a duplicate records nothing (its rows are another file's).
 */
export function recordNormalizeMetrics(metrics: DatasetMetrics, outcome: FileOutcome): void {
  if (outcome.status !== 'normalized') return;
  metrics.add('filesNormalized', 1);
  metrics.add('rowsNormalized', outcome.rows ?? 0);
  metrics.add('rowsRejected', outcome.rejectedRows ?? 0);
}

export function makeNormalizeHandler(
  env: PipelineEnv,
  clients: Pick<AwsClients, 's3'>,
  datasets: readonly ResolvedDataset[] = loadDatasets(),
  options: { readonly metrics?: MetricsSettings } = {},
) {
  return async (event: unknown, _context?: Context): Promise<FileOutcome> => {
    const input = parseNormalizeEvent(event);
    logger.appendKeys({ dataset: input.dataset, key: input.file.key, versionId: input.file.versionId });
    const scope = { pipeline: env.pipelineName, dataset: input.dataset, logger, settings: options.metrics };
    try {
      return await withDatasetMetrics(scope, async (metrics) => {
        const outcome = await normalizeFile({ s3: clients.s3, env, datasets }, input);
        recordNormalizeMetrics(metrics, outcome);
        logger.info('normalized', {
          status: outcome.status,
          rows: outcome.rows,
          rejectedRows: outcome.rejectedRows,
        });
        return outcome;
      });
    } catch (error) {
      logger.error('normalize failed', error as Error);
      throw error;
    } finally {
      logger.resetKeys();
    }
  };
}

/** Lambda entry point (lambdas/common/handler.ts): built on first use, the Lambda context logged. */
export const handler = lambdaHandler(logger, makeNormalizeHandler);
