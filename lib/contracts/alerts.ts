/** Alerts published to the SNS topic; one formatter renders every kind. */
import type { BatchFile, FileFlag, FileOutcome, FileStatus, StatesError } from './batch';

/**
 * `restatement` and `schema_drift` are notices (severity `info`): nothing failed, but the data
 * owners should know (which files replaced or collided with which; a schema change). The
 * operations kinds (docs/operations.md): `late` (an expected arrival is missing; warning),
 * `recovered` (a late arrival came; info), `volume_anomaly` (a file's rows or measure totals
 * outside the band of its source's trailing median; warning).
 */
export type AlertKind =
  | 'discrepancy'
  | 'failure'
  | 'quarantine'
  | 'schema_drift'
  | 'unknown_template'
  | 'restatement'
  | 'late'
  | 'recovered'
  | 'volume_anomaly';
/** `info` is the notice level: sent for the owners' information, never for a failure. */
export type AlertSeverity = 'critical' | 'warning' | 'info';

export interface Alert {
  readonly kind: AlertKind;
  readonly severity: AlertSeverity;
  readonly dataset: string;
  /** At most 100 characters (the SNS email subject limit). */
  readonly subject: string;
  /** Human-readable text followed by the machine-readable JSON. */
  readonly message: string;
}

/**
 * What a handler that published an alert returns to the state machine instead of the alert:
 * the alert's text never enters the execution state (which is capped at 256 KiB), only this
 * receipt of a few hundred bytes.
 */
export interface AlertReceipt {
  readonly kind: AlertKind;
  readonly severity: AlertSeverity;
  readonly subject: string;
  /** False when SNS refused the message after the SDK's retries (then `error` says why). */
  readonly published: boolean;
  readonly messageId?: string;
  /** `<error name>: <message>`, at most 300 characters. */
  readonly error?: string;
}

/**
 * The outcome of each notice an execution sends, under `$.notices` in the execution state
 * (initialised to `{}` when the batch is prepared): an AlertReceipt, a schema-drift result
 * carrying one in `alert`, null (nothing to say) or, when the task itself failed, the error
 * Step Functions caught ({Error, Cause}).
 */
export type NoticeName =
  | 'schemaDrift'
  | 'discrepancy'
  | 'restatement'
  | 'quarantine'
  | 'unknownTemplate'
  /** The volume-anomaly warning's receipt, from Reconcile (lib/contracts/reconcile.ts `volumeAlert`). */
  | 'volumeAnomaly'
  /** The DatasetUpdated/DatasetHeld event (lib/contracts/dataset-events.ts): a DatasetEventReceipt or the error. */
  | 'datasetEvent';
export type NoticeOutcomes = Partial<Record<NoticeName, unknown>>;

/**
 * Written by the notify Lambda once a failure alert for an execution is published. The
 * backstop (EventBridge "Step Functions Execution Status Change" -> notify) alerts for a
 * FAILED execution only when this marker is absent, so an execution whose Catch already
 * alerted is not alerted twice, and one that failed where no Catch sees (States.DataLimitExceeded,
 * States.Runtime, an alert that could not be sent) still is. Control bucket.
 */
export const failureAlertMarkerKey = (executionName: string) => `alerts/failure/${executionName}.json`;

export interface FailureAlertMarker {
  readonly executionArn: string;
  readonly messageId: string;
  readonly publishedAt: string;
  /** `state-machine` (its failure path) or `backstop` (the EventBridge rule). */
  readonly by: 'state-machine' | 'backstop';
}

/**
 * The EventBridge event Step Functions sends when a Standard execution's status changes
 * (https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html). `input` is left out
 * (null) when input and output together pass 248 KB; `inputDetails.included` says so.
 */
export interface ExecutionStatusChangeEvent {
  readonly source: 'aws.states';
  readonly 'detail-type': 'Step Functions Execution Status Change';
  readonly detail: {
    readonly executionArn: string;
    readonly stateMachineArn: string;
    readonly name: string;
    readonly status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE';
    readonly startDate?: number;
    readonly stopDate?: number | null;
    readonly input?: string | null;
    readonly inputDetails?: { readonly included: boolean };
    /** The execution output (SUCCEEDED), left out past 248 KB. */
    readonly output?: string | null;
    readonly outputDetails?: { readonly included: boolean };
    readonly error?: string | null;
    readonly cause?: string | null;
  };
}

