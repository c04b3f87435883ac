import type { GlueClient } from '@aws-sdk/client-glue';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Alert, AlertReceipt } from '../../lib/contracts/alerts';
import type { RequestStore } from '../approvals/store';
import type { PipelineEnv } from '../common/env';

/** What the reconcile functions need from the outside world; the handler builds it once. */
export interface ReconcileDeps {
  readonly s3: S3Client;
  readonly env: Pick<PipelineEnv, 'controlBucket'> &
    Partial<Pick<PipelineEnv, 'glueDatabase' | 'pipelineName' | 'quarantineBucket'>>;
  readonly now?: () => Date;
  /** How long to wait for a run report a marker names but that is not there yet. @default REPORT_WAIT */
  readonly reportWait?: ReportWait;
  readonly sleep?: (ms: number) => Promise<void>;
  /** The approval workflow's table: datasets with an approval workflow get the `requests` checks. */
  readonly requestStore?: RequestStore;
}

/**
 * The ETL writes its run report before its processed markers, so every marker names a run
 * whose report exists; the wait only covers a store that shows a new object late (S3 is
 * strongly consistent, so on AWS it is a safety margin). Missing reports are read up to
 * `attempts` times, `delayMs` apart, before the check fails.
 */
export interface ReportWait {
  readonly attempts: number;
  readonly delayMs: number;
}

export const REPORT_WAIT: ReportWait = { attempts: 4, delayMs: 5000 };

/** Publishes an alert and says whether it went out (see lambdas/common/publish.ts). */
export type PublishAlert = (alert: Alert) => Promise<AlertReceipt>;

/** Schema drift also reads the Glue Data Catalog. */
export interface SchemaDriftDeps {
  readonly s3: S3Client;
  readonly glue: GlueClient;
  readonly env: Pick<PipelineEnv, 'controlBucket' | 'glueDatabase' | 'pipelineName'>;
  readonly now?: () => Date;
  /**
   * Publishes the drift notice before the new schema state is saved: a notice that could not
   * be published leaves the old state, so the next execution sees the same drift and tries
   * again (nothing is lost between "detected" and "told").
   */
  readonly publish?: PublishAlert;
}

/** Registering partitions reads the table and its partitions and creates missing ones. */
export interface CatalogDeps {
  readonly s3: S3Client;
  readonly glue: GlueClient;
  readonly env: Pick<PipelineEnv, 'controlBucket' | 'glueDatabase' | 'pipelineName' | 'normalizedBucket'>;
}
