import type { GlueClient } from '@aws-sdk/client-glue';
import type { S3Client } from '@aws-sdk/client-s3';
import type { PipelineEnv } from '../common/env';

/** What the reconcile functions need from the outside world; the handler builds it once. */
export interface ReconcileDeps {
  readonly s3: S3Client;
  readonly env: Pick<PipelineEnv, 'controlBucket'> &
    Partial<Pick<PipelineEnv, 'glueDatabase' | 'pipelineName'>>;
  readonly now?: () => Date;
}

/** Schema drift also reads the Glue Data Catalog. */
export interface SchemaDriftDeps {
  readonly s3: S3Client;
  readonly glue: GlueClient;
  readonly env: Pick<PipelineEnv, 'controlBucket' | 'glueDatabase' | 'pipelineName'>;
  readonly now?: () => Date;
}
