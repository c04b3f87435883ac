/**
 * The events the pipeline puts on the account's default EventBridge bus once an execution's batch
 * is reconciled (issue 15 part 2, docs/events.md): `DatasetUpdated` when every check passed (or
 * passed within its tolerance, or waits for the other side of a cross-template rule) and no file
 * of the batch failed; `DatasetHeld` otherwise, with the reasons. Downstream jobs start on these
 * instead of a schedule, on data that was checked.
 *
 * Published by the reconcile Lambda's `publish` action (lambdas/reconcile/dataset-event.ts) from
 * the execution's reconciliation result document, the batch's manifests, the ETL's processed
 * markers and run reports; nothing in an event is computed anew, so a retried or redriven publish
 * carries the same detail. EventBridge delivers at least once and a retried PutEvents may put the
 * same event twice: consumers deduplicate on `detail.executionId` + `detail-type`.
 *
 * `lib/contracts/schemas/dataset-updated.schema.json` and `dataset-held.schema.json` are generated
 * from the detail types below (`npm run contracts`): a consumer validates an event's `detail`
 * against the schema its `detail-type` names.
 */

/** The version of the detail shape; a change that breaks a consumer raises it. */
export const DATASET_EVENT_SCHEMA_VERSION = 1 as const;

export const DATASET_EVENT_TYPES = ['DatasetUpdated', 'DatasetHeld'] as const;
export type DatasetEventType = (typeof DATASET_EVENT_TYPES)[number];

/**
 * The events' `source`: `<pipelineName>.pipeline` (`ingestion.pipeline` by default). One per
 * deployment, so two deployments in one account (two pipeline names) are told apart by a rule's
 * pattern, and each reconcile role may put only its own source (the IAM statement's
 * `events:source` condition). Never starts with `aws.` (reserved for AWS services).
 */
export const datasetEventSource = (pipelineName: string) => `${pipelineName}.pipeline` as const;

/**
 * The reconciliation's outcome as a consumer reads it:
 * - `passed`: every check equal;
 * - `within_tolerance`: every check passed, some measure sums differ from the source by no more
 *   than their configured tolerance (`reconciliation.withinTolerance` lists them);
 * - `pending`: nothing failed, but a cross-template rule waits for its other side;
 * - `failed`: a check failed (`reconciliation.failedChecks`): always a `DatasetHeld`.
 */
export type ReconciliationOutcome = 'passed' | 'within_tolerance' | 'pending' | 'failed';

/** The curated table the batch was merged into, and its snapshot the reconciliation checked. */
export interface DatasetEventTable {
  /** Glue database. */
  readonly database: string;
  readonly table: string;
  /**
   * The Iceberg snapshot the checks refer to (decimal string; null when nothing was merged):
   * `FOR VERSION AS OF <id>` in Athena reads the table as checked.
   */
  readonly snapshotId: string | null;
}

/** The partitions the batch's normalized files wrote to. */
export interface DatasetEventPartitions {
  readonly column: string;
  /** Sorted; at most MAX_EVENT_PARTITIONS (the rest counted in `omitted`). */
  readonly values: readonly string[];
  /** Values left out to keep the event under EventBridge's 256 KB entry limit (0: none). */
  readonly omitted: number;
}

/** An ETL run that merged objects of the batch (from the processed markers and its run report). */
export interface DatasetEventEtlRun {
  readonly runId: string;
  /** The Glue job (null when the run report is missing: the reconciliation then failed). */
  readonly jobName: string | null;
  /** The Iceberg snapshot the run committed (null: it committed nothing, or no report). */
  readonly snapshotId: string | null;
  readonly previousSnapshotId: string | null;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
}

/** Row counts of the batch. */
export interface DatasetEventRows {
  /** Rows the normalizer wrote for the batch's files (their manifests). */
  readonly normalized: number;
  /** Rows the normalizer rejected to quarantine, with reasons. */
  readonly rejected: number;
  /** Of the normalized rows, in curated as of the snapshot (the ETL's processed markers). */
  readonly written: number;
  /** Of `written`, rows already in curated before (the same object delivered again). */
  readonly identical: number;
  /** Rows of the batch a newer file replaced. */
  readonly superseded: number;
  /** Rows of the batch rejected to quarantine on a key conflict (policy `reject`). */
  readonly conflicts: number;
}

