import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { datasetByName } from '../../lib/config';
import type { ResolvedDataset } from '../../lib/config/types';
import type { Alert, AlertReceipt } from '../../lib/contracts/alerts';
import type { FileOutcome } from '../../lib/contracts/batch';
import type { ReconcileEvent, ReconcileResponse } from '../../lib/contracts/reconcile';
import { RequestStore } from '../approvals/store';
import { type AwsClients, SERVICE_RETRY } from '../common/aws';
import type { PipelineEnv } from '../common/env';
import { lambdaHandler } from '../common/handler';
import { createLogger } from '../common/logger';
import {
  type DatasetMetrics,
  type MetricsSettings,
  secondsBetween,
  withDatasetMetrics,
} from '../common/metrics';
import { alertTopicOf, publishAlert } from '../common/publish';
import { InvalidEventError } from '../normalize/errors';
import { reconcileBatch } from './core';
import { buildDatasetEvent, loadDatasetEventInputs, putDatasetEvent } from './dataset-event';
import type { ReportWait } from './deps';
import { UnknownDatasetError } from './errors';
import type { FileLatency } from './latency';
import { ensureBatchPartitions } from './partitions';
import { type BatchProgress, batchProgress, type Progress } from './progress';
import { detectSchemaDrift } from './schema-drift';
import { volumeCheckFailed } from './volume';

export { UnknownDatasetError } from './errors';

const logger = createLogger('reconcile');

/** The state machine's calls and the results it reads are contracts (lib/contracts/reconcile.ts). */
export type {
  CatalogPartitionsOutput,
  ReconcileEvent,
  ReconcileResponse,
  ReconcileResult,
  SchemaDriftResult,
} from '../../lib/contracts/reconcile';

export function parseReconcileEvent(event: unknown): ReconcileEvent {
  const e = event as Partial<{
    action: string;
    dataset: string;
    files: unknown;
    executionId: string;
    previous: unknown;
    lastRunId: unknown;
  }> | null;
  const show = () => JSON.stringify(event)?.slice(0, 300);
  if (!e || typeof e !== 'object' || typeof e.dataset !== 'string' || !Array.isArray(e.files)) {
    throw new InvalidEventError(`expected {action, dataset, files}, got ${show()}`);
  }
  const badFile = e.files.findIndex(
    (f) => !f || typeof f !== 'object' || typeof (f as { key?: unknown }).key !== 'string',
  );
  if (badFile >= 0) throw new InvalidEventError(`files[${badFile}] has no key: ${show()}`);
  switch (e.action) {
    case 'progress': {
      const p = e.previous as Partial<Progress> | undefined | null;
      if (
        p !== undefined &&
        p !== null &&
        (typeof p.round !== 'number' || typeof p.remainingObjects !== 'number')
      ) {
        throw new InvalidEventError(
          `previous must be a progress result {round, remainingObjects, ...}: ${show()}`,
        );
      }
      return {
        action: 'progress',
        dataset: e.dataset,
        files: e.files as FileOutcome[],
        ...(p ? { previous: p as Progress } : {}),
        ...(typeof e.lastRunId === 'string' && e.lastRunId !== '' ? { lastRunId: e.lastRunId } : {}),
      };
    }
    case 'partitions':
      return { action: 'partitions', dataset: e.dataset, files: e.files as FileOutcome[] };
    case 'reconcile':
    case 'schema-drift':
    case 'publish':
      if (typeof e.executionId !== 'string' || e.executionId === '') {
        throw new InvalidEventError(`action "${e.action}" needs an executionId: ${show()}`);
      }
      return {
        action: e.action,
        dataset: e.dataset,
        executionId: e.executionId,
        files: e.files as FileOutcome[],
      };
    default:
      throw new InvalidEventError(
        `unknown action "${String(e.action)}" (progress, reconcile, schema-drift, partitions or publish)`,
      );
  }
}

export interface ReconcileHandlerOptions {
  /** Wait for run reports that markers name but that are not written yet. @default REPORT_WAIT */
  readonly reportWait?: ReportWait;
  /** Where the metrics go. @default Powertools' settings from the environment */
  readonly metrics?: MetricsSettings;
}

/** EtlRunDurationSeconds and EtlFilesLeft of the run a `progress` call names (lib/contracts/metrics.ts). */
export function recordProgressMetrics(metrics: DatasetMetrics, { lastRun }: BatchProgress): void {
  if (!lastRun) return;
  const duration = secondsBetween(lastRun.startedAt, lastRun.finishedAt);
  if (duration !== undefined) metrics.add('etlRunDuration', duration);
  if (lastRun.filesLeft !== null) metrics.add('etlFilesLeft', lastRun.filesLeft);
}

/** ReconciliationFailures (0 when every check passed) and one EndToEndLatencySeconds per curated file. */
export function recordReconcileMetrics(
  metrics: DatasetMetrics,
  output: { readonly failedChecks: number; readonly latencies: readonly FileLatency[] },
): void {
  metrics.add('reconciliationFailures', output.failedChecks);
  for (const latency of output.latencies) metrics.add('endToEndLatency', latency.seconds);
}

