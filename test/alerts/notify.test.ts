import { CreateBucketCommand } from '@aws-sdk/client-s3';
import type { PublishCommandInput, SNSClient } from '@aws-sdk/client-sns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAlertData } from '../../lambdas/common/alerts';
import type { PipelineEnv } from '../../lambdas/common/env';
import { putJson } from '../../lambdas/common/s3';
import { InvalidEventError } from '../../lambdas/normalize/errors';
import {
  backstopAlertInput,
  makeNotifyHandler,
  type NotifyResponse,
  parseNotifyEvent,
} from '../../lambdas/notify/handler';
import {
  type AlertReceipt,
  type ExecutionStatusChangeEvent,
  type FailureAlertMarker,
  failureAlertMarkerKey,
} from '../../lib/contracts/alerts';
import { startTestAws, type TestAws } from '../reconcile/fixtures';

const EXECUTION = 'arn:aws:states:us-west-2:123456789012:execution:demo-ingestion:b1';
const TOPIC = 'arn:aws:sns:us-west-2:123456789012:alerts';
let aws: TestAws;
let executions = 0;

beforeAll(async () => {
  aws = await startTestAws();
});

afterAll(async () => {
  await aws?.emulator.stop();
});

/** An SNS client that records what is published (or refuses it, like a throttled topic). */
class RecordingSns {
  readonly published: PublishCommandInput[] = [];
  refuse: Error | undefined;
  async send(command: { input: PublishCommandInput }) {
    if (this.refuse) throw this.refuse;
    this.published.push(command.input);
    return { MessageId: `m-${this.published.length}` };
  }
}

interface Setup {
  readonly env: PipelineEnv;
  readonly sns: RecordingSns;
  readonly notify: (event: unknown) => Promise<NotifyResponse>;
}

async function setup(): Promise<Setup> {
  const base = await aws.newEnv();
  const quarantineBucket = `${base.controlBucket}-q`;
  await aws.s3.send(new CreateBucketCommand({ Bucket: quarantineBucket }));
  const env: PipelineEnv = { ...base, quarantineBucket, alertTopicArn: TOPIC, region: 'us-west-2' };
  const sns = new RecordingSns();
  const notify = makeNotifyHandler(env, { s3: aws.s3, sns: sns as unknown as SNSClient });
  return { env, sns, notify };
}

const execution = () => `${EXECUTION}-${++executions}`;
const nameOf = (arn: string) => arn.split(':').pop()!;

