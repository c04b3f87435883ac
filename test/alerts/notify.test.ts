import { afterEach, describe, expect, it } from 'vitest';
import { parseAlertData } from '../../lambdas/common/alerts';
import { InvalidEventError } from '../../lambdas/normalize/errors';
import { handler, parseNotifyEvent } from '../../lambdas/notify/handler';

const EXECUTION = 'arn:aws:states:us-west-2:123456789012:execution:demo-ingestion:b1';
const saved = { ...process.env };

afterEach(() => {
  process.env = { ...saved };
});

describe('notify handler', () => {
  it('formats a failure alert from the FormatFailureAlert payload (files before Normalize)', async () => {
    process.env.QUARANTINE_BUCKET = 'demo-quarantine';
    const event = {
      kind: 'failure',
      dataset: 'cloud_billing',
      stage: 'cloud_billing.NormalizeFiles',
      executionId: EXECUTION,
      error: { Error: 'States.ExceedToleratedFailureThreshold', Cause: 'too many failures' },
      files: [
        { dataset: 'cloud_billing', bucket: 'landing', key: 'cloud_billing/a.csv', versionId: 'v1', size: 3 },
      ],
    };

    const alert = await handler(event);

    expect(alert).toMatchObject({ kind: 'failure', severity: 'critical', dataset: 'cloud_billing' });
    expect(alert.subject).toBe(
      '[cloud_billing] failed at cloud_billing.NormalizeFiles: States.ExceedToleratedFailureThreshold',
    );
    expect(alert.message).toContain(
      'Console: https://us-west-2.console.aws.amazon.com/states/home?region=us-west-2#/v2/executions/details/',
    );
    expect(parseAlertData(alert.message)).toMatchObject({
      stage: 'cloud_billing.NormalizeFiles',
      files: [{ key: 'cloud_billing/a.csv', versionId: 'v1' }],
    });
  });

  it('formats the invalid-batch failure, where the dataset is "unknown" and files are empty', async () => {
    const alert = await handler({
      kind: 'failure',
      dataset: 'unknown',
      stage: 'ValidateBatch',
      executionId: EXECUTION,
      error: { Error: 'InvalidBatchError', Cause: 'The execution input must be a non-empty array' },
      files: [],
    });

    expect(alert.dataset).toBe('unknown');
    expect(alert.subject).toBe('[unknown] failed at ValidateBatch: InvalidBatchError');
    expect(alert.message).not.toContain('FILES IN THE BATCH');
  });

  it('formats a quarantine alert with S3 locations in the quarantine bucket', async () => {
    process.env.QUARANTINE_BUCKET = 'demo-quarantine';

    const alert = await handler({
      kind: 'quarantine',
      dataset: 'workforce_capacity',
      executionId: EXECUTION,
      files: [
        {
          status: 'normalized',
          dataset: 'workforce_capacity',
          key: 'workforce_capacity/p.csv',
          versionId: 'v1',
          sourceId: 'sid',
          rows: 8,
          rejectedRows: 2,
        },
      ],
    });

    expect(alert).toMatchObject({ kind: 'quarantine', severity: 'warning', dataset: 'workforce_capacity' });
    expect(alert.subject).toBe('[workforce_capacity] 2 rows rejected');
    expect(alert.message).toContain('s3://demo-quarantine/rows/workforce_capacity/sid.jsonl');
  });
});

describe('notify handler, unknown template', () => {
  it('formats the unknown_template warning from the FormatUnknownTemplateAlert payload', async () => {
    const alert = await handler({
      kind: 'unknown_template',
      dataset: 'workforce_capacity',
      executionId: EXECUTION,
      files: [
        {
          status: 'normalized',
          dataset: 'workforce_capacity',
          key: 'workforce_capacity/team.csv',
          versionId: 'v1',
          sourceId: 'sid',
          rows: 3,
          rejectedRows: 0,
          flag: 'unknown_template',
          reason: 'header matches no template of workforce_capacity; closest template: org_roster',
        },
      ],
    });

    expect(alert).toMatchObject({
      kind: 'unknown_template',
      severity: 'warning',
      dataset: 'workforce_capacity',
    });
    expect(alert.message).toContain('closest template: org_roster');
  });

  it('rejects an unknown_template event without files', () => {
    expect(() =>
      parseNotifyEvent({ kind: 'unknown_template', dataset: 'workforce_capacity', executionId: EXECUTION }),
    ).toThrow(InvalidEventError);
  });
});

describe('parseNotifyEvent', () => {
  it.each([
    ['no executionId', { kind: 'failure', stage: 's', error: { Error: 'E' } }],
    ['failure without error', { kind: 'failure', stage: 's', executionId: 'x' }],
    ['quarantine without files', { kind: 'quarantine', dataset: 'd', executionId: 'x' }],
    ['a file without key', { kind: 'quarantine', dataset: 'd', executionId: 'x', files: [{}] }],
    ['unknown kind', { kind: 'other', dataset: 'd', executionId: 'x' }],
  ])('rejects %s with InvalidEventError', (_name, event) => {
    expect(() => parseNotifyEvent(event)).toThrow(InvalidEventError);
  });

  it('defaults a missing dataset to "unknown" for failures', () => {
    expect(
      parseNotifyEvent({ kind: 'failure', stage: 's', executionId: 'x', error: { Error: 'E' } }),
    ).toMatchObject({
      dataset: 'unknown',
    });
  });
});
