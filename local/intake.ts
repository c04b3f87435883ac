import { randomUUID } from 'node:crypto';
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { mapLimit } from '../lambdas/common/s3';
import { renderPipeTemplate } from '../lib/contracts/pipe';
import type { CfnTemplate, IntrinsicResolver } from './cfn';
import { resolveIntrinsics, resourcesOfType } from './cfn';
import { ACCOUNT, REGION } from './cloud';
import { PIPE_STEP_FUNCTIONS_PAYLOAD_LIMIT, utf8Bytes } from './limits';

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

/**
 * The EventBridge event S3 emits for an object put into a bucket with EventBridge enabled: `time`
 * to the second, as S3 writes it (now, unless `at` is given: a replay gives the version's
 * LastModified), and `sequence` as the hexadecimal `sequencer` (a string: as given).
 */
export function objectCreatedEvent(
  object: DroppedObject,
  sequence: number | string,
  at: Date = new Date(),
): Record<string, unknown> {
  const time = at.toISOString().replace(/\.\d{3}Z$/, 'Z');
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
        sequencer:
          typeof sequence === 'string' ? sequence : sequence.toString(16).toUpperCase().padStart(18, '0'),
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

  /** The BatchSize of the Pipe whose records name this dataset (its input template says which). */
  batchSizeOf(dataset: string): number | undefined {
    return this.pipes.find((pipe) => {
      try {
        const record = renderPipeTemplate(pipe.inputTemplate, { body: '{}' }) as { dataset?: unknown };
        return record?.dataset === dataset;
      } catch {
        return false;
      }
    })?.batchSize;
  }

  /** The objects no rule matches (their events would go nowhere); checked before anything is dropped. */
  unmatched(
    objects: readonly Pick<DroppedObject, 'bucket' | 'key'>[],
  ): Pick<DroppedObject, 'bucket' | 'key'>[] {
    return objects.filter((object) => {
      const event = objectCreatedEvent({ ...object, versionId: null, size: 0, etag: '' }, 0);
      return !this.rules.some((r) => r.queueArns.length > 0 && matchesPattern(r.pattern, event));
    });
  }

  /** Routes the objects' events to the queues of the rules they match; returns unmatched objects. */
  async publish(objects: readonly DroppedObject[]): Promise<DroppedObject[]> {
    const unmatched: DroppedObject[] = [];
    const byQueue = new Map<string, Record<string, unknown>[]>();
    for (const object of objects) {
      const event = objectCreatedEvent(object, ++this.sequence);
      const targets = this.rules.filter((r) => matchesPattern(r.pattern, event)).flatMap((r) => r.queueArns);
      if (targets.length === 0) unmatched.push(object);
      for (const arn of targets) {
        const queued = byQueue.get(arn);
        if (queued) queued.push(event);
        else byQueue.set(arn, [event]);
      }
    }
    // SendMessageBatch takes 10 entries; the batches go out a few at a time.
    const sends: { queueUrl: string; events: Record<string, unknown>[] }[] = [];
    for (const [arn, events] of byQueue) {
      const queueUrl = this.queueUrlOfArn(arn);
      for (let i = 0; i < events.length; i += 10) sends.push({ queueUrl, events: events.slice(i, i + 10) });
    }
    await mapLimit(sends, 8, async ({ queueUrl, events }) => {
      const response = await this.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: events.map((event, j) => ({ Id: String(j), MessageBody: JSON.stringify(event) })),
        }),
      );
      if (response.Failed?.length)
        throw new Error(`could not queue ${response.Failed.length} event(s) on ${queueUrl}`);
    });
    return unmatched;
  }

  /**
   * Every pipe reads its queue in batches and starts one execution per batch, the way a Pipe
   * does for an SQS source and a Standard state machine target:
   *
   * - a batch closes at the Pipe's BatchSize, or earlier when one more record would take the
   *   rendered input over the Step Functions target's payload limit ("the invocation payload
   *   size quota is reached"; see local/limits.ts); the records left over open the next batch;
   * - Standard workflows are started asynchronously (StartExecution; the Pipe does not wait for
   *   the execution), and the batch's messages are deleted once StartExecution succeeded;
   * - batches start concurrently: "When messages are available, EventBridge reads up to five
   *   batches and sends them to your pipe. If messages are still available, EventBridge
   *   increases the number of processes that are reading batches by up to 60 more instances per
   *   minute" (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-sqs.html): the
   *   first five batches start at once, each further one a second later than the one before.
   *
   * `start` is StartExecution: it resolves once the execution has started (not when it ends).
   * `until` is the publishing of the events: while it runs, a batch that is not full waits for
   * more records (as a Pipe's batching window does; the queue never holds the whole burst).
   * Resolves with the number of batches started, once every one has been.
   */
  async drain(
    start: (input: unknown[]) => Promise<void>,
    options: { readonly rampUpMs?: number; readonly until?: Promise<unknown> } = {},
  ): Promise<number> {
    const rampUpMs = options.rampUpMs ?? PIPE_RAMP_UP_MS;
    const publishing = { done: options.until === undefined, error: undefined as unknown };
    options.until?.then(
      () => {
        publishing.done = true;
      },
      (error: unknown) => {
        publishing.done = true;
        publishing.error = error ?? new Error('publishing failed');
      },
    );
    const counts = await Promise.all(
      this.pipes.map((pipe) => this.drainPipe(pipe, start, rampUpMs, publishing)),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  private async drainPipe(
    pipe: PipeDefinition,
    start: (input: unknown[]) => Promise<void>,
    rampUpMs: number,
    publishing: { readonly done: boolean; readonly error: unknown },
  ): Promise<number> {
    const queueUrl = this.queueUrlOfArn(pipe.sourceArn);
    const render = (m: Message) =>
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
      });
    const began = Date.now();
    const started: Promise<void>[] = [];
    // Records received but not yet in a batch (they stay hidden by their visibility timeout).
    const carried: { message: Message; record: unknown; json: string }[] = [];
    let queueEmpty = false;
    for (let index = 0; ; index++) {
      const batch: { message: Message; record: unknown }[] = [];
      const meter = new PipeBatchMeter();
      const fits = (json: string) => meter.fits(json);
      let full = false;
      while (batch.length < pipe.batchSize && !full) {
        if (carried.length === 0) {
          if (queueEmpty) break;
          // Read before the receive: publishing that ends during it may have sent more.
          const publishedBefore = publishing.done;
          const page = await this.sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: queueUrl,
              MaxNumberOfMessages: 10,
              WaitTimeSeconds: 0,
              VisibilityTimeout: 600,
            }),
          );
          if (!page.Messages?.length) {
            if (publishing.error) throw publishing.error;
            // Empty for now: more events are on their way while the files are still being dropped.
            if (!publishedBefore) {
              await new Promise((resolve) => setTimeout(resolve, PIPE_POLL_MS));
              continue;
            }
            queueEmpty = true;
            break;
          }
          for (const message of page.Messages) {
            const record = render(message);
            carried.push({ message, record, json: JSON.stringify(record) });
          }
        }
        const next = carried[0]!;
        if (!fits(next.json)) {
          if (batch.length === 0) {
            // The Pipe cannot invoke the target with it at all; on AWS the message returns to the
            // queue until its receive count sends it to the dead-letter queue.
            throw new PipeTargetLimitError(
              `one record of ${queueUrl} renders to ${next.json.length} characters, over the Step Functions target's ${PIPE_STEP_FUNCTIONS_PAYLOAD_LIMIT}`,
            );
          }
          full = true;
          break;
        }
        carried.shift();
        meter.add(next.json);
        batch.push(next);
      }
      if (batch.length === 0) break;
      // Five batches at once, then one more each `rampUpMs`.
      const due = began + Math.max(0, index - (PIPE_INITIAL_BATCHES - 1)) * rampUpMs;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      await start(batch.map((b) => b.record));
      started.push(
        this.deleteMessages(
          queueUrl,
          batch.map((b) => b.message),
        ),
      );
    }
    await Promise.all(started);
    return started.length;
  }

  private async deleteMessages(queueUrl: string, messages: readonly Message[]): Promise<void> {
    const chunks: Message[][] = [];
    for (let i = 0; i < messages.length; i += 10) chunks.push(messages.slice(i, i + 10));
    await Promise.all(
      chunks.map(async (chunk) => {
        const response = await this.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: chunk.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle! })),
          }),
        );
        if (response.Failed?.length)
          throw new Error(`could not delete ${response.Failed.length} message(s) from ${queueUrl}`);
      }),
    );
  }
}

