/**
 * The DatasetUpdated / DatasetHeld event of one reconciled batch (lib/contracts/dataset-events.ts,
 * docs/events.md): built from the documents the stages wrote (the execution's reconciliation
 * result, the batch's manifests, the ETL's processed markers and run reports) and put on the
 * account's default EventBridge bus.
 *
 * Only what passed is published as updated: `DatasetUpdated` when the reconciliation passed (or
 * passed within tolerance, or waits only for a cross-template rule's other side) and no file of the
 * batch failed; `DatasetHeld`, naming why, otherwise.
 */

import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { PutEventsCommand, type PutEventsCommandOutput } from '@aws-sdk/client-eventbridge';
import type { ResolvedDataset } from '../../lib/config/types';
import type { FileOutcome } from '../../lib/contracts/batch';
import {
  DATASET_EVENT_NOT_PUBLISHED,
  DATASET_EVENT_SCHEMA_VERSION,
  type DatasetEvent,
  type DatasetEventCheck,
  type DatasetEventEtlRun,
  type DatasetEventReceipt,
  datasetEventSource,
  type HeldReason,
  MAX_EVENT_CHECKS,
  MAX_EVENT_PARTITIONS,
  type ReconciliationOutcome,
} from '../../lib/contracts/dataset-events';
import { reconciliationResultKey } from '../../lib/contracts/layout';
import type { NormalizerManifest } from '../../lib/contracts/manifest';
import { pipelineNames } from '../../lib/contracts/naming';
import type { ReconciliationCheck, ReconciliationResult } from '../../lib/contracts/reconciliation';
import type { EtlRunReport, ProcessedMarker } from '../../lib/contracts/run-report';
import { CONTRACTS, readDocument } from '../common/contract';
import { Decimal } from '../common/decimal';
import { executionNameOf } from './core';
import type { ReconcileDeps } from './deps';
import { ControlDocumentError } from './errors';
import { loadManifests, loadMarkers, loadRunReports } from './inputs';

/**
 * The event could not be put on the bus: PutEvents failed, or it answered with the entry failed
 * (`FailedEntryCount` 1, the entry's `ErrorCode`). The state machine retries the task on this
 * name, then records it under `$.notices.datasetEvent` for the backstop.
 */
export class DatasetEventNotPublishedError extends Error {
  override readonly name = DATASET_EVENT_NOT_PUBLISHED;
}

/** What an event is built from: every document is one a stage wrote for this batch. */
export interface DatasetEventInputs {
  readonly pipeline: string;
  readonly database: string;
  readonly dataset: Pick<ResolvedDataset, 'name' | 'partition'>;
  readonly executionId: string;
  readonly files: readonly Pick<FileOutcome, 'status' | 'flag'>[];
  readonly result: ReconciliationResult;
  readonly resultKey: string;
  readonly manifests: readonly Pick<NormalizerManifest, 'rowCount' | 'rejectedRowCount' | 'partitions'>[];
  /** Processed marker per normalized object of the batch (undefined: not merged). */
  readonly markers: ReadonlyMap<string, ProcessedMarker | undefined>;
  readonly reports: ReadonlyMap<string, EtlRunReport | undefined>;
}

/** The reconciliation's outcome for a consumer (see ReconciliationOutcome). */
export function reconciliationOutcome(result: ReconciliationResult): ReconciliationOutcome {
  if (result.summary.failed > 0 || result.status === 'fail') return 'failed';
  if (result.summary.pending > 0 || result.status === 'pending') return 'pending';
  return result.checks.some(isWithinTolerance) ? 'within_tolerance' : 'passed';
}

/** A passed check whose delta is not zero: its difference is inside the configured tolerance. */
function isWithinTolerance(check: ReconciliationCheck): boolean {
  if (check.status !== 'pass' || check.delta === null || !Decimal.isDecimal(check.delta)) return false;
  return !Decimal.parse(check.delta).isZero();
}

