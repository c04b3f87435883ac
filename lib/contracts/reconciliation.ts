/** Reconciliation: one result document per execution, every check with expected/actual/delta. */
import type { DisplacedReason } from './run-report';

export type CheckStatus = 'pass' | 'fail' | 'pending';

/** A file that replaced rows of the checked file, or that they collided with. */
export interface AccountedFile {
  readonly sourceId: string;
  readonly sourceKey: string;
  readonly reason: DisplacedReason;
  /** Rows (`rows` check) or the exact sum of the measure (`measure:<m>` check). */
  readonly amount: string;
}

/**
 * Where the checked file's rows (or one measure's sum) of one partition ended up, from its
 * processed marker: `curated + superseded + rejected` is what the check compares with the source.
 */
export interface CheckAccounting {
  /** In curated as of `snapshotId`. */
  readonly curated: string;
  /** Of `curated`, already there before the run (the same object delivered again). */
  readonly identical: string;
  /** Replaced by a newer file. */
  readonly superseded: string;
  readonly supersededBy: readonly AccountedFile[];
  /** Rejected to quarantine: they collided on the dataset key with another file's rows. */
  readonly rejected: string;
  readonly conflictsWith: readonly AccountedFile[];
  /** Quarantine bucket location of the rejected rows; null when none. */
  readonly rejectedKey: string | null;
  /** The Iceberg snapshot the counts refer to. */
  readonly snapshotId: string | null;
  /** The ETL run that merged the object. */
  readonly runId: string;
}

export interface ReconciliationCheck {
  /** `rows`, `measure:<name>`, `run_report`, `marker`, `unprocessed`, `cross_template:<rule>`. */
  readonly check: string;
  readonly status: CheckStatus;
  /** Source object the check is about (per-file checks). */
  readonly source?: { readonly key: string; readonly versionId: string | null; readonly sourceId: string };
  /** Group the check is about (cross-template checks), e.g. `{org_unit: "Data", quarter: "2025-Q1"}`. */
  readonly scope?: Readonly<Record<string, string>>;
  /** `rows`: the source's rows; `measure:<m>`: the source's exact sum. */
  readonly expected: string | null;
  /** `rows` and `measure:<m>`: what the ETL accounts for (in curated + superseded + rejected). */
  readonly actual: string | null;
  readonly delta: string | null;
  readonly tolerance: string;
  /** `rows` and `measure:<m>` checks of a merged object: the breakdown of `actual`. */
  readonly accounting?: CheckAccounting;
  readonly detail: string;
}

export interface ReconciliationResult {
  readonly schemaVersion: 2;
  readonly dataset: string;
  readonly executionId: string;
  readonly evaluatedAt: string;
  readonly status: CheckStatus;
  /**
   * The curated table's snapshot the checks refer to, per dataset: the snapshot of the latest ETL
   * run that merged the batch's objects (null when none did, or the table has no snapshot).
   * Time travel (`FOR VERSION AS OF <id>` in Athena, `query --snapshot <id>` locally) shows
   * the table as it was when the result was written, until snapshot expiry removes it.
   */
  readonly snapshotIds: Readonly<Record<string, string | null>>;
  readonly summary: {
    readonly checks: number;
    readonly passed: number;
    readonly failed: number;
    readonly pending: number;
  };
  readonly checks: readonly ReconciliationCheck[];
}
