/**
 * One local command that invokes real handlers outside an execution (`approve`, `late`): the
 * emulator, the local IAM in front of it, the stack's resources provisioned from the synthesized
 * template, the saved state restored, and the handlers run in process under their roles.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GlueClient } from '@aws-sdk/client-glue';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { CfnTemplate } from './cfn';
import { ACCOUNT, LocalCloud, REGION } from './cloud';
import { type Emulator, startEmulator } from './emulator';
import { ADMIN_CREDENTIALS, LocalIam } from './iam';
import { RunIam } from './iam/run';
import { localLambdas } from './lambdas';
import { synthesize } from './synth-cache';
import type { TableClients } from './tables';

/** The pipeline name the local runtime synthesizes with. */
const PIPELINE = 'ingestion';

export interface HandlerSession {
  readonly template: CfnTemplate;
  readonly emulator: Emulator;
  readonly cloud: LocalCloud;
  readonly tables: TableClients;
  /** Runs a handler (`approvals`, `late`, ...) with its function's environment, under its role. */
  readonly invoke: (handler: string, event: unknown) => Promise<unknown>;
}

/**
 * Runs `use` in a session whose state `restore` put back (before any handler runs), then stops
 * the emulator and the IAM proxy, also when `use` throws.
 */
export async function withHandlerSession<T>(
  progress: (line: string) => void,
  restore: (session: Omit<HandlerSession, 'invoke'>) => Promise<void>,
  use: (session: HandlerSession) => Promise<T>,
): Promise<T> {
  progress('starting the local AWS emulator; synthesizing the CDK app (cached until a source changes)');
  const emulator = await startEmulator({ region: REGION });
  let iam: LocalIam | undefined;
  try {
    const { template } = await synthesize();
    iam = await LocalIam.start(emulator.endpoint, { onDenied: (m) => progress(`[iam] denied: ${m}`) });
    const config = { region: REGION, endpoint: iam.endpoint, credentials: ADMIN_CREDENTIALS };
    const tables = { dynamodb: new DynamoDBClient(config), kms: new KMSClient(config) };
    const cloud = new LocalCloud(
      template,
      {
        s3: new S3Client({ ...config, forcePathStyle: true }),
        glue: new GlueClient(config),
        sns: new SNSClient(config),
        sqs: new SQSClient(config),
        tables,
      },
      PIPELINE,
    );
    await cloud.provision();
    iam.attach(template, cloud.resolver, { account: ACCOUNT, region: REGION });
    await restore({ template, emulator, cloud, tables });
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: emulator.env.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: emulator.env.AWS_SECRET_ACCESS_KEY,
      AWS_REGION: REGION,
    });
    const invoke = await localLambdas(
      template,
      cloud.resolver,
      {
        ...emulator.env,
        AWS_ENDPOINT_URL: iam.endpoint,
        POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'SILENT',
      },
      { credentials: new RunIam(iam, REGION).handlerCredentials },
    );
    return await use({ template, emulator, cloud, tables, invoke });
  } finally {
    await iam?.stop().catch(() => undefined);
    await emulator.stop().catch(() => undefined);
  }
}
