import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AwsClients } from '../../lambdas/common/aws';
import { ConfigurationError, type PipelineEnv } from '../../lambdas/common/env';
import { lambdaHandler } from '../../lambdas/common/handler';

const ENV = {
  PIPELINE_NAME: 'ingest',
  LANDING_BUCKET: 'landing',
  NORMALIZED_BUCKET: 'normalized',
  CURATED_BUCKET: 'curated',
  QUARANTINE_BUCKET: 'quarantine',
  CONTROL_BUCKET: 'control',
  GLUE_DATABASE: 'ingest_db',
  AWS_REGION: 'eu-west-1',
};

function context(requestId: string): Context {
  return {
    awsRequestId: requestId,
    functionName: 'ingest-normalize',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:ingest-normalize',
    memoryLimitInMB: '1024',
    logGroupName: '/aws/lambda/ingest-normalize',
    logStreamName: 'stream',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** A logger that prints JSON lines to the global console (POWERTOOLS_DEV), which the test captures. */
function capturedLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  vi.stubEnv('POWERTOOLS_DEV', 'true');
  // Set by Lambda in an on-demand execution environment; Powertools reports cold starts only there.
  vi.stubEnv('AWS_LAMBDA_INITIALIZATION_TYPE', 'on-demand');
  const printed: string[] = [];
  vi.spyOn(console, 'info').mockImplementation((line: string) => void printed.push(line));
  const logger = new Logger({ serviceName: 'handler-test', logLevel: 'INFO' });
  return { logger, lines: () => printed.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe('lambdaHandler (lambdas/common/handler.ts)', () => {
  it('builds the handler once, from the environment and clients, on the first invocation', async () => {
    const { logger } = capturedLogger();
    const built: PipelineEnv[] = [];
    const make = vi.fn((env: PipelineEnv, clients: AwsClients) => {
      built.push(env);
      expect(clients.s3).toBeDefined();
      return async (event: unknown) => ({ echoed: event });
    });
    const handler = lambdaHandler(logger, make, () => ENV);
    expect(make).not.toHaveBeenCalled();

    expect(await handler('a', context('r-1'))).toEqual({ echoed: 'a' });
    expect(await handler('b', context('r-2'))).toEqual({ echoed: 'b' });

    expect(make).toHaveBeenCalledTimes(1);
    expect(built[0]).toMatchObject({ pipelineName: 'ingest', controlBucket: 'control', region: 'eu-west-1' });
  });

  it('adds each invocation context to the log: request id, function name, cold start on the first only', async () => {
    const { logger, lines } = capturedLogger();
    const handler = lambdaHandler(
      logger,
      () => async () => {
        logger.info('work');
        return null;
      },
      () => ENV,
    );

    await handler({}, context('req-first'));
    await handler({}, context('req-second'));

    expect(lines()).toEqual([
      expect.objectContaining({
        message: 'work',
        function_request_id: 'req-first',
        function_name: 'ingest-normalize',
        cold_start: true,
      }),
      expect.objectContaining({ message: 'work', function_request_id: 'req-second', cold_start: false }),
    ]);
  });

  it('works without a context (tests and direct calls), logging without request id', async () => {
    const { logger, lines } = capturedLogger();
    const handler = lambdaHandler(
      logger,
      () => async (event: unknown) => {
        logger.info('work');
        return event;
      },
      () => ENV,
    );

    expect(await handler(7)).toBe(7);
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).not.toHaveProperty('function_request_id');
  });

  it('fails the invocation, not the import, when the environment lacks a variable', async () => {
    const { logger } = capturedLogger();
    const { CONTROL_BUCKET: _, ...partial } = ENV;
    const handler = lambdaHandler(
      logger,
      () => async () => null,
      () => partial,
    );
    await expect(handler({}, context('r'))).rejects.toThrow(ConfigurationError);
  });
});
