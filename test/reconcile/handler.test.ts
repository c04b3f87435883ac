import { GlueClient } from '@aws-sdk/client-glue';
import { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '../../lambdas/normalize/errors';
import { UnknownDatasetError } from '../../lambdas/reconcile/errors';
import { makeReconcileHandler, parseReconcileEvent } from '../../lambdas/reconcile/handler';

describe('parseReconcileEvent', () => {
  it('accepts the three actions the state machine sends', () => {
    expect(parseReconcileEvent({ action: 'progress', dataset: 'd', files: [] })).toEqual({
      action: 'progress',
      dataset: 'd',
      files: [],
    });
    expect(
      parseReconcileEvent({
        action: 'progress',
        dataset: 'd',
        files: [],
        previous: { round: 1, remainingObjects: 2 },
      }),
    ).toMatchObject({ previous: { round: 1, remainingObjects: 2 } });
    expect(
      parseReconcileEvent({ action: 'reconcile', dataset: 'd', executionId: 'arn:x', files: [] }),
    ).toMatchObject({
      action: 'reconcile',
      executionId: 'arn:x',
    });
    expect(
      parseReconcileEvent({ action: 'schema-drift', dataset: 'd', executionId: 'arn:x', files: [] }),
    ).toMatchObject({ action: 'schema-drift' });
  });

  it.each([
    ['no files', { action: 'progress', dataset: 'd' }],
    ['a file without key', { action: 'progress', dataset: 'd', files: [{ status: 'normalized' }] }],
    [
      'a malformed previous progress',
      { action: 'progress', dataset: 'd', files: [], previous: { round: 'x' } },
    ],
    ['reconcile without executionId', { action: 'reconcile', dataset: 'd', files: [] }],
    ['schema-drift without executionId', { action: 'schema-drift', dataset: 'd', files: [] }],
    ['an unknown action', { action: 'compact', dataset: 'd', files: [] }],
    ['null', null],
  ])('rejects %s with InvalidEventError', (_name, event) => {
    expect(() => parseReconcileEvent(event)).toThrow(InvalidEventError);
  });
});

describe('reconcile handler', () => {
  it('fails with UnknownDatasetError for a dataset that is not configured', async () => {
    const env = {
      pipelineName: 'p1',
      landingBucket: 'l',
      normalizedBucket: 'n',
      curatedBucket: 'c',
      quarantineBucket: 'q',
      controlBucket: 'ctl',
      glueDatabase: 'p1',
      endpointUrl: 'http://127.0.0.1:9',
      region: 'us-east-1',
    };
    const handler = makeReconcileHandler(env, {
      s3: new S3Client({ region: 'us-east-1' }),
      glue: new GlueClient({ region: 'us-east-1' }),
    });

    await expect(handler({ action: 'progress', dataset: 'nope', files: [] })).rejects.toBeInstanceOf(
      UnknownDatasetError,
    );
  });
});
