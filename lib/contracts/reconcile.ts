/**
 * The reconcile Lambda's calls and results, as the state machine sends and reads them
 * (lib/constructs/workflow/, lib/contracts/workflow.ts `ExecutionState`): the handler
 * (lambdas/reconcile/handler.ts) parses these events and returns these results. The results
 * carry receipts of the alerts the Lambda published, never the alert text, so they stay small
 * in the execution's state.
 */
import type { AlertReceipt } from './alerts';
import type { FileOutcome } from './batch';
import type { DatasetEventReceipt } from './dataset-events';
import type { CheckStatus } from './reconciliation';
import type { Progress } from './workflow';

/**
 * The calls the state machine makes: PlanEtl/CheckProgress/EtlBusy (`progress`), Reconcile,
 * DetectSchemaDrift, EnsurePartitions (`partitions`) and PublishDatasetEvent (`publish`: the
 * DatasetUpdated or DatasetHeld event of the reconciled batch, lib/contracts/dataset-events.ts).
 */
export type ReconcileEvent =
  | {
      readonly action: 'progress';
      readonly dataset: string;
      readonly files: FileOutcome[];
      readonly previous?: Progress;
      /** The ETL run that just ended (CheckProgress): a run that read files made progress. */
      readonly lastRunId?: string;
    }
  | {
      readonly action: 'reconcile';
      readonly dataset: string;
      readonly executionId: string;
      readonly files: FileOutcome[];
    }
  | {
      readonly action: 'schema-drift';
      readonly dataset: string;
      readonly executionId: string;
      readonly files: FileOutcome[];
    }
  | {
      readonly action: 'partitions';
      readonly dataset: string;
      readonly files: FileOutcome[];
    }
  | {
      readonly action: 'publish';
      readonly dataset: string;
      readonly executionId: string;
      readonly files: FileOutcome[];
    };

/** Reconcile's result: the checks' outcome and the receipts of the alerts it published. */
export interface ReconcileResult {
  readonly status: CheckStatus;
  readonly failedChecks: number;
  readonly pendingChecks: number;
  readonly passedChecks: number;
  /** The result document (control bucket), the audit trail of every check. */
  readonly resultKey: string;
  /** The snapshot the checks refer to, per dataset (as in the result document). */
  readonly snapshotIds: Readonly<Record<string, string | null>>;
  /** The discrepancy alert (null: every check passed). */
  readonly alert: AlertReceipt | null;
  /** The restatement notice (null: nothing to say). */
  readonly restatementAlert: AlertReceipt | null;
  /**
   * The volume-anomaly warning (null: every file in band, or too little history); unpublished
   * with `error` when the volume check itself failed (docs/operations.md, "Volume anomalies").
   */
  readonly volumeAlert: AlertReceipt | null;
  /** What the volume check recorded and compared (null when it failed). */
  readonly volume: VolumeCheckSummary | null;
}

/** The volume check of one batch, in counts (the details are in its warning and the control bucket). */
export interface VolumeCheckSummary {
  /** File shares (a normalized file's rows of one source) recorded: one arrival and one volume record each. */
  readonly recorded: number;
  /** Shares compared with the median of their previous files. */
  readonly checked: number;
  /** Shares outside the band (each listed in the warning). */
  readonly anomalies: number;
  /** Shares with fewer previous files than `volume.minHistory`: recorded, not compared. */
  readonly noVerdict: number;
  /** Files of a source-column dataset whose manifest has no per-source totals: not recorded. */
  readonly skippedFiles: number;
}

/** DetectSchemaDrift's result. */
export interface SchemaDriftResult {
  readonly changed: boolean;
  /** The schema-drift notice's receipt (null: nothing to say). */
  readonly alert: AlertReceipt | null;
  readonly table: string;
  /** Current catalog version of the table (null when the table does not exist). */
  readonly versionId: string | null;
  /** True when no earlier state existed: the state was recorded, nothing compared. */
  readonly firstSighting: boolean;
}

/** EnsurePartitions' result. */
export interface CatalogPartitionsOutput {
  readonly table: string;
  /** The normalized table is not in the catalog: crawl again. */
  readonly tableMissing: boolean;
  /** Partition values the batch's normalized objects are in. */
  readonly partitions: number;
  /** Of those, registered by this call (the crawl had missed them). */
  readonly registered: number;
}

export type ReconcileResponse =
  | Progress
  | ReconcileResult
  | SchemaDriftResult
  | CatalogPartitionsOutput
  | DatasetEventReceipt;