/**
 * The size of a Pipe batch as the Step Functions target receives it: the rendered records as a
 * JSON array (`[` + records joined by `,` + `]`), in characters and in UTF-8 bytes, against the
 * target's payload limit (local/limits.ts). The local Pipe and `pipeline replay` close a batch
 * where one more record would not fit.
 */
export class PipeBatchMeter {
  private chars = 2;
  private bytes = 2;
  private count = 0;

  /** Whether one more record, rendered as `json`, keeps the batch within the limit. */
  fits(json: string): boolean {
    const comma = this.count > 0 ? 1 : 0;
    return (
      this.chars + json.length + comma <= PIPE_STEP_FUNCTIONS_PAYLOAD_LIMIT &&
      this.bytes + utf8Bytes(json) + comma <= PIPE_STEP_FUNCTIONS_PAYLOAD_LIMIT
    );
  }

  add(json: string): void {
    const comma = this.count > 0 ? 1 : 0;
    this.chars += json.length + comma;
    this.bytes += utf8Bytes(json) + comma;
    this.count += 1;
  }
}

/** A Pipe batch that cannot be delivered to its target (one record over the payload limit). */
export class PipeTargetLimitError extends Error {
  override readonly name = 'PipeTargetLimitError';
}

/** Batches a Pipe starts at once before it scales up (eb-pipes-sqs.html). */
export const PIPE_INITIAL_BATCHES = 5;
/** "up to 60 more instances per minute": one more batch a second. */
export const PIPE_RAMP_UP_MS = 1000;
/** How often an empty queue is polled again while events are still being published. */
const PIPE_POLL_MS = 25;
