import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GlueClient } from '@aws-sdk/client-glue';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import type { PipelineEnv } from './env';

/** AWS clients a handler needs; passed to the pure functions so tests and the local runtime can swap them. */
export interface AwsClients {
  readonly s3: S3Client;
  readonly sns: SNSClient;
  readonly glue: GlueClient;
  /** The reconcile Lambda's DatasetUpdated/DatasetHeld events (default bus). */
  readonly events: EventBridgeClient;
}

/**
 * How the handlers' own AWS calls retry, before the state machine's Retry sees an error.
 *
 * The SDK classifies S3 `503 SlowDown` as a throttling error (it is in @smithy's
 * THROTTLING_ERROR_CODES) and retries it with exponential backoff and full jitter: a random
 * delay up to 500 ms x 2^(attempt-1) for throttling (100 ms for other transient errors),
 * capped at 20 s, out of a retry quota of 500 tokens per client (5 per retry, 10 after a
 * timeout; https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html).
 *
 * S3: `adaptive` mode with 8 attempts. A burst (five executions x Map concurrency 10) writes
 * many objects under one dataset prefix, which is where S3 answers SlowDown; adaptive mode adds
 * a client-side rate limiter that slows this client's sends after a throttle instead of only
 * spacing its retries, which the SDK documentation recommends for "single-resource,
 * throttling-heavy, latency-tolerant" use: one invocation works on one file, and a batch
 * pipeline tolerates seconds of delay. 7 retries wait at most 0.5+1+2+4+8+16+20 = 51.5 s
 * (26 s on average with full jitter), well inside the normalizer's 15-minute timeout. A file
 * still throttled after that fails its Normalize task, which the state machine retries again
 * (it never quarantines a file for a transient error).
 *
 * SNS, Glue and EventBridge: `standard` mode with 5 attempts (at most 0.5+1+2+4 = 7.5 s of throttling
 * backoff): their calls are few per invocation and share nothing with S3's prefixes.
 */
export const S3_RETRY = { retryMode: 'adaptive', maxAttempts: 8 } as const;
export const SERVICE_RETRY = { retryMode: 'standard', maxAttempts: 5 } as const;

/**
 * @param options.credentials sign with these instead of the default provider chain: the local
 *   runtime gives each handler the credentials of its function's role (local/iam); unset on Lambda.
 */
export function createClients(
  env: Pick<PipelineEnv, 'endpointUrl' | 'region'>,
  options: { readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string } } = {},
): AwsClients {
  const common = {
    region: env.region,
    ...(env.endpointUrl ? { endpoint: env.endpointUrl } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  };
  return {
    // The emulator serves buckets by path, not by virtual host.
    s3: new S3Client({ ...common, ...S3_RETRY, forcePathStyle: Boolean(env.endpointUrl) }),
    sns: new SNSClient({ ...common, ...SERVICE_RETRY }),
    glue: new GlueClient({ ...common, ...SERVICE_RETRY }),
    events: new EventBridgeClient({ ...common, ...SERVICE_RETRY }),
  };
}