function eventCheck(check: ReconciliationCheck): DatasetEventCheck {
  return {
    check: check.check,
    sourceKey: check.source?.key ?? null,
    ...(check.scope ? { scope: check.scope } : {}),
    delta: check.delta,
  };
}

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** The event of the batch: DatasetUpdated or DatasetHeld, with its detail. */
export function buildDatasetEvent(inputs: DatasetEventInputs): DatasetEvent {
  const { result, dataset } = inputs;
  const status = reconciliationOutcome(result);
  const byStatus = (s: FileOutcome['status']) => inputs.files.filter((f) => f.status === s).length;
  const files = {
    total: inputs.files.length,
    normalized: byStatus('normalized'),
    duplicate: byStatus('duplicate'),
    quarantined: byStatus('quarantined'),
    failed: byStatus('failed'),
    flagged: inputs.files.filter((f) => f.status === 'normalized' && f.flag === 'unknown_template').length,
  };

  const values = [...new Set(inputs.manifests.flatMap((m) => m.partitions.map((p) => p.value)))].sort();
  const objects = inputs.manifests.flatMap((m) => m.partitions.map((p) => p.key));
  const merged = [...new Set(objects)].flatMap((key) => {
    const marker = inputs.markers.get(key);
    return marker ? [marker] : [];
  });
  const sum = (pick: (m: ProcessedMarker) => number) => merged.reduce((total, m) => total + pick(m), 0);
  const rows = {
    normalized: inputs.manifests.reduce((total, m) => total + m.rowCount, 0),
    rejected: inputs.manifests.reduce((total, m) => total + m.rejectedRowCount, 0),
    written: sum((m) => m.rowsWritten),
    identical: sum((m) => m.identicalRows),
    superseded: sum((m) => m.supersededRows),
    conflicts: sum((m) => m.rejectedRows),
  };

  const runIds = [...new Set(merged.map((m) => m.runId))];
  const etlRuns: DatasetEventEtlRun[] = runIds
    .map((runId) => {
      const report = inputs.reports.get(runId);
      return {
        runId,
        jobName: report?.jobName ?? null,
        snapshotId: report?.snapshotId ?? null,
        previousSnapshotId: report?.previousSnapshotId ?? null,
        startedAt: report?.startedAt ?? null,
        finishedAt: report?.finishedAt ?? null,
      };
    })
    .sort((a, b) => (a.finishedAt ?? '').localeCompare(b.finishedAt ?? '') || a.runId.localeCompare(b.runId));

  const failedChecks = result.checks.filter((c) => c.status === 'fail');
  const tolerated = result.checks.filter(isWithinTolerance);
  const base = {
    schemaVersion: DATASET_EVENT_SCHEMA_VERSION,
    pipeline: inputs.pipeline,
    dataset: dataset.name,
    executionId: inputs.executionId,
    executionName: executionNameOf(inputs.executionId),
    changed: rows.written - rows.identical > 0,
    tables: [
      {
        database: inputs.database,
        table: pipelineNames(inputs.pipeline).curatedTable(dataset.name),
        snapshotId: result.snapshotIds[dataset.name] ?? null,
      },
    ],
    partitions: {
      column: dataset.partition.column,
      values: values.slice(0, MAX_EVENT_PARTITIONS),
      omitted: Math.max(0, values.length - MAX_EVENT_PARTITIONS),
    },
    etlRuns,
    rows,
    reconciliation: {
      status,
      resultKey: inputs.resultKey,
      evaluatedAt: result.evaluatedAt,
      checks: {
        total: result.summary.checks,
        passed: result.summary.passed,
        failed: result.summary.failed,
        pending: result.summary.pending,
      },
      failedChecks: failedChecks.slice(0, MAX_EVENT_CHECKS).map(eventCheck),
      withinTolerance: tolerated.slice(0, MAX_EVENT_CHECKS).map(eventCheck),
    },
    files,
  };
  const source = datasetEventSource(inputs.pipeline);

  const reasons: HeldReason[] = [];
  if (status === 'failed') {
    const names = [...new Set(failedChecks.map((c) => c.check))];
    reasons.push({
      code: 'reconciliation_failed',
      message: `${count(result.summary.failed, 'reconciliation check')} failed (${names.join(', ')}): see ${inputs.resultKey} in the control bucket.`,
    });
  }
  if (files.failed > 0) {
    reasons.push({
      code: 'files_failed',
      message: `${count(files.failed, 'file')} of the batch failed (neither normalized nor quarantined after retries): untouched in landing and not in curated; the rest of the batch was merged.`,
    });
  }
  if (reasons.length > 0) {
    return { source, detailType: 'DatasetHeld', detail: { ...base, reasons } };
  }
  if (status === 'failed') throw new Error('unreachable: a failed reconciliation is always held');
  return {
    source,
    detailType: 'DatasetUpdated',
    detail: { ...base, reconciliation: { ...base.reconciliation, status } },
  };
}

