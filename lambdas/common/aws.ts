import { GlueClient } from '@aws-sdk/client-glue';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import type { PipelineEnv } from './env';

/** AWS clients a handler needs; passed to the pure functions so tests and the local runtime can swap them. */
export interface AwsClients {
  readonly s3: S3Client;
  readonly sns: SNSClient;
  readonly glue: GlueClient;
}

export function createClients(env: Pick<PipelineEnv, 'endpointUrl' | 'region'>): AwsClients {
  const common = {
    region: env.region,
    ...(env.endpointUrl ? { endpoint: env.endpointUrl } : {}),
    maxAttempts: 5,
  };
  return {
    // The emulator serves buckets by path, not by virtual host.
    s3: new S3Client({ ...common, forcePathStyle: Boolean(env.endpointUrl) }),
    sns: new SNSClient(common),
    glue: new GlueClient(common),
  };
}
