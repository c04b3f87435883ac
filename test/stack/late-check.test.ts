/**
 * The late-data check in the synthesized template (lib/constructs/late-check.ts): the schedule,
 * its role and target, the function's grants, the dead-letter queue and its alarm.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDatasets } from '../../lib/config';
import type { DatasetConfig } from '../../lib/config/types';
import { DATASET_DEFINITIONS } from '../../lib/datasets';
import { type CfnResource, type CfnTemplate, onlyResourceOfType, resourcesOfType } from '../../local/cfn';
import { referencedId } from '../helpers/dataset-resources';
import { type Synthesized, synthesize } from '../helpers/synth';

let synth: Synthesized;
beforeAll(() => {
  synth = synthesize();
});

interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: unknown;
}

const byHandler = (json: CfnTemplate, handler: string): [string, CfnResource] =>
  resourcesOfType(json, 'AWS::Lambda::Function').find(
    ([, f]) =>
      (f.Properties!.Environment as { Variables?: Record<string, string> } | undefined)?.Variables
        ?.PIPELINE_HANDLER === handler,
  )!;

function statementsOfRole(json: CfnTemplate, role: string): Statement[] {
  return resourcesOfType(json, 'AWS::IAM::Policy')
    .filter(([, p]) => (p.Properties!.Roles as unknown[]).some((r) => referencedId(r) === role))
    .flatMap(([, p]) => (p.Properties!.PolicyDocument as { Statement: Statement[] }).Statement);
}

const controlId = (json: CfnTemplate) =>
  resourcesOfType(json, 'AWS::S3::Bucket').find(([id]) => id.startsWith('ControlBucket'))![0];
const objectsBelow = (json: CfnTemplate, prefix: string) => ({
  'Fn::Join': ['', [{ 'Fn::GetAtt': [controlId(json), 'Arn'] }, `/${prefix}*`]],
});

describe('late-data check schedule', () => {
  it('invokes the late function every 60 minutes with the scheduled time as now, retried, then dead-lettered', () => {
    const [, schedule] = onlyResourceOfType(synth.json, 'AWS::Scheduler::Schedule');
    const [fn] = byHandler(synth.json, 'late');
    const [dlq] = resourcesOfType(synth.json, 'AWS::SQS::Queue').find(([id]) =>
      id.startsWith('LateCheckDeadLetterQueue'),
    )!;
    expect(schedule.Properties).toMatchObject({
      ScheduleExpression: 'rate(1 hour)',
      ScheduleExpressionTimezone: 'Etc/UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: 'ENABLED',
      Target: {
        Arn: { 'Fn::GetAtt': [fn, 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlq, 'Arn'] } },
      },
    });
    const target = schedule.Properties!.Target as { Input: string; RoleArn: unknown };
    expect(JSON.parse(target.Input)).toEqual({ action: 'check', now: '<aws.scheduler.scheduled-time>' });
  });

  it('takes its interval from the lateCheckMinutes context key', () => {
    const [, schedule] = onlyResourceOfType(
      synthesize({ lateCheckMinutes: 15 }).json,
      'AWS::Scheduler::Schedule',
    );
    expect(schedule.Properties).toMatchObject({
      ScheduleExpression: 'rate(15 minutes)',
      Target: { RetryPolicy: { MaximumEventAgeInSeconds: 900 } },
    });
  });

  it("assumes a role that may invoke exactly the function (not its versions) and send to the schedule's DLQ", () => {
    const [, schedule] = onlyResourceOfType(synth.json, 'AWS::Scheduler::Schedule');
    const role = referencedId((schedule.Properties!.Target as { RoleArn: unknown }).RoleArn)!;
    const [fn] = byHandler(synth.json, 'late');
    const [dlq] = resourcesOfType(synth.json, 'AWS::SQS::Queue').find(([id]) =>
      id.startsWith('LateCheckDeadLetterQueue'),
    )!;
    expect(synth.json.Resources[role]!.Properties).toMatchObject({
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Principal: { Service: 'scheduler.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          },
        ],
      },
    });
    expect(statementsOfRole(synth.json, role)).toEqual([
      { Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: { 'Fn::GetAtt': [fn, 'Arn'] } },
      { Action: 'sqs:SendMessage', Effect: 'Allow', Resource: { 'Fn::GetAtt': [dlq, 'Arn'] } },
    ]);
  });

  it('alarms on a message in its dead-letter queue, routed to the alert topic', () => {
    const [dlq] = resourcesOfType(synth.json, 'AWS::SQS::Queue').find(([id]) =>
      id.startsWith('LateCheckDeadLetterQueue'),
    )!;
    const [topic] = onlyResourceOfType(synth.json, 'AWS::SNS::Topic');
    const alarms = resourcesOfType(synth.json, 'AWS::CloudWatch::Alarm').filter(([, a]) =>
      JSON.stringify(a.Properties!.Dimensions ?? []).includes(dlq),
    );
    expect(alarms).toHaveLength(1);
    expect(alarms[0]![1].Properties).toMatchObject({
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 1,
      AlarmActions: [{ Ref: topic }],
    });
  });
});

describe('late-data check function', () => {
  it('reads the arrival records, keeps the late state, lists only those prefixes and publishes alerts: nothing else', () => {
    const [, fn] = byHandler(synth.json, 'late');
    const role = referencedId(fn.Properties!.Role)!;
    const [topic] = onlyResourceOfType(synth.json, 'AWS::SNS::Topic');
    const statements = statementsOfRole(synth.json, role).filter(
      (s) => ![s.Action].flat().some((a) => a.startsWith('logs:') || a.startsWith('xray:')),
    );
    expect(statements).toEqual([
      { Action: 's3:GetObject', Effect: 'Allow', Resource: objectsBelow(synth.json, 'operations/arrivals/') },
      {
        Action: ['s3:DeleteObject', 's3:GetObject', 's3:PutObject'],
        Effect: 'Allow',
        Resource: objectsBelow(synth.json, 'operations/late/'),
      },
      {
        Action: 's3:ListBucket',
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [controlId(synth.json), 'Arn'] },
        Condition: { StringLike: { 's3:prefix': ['operations/arrivals/*', 'operations/late/*'] } },
      },
      { Action: 'sns:Publish', Effect: 'Allow', Resource: { Ref: topic } },
      { Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Effect: 'Allow', Resource: expect.anything() },
    ]);
  });

  it("lets reconcile read each dataset's open findings (for pending cross-template checks), not write them", () => {
    const [, fn] = byHandler(synth.json, 'reconcile');
    const statements = statementsOfRole(synth.json, referencedId(fn.Properties!.Role)!);
    const late = statements.filter((s) => JSON.stringify(s.Resource).includes('operations/late/'));
    expect(late.map((s) => s.Action)).toEqual(['s3:GetObject']);
    const prefixes = JSON.stringify(late[0]!.Resource);
    for (const d of loadDatasets()) expect(prefixes).toContain(`/operations/late/open/${d.name}/*`);
  });

  it('expires the alert claims after 90 days', () => {
    const bucket = synth.json.Resources[controlId(synth.json)]!;
    const rules = (bucket.Properties!.LifecycleConfiguration as { Rules: Record<string, unknown>[] }).Rules;
    expect(rules).toContainEqual(
      expect.objectContaining({
        Id: 'expire-late-alert-claims',
        Prefix: 'operations/late/sent/',
        ExpirationInDays: 90,
      }),
    );
  });

  it('is not deployed when no dataset declares expected arrivals', () => {
    const none = DATASET_DEFINITIONS.map(({ expectedArrivals: _, ...d }) => d as DatasetConfig);
    const { json, stack } = synthesize({}, none);
    expect(resourcesOfType(json, 'AWS::Scheduler::Schedule')).toEqual([]);
    expect(byHandler(json, 'late')).toBeUndefined();
    expect(stack.lateCheck).toBeUndefined();
  });
});