/** Reads what the event is built from; the result document must exist (Reconcile wrote it). */
export async function loadDatasetEventInputs(
  deps: ReconcileDeps,
  dataset: ResolvedDataset,
  executionId: string,
  files: readonly FileOutcome[],
): Promise<DatasetEventInputs> {
  const resultKey = reconciliationResultKey(dataset.name, executionNameOf(executionId));
  const result = await readDocument(deps.s3, deps.env.controlBucket, resultKey, CONTRACTS.reconciliation);
  if (!result) {
    throw new ControlDocumentError(
      `reconciliation result ${resultKey} does not exist: the batch must be reconciled before its event is published`,
    );
  }
  const manifests = await loadManifests(deps, files);
  const markers = await loadMarkers(
    deps,
    manifests.flatMap((m) => m.partitions.map((p) => p.key)),
  );
  const runIds = [...markers.values()].flatMap((m) => (m ? [m.runId] : []));
  // Reconcile already waited for these reports: no second wait here.
  const reports = await loadRunReports(
    { ...deps, reportWait: { attempts: 1, delayMs: 0 } },
    dataset.name,
    runIds,
  );
  if (!deps.env.pipelineName) throw new Error('PIPELINE_NAME is required to publish dataset events');
  return {
    pipeline: deps.env.pipelineName,
    database: deps.env.glueDatabase ?? pipelineNames(deps.env.pipelineName).database,
    dataset,
    executionId,
    files,
    result,
    resultKey,
    manifests,
    markers,
    reports,
  };
}

/**
 * EventBridge's answer to PutEvents is per entry: a 200 response can still carry a failed entry
 * ("If an individual entry within a request fails, EventBridge continues processing the rest ...
 * You must detect unsuccessful entries and include them in a subsequent call", Sending events with
 * PutEvents, https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevents.html). The SDK
 * retries a failed request (throttling, 5xx), not a failed entry: the entry is put again here, up to
 * `attempts` times; still failing, it is DatasetEventNotPublishedError (the task's retry and then
 * its Catch take over).
 */
export async function putDatasetEvent(
  client: Pick<EventBridgeClient, 'send'>,
  event: DatasetEvent,
  options: {
    readonly attempts?: number;
    readonly delayMs?: number;
    readonly sleep?: (ms: number) => Promise<void>;
  } = {},
): Promise<DatasetEventReceipt> {
  const attempts = options.attempts ?? 3;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const what = `${event.detailType} event of ${event.detail.dataset} (execution ${event.detail.executionName})`;
  let lastError = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) await sleep((options.delayMs ?? 200) * 2 ** (attempt - 2));
    let output: PutEventsCommandOutput;
    try {
      output = await client.send(
        new PutEventsCommand({
          // No EventBusName: the account's default event bus.
          Entries: [
            {
              Source: event.source,
              DetailType: event.detailType,
              Detail: JSON.stringify(event.detail),
              // The reconciliation's time: a re-publish of the same result carries the same time.
              Time: new Date(event.detail.reconciliation.evaluatedAt),
            },
          ],
        }),
      );
    } catch (error) {
      const e = error as Error;
      throw new DatasetEventNotPublishedError(
        `${what} was not put on the default event bus: ${e.name}: ${e.message}`,
      );
    }
    const entry = output.Entries?.[0];
    if ((output.FailedEntryCount ?? 0) === 0 && entry?.EventId) {
      return {
        detailType: event.detailType,
        published: true,
        eventId: entry.EventId,
        reconciliation: event.detail.reconciliation.status,
        partitions: event.detail.partitions.values.length + event.detail.partitions.omitted,
        rowsWritten: event.detail.rows.written,
      };
    }
    lastError = entry?.ErrorCode
      ? `${entry.ErrorCode}: ${entry.ErrorMessage ?? ''}`.trim()
      : 'the entry came back without an event id';
  }
  throw new DatasetEventNotPublishedError(
    `${what} was not put on the default event bus after ${attempts} attempts: ${lastError}`,
  );
}