export function makeReconcileHandler(
  env: PipelineEnv,
  clients: Pick<AwsClients, 's3' | 'glue'> & Partial<Pick<AwsClients, 'sns' | 'events'>>,
  options: ReconcileHandlerOptions = {},
) {
  const publish = (alert: Alert): Promise<AlertReceipt> => {
    if (!clients.sns) throw new Error('the reconcile handler was built without an SNS client');
    return publishAlert(clients.sns, alertTopicOf(env), alert);
  };
  // Datasets with an approval workflow: the workflow table, read by the `requests` checks.
  const requestStore = env.requestsTable
    ? new RequestStore(
        new DynamoDBClient({
          region: env.region,
          ...(env.endpointUrl ? { endpoint: env.endpointUrl } : {}),
          credentials: clients.s3.config.credentials,
          ...SERVICE_RETRY,
        }),
        env.requestsTable,
      )
    : undefined;
  return async (event: unknown, _context?: Context): Promise<ReconcileResponse> => {
    const input = parseReconcileEvent(event);
    const dataset = datasetByName(input.dataset);
    if (!dataset) throw new UnknownDatasetError(`dataset "${input.dataset}" is not configured`);
    const scope = { pipeline: env.pipelineName, dataset: dataset.name, logger, settings: options.metrics };
    return withDatasetMetrics(scope, (metrics) => respond(input, dataset, metrics));
  };

  async function respond(
    input: ReconcileEvent,
    dataset: ResolvedDataset,
    metrics: DatasetMetrics,
  ): Promise<ReconcileResponse> {
    const deps = {
      s3: clients.s3,
      glue: clients.glue,
      env,
      reportWait: options.reportWait,
      ...(requestStore ? { requestStore } : {}),
    };
    switch (input.action) {
      case 'progress': {
        const batch = await batchProgress(deps, dataset, input.files, input.previous, input.lastRunId);
        recordProgressMetrics(metrics, batch);
        const { progress } = batch;
        logger.info('progress', {
          dataset: dataset.name,
          ...progress,
          partitions: progress.partitions.length,
        });
        return progress;
      }
      case 'reconcile': {
        const { notice, latencies, volumeNotice, volumeError, ...output } = await reconcileBatch(
          deps,
          dataset,
          input.executionId,
          input.files,
        );
        recordReconcileMetrics(metrics, { failedChecks: output.failedChecks, latencies });
        // The result document is written first: a notice that fails leaves the audit trail whole.
        // Each alert has its own receipt: one refused by SNS does not keep the other from going out.
        const alert = output.alert ? await publish(output.alert) : null;
        const restatementAlert = notice ? await publish(notice) : null;
        const volumeAlert = volumeError
          ? volumeCheckFailed(volumeError)
          : volumeNotice
            ? await publish(volumeNotice)
            : null;
        logger.info('reconciled', {
          dataset: dataset.name,
          status: output.status,
          failed: output.failedChecks,
          pending: output.pendingChecks,
          resultKey: output.resultKey,
          snapshotIds: output.snapshotIds,
          alertPublished: alert?.published ?? null,
          restatementAlertPublished: restatementAlert?.published ?? null,
          volume: output.volume,
          volumeAlertPublished: volumeAlert?.published ?? null,
          ...(volumeError ? { volumeError } : {}),
        });
        return { ...output, alert, restatementAlert, volumeAlert };
      }
      case 'schema-drift': {
        const {
          alert: _alert,
          receipt,
          ...output
        } = await detectSchemaDrift({ ...deps, publish }, dataset, input.executionId);
        logger.info('schema drift', {
          dataset: dataset.name,
          table: output.table,
          changed: output.changed,
          firstSighting: output.firstSighting,
          versionId: output.versionId,
          alertPublished: receipt?.published ?? null,
        });
        return { ...output, alert: receipt ?? null };
      }
      case 'partitions': {
        const output = await ensureBatchPartitions(deps, dataset, input.files);
        logger.info('partitions', { dataset: dataset.name, ...output });
        return output;
      }
      case 'publish': {
        if (!clients.events) throw new Error('the reconcile handler was built without an EventBridge client');
        const event = buildDatasetEvent(
          await loadDatasetEventInputs(deps, dataset, input.executionId, input.files),
        );
        const receipt = await putDatasetEvent(clients.events, event);
        logger.info('dataset event', {
          dataset: dataset.name,
          detailType: receipt.detailType,
          eventId: receipt.eventId,
          reconciliation: receipt.reconciliation,
          partitions: receipt.partitions,
          rowsWritten: receipt.rowsWritten,
        });
        return receipt;
      }
    }
  }
}

/** Lambda entry point (lambdas/common/handler.ts): built on first use, the Lambda context logged. */
export const handler = lambdaHandler(logger, makeReconcileHandler);
