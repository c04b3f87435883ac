import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Alert, AlertReceipt } from '../../lib/contracts/alerts';
import { alertMessageAttributes } from './alerts';
import { ConfigurationError, type PipelineEnv } from './env';

/** The alert topic from the environment; a handler that publishes cannot work without it. */
export function alertTopicOf(env: Pick<PipelineEnv, 'alertTopicArn'>): string {
  if (!env.alertTopicArn) {
    throw new ConfigurationError('environment variable ALERT_TOPIC_ARN is required but not set');
  }
  return env.alertTopicArn;
}

/**
 * Publishes an alert (subject, message and the `severity`/`dataset`/`kind` attributes
 * subscribers filter on) and returns a small receipt. SNS errors that survive the SDK's own
 * retries are not thrown: the receipt says `published: false` and why, so the caller can put
 * the receipt in the execution state and the state machine decides (a notice that was not
 * sent ends the execution FAILED after the data is merged; see docs/reconciliation.md).
 */
export async function publishAlert(sns: SNSClient, topicArn: string, alert: Alert): Promise<AlertReceipt> {
  const head = { kind: alert.kind, severity: alert.severity, subject: alert.subject };
  try {
    const response = await sns.send(
      new PublishCommand({
        TopicArn: topicArn,
        Subject: alert.subject,
        Message: alert.message,
        MessageAttributes: alertMessageAttributes(alert),
      }),
    );
    return { ...head, published: true, messageId: response.MessageId ?? '' };
  } catch (error) {
    const e = error as Error;
    return {
      ...head,
      published: false,
      error: `${e?.name ?? 'Error'}: ${e?.message ?? String(error)}`.slice(0, 300),
    };
  }
}

/** Thrown when an alert that must go out (a failure alert) could not be published. */
export class AlertPublishError extends Error {
  override readonly name = 'AlertPublishError';
}
