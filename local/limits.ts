/**
 * Hard service limits the local runtime enforces where AWS enforces them, outside the state
 * machine runner (whose payload and history limits are local/state-machine.ts's). Each limit
 * fails with the error AWS gives, so a batch, an alert or a handler result that would break on
 * AWS breaks locally too.
 */

import type { SNSClient } from '@aws-sdk/client-sns';

/** A limit broken: `name` is the error AWS raises (the state machine sees it with its service prefix). */
export class ServiceLimitError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export const utf8Bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

/**
 * EventBridge Pipes: a Step Functions target "receive[s] the full batch event payload ... and
 * [is] constrained by the total payload size of the event, rather than the size of the batch:
 * Step Functions state machine (262144 characters)"
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-batching-concurrency.html),
 * and an SQS source closes a batch early when "the invocation payload size quota is reached"
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-sqs.html). StartExecution's
 * input is also capped at 256 KiB as UTF-8 (Step Functions service quotas), so a batch must fit
 * both counts.
 */
export const PIPE_STEP_FUNCTIONS_PAYLOAD_LIMIT = 262_144;

/** Whether a rendered Pipe batch (the execution input) fits the Step Functions target. */
export function fitsPipeTarget(json: string): boolean {
  return (
    json.length <= PIPE_STEP_FUNCTIONS_PAYLOAD_LIMIT && utf8Bytes(json) <= PIPE_STEP_FUNCTIONS_PAYLOAD_LIMIT
  );
}

/**
 * SNS Publish: "messages must be UTF-8 encoded strings and at most 256 KB in size (262,144 bytes,
 * not 262,144 characters)"; "All parts of the message attribute, including name, type, and value,
 * are included in the message size restriction" (SNS API reference, Publish and
 * MessageAttributeValue). A subject has "no line breaks or control characters" and is at most
 * 100 characters: the API reference says "less than 100", but SNS accepts exactly 100 (as moto,
 * the local emulator, does: github.com/getmoto/moto/issues/1503). SNS answers
 * InvalidParameterException (Step Functions: `SNS.InvalidParameterException`).
 */
export const SNS_MESSAGE_LIMIT_BYTES = 262_144;
export const SNS_SUBJECT_LIMIT_CHARS = 100;

export interface SnsPublishRequest {
  readonly Message: string;
  readonly Subject?: string;
  readonly MessageAttributes?: Record<string, { DataType: string; StringValue?: string }>;
}

/** The bytes SNS counts for a publish: the message, then each attribute's name, type and value. */
export function snsPublishBytes(request: SnsPublishRequest): number {
  let bytes = utf8Bytes(request.Message);
  for (const [name, value] of Object.entries(request.MessageAttributes ?? {})) {
    bytes += utf8Bytes(name) + utf8Bytes(value.DataType) + utf8Bytes(value.StringValue ?? '');
  }
  return bytes;
}

/** Throws InvalidParameterException as SNS would for a message or subject over its limits. */
export function checkSnsPublish(request: SnsPublishRequest): void {
  const bytes = snsPublishBytes(request);
  if (bytes > SNS_MESSAGE_LIMIT_BYTES) {
    throw new ServiceLimitError(
      'InvalidParameterException',
      `Invalid parameter: Message too long (${bytes} bytes with its attributes; SNS accepts at most ${SNS_MESSAGE_LIMIT_BYTES})`,
    );
  }
  const subject = request.Subject;
  if (subject !== undefined) {
    // Control characters (line breaks included) are refused.
    const control = [...subject].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
    if (subject.length === 0 || subject.length > SNS_SUBJECT_LIMIT_CHARS || control) {
      throw new ServiceLimitError(
        'InvalidParameterException',
        `Invalid parameter: Subject (${subject.length} characters; SNS accepts 1 to ${SNS_SUBJECT_LIMIT_CHARS} without line breaks or control characters)`,
      );
    }
  }
}

/**
 * Applies SNS's Publish limits to a client's requests before they are sent (the emulator checks the
 * message's characters and the subject's length, not bytes, attributes or control characters):
 * what a handler publishes fails as it would on AWS, with InvalidParameterException from `send`.
 */
export function enforceSnsLimits(client: SNSClient): SNSClient {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'PublishCommand') checkSnsPublish(args.input as SnsPublishRequest);
      return next(args);
    },
    { step: 'initialize', name: 'localSnsLimits' },
  );
  return client;
}

/**
 * Lambda: a synchronous invocation's response is at most 6 MB; a larger one cannot be delivered
 * ("Exceeded maximum allowed payload size (6291556 bytes)", Lambda quotas) and the invocation
 * ends as an unhandled function error, which Step Functions reports as `Lambda.Unknown`
 * ("Unhandled errors in Lambda are reported as Lambda.Unknown in the error output",
 * https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).
 */
export const LAMBDA_RESPONSE_LIMIT_BYTES = 6_291_556;

/** Throws `Lambda.Unknown` for a handler result Lambda could not return. */
export function checkLambdaResponse(handler: string, result: unknown): void {
  const serialized = JSON.stringify(result ?? null);
  // Strings of this length cannot reach the limit in UTF-8; counting bytes is skipped for them.
  if (serialized.length * 3 <= LAMBDA_RESPONSE_LIMIT_BYTES) return;
  const bytes = utf8Bytes(serialized);
  if (bytes > LAMBDA_RESPONSE_LIMIT_BYTES) {
    throw new ServiceLimitError(
      'Lambda.Unknown',
      `Function.ResponseSizeTooLarge: Response payload size exceeded maximum allowed payload size (${LAMBDA_RESPONSE_LIMIT_BYTES} bytes): the ${handler} handler returned ${bytes} bytes`,
    );
  }
}

/**
 * Glue: "The maximum size of job parameters is limited to 260KB. If the parameter size is larger
 * than 260KB, a validation check will raise an error."
 * (https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-glue-arguments.html).
 * Counted here as the UTF-8 bytes of every key and value of the run's arguments (the job's
 * DefaultArguments with the run's Arguments over them); StartJobRun answers
 * InvalidInputException (Step Functions: `Glue.InvalidInputException`).
 */
export const GLUE_JOB_ARGUMENTS_LIMIT_BYTES = 260 * 1024;

export function glueArgumentsBytes(args: Readonly<Record<string, string>>): number {
  return Object.entries(args).reduce((sum, [key, value]) => sum + utf8Bytes(key) + utf8Bytes(value), 0);
}

export function checkGlueArguments(job: string, args: Readonly<Record<string, string>>): void {
  for (const [key, value] of Object.entries(args)) {
    if (typeof value !== 'string') {
      throw new ServiceLimitError(
        'InvalidInputException',
        `Job ${job}: argument ${key} is not a string (Glue job arguments map strings to strings)`,
      );
    }
  }
  const bytes = glueArgumentsBytes(args);
  if (bytes > GLUE_JOB_ARGUMENTS_LIMIT_BYTES) {
    throw new ServiceLimitError(
      'InvalidInputException',
      `Job ${job}: job arguments are ${bytes} bytes; Glue accepts at most ${GLUE_JOB_ARGUMENTS_LIMIT_BYTES} (260 KB)`,
    );
  }
}
