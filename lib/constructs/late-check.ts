import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { controlPrefixes } from '../contracts/layout';
import { acknowledgeFindings } from './nag';
import { PipelineFunction } from './pipeline-function';
import { KMS_PUBLISH_ACTIONS } from './pipeline-key';
import { secureQueue } from './secure-queue';

/** Allowed check intervals, in minutes (the `lateCheckMinutes` context key). */
export const LATE_CHECK_MINUTES = { min: 5, max: 1440, default: 60 } as const;

export interface LateCheckProps {
  /** The handlers' common environment (buckets, topic, pipeline name). */
  readonly environment: Record<string, string>;
  /** Where the arrival records and the findings are. */
  readonly controlBucket: s3.IBucket;
  /** Where `late` and `recovered` alerts go, and the key it is encrypted with. */
  readonly topic: sns.ITopic;
  readonly topicKey: kms.IKey;
  /** How often the check runs. @default 60 minutes */
  readonly interval?: Duration;
}

/**
 * The scheduled late-data check (docs/operations.md, "Expected arrivals"): the `late` handler,
 * invoked by an EventBridge Scheduler schedule every `interval` with the scheduled time as its
 * `now`, retried and dead-lettered by the schedule. Its role reads the arrival records, keeps the
 * late findings, and publishes to the alert topic; nothing else.
 */
export class LateCheck extends Construct {
  public readonly handler: PipelineFunction;
  public readonly schedule: scheduler.Schedule;
  /** Invocations the schedule could not deliver after its retries. */
  public readonly deadLetterQueue: sqs.Queue;
  public readonly interval: Duration;
  /** The role EventBridge Scheduler assumes to invoke the check. */
  public readonly scheduleRole: iam.Role;

  constructor(scope: Construct, id: string, props: LateCheckProps) {
    super(scope, id);
    this.interval = props.interval ?? Duration.minutes(LATE_CHECK_MINUTES.default);
    const { controlBucket } = props;
    this.handler = new PipelineFunction(this, 'Handler', {
      handlerName: 'late',
      description: 'Late-data check: expected arrivals against what landed; late and recovered alerts',
      environment: props.environment,
      memorySize: 512,
      timeout: Duration.minutes(5),
    });
    const fn = this.handler;
    fn.grantObjects(controlBucket, ['s3:GetObject'], [controlPrefixes.arrivals]);
    fn.grantObjects(
      controlBucket,
      ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
      [controlPrefixes.lateState],
    );
    // Listing only below the two prefixes it reads (ListBucket turns a missing key into 404, not 403).
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [controlBucket.bucketArn],
        conditions: {
          StringLike: { 's3:prefix': [`${controlPrefixes.arrivals}*`, `${controlPrefixes.lateState}*`] },
        },
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [props.topic.topicArn] }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: KMS_PUBLISH_ACTIONS, resources: [props.topicKey.keyArn] }),
    );

    this.deadLetterQueue = secureQueue(this, 'DeadLetterQueue');
    acknowledgeFindings(
      this.deadLetterQueue,
      'This queue is itself the dead-letter queue of the late-check schedule.',
      'AwsSolutions-SQS3',
    );
    // EventBridge Scheduler retries a failed invocation and then sends it to the dead-letter queue
    // (https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html). An
    // invocation older than one interval is not worth retrying: the next check has started.
    // `<aws.scheduler.scheduled-time>` is replaced with the time the invocation was scheduled for
    // (https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html):
    // every retry of one check evaluates the same instant.
    // The schedule's own role may invoke exactly this function (not its versions or aliases) and
    // send to its dead-letter queue (the execution role sends dead-letter events:
    // https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html).
    this.scheduleRole = new iam.Role(this, 'ScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      description: 'EventBridge Scheduler: invokes the late-data check',
    });
    this.scheduleRole.addToPolicy(
      new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [fn.function.functionArn] }),
    );
    this.scheduleRole.addToPolicy(
      new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.deadLetterQueue.queueArn] }),
    );
    const role = this.scheduleRole;
    const deadLetterArn = this.deadLetterQueue.queueArn;
    const maximumEventAgeInSeconds = Math.max(60, Math.min(this.interval.toSeconds(), 86_400));
    // aws-scheduler-targets' LambdaInvoke grants `lambda:InvokeFunction` on `<arn>:*` too; this
    // target keeps the grant to the one ARN the schedule invokes.
    const target: scheduler.IScheduleTarget = {
      bind: () => ({
        arn: fn.function.functionArn,
        role,
        input: scheduler.ScheduleTargetInput.fromObject({
          action: 'check',
          now: scheduler.ContextAttribute.scheduledTime,
        }),
        retryPolicy: { maximumRetryAttempts: 3, maximumEventAgeInSeconds },
        deadLetterConfig: { arn: deadLetterArn },
      }),
    };
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      schedule: scheduler.ScheduleExpression.rate(this.interval),
      description: `Late-data check every ${this.interval.toMinutes()} minutes (docs/operations.md)`,
      target,
    });
  }
}
