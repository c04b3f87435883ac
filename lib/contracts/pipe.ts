/**
 * The EventBridge Pipe's input template: how one SQS message (an S3 `Object Created` event
 * from EventBridge, parsed by the Pipe) becomes one BatchFile of the state machine input.
 * The stack puts this template on the Pipe; the local runtime renders it with the same
 * function Pipes semantics describe, so both deliver identical batches.
 *
 * The SQS message's body is the event as EventBridge delivered it to the queue (Amazon S3 User
 * Guide, "EventBridge event message structure", ev-events.html, "Object created"):
 *
 * ```json
 * { "version": "0", "id": "…", "detail-type": "Object Created", "source": "aws.s3",
 *   "account": "111122223333", "time": "2021-11-12T00:00:00Z", "region": "ca-central-1",
 *   "resources": ["arn:aws:s3:::example-bucket"],
 *   "detail": { "version": "0", "bucket": { "name": "example-bucket" },
 *     "object": { "key": "example-key", "size": 5, "etag": "…", "version-id": "…",
 *                 "sequencer": "00617F08299329D189" },
 *     "request-id": "…", "requester": "…", "source-ip-address": "…", "reason": "PutObject" } }
 * ```
 *
 * `time` (`body.time`) and `detail.object.sequencer` become `eventTime` and `sequencer`: the
 * landing order of files (lib/contracts/batch.ts). Each adds about 40 bytes to a rendered file
 * (measured for 500 files by test/contracts/pipe.test.ts and test/state-machine/limits.test.ts).
 */
export function pipeInputTemplate(dataset: string): string {
  return [
    '{',
    `"dataset": ${JSON.stringify(dataset)}, `,
    '"bucket": "<$.body.detail.bucket.name>", ',
    '"key": "<$.body.detail.object.key>", ',
    '"versionId": "<$.body.detail.object.version-id>", ',
    '"size": <$.body.detail.object.size>, ',
    '"eventTime": "<$.body.time>", ',
    '"sequencer": "<$.body.detail.object.sequencer>"',
    '}',
  ].join('');
}

/**
 * Renders a Pipes input template against one SQS record: `<$.path>` placeholders are
 * replaced by the value at that path (the record's JSON `body` is parsed first). Inside
 * quotes the value is inserted as escaped string content; outside quotes as JSON.
 */
export function renderPipeTemplate(
  template: string,
  record: { body: string } & Record<string, unknown>,
): unknown {
  let parsedBody: unknown = record.body;
  try {
    parsedBody = JSON.parse(record.body);
  } catch {
    // A body that is not JSON stays a string.
  }
  const root = { ...record, body: parsedBody };
  const rendered = template.replace(
    /("?)<\$\.([^>]+)>("?)/g,
    (_match, open: string, path: string, close: string) => {
      const value = path.split('.').reduce<unknown>((node, part) => {
        if (node === null || typeof node !== 'object') return undefined;
        return (node as Record<string, unknown>)[part];
      }, root);
      if (open && close) return JSON.stringify(value === undefined || value === null ? '' : String(value));
      return `${open}${value === undefined ? 'null' : JSON.stringify(value)}${close}`;
    },
  );
  return JSON.parse(rendered);
}