describe('notify: failure alerts from the state machine', () => {
  it('publishes the failure alert with its attributes, returns only a receipt and records that it alerted', async () => {
    const { env, sns, notify } = await setup();
    const executionId = execution();

    const receipt = (await notify({
      kind: 'failure',
      dataset: 'cloud_billing',
      stage: 'cloud_billing.RunEtl',
      executionId,
      error: { Error: 'States.TaskFailed', Cause: '{"JobRunState":"FAILED","ErrorMessage":"boom"}' },
      files: [{ dataset: 'cloud_billing', bucket: 'landing', key: 'cloud_billing/a.csv', versionId: 'v1' }],
      notices: {},
    })) as AlertReceipt;

    expect(receipt).toEqual({
      kind: 'failure',
      severity: 'critical',
      subject: '[cloud_billing] failed at cloud_billing.RunEtl: States.TaskFailed',
      published: true,
      messageId: 'm-1',
    });
    const [message] = sns.published;
    expect(message).toMatchObject({ TopicArn: TOPIC, Subject: receipt.subject });
    expect(message!.MessageAttributes).toEqual({
      severity: { DataType: 'String', StringValue: 'critical' },
      dataset: { DataType: 'String', StringValue: 'cloud_billing' },
      kind: { DataType: 'String', StringValue: 'failure' },
    });
    expect(message!.Message).toContain('Console: https://us-west-2.console.aws.amazon.com/states/home');
    expect(parseAlertData(message!.Message!)).toMatchObject({
      stage: 'cloud_billing.RunEtl',
      files: [{ key: 'cloud_billing/a.csv', versionId: 'v1' }],
    });
    const marker = await aws.read<FailureAlertMarker>(
      env.controlBucket,
      failureAlertMarkerKey(nameOf(executionId)),
    );
    expect(marker).toMatchObject({ executionArn: executionId, messageId: 'm-1', by: 'state-machine' });
  });

  it('throws AlertPublishError when SNS refuses a failure alert, and records no marker', async () => {
    const { env, sns, notify } = await setup();
    sns.refuse = Object.assign(new Error('Rate exceeded'), { name: 'ThrottledException' });
    const executionId = execution();

    await expect(
      notify({ kind: 'failure', dataset: 'd', stage: 's', executionId, error: { Error: 'E' } }),
    ).rejects.toMatchObject({ name: 'AlertPublishError' });
    expect(await aws.read(env.controlBucket, failureAlertMarkerKey(nameOf(executionId)))).toBeUndefined();
  });

  it('names the failed files, what to do with them, and the notices that were not published', async () => {
    const { sns, notify } = await setup();

    await notify({
      kind: 'failure',
      dataset: 'cloud_billing',
      stage: 'cloud_billing.Normalize',
      executionId: execution(),
      error: { Error: 'FilesFailedError', Cause: '1 file(s) of the batch could not be normalized' },
      files: [
        { status: 'normalized', key: 'cloud_billing/good.csv', versionId: 'v1', sourceId: 's1' },
        {
          status: 'failed',
          key: 'cloud_billing/throttled.csv',
          versionId: 'v2',
          sourceId: '',
          errorName: 'Lambda.TooManyRequestsException',
          reason: 'not normalized after retries (Lambda.TooManyRequestsException)',
        },
      ],
      notices: {
        schemaDrift: {
          changed: true,
          alert: { kind: 'schema_drift', published: false, error: 'KMS.KMSThrottlingException: slow' },
        },
        quarantine: { Error: 'Lambda.Unknown', Cause: 'out of memory' },
        discrepancy: null,
      },
    });

    const message = sns.published[0]!.Message!;
    expect(message).toContain('cloud_billing/throttled.csv (version v2): failed');
    expect(message).toContain('Reason: not normalized after retries (Lambda.TooManyRequestsException)');
    expect(message).toContain('Drop the failed files again');
    expect(message).toContain('NOTICES NOT PUBLISHED');
    expect(message).toContain('- schemaDrift: KMS.KMSThrottlingException: slow');
    expect(message).toContain('- quarantine: Lambda.Unknown: out of memory');
    expect(parseAlertData(message).noticesNotPublished).toHaveLength(2);
  });
});

describe('notify: notices read the reasons the compact state leaves out', () => {
  it('quarantine: reads each quarantined file’s reason document and publishes; SNS failure is a receipt, not a throw', async () => {
    const { env, sns, notify } = await setup();
    await putJson(aws.s3, env.quarantineBucket, 'files/workforce_capacity/sid1/reason.json', {
      reason: 'unknown_template',
      errorName: 'UnknownTemplateError',
      detail: 'header matches no template of workforce_capacity; closest template: org_roster',
    });
    const event = {
      kind: 'quarantine',
      dataset: 'workforce_capacity',
      executionId: execution(),
      files: [
        {
          status: 'quarantined',
          dataset: 'workforce_capacity',
          key: 'workforce_capacity/team.csv',
          versionId: 'v1',
          sourceId: 'sid1',
          errorName: 'UnknownTemplateError',
        },
      ],
    };

    const receipt = (await notify(event)) as AlertReceipt;

    expect(receipt).toMatchObject({
      kind: 'quarantine',
      published: true,
      subject: '[workforce_capacity] 1 file quarantined',
    });
    expect(sns.published[0]!.Message).toContain(
      'Reason: unknown_template: header matches no template of workforce_capacity; closest template: org_roster',
    );
    expect(sns.published[0]!.Message).toContain(
      `s3://${env.quarantineBucket}/files/workforce_capacity/sid1/`,
    );

    sns.refuse = Object.assign(new Error('KMS key disabled'), { name: 'KMSDisabledException' });
    expect(await notify(event)).toMatchObject({
      published: false,
      error: 'KMSDisabledException: KMS key disabled',
    });
  });

  it('unknown_template: reads each flagged file’s closest template and unmatched headers from its manifest', async () => {
    const { env, sns, notify } = await setup();
    await putJson(aws.s3, env.controlBucket, 'manifests/workforce_capacity/sid2.json', {
      unknownTemplate: {
        detail: 'header matches no template; closest template: org_roster; unmatched headers: "Team"',
      },
    });

    await notify({
      kind: 'unknown_template',
      dataset: 'workforce_capacity',
      executionId: execution(),
      files: [
        {
          status: 'normalized',
          key: 'workforce_capacity/team.csv',
          versionId: 'v1',
          dataset: 'workforce_capacity',
          sourceId: 'sid2',
          rows: 3,
          rejectedRows: 0,
          flag: 'unknown_template',
        },
      ],
    });

    // The compact state names no manifest: notify derives it from dataset and source id.
    expect(sns.published[0]!.Message).toContain('unmatched headers: "Team"');
    expect(sns.published[0]!.Message).toContain('manifest manifests/workforce_capacity/sid2.json');
    expect(sns.published[0]!.MessageAttributes?.kind?.StringValue).toBe('unknown_template');
  });
});

