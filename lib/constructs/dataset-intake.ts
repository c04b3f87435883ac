import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as pipes from 'aws-cdk-lib/aws-pipes';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { ResolvedDataset } from '../config/types';
import { pipeInputTemplate } from '../contracts/pipe';
import { secureQueue } from './secure-queue';

export interface DatasetIntakeProps {
  readonly dataset: ResolvedDataset;
  readonly landingBucket: s3.IBucket;
  readonly stateMachine: sfn.IStateMachine;
}

/**
 * How a dataset's dropped files reach the state machine: an EventBridge rule on the landing
 * bucket's `Object Created` events under the dataset prefix, an SQS buffer queue (with a
 * dead-letter queue) and an EventBridge Pipe that batches messages (batch size and window
 * from the dataset config) into one execution. A burst of 2,000 files becomes a handful of
 * executions, not 2,000. One intake per dataset, so datasets never wait for each other.
 */
export class DatasetIntake extends Construct {
  public readonly rule: events.Rule;
  public readonly queue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  public readonly pipe: pipes.CfnPipe;
  public readonly pipeRole: iam.Role;
  /** Where the Pipe logs what fails (a StartExecution refused, a payload too large). */
  public readonly pipeLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: DatasetIntakeProps) {
    super(scope, id);
    const { dataset } = props;
    this.deadLetterQueue = secureQueue(this, 'Dlq');
    this.queue = secureQueue(this, 'Buffer', {
      retentionPeriod: Duration.days(4),
      visibilityTimeout: Duration.minutes(5),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 5 },
    });
    this.rule = new events.Rule(this, 'ObjectCreated', {
      description: `Files dropped under ${dataset.landingPrefix} of the landing bucket`,
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [props.landingBucket.bucketName] },
          object: { key: [{ prefix: dataset.landingPrefix }] },
        },
      },
      targets: [new targets.SqsQueue(this.queue, { deadLetterQueue: this.deadLetterQueue })],
    });

    this.pipeRole = new iam.Role(this, 'PipeRole', {
      assumedBy: new iam.ServicePrincipal('pipes.amazonaws.com'),
      description: `Pipe from the ${dataset.name} buffer queue to the state machine`,
    });
    this.pipeRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
        resources: [this.queue.queueArn],
      }),
    );
    this.pipeRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['states:StartExecution'],
        resources: [props.stateMachine.stateMachineArn],
      }),
    );
    // Without a log configuration a failed StartExecution (throttled, payload over 256 KiB,
    // access denied) is invisible: the messages only reach the dead-letter queue later. ERROR
    // logs each failure with its error; execution data (the batch: file keys) is left out.
    this.pipeLogGroup = new logs.LogGroup(this, 'PipeLogs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // What the CDK's Pipes L2 grants for a CloudWatch Logs destination (logGroup.grantWrite).
    this.pipeLogGroup.grantWrite(this.pipeRole);
    this.pipe = new pipes.CfnPipe(this, 'Pipe', {
      description: `Batches ${dataset.name} files into state machine executions`,
      roleArn: this.pipeRole.roleArn,
      source: this.queue.queueArn,
      sourceParameters: {
        sqsQueueParameters: {
          batchSize: dataset.batching.batchSize,
          maximumBatchingWindowInSeconds: dataset.batching.windowSeconds,
        },
      },
      target: props.stateMachine.stateMachineArn,
      targetParameters: {
        stepFunctionStateMachineParameters: { invocationType: 'FIRE_AND_FORGET' },
        inputTemplate: pipeInputTemplate(dataset.name),
      },
      logConfiguration: {
        level: 'ERROR',
        cloudwatchLogsLogDestination: { logGroupArn: this.pipeLogGroup.logGroupArn },
      },
    });
    this.pipe.node.addDependency(this.pipeRole);
  }
}
