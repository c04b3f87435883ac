import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';

/**
 * Lambda service exceptions Step Functions reports for a failed invocation (a 500 from Lambda),
 * to be retried: https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html
 * ("When Lambda hits the maximum number of invocations, the error is
 * Lambda.TooManyRequestsException", retried on its own, longer).
 */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
];
export const LAMBDA_THROTTLED = 'Lambda.TooManyRequestsException';
/** A function that ran out of time or memory ("Unhandled errors ... are reported as Lambda.Unknown"). */
export const LAMBDA_UNHANDLED = ['States.Timeout', 'Lambda.Unknown'];

/** Every error: what a Catch that ends a stage matches. */
export const ALL = [sfn.Errors.ALL];
/** No Lambda runs longer than 15 minutes; the state gives up at the same bound. */
const LAMBDA_TASK_TIMEOUT = sfn.Timeout.duration(Duration.minutes(15));

export interface LambdaTaskOptions {
  /** @default the state's input */
  readonly payload?: sfn.TaskInput;
  /** @default the result replaces the state's input */
  readonly resultPath?: string;
  /** @default the whole result */
  readonly resultSelector?: Record<string, unknown>;
  /** Errors of a bad file: never retried (the Catch quarantines the file). @default none */
  readonly fileErrors?: readonly string[];
  /** Also retry a timeout or an unhandled error once and any other error twice. @default false */
  readonly retryAll?: boolean;
}

/**
 * A Lambda task with the pipeline's retries: Lambda's service exceptions (2 s, x2, 6 times)
 * and throttling (5 s, x2, up to 2 minutes apart, 8 times), with full jitter. `fileErrors`
 * (Normalize) are never retried (the file is bad; the Catch quarantines it); `retryAll` and
 * `fileErrors` also retry a timeout or an unhandled error once and any other error twice,
 * so only an error that outlasts the retries marks a file failed.
 */
export function lambdaTask(
  scope: Construct,
  id: string,
  fn: lambda.IFunction,
  options: LambdaTaskOptions = {},
): tasks.LambdaInvoke {
  const task = new tasks.LambdaInvoke(scope, id, {
    lambdaFunction: fn,
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
    taskTimeout: LAMBDA_TASK_TIMEOUT,
    ...(options.payload ? { payload: options.payload } : {}),
    ...(options.resultPath ? { resultPath: options.resultPath } : {}),
    ...(options.resultSelector ? { resultSelector: options.resultSelector } : {}),
  });
  if (options.fileErrors?.length) task.addRetry({ errors: [...options.fileErrors], maxAttempts: 0 });
  task.addRetry({
    errors: LAMBDA_SERVICE_ERRORS,
    interval: Duration.seconds(2),
    backoffRate: 2,
    maxAttempts: 6,
    jitterStrategy: sfn.JitterType.FULL,
  });
  task.addRetry({
    errors: [LAMBDA_THROTTLED],
    interval: Duration.seconds(5),
    backoffRate: 2,
    maxDelay: Duration.minutes(2),
    maxAttempts: 8,
    jitterStrategy: sfn.JitterType.FULL,
  });
  if (options.fileErrors || options.retryAll) {
    task.addRetry({ errors: LAMBDA_UNHANDLED, interval: Duration.seconds(30), maxAttempts: 1 });
    task.addRetry({
      errors: ALL,
      interval: Duration.seconds(10),
      backoffRate: 3,
      maxAttempts: 2,
      jitterStrategy: sfn.JitterType.FULL,
    });
  }
  return task;
}