function statusChange(
  executionArn: string,
  status: ExecutionStatusChangeEvent['detail']['status'],
  extra: Partial<ExecutionStatusChangeEvent['detail']> = {},
): ExecutionStatusChangeEvent {
  return {
    source: 'aws.states',
    'detail-type': 'Step Functions Execution Status Change',
    detail: {
      executionArn,
      stateMachineArn: 'arn:aws:states:us-west-2:123456789012:stateMachine:demo-ingestion',
      name: nameOf(executionArn),
      status,
      input: JSON.stringify([
        { dataset: 'cloud_billing', bucket: 'landing', key: 'cloud_billing/a.csv', versionId: 'v1', size: 3 },
      ]),
      inputDetails: { included: true },
      ...extra,
    },
  };
}

describe('notify: the backstop on execution status changes', () => {
  it('alerts for an execution that failed where no Catch sees (States.DataLimitExceeded), naming its batch', async () => {
    const { env, sns, notify } = await setup();
    const executionId = execution();

    const receipt = await notify(
      statusChange(executionId, 'FAILED', {
        error: 'States.DataLimitExceeded',
        cause:
          'The state/task returned a result with a size exceeding the maximum number of bytes service limit.',
      }),
    );

    expect(receipt).toMatchObject({ kind: 'failure', published: true });
    expect(sns.published[0]!.Subject).toBe('[cloud_billing] execution FAILED: States.DataLimitExceeded');
    expect(sns.published[0]!.Message).toContain('this alert comes from the EventBridge backstop');
    expect(sns.published[0]!.Message).toContain('cloud_billing/a.csv (version v1)');
    expect(
      await aws.read<FailureAlertMarker>(env.controlBucket, failureAlertMarkerKey(nameOf(executionId))),
    ).toMatchObject({ by: 'backstop' });
    // EventBridge may deliver the event again: the marker keeps it to one alert.
    expect(
      await notify(statusChange(executionId, 'FAILED', { error: 'States.DataLimitExceeded' })),
    ).toMatchObject({
      skipped: true,
    });
    expect(sns.published).toHaveLength(1);
  });

  it('does not alert again for an execution whose failure path already published its alert', async () => {
    const { sns, notify } = await setup();
    const executionId = execution();
    await notify({
      kind: 'failure',
      dataset: 'cloud_billing',
      stage: 's',
      executionId,
      error: { Error: 'E' },
    });

    const second = await notify(statusChange(executionId, 'FAILED', { error: 'E', cause: 'c' }));

    expect(second).toMatchObject({ skipped: true });
    expect(sns.published).toHaveLength(1);
  });

  it('alerts for timed-out and aborted executions, not for one that succeeded with every notice sent', async () => {
    const { sns, notify } = await setup();

    await notify(statusChange(execution(), 'TIMED_OUT'));
    await notify(statusChange(execution(), 'ABORTED'));
    const output = {
      dataset: 'cloud_billing',
      files: [],
      notices: { schemaDrift: { changed: false, alert: null } },
    };
    expect(
      await notify(statusChange(execution(), 'SUCCEEDED', { output: JSON.stringify(output) })),
    ).toMatchObject({
      skipped: true,
      reason: 'every notice was published',
    });
    expect(await notify(statusChange(execution(), 'RUNNING'))).toMatchObject({ skipped: true });

    expect(sns.published.map((p) => p.Subject)).toEqual([
      '[cloud_billing] execution TIMED_OUT: States.Timeout',
      '[cloud_billing] execution ABORTED: ExecutionAborted',
    ]);
  });

  it('alerts once for an execution that succeeded (batch merged) with a notice it could not publish', async () => {
    const { sns, notify } = await setup();
    const executionId = execution();
    const output = {
      dataset: 'cloud_billing',
      files: [
        {
          status: 'normalized',
          dataset: 'cloud_billing',
          key: 'cloud_billing/a.csv',
          versionId: 'v1',
          sourceId: 's1',
          rows: 3,
        },
      ],
      notices: {
        schemaDrift: {
          changed: true,
          alert: { kind: 'schema_drift', published: false, error: 'KMSThrottlingException: Rate exceeded' },
        },
        quarantine: { Error: 'Lambda.Unknown', Cause: 'out of memory' },
      },
    };
    const event = statusChange(executionId, 'SUCCEEDED', { output: JSON.stringify(output) });

    const receipt = await notify(event);
    const again = await notify(event);

    expect(receipt).toMatchObject({ kind: 'failure', published: true });
    expect(again).toMatchObject({ skipped: true });
    expect(sns.published).toHaveLength(1);
    expect(sns.published[0]!.Subject).toBe('[cloud_billing] notices not published (schemaDrift, quarantine)');
    const message = sns.published[0]!.Message!;
    expect(message).toContain(
      'merged and reconciled its batch, but some of its notices could not be published',
    );
    expect(message).toContain('- schemaDrift: KMSThrottlingException: Rate exceeded');
    expect(message).toContain('cloud_billing/a.csv (version v1) [normalized]');
  });

  it('alerts for a restatement notice that was not published, once the state machine keeps its receipt in $.notices', async () => {
    const { sns, notify } = await setup();
    const output = {
      dataset: 'workforce_capacity',
      files: [],
      notices: {
        discrepancy: null,
        restatement: {
          kind: 'restatement',
          severity: 'info',
          subject: '[workforce_capacity] 1 file replaced 3 rows',
          published: false,
          error: 'ThrottledException: Rate exceeded',
        },
      },
    };

    const receipt = await notify(statusChange(execution(), 'SUCCEEDED', { output: JSON.stringify(output) }));

    expect(receipt).toMatchObject({ kind: 'failure', published: true });
    expect(sns.published[0]!.Subject).toBe('[workforce_capacity] notices not published (restatement)');
    expect(sns.published[0]!.Message).toContain('- restatement: ThrottledException: Rate exceeded');
  });

  it('skips a succeeded execution whose output EventBridge left out (over 248 KB)', async () => {
    const { sns, notify } = await setup();
    expect(
      await notify(
        statusChange(execution(), 'SUCCEEDED', { output: null, outputDetails: { included: false } }),
      ),
    ).toMatchObject({ skipped: true });
    expect(sns.published).toEqual([]);
  });

  it('throws when the backstop alert cannot be published, so Lambda retries it and then dead-letters it', async () => {
    const { sns, notify } = await setup();
    sns.refuse = new Error('unavailable');

    await expect(notify(statusChange(execution(), 'TIMED_OUT'))).rejects.toMatchObject({
      name: 'AlertPublishError',
    });
  });

  it('says when EventBridge left the batch out of the event (input over 248 KB)', () => {
    const input = backstopAlertInput(
      statusChange(EXECUTION, 'TIMED_OUT', { input: null, inputDetails: { included: false } }),
    );
    expect(input).toMatchObject({ dataset: 'unknown', files: [] });
    expect(input.error.Cause).toContain('batch input too large to include');
  });
});