/** One reconciliation check named in an event (the result document has every check in full). */
export interface DatasetEventCheck {
  /** `rows`, `measure:<name>`, `run_report`, `marker`, `unprocessed`, `cross_template:<rule>`, ... */
  readonly check: string;
  /** The landing key of the file the check is about (null for a cross-template check). */
  readonly sourceKey: string | null;
  /** The group of a cross-template check. */
  readonly scope?: Readonly<Record<string, string>>;
  readonly delta: string | null;
}

/** The outcomes a DatasetUpdated can carry. */
export type PassedOutcome = Exclude<ReconciliationOutcome, 'failed'>;

export interface DatasetEventReconciliation<S extends ReconciliationOutcome = ReconciliationOutcome> {
  readonly status: S;
  /** The result document in the control bucket: every check with expected, actual and delta. */
  readonly resultKey: string;
  readonly evaluatedAt: string;
  readonly checks: {
    readonly total: number;
    readonly passed: number;
    readonly failed: number;
    readonly pending: number;
  };
  /** The failed checks, at most MAX_EVENT_CHECKS (the result document has them all). */
  readonly failedChecks: readonly DatasetEventCheck[];
  /** Passed checks whose delta is not zero (within the tolerance), at most MAX_EVENT_CHECKS. */
  readonly withinTolerance: readonly DatasetEventCheck[];
}

/** The batch's files by outcome. */
export interface DatasetEventFiles {
  readonly total: number;
  readonly normalized: number;
  /** Content that had already reached curated: nothing to merge. */
  readonly duplicate: number;
  readonly quarantined: number;
  /** Neither normalized nor quarantined after retries: untouched in landing, not in curated. */
  readonly failed: number;
  /** Normalized with a header no template matched (dataset setting `unknownTemplate: flag`). */
  readonly flagged: number;
}

/** Why a batch is held. */
export type HeldReasonCode = 'reconciliation_failed' | 'files_failed';

export interface HeldReason {
  readonly code: HeldReasonCode;
  /** One sentence for an operator. */
  readonly message: string;
}

interface DatasetEventDetailBase<S extends ReconciliationOutcome> {
  readonly schemaVersion: 1;
  /** The deployment's pipeline name. */
  readonly pipeline: string;
  readonly dataset: string;
  /** The Step Functions execution ARN: with `detail-type`, the deduplication key. */
  readonly executionId: string;
  readonly executionName: string;
  /**
   * True when the batch put rows into curated that were not there before; false when it merged
   * nothing new (every file a duplicate, quarantined or failed, or its rows already curated).
   */
  readonly changed: boolean;
  readonly tables: readonly DatasetEventTable[];
  readonly partitions: DatasetEventPartitions;
  /** Runs of the curate job that merged the batch's objects, oldest first. */
  readonly etlRuns: readonly DatasetEventEtlRun[];
  readonly rows: DatasetEventRows;
  readonly reconciliation: DatasetEventReconciliation<S>;
  readonly files: DatasetEventFiles;
}

/** `DatasetUpdated`: the batch is in curated and reconciled. */
export interface DatasetUpdatedDetail extends DatasetEventDetailBase<PassedOutcome> {}

/** `DatasetHeld`: what was merged is in curated, but it did not pass; `reasons` say why. */
export interface DatasetHeldDetail extends DatasetEventDetailBase<ReconciliationOutcome> {
  /**
   * At least one.
   * @minItems 1
   */
  readonly reasons: readonly HeldReason[];
}

/** The entry put on the bus (PutEvents: `Source`, `DetailType`, `Detail`). */
export type DatasetEvent =
  | { readonly source: string; readonly detailType: 'DatasetUpdated'; readonly detail: DatasetUpdatedDetail }
  | { readonly source: string; readonly detailType: 'DatasetHeld'; readonly detail: DatasetHeldDetail };

/** Lists in an event are capped so that an entry stays far below EventBridge's 256 KB. */
export const MAX_EVENT_PARTITIONS = 500;
export const MAX_EVENT_CHECKS = 25;

/** The error name of an event that could not be put on the bus (the state machine retries on it). */
export const DATASET_EVENT_NOT_PUBLISHED = 'DatasetEventNotPublishedError';

/**
 * What the `publish` action returns to the state machine (`$.notices.datasetEvent`): the event
 * went out. An event that could not be put is an error (DatasetEventNotPublishedError), retried
 * by the task and then recorded by its Catch, which the backstop reads.
 */
export interface DatasetEventReceipt {
  readonly detailType: DatasetEventType;
  readonly published: true;
  /** The id EventBridge gave the event. */
  readonly eventId: string;
  readonly reconciliation: ReconciliationOutcome;
  readonly partitions: number;
  readonly rowsWritten: number;
}
