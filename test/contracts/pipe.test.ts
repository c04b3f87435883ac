import { describe, expect, it } from 'vitest';
import { pipeInputTemplate, renderPipeTemplate } from '../../lib/contracts/pipe';

/** An SQS record as the Pipe receives it: the body is the EventBridge event S3 emitted. */
function record(key: string, versionId?: string) {
  return {
    messageId: 'm1',
    body: JSON.stringify({
      version: '0',
      'detail-type': 'Object Created',
      source: 'aws.s3',
      time: '2026-11-22T00:00:00Z',
      detail: {
        bucket: { name: 'landing-bucket' },
        object: {
          key,
          size: 755423,
          etag: 'abc',
          ...(versionId ? { 'version-id': versionId } : {}),
          sequencer: '00',
        },
      },
    }),
  };
}

describe('the Pipe input template', () => {
  it('renders one batch file per S3 event, keeping the key as S3 encoded it', () => {
    expect(
      renderPipeTemplate(
        pipeInputTemplate('cloud_billing'),
        record('cloud_billing/2024+09/focus%22sample.csv', 'v1'),
      ),
    ).toEqual({
      dataset: 'cloud_billing',
      bucket: 'landing-bucket',
      key: 'cloud_billing/2024+09/focus%22sample.csv',
      versionId: 'v1',
      size: 755423,
    });
  });

  it('renders an unversioned object with an empty version id', () => {
    expect(renderPipeTemplate(pipeInputTemplate('x'), record('x/a.csv'))).toMatchObject({ versionId: '' });
  });

  it('escapes quotes and backslashes inside string values', () => {
    expect(renderPipeTemplate(pipeInputTemplate('x'), record('x/a"b\\c.csv', 'v'))).toMatchObject({
      key: 'x/a"b\\c.csv',
    });
  });
});
