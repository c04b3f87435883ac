import { GlueClient } from '@aws-sdk/client-glue';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Credentials } from './index';

export interface PrincipalClients {
  readonly s3: S3Client;
  readonly glue: GlueClient;
  readonly sns: SNSClient;
  readonly sqs: SQSClient;
}

/**
 * AWS SDK clients that sign as one principal and talk to the local endpoint (the authorizing
 * proxy): path-style S3 as the emulator serves it; `maxAttempts` 5 as the handlers' clients
 * (lambdas/common/aws.ts).
 */
export function principalClients(
  endpoint: string,
  region: string,
  credentials: Credentials,
): PrincipalClients {
  const config = { region, endpoint, credentials, maxAttempts: 5 };
  return {
    s3: new S3Client({ ...config, forcePathStyle: true }),
    glue: new GlueClient(config),
    sns: new SNSClient(config),
    sqs: new SQSClient(config),
  };
}

/** Environment variables that make an SDK (boto3 in the Glue job) sign as the principal. */
export function credentialsEnv(endpoint: string, credentials: Credentials): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
  };
}
