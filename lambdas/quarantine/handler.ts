import type { Context } from 'aws-lambda';
import type { FileOutcome } from '../../lib/contracts/batch';
import type { AwsClients } from '../common/aws';
import type { PipelineEnv } from '../common/env';
import { lambdaHandler } from '../common/handler';
import { createLogger } from '../common/logger';
import { type MetricsSettings, withDatasetMetrics } from '../common/metrics';
import { InvalidEventError } from '../normalize/errors';
import { type QuarantineInput, quarantineFile } from './core';

const logger = createLogger('quarantine');

export function parseQuarantineEvent(event: unknown): QuarantineInput {
  const e = event as Partial<QuarantineInput> | null;
  if (
    !e ||
    typeof e.dataset !== 'string' ||
    typeof e.file?.bucket !== 'string' ||
    typeof e.file?.key !== 'string' ||
    typeof e.error?.Error !== 'string'
  ) {
    throw new InvalidEventError(
      `expected {dataset, file, error}, got ${JSON.stringify(event)?.slice(0, 300)}`,
    );
  }
  return e as QuarantineInput;
}

export function makeQuarantineHandler(
  env: PipelineEnv,
  clients: Pick<AwsClients, 's3'>,
  options: { readonly metrics?: MetricsSettings } = {},
) {
  return async (event: unknown, _context?: Context): Promise<FileOutcome> => {
    const input = parseQuarantineEvent(event);
    const scope = { pipeline: env.pipelineName, dataset: input.dataset, logger, settings: options.metrics };
    return withDatasetMetrics(scope, async (metrics) => {
      const outcome = await quarantineFile({ s3: clients.s3, env }, input);
      // FilesQuarantined (lib/contracts/metrics.ts): counted once the copy and its reason are written.
      if (outcome.status === 'quarantined') metrics.add('filesQuarantined', 1);
      logger.warn('file quarantined', { dataset: input.dataset, key: outcome.key, reason: outcome.reason });
      return outcome;
    });
  };
}

/** Lambda entry point (lambdas/common/handler.ts): built on first use, the Lambda context logged. */
export const handler = lambdaHandler(logger, makeQuarantineHandler);