describe('parseNotifyEvent', () => {
  it.each([
    ['no executionId', { kind: 'failure', stage: 's', error: { Error: 'E' } }],
    ['failure without error', { kind: 'failure', stage: 's', executionId: 'x' }],
    ['quarantine without files', { kind: 'quarantine', dataset: 'd', executionId: 'x' }],
    ['a file without key', { kind: 'quarantine', dataset: 'd', executionId: 'x', files: [{}] }],
    ['unknown kind', { kind: 'other', dataset: 'd', executionId: 'x' }],
    ['unknown_template without files', { kind: 'unknown_template', dataset: 'd', executionId: 'x' }],
  ])('rejects %s with InvalidEventError', (_name, event) => {
    expect(() => parseNotifyEvent(event)).toThrow(InvalidEventError);
  });

  it('defaults a missing dataset to "unknown" for failures', () => {
    expect(
      parseNotifyEvent({ kind: 'failure', stage: 's', executionId: 'x', error: { Error: 'E' } }),
    ).toMatchObject({ dataset: 'unknown' });
  });

  it('fails fast without ALERT_TOPIC_ARN', async () => {
    const { env } = await setup();
    const notify = makeNotifyHandler(
      { ...env, alertTopicArn: undefined },
      {
        s3: aws.s3,
        sns: new RecordingSns() as unknown as SNSClient,
      },
    );
    await expect(notify(statusChange(execution(), 'FAILED'))).rejects.toMatchObject({
      name: 'ConfigurationError',
    });
  });
});