export const EXECUTION_STATUS_CHANGE = 'Step Functions Execution Status Change';
/**
 * Statuses the backstop sees: every end. FAILED, TIMED_OUT and ABORTED are alerted unless the
 * execution's own failure alert went out; SUCCEEDED only when its output records a notice that
 * was not published (the batch was merged and reconciled; the notice is what is missing).
 */
export const BACKSTOP_STATUSES = ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'] as const;

/** A file as the state machine knows it: a BatchFile (before Normalize) or a FileOutcome (after). */
export interface AlertFile {
  readonly key: string;
  readonly versionId?: string | null;
  readonly status?: FileStatus;
  readonly sourceId?: string;
  readonly rows?: number;
  readonly rejectedRows?: number;
  readonly quarantineKey?: string;
  readonly errorName?: string;
  readonly reason?: string;
  /** A normalized file that landed but needs review (see FileOutcome.flag). */
  readonly flag?: FileFlag;
  readonly manifestKey?: string;
}

export interface FailureAlertInput {
  readonly kind: 'failure';
  readonly dataset: string;
  /** State that failed, e.g. `workforce_capacity.RunEtl`. */
  readonly stage: string;
  /** Execution ARN (`$$.Execution.Id`). */
  readonly executionId: string;
  readonly error: StatesError;
  readonly files?: readonly AlertFile[];
  /** Outcome of each notice the execution sent (`$.notices`): those not published are listed. */
  readonly notices?: NoticeOutcomes;
  /**
   * Set by the backstop (the EventBridge rule on execution status changes): the execution ended
   * without its own failure alert (a failure no Catch sees, a timeout, an abort).
   */
  readonly backstop?: { readonly status: string };
  /** Region for the console link when the execution id is not an ARN. */
  readonly region?: string;
  /** Quarantine bucket, to print full S3 locations when known. */
  readonly quarantineBucket?: string;
}

export interface QuarantineAlertInput {
  readonly kind: 'quarantine';
  readonly dataset: string;
  readonly executionId: string;
  readonly files: readonly AlertFile[];
  readonly region?: string;
  readonly quarantineBucket?: string;
}

/** Normalized files whose header matched no template, landed because the dataset says `flag`. */
export interface UnknownTemplateAlertInput {
  readonly kind: 'unknown_template';
  readonly dataset: string;
  readonly executionId: string;
  readonly files: readonly AlertFile[];
  readonly region?: string;
}

/**
 * What the state machine asks the notify Lambda (lambdas/notify/handler.ts) to format and
 * publish: stage failures (every Catch),
 * quarantined files / rejected rows, files landed with an unknown template; and the backstop
 * alert for executions that ended FAILED, TIMED_OUT or ABORTED without one (the EventBridge
 * rule on "Step Functions Execution Status Change" events). Returns an AlertReceipt: the alert
 * text never travels through the execution state. `files` are FileOutcomes after the
 * Normalize Map and BatchFiles before it; both have `key`.
 */
export type NotifyEvent =
  | (Omit<FailureAlertInput, 'region' | 'quarantineBucket' | 'backstop' | 'files'> & {
      readonly files?: readonly NotifyFile[];
    })
  | (Omit<QuarantineAlertInput, 'region' | 'quarantineBucket' | 'files'> & {
      readonly files: readonly NotifyFile[];
    })
  | (Omit<UnknownTemplateAlertInput, 'region' | 'files'> & { readonly files: readonly NotifyFile[] });

/**
 * A file as the state machine sends it: a BatchFile before the Normalize Map, a FileOutcome
 * after. The alert formatter reads the AlertFile fields of either.
 */
export type NotifyFile = BatchFile | FileOutcome;

/** What the backstop returns when the execution already had its failure alert. */
export interface BackstopSkipped {
  readonly skipped: true;
  readonly reason: string;
}

export type NotifyResponse = AlertReceipt | BackstopSkipped;
