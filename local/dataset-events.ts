/**
 * The DatasetUpdated / DatasetHeld events of a local run (docs/events.md). The reconcile handler
 * puts them on the emulator's default event bus as on AWS (under its role's IAM policy); to show
 * them, the local runtime plays a downstream consumer: a rule on the default bus matching the
 * pipeline's source, delivering to an inbox queue it reads when the run ends. The rule and queue
 * are the local runtime's own (created with the admin key, like the alerts inbox), not the stack's.
 */
import { type EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import {
  DATASET_EVENT_TYPES,
  type DatasetEventType,
  type DatasetHeldDetail,
  type DatasetUpdatedDetail,
  datasetEventSource,
} from '../lib/contracts/dataset-events';

/** An event as a rule's SQS target receives it: the EventBridge envelope with the detail. */
export interface ReceivedDatasetEvent {
  readonly id: string;
  readonly source: string;
  readonly 'detail-type': DatasetEventType;
  readonly time: string;
  readonly detail: DatasetUpdatedDetail | DatasetHeldDetail;
}

/** One line of the run report's `datasetEvents`: one event per execution that reached Reconcile. */
export interface DatasetEventReportEntry {
  readonly dataset: string;
  readonly detailType: DatasetEventType;
  readonly eventId: string;
  readonly execution: string;
  /** The reconciliation's outcome (passed, within_tolerance, pending, failed). */
  readonly reconciliation: string;
  readonly partitionColumn: string;
  readonly partitions: readonly string[];
  /** Rows of the batch in curated as of the snapshot. */
  readonly rows: number;
  readonly changed: boolean;
  readonly snapshotId: string | null;
  /** DatasetHeld: why. */
  readonly reasons?: readonly string[];
}

/** The event pattern of the local consumer's rule: this pipeline's two event types. */
export function inboxPattern(pipeline: string): Record<string, unknown> {
  return { source: [datasetEventSource(pipeline)], 'detail-type': [...DATASET_EVENT_TYPES] };
}

export class DatasetEventInbox {
  private constructor(
    private readonly sqs: SQSClient,
    readonly queueUrl: string,
  ) {}

  /** Creates the inbox queue and the rule that routes the pipeline's events to it. */
  static async provision(
    clients: { readonly events: EventBridgeClient; readonly sqs: SQSClient },
    pipeline: string,
  ): Promise<DatasetEventInbox> {
    const queue = await clients.sqs.send(
      new CreateQueueCommand({ QueueName: `${pipeline}-dataset-event-inbox` }),
    );
    const attributes = await clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl!, AttributeNames: ['QueueArn'] }),
    );
    const rule = `${pipeline}-dataset-events-local-consumer`;
    await clients.events.send(
      new PutRuleCommand({
        Name: rule,
        EventPattern: JSON.stringify(inboxPattern(pipeline)),
        State: 'ENABLED',
      }),
    );
    await clients.events.send(
      new PutTargetsCommand({
        Rule: rule,
        Targets: [{ Id: 'inbox', Arn: attributes.Attributes!.QueueArn! }],
      }),
    );
    return new DatasetEventInbox(clients.sqs, queue.QueueUrl!);
  }

  /** Every event delivered since the last call, in the order of their time, then id. */
  async drain(): Promise<ReceivedDatasetEvent[]> {
    const events: ReceivedDatasetEvent[] = [];
    for (;;) {
      const page = await this.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: this.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      const messages = page.Messages ?? [];
      if (messages.length === 0) break;
      for (const message of messages) events.push(JSON.parse(message.Body ?? '{}') as ReceivedDatasetEvent);
      await this.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    }
    return events.sort(
      (a, b) =>
        a.detail.reconciliation.evaluatedAt.localeCompare(b.detail.reconciliation.evaluatedAt) ||
        a.id.localeCompare(b.id),
    );
  }
}

/** The report's entries of the events received. */
export function reportDatasetEvents(events: readonly ReceivedDatasetEvent[]): DatasetEventReportEntry[] {
  return events.map((event) => {
    const { detail } = event;
    return {
      dataset: detail.dataset,
      detailType: event['detail-type'],
      eventId: event.id,
      execution: detail.executionName,
      reconciliation: detail.reconciliation.status,
      partitionColumn: detail.partitions.column,
      partitions: detail.partitions.values,
      rows: detail.rows.written,
      changed: detail.changed,
      snapshotId: detail.tables[0]?.snapshotId ?? null,
      ...('reasons' in detail ? { reasons: detail.reasons.map((r) => r.message) } : {}),
    };
  });
}

/**
 * The summary line of one event:
 * `DatasetUpdated cloud_billing (partitions 2024-10, 1,234 rows, reconciliation passed)`.
 */
export function datasetEventLine(entry: DatasetEventReportEntry): string {
  const shown = entry.partitions.slice(0, 5).join(', ');
  const partitions =
    entry.partitions.length === 0
      ? 'no partitions'
      : `partition${entry.partitions.length === 1 ? '' : 's'} ${shown}${
          entry.partitions.length > 5 ? ` and ${entry.partitions.length - 5} more` : ''
        }`;
  const reconciliation = `reconciliation ${entry.reconciliation.replace('_', ' ')}`;
  const rows = `${entry.rows.toLocaleString('en-US')} row${entry.rows === 1 ? '' : 's'}`;
  const held = entry.reasons && entry.reasons.length > 0 ? `; held: ${entry.reasons.join(' ')}` : '';
  return `${entry.detailType} ${entry.dataset} (${partitions}, ${rows}, ${reconciliation}${
    entry.changed ? '' : ', nothing new'
  })${held}`;
}
