import { randomUUID } from 'node:crypto';
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { renderPipeTemplate } from '../lib/contracts/pipe';
import type { CfnTemplate, IntrinsicResolver } from './cfn';
import { resolveIntrinsics, resourcesOfType } from './cfn';
import { ACCOUNT, REGION } from './cloud';

/** An object put into the landing bucket. */
export interface DroppedObject {
  readonly bucket: string;
  readonly key: string;
  readonly versionId: string | null;
  readonly size: number;
  readonly etag: string;
}

/** S3 writes keys into events URL-encoded, `+` for a space, `/` kept. */
export function encodeS3EventKey(key: string): string {
  return key
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/%20/g, '+'))
    .join('/');
}

/** The EventBridge event S3 emits for an object put into a bucket with EventBridge enabled. */
export function objectCreatedEvent(object: DroppedObject, sequence: number): Record<string, unknown> {
  const time = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: ACCOUNT,
    time,
    region: REGION,
    resources: [`arn:aws:s3:::${object.bucket}`],
    detail: {
      version: '0',
      bucket: { name: object.bucket },
      object: {
        key: encodeS3EventKey(object.key),
        size: object.size,
        etag: object.etag.replace(/"/g, ''),
        ...(object.versionId ? { 'version-id': object.versionId } : {}),
        sequencer: sequence.toString(16).toUpperCase().padStart(18, '0'),
      },
      'request-id': randomUUID(),
      requester: ACCOUNT,
      reason: 'PutObject',
    },
  };
}

/** EventBridge pattern matching for what rules use: value lists, `{prefix}`, nesting. */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  if (Array.isArray(pattern)) {
    return pattern.some((candidate) => {
      if (candidate && typeof candidate === 'object' && 'prefix' in candidate) {
        return (
          typeof event === 'string' && event.startsWith(String((candidate as { prefix: string }).prefix))
        );
      }
      return candidate === event;
    });
  }
  if (pattern && typeof pattern === 'object') {
    if (!event || typeof event !== 'object') return false;
    return Object.entries(pattern).every(([key, sub]) =>
      matchesPattern(sub, (event as Record<string, unknown>)[key]),
    );
  }
  return pattern === event;
}

interface RuleRoute {
  readonly pattern: unknown;
  readonly queueArns: string[];
}

interface PipeDefinition {
  readonly sourceArn: string;
  readonly batchSize: number;
  readonly inputTemplate: string;
}

/**
 * The intake as deployed, run against the emulator: events go through the synthesized
 * EventBridge rules into the real (emulated) SQS buffer queues, and each Pipe reads its
 * queue in batches of its BatchSize and renders its InputTemplate per message. The batching
 * window is not waited for: every file of a local run is already in the queue.
 */
export class LocalIntake {
  private readonly rules: RuleRoute[] = [];
  private readonly pipes: PipeDefinition[] = [];
  private sequence = 0;

  constructor(
    template: CfnTemplate,
    resolver: IntrinsicResolver,
    private readonly sqs: SQSClient,
    private readonly queueUrlOfArn: (arn: string) => string,
  ) {
    for (const [, rule] of resourcesOfType(template, 'AWS::Events::Rule')) {
      const props = resolveIntrinsics(rule.Properties, resolver) as {
        EventPattern: unknown;
        Targets?: { Arn: string }[];
      };
      this.rules.push({ pattern: props.EventPattern, queueArns: (props.Targets ?? []).map((t) => t.Arn) });
    }
    for (const [, pipe] of resourcesOfType(template, 'AWS::Pipes::Pipe')) {
      const props = resolveIntrinsics(pipe.Properties, resolver) as {
        Source: string;
        SourceParameters?: { SqsQueueParameters?: { BatchSize?: number } };
        TargetParameters?: { InputTemplate?: string };
      };
      this.pipes.push({
        sourceArn: props.Source,
        batchSize: props.SourceParameters?.SqsQueueParameters?.BatchSize ?? 10,
        inputTemplate: props.TargetParameters?.InputTemplate ?? '<$>',
      });
    }
  }

  /** Routes the objects' events to the queues of the rules they match; returns unmatched objects. */
  async publish(objects: readonly DroppedObject[]): Promise<DroppedObject[]> {
    const unmatched: DroppedObject[] = [];
    const byQueue = new Map<string, Record<string, unknown>[]>();
    for (const object of objects) {
      const event = objectCreatedEvent(object, ++this.sequence);
      const targets = this.rules.filter((r) => matchesPattern(r.pattern, event)).flatMap((r) => r.queueArns);
      if (targets.length === 0) unmatched.push(object);
      for (const arn of targets) byQueue.set(arn, [...(byQueue.get(arn) ?? []), event]);
    }
    for (const [arn, events] of byQueue) {
      const queueUrl = this.queueUrlOfArn(arn);
      for (let i = 0; i < events.length; i += 10) {
        const response = await this.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: events
              .slice(i, i + 10)
              .map((event, j) => ({ Id: String(j), MessageBody: JSON.stringify(event) })),
          }),
        );
        if (response.Failed?.length)
          throw new Error(`could not queue ${response.Failed.length} event(s) on ${queueUrl}`);
      }
    }
    return unmatched;
  }

  /**
   * Reads every pipe's queue in batches and hands each rendered batch to `start` (one
   * execution per batch); messages are deleted once the batch was handed over, as a Pipe does
   * after StartExecution succeeds.
   */
  async drain(start: (input: unknown[]) => Promise<void>): Promise<number> {
    let batches = 0;
    for (const pipe of this.pipes) {
      const queueUrl = this.queueUrlOfArn(pipe.sourceArn);
      for (;;) {
        const messages: Message[] = [];
        while (messages.length < pipe.batchSize) {
          const page = await this.sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: queueUrl,
              MaxNumberOfMessages: Math.min(10, pipe.batchSize - messages.length),
              WaitTimeSeconds: 0,
              VisibilityTimeout: 600,
            }),
          );
          if (!page.Messages?.length) break;
          messages.push(...page.Messages);
        }
        if (messages.length === 0) break;
        const input = messages.map((m) =>
          renderPipeTemplate(pipe.inputTemplate, {
            messageId: m.MessageId!,
            receiptHandle: m.ReceiptHandle!,
            body: m.Body ?? '',
            attributes: m.Attributes ?? {},
            messageAttributes: m.MessageAttributes ?? {},
            md5OfBody: m.MD5OfBody ?? '',
            eventSource: 'aws:sqs',
            eventSourceARN: pipe.sourceArn,
            awsRegion: REGION,
          }),
        );
        batches += 1;
        await start(input);
        for (let i = 0; i < messages.length; i += 10) {
          await this.sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: messages
                .slice(i, i + 10)
                .map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle! })),
            }),
          );
        }
      }
    }
    return batches;
  }
}
