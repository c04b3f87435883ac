import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface AlertTopicProps {
  readonly masterKey: kms.IKey;
  /** Email addresses subscribed to every alert (they confirm by email). @default none */
  readonly emails?: readonly string[];
}

/** The SNS topic data owners subscribe to: discrepancies, stage failures, quarantines, drift. */
export class AlertTopic extends Construct {
  public readonly topic: sns.Topic;
  private readonly action: cloudwatchActions.SnsAction;

  constructor(scope: Construct, id: string, props: AlertTopicProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'Ingestion pipeline alerts',
      masterKey: props.masterKey,
      enforceSSL: true,
    });
    for (const email of props.emails ?? [])
      this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    this.action = new cloudwatchActions.SnsAction(this.topic);
  }

  /** Routes an alarm's ALARM and OK transitions to the topic. */
  route(alarm: cloudwatch.Alarm): void {
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
  }
}
