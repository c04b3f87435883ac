import { describe, expect, it } from 'vitest';
import { parseNormalizeEvent } from '../../lambdas/normalize/handler';
import { LIMITS } from '../../lib/config/validate';
import type { BatchFile } from '../../lib/contracts/batch';
import { pipeInputTemplate, renderPipeTemplate } from '../../lib/contracts/pipe';
import { fitsPipeTarget, PIPE_STEP_FUNCTIONS_PAYLOAD_LIMIT } from '../../local/limits';

/**
 * An SQS record as the Pipe receives it: the body is the EventBridge event S3 emitted, shaped
 * as the Amazon S3 User Guide's "EventBridge event message structure" shows an Object Created
 * event (ev-events.html): `time` on the envelope, `sequencer` on `detail.object`.
 */
function record(
  key: string,
  versionId?: string,
  landing: { time?: string; sequencer?: string; bucket?: string } = {},
): { messageId: string; body: string } {
  const bucket = landing.bucket ?? 'landing-bucket';
  return {
    messageId: 'm1',
    body: JSON.stringify({
      version: '0',
      id: '17793124-05d4-b198-2fde-7ededc63b103',
      'detail-type': 'Object Created',
      source: 'aws.s3',
      account: '111122223333',
      time: landing.time ?? '2021-11-12T00:00:00Z',
      region: 'ca-central-1',
      resources: [`arn:aws:s3:::${bucket}`],
      detail: {
        version: '0',
        bucket: { name: bucket },
        object: {
          key,
          size: 755423,
          etag: 'b1946ac92492d2347c6235b4d2611184',
          ...(versionId ? { 'version-id': versionId } : {}),
          sequencer: landing.sequencer ?? '00617F08299329D189',
        },
        'request-id': 'N4N7GDK58NMKJ12R',
        requester: '123456789012',
        'source-ip-address': '1.2.3.4',
        reason: 'PutObject',
      },
    }),
  };
}

describe('the Pipe input template', () => {
  it('renders one batch file per S3 event, keeping the key as S3 encoded it, with the event time and sequencer', () => {
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
      eventTime: '2021-11-12T00:00:00Z',
      sequencer: '00617F08299329D189',
    } satisfies BatchFile);
  });

  it('renders an unversioned object with an empty version id', () => {
    expect(renderPipeTemplate(pipeInputTemplate('x'), record('x/a.csv'))).toMatchObject({ versionId: '' });
  });

  it('renders an event without a sequencer with an empty one, which the normalizer accepts (ordered as all zeros)', () => {
    const body = JSON.parse(record('x/a.csv', 'v').body);
    delete body.detail.object.sequencer;
    const rendered = renderPipeTemplate(pipeInputTemplate('x'), {
      messageId: 'm',
      body: JSON.stringify(body),
    });
    expect(rendered).toMatchObject({ sequencer: '', eventTime: '2021-11-12T00:00:00Z' });
    expect(parseNormalizeEvent({ dataset: 'x', file: rendered }).file.sequencer).toBe('');
  });

  it('escapes quotes and backslashes inside string values', () => {
    expect(renderPipeTemplate(pipeInputTemplate('x'), record('x/a"b\\c.csv', 'v'))).toMatchObject({
      key: 'x/a"b\\c.csv',
    });
  });

  it('renders what the Normalize handler parses: event time and sequencer reach the normalizer unchanged', () => {
    const rendered = renderPipeTemplate(
      pipeInputTemplate('cloud_billing'),
      record('cloud_billing/a.csv', 'v1', { time: '2024-09-01T10:00:00Z', sequencer: '0066D43A8B2F1E0A7C' }),
    );
    expect(parseNormalizeEvent({ dataset: 'cloud_billing', file: rendered }).file).toEqual({
      dataset: 'cloud_billing',
      bucket: 'landing-bucket',
      key: 'cloud_billing/a.csv',
      versionId: 'v1',
      size: 755423,
      eventTime: '2024-09-01T10:00:00Z',
      sequencer: '0066D43A8B2F1E0A7C',
    });
  });

  it(`keeps a batch of ${LIMITS.maxBatchSize} rendered events with long keys and version ids under the Step Functions target's 262,144 characters and bytes, with margin`, () => {
    // Keys as long as real billing exports get (about 110 characters), S3 version ids (67
    // characters here; S3 writes up to about that), sequencers of 18 hexadecimal characters, and
    // a bucket name of 63 characters (the longest S3 allows; CloudFormation names the landing
    // bucket `<stack>-landing<hash>-<suffix>`, cut at 63).
    const bucket = `ingestionpipeline-landing1a2b3c4d-${'x'.repeat(63 - 34)}`;
    const batch = Array.from({ length: LIMITS.maxBatchSize }, (_, i) =>
      renderPipeTemplate(
        pipeInputTemplate('cloud_billing'),
        record(
          `cloud_billing/aws/payer-123456789012/2024/09/billing-export-2024-09-hourly-detail-part-${String(i).padStart(5, '0')}.csv.gz`,
          `3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLU${String(i).padStart(4, '0')}`,
          {
            time: '2024-09-30T23:59:59Z',
            sequencer: (0x0066fb3b7f1a2b3c4dn + BigInt(i)).toString(16).toUpperCase().padStart(18, '0'),
            bucket,
          },
        ),
      ),
    );
    const json = JSON.stringify(batch);

    expect(bucket).toHaveLength(63);
    expect(fitsPipeTarget(json)).toBe(true);
    // Measured: 187,501 bytes (72% of the limit; 375 bytes a file, of which 68 are the event
    // time and sequencer with their field names: 153,501 bytes without them).
    expect(Buffer.byteLength(json)).toBeLessThan(0.75 * PIPE_STEP_FUNCTIONS_PAYLOAD_LIMIT);
  });
});
