/**
 * The Glue ETL's control documents (control bucket, written by glue-scripts/lib/pipeline_etl/
 * curation.py, read by the reconcile Lambda): the run report (one per job run), the processed
 * marker (one per normalized object merged) and the partition aggregates (one per touched
 * partition). Schema version 2: the curated table is an Apache Iceberg table and every document
 * names the snapshot it describes (docs/etl.md, "Control documents").
 *
 * Row accounting, per normalized object (marker) and per source file (run report), holds:
 *
 *   rowsRead = rowsWritten + supersededRows + rejectedRows
 *   manifest sum of m = measures[m] + supersededMeasures[m] + rejectedMeasures[m]
 *
 * Snapshot ids are Iceberg snapshot ids (64-bit integers) as decimal strings: JSON numbers would
 * lose digits past 2^53.
 */

import type { ComplianceSummary } from './approvals';

/** The version of every document in this file; readers refuse any other. */
export const ETL_DOCUMENT_VERSION = 2;

/**
 * Why rows left (or never entered) curated:
 * - `same_object`: a newer version of the same landing object replaced every row of the older one;
 * - `scope`: a newer file covering the same replacement-scope values replaced them;
 * - `key`: a newer row with the same dataset key won (conflict policy `latest`; within one file,
 *   the later row);
 * - `conflict`: they collided on the dataset key with rows already there and were rejected to
 *   quarantine (conflict policy `reject`).
 */
export type DisplacedReason = 'same_object' | 'scope' | 'key' | 'conflict';

/** Rows of one object displaced by (or colliding with) one other file, for one reason. */
export interface Displaced {
  /** The file that replaced these rows, or the file they collided with (may be the object's own file). */
  readonly sourceId: string;
  readonly sourceKey: string;
  readonly reason: DisplacedReason;
  readonly rows: number;
  /** Exact decimal sums of the displaced rows' measures. */
  readonly measures: Readonly<Record<string, string>>;
}

/** Where every row read ended up: the same fields on a marker and on a run report's source entry. */
export interface RowAccounting {
  /** Rows read by this run. */
  readonly rowsRead: number;
  /** Of them, rows in curated as of the snapshot (inserted now, or already there from an earlier attempt). */
  readonly rowsWritten: number;
  /** Of `rowsWritten`, rows already in curated before this run (the same object redelivered or retried). */
  readonly identicalRows: number;
  /** Rows replaced by a newer file (see `supersededBy`). */
  readonly supersededRows: number;
  readonly supersededMeasures: Readonly<Record<string, string>>;
  /** Which files replaced them, why, how many rows and their sums; rows add up to `supersededRows`. */
  readonly supersededBy: readonly Displaced[];
  /** Rows quarantined because they collided on the key with another file's rows (policy `reject`). */
  readonly rejectedRows: number;
  readonly rejectedMeasures: Readonly<Record<string, string>>;
  /** Which files they collided with (reason `conflict`); rows add up to `rejectedRows`. */
  readonly conflictsWith: readonly Displaced[];
  /** `supersededRows + rejectedRows`, kept for readers of schema version 1. */
  readonly duplicateRows: number;
  /** Exact decimal sums of the `rowsWritten` rows. */
  readonly measures: Readonly<Record<string, string>>;
  /** Exact decimal sums of the `identicalRows` rows (included in `measures`). */
  readonly identicalMeasures: Readonly<Record<string, string>>;
}

/** One source file's totals in a run report: its markers of the run, summed. */
export interface EtlSourceTotals extends RowAccounting {
  readonly sourceId: string;
  readonly sourceKey: string;
  readonly sourceVersion: string | null;
  readonly normalizedKeys: readonly string[];
}

/** Rows a run added to and deleted from one partition of the Iceberg table. */
export interface EtlPartitionWrite {
  readonly value: string;
  readonly rowsAdded: number;
  /** Rows of earlier snapshots this run removed (superseded or rejected). */
  readonly rowsDeleted: number;
}

/** Rows of one file that a newer file replaced in (or kept out of) curated during a run. */
export interface EtlRestatement {
  /** The newer file, which replaced the rows. */
  readonly sourceId: string;
  readonly sourceKey: string;
  /** The file whose rows were replaced (curated by this run or by an earlier one; may be the same file). */
  readonly supersededSourceId: string;
  readonly supersededSourceKey: string;
  readonly reason: Exclude<DisplacedReason, 'conflict'>;
  readonly rows: number;
}

/** Rows of one file rejected to quarantine for colliding on the key with another file's rows. */
export interface EtlConflict {
  /** The file whose rows were rejected (the later landing). */
  readonly sourceId: string;
  readonly sourceKey: string;
  /** The file whose rows stay in curated. */
  readonly conflictsWithSourceId: string;
  readonly conflictsWithSourceKey: string;
  readonly rows: number;
  /** Where the rejected rows are in the quarantine bucket (`rows/<dataset>/conflicts/<runId>/`). */
  readonly quarantineKey: string | null;
}

/** Written once per job run (key: layout.etlRunReportKey), before the run's markers. */
export interface EtlRunReport {
  readonly schemaVersion: 2;
  readonly dataset: string;
  readonly runId: string;
  readonly jobName: string;
  /** The Step Functions execution that started the run (`--execution_id`), when one did. */
  readonly executionId: string | null;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly pushDownPredicate: string | null;
  readonly boundedFiles: number;
  readonly filesRead: number;
  /** True when the run read as many files as the cap allows (more may be waiting). */
  readonly capReached: boolean;
  /** Files matching the predicate left for a later run, when the reader can tell; else null. */
  readonly filesLeft: number | null;
  /** The Iceberg snapshot this run committed; null when it committed nothing. */
  readonly snapshotId: string | null;
  /** The table's current snapshot when the run started; null before the table's first commit. */
  readonly previousSnapshotId: string | null;
  readonly sources: readonly EtlSourceTotals[];
  /**
   * Every row this run removed from, or kept out of, curated because a newer file replaced it,
   * including rows of files curated by earlier runs. Absent only in the report of a run that read nothing.
   */
  readonly restatements?: readonly EtlRestatement[];
  /** Every collision rejected to quarantine (policy `reject`). Absent only when the run read nothing. */
  readonly conflicts?: readonly EtlConflict[];
  readonly partitionsWritten: readonly EtlPartitionWrite[];
  readonly curatedTable: string;
  /** The Iceberg table's location (`s3://<curated bucket>/<dataset>`). Absent only when the run read nothing. */
  readonly tableLocation?: string;
  readonly addedColumns: readonly string[];
  /** Each dimension the run joined and the snapshot it read (empty when the run read nothing). */
  readonly dimensions: readonly EtlDimensionRead[];
  /**
   * The compliance rules' findings on the rows read (datasets with `compliance` rules); absent for
   * other datasets and when the run read nothing.
   */
  readonly compliance?: ComplianceSummary;
  /** The requests document written (datasets with an approval workflow); absent otherwise. */
  readonly requestsKey?: string;
  /**
   * `reprocess`: the run recomputed one partition from every normalized object of it
   * (`--reprocess_partition`, docs/etl.md "Reprocessing one partition"); absent for the
   * incremental run.
   */
  readonly mode?: 'reprocess';
  /** What a reprocessing run did to its partition (present exactly when `mode` is `reprocess`). */
  readonly reprocess?: EtlReprocessSummary;
}

/** One partition recomputed: its rows before and after, and what the one commit changed. */
export interface EtlReprocessSummary {
  /** `<partition column>=<value>`. */
  readonly partition: string;
  readonly column: string;
  readonly value: string;
  /** Normalized objects of the partition read (all of them, markers ignored, no cap). */
  readonly objects: number;
  /** The partition's rows in curated when the run started (at `previousSnapshotId`). */
  readonly rowsBefore: number;
  /** The partition's rows in curated after the run (checked after the commit). */
  readonly rowsAfter: number;
  readonly rowsInserted: number;
  /** Rows of the same identity whose values changed (an Iceberg update: deleted and added). */
  readonly rowsUpdated: number;
  readonly rowsDeleted: number;
  /** Rows already in curated with every value equal (`identicalRows` of the markers). */
  readonly rowsUnchanged: number;
  /** False when nothing differed: no snapshot was committed (`snapshotId` null). */
  readonly committed: boolean;
  /**
   * Rows of other partitions that rows of this one would displace under a table-wide key: not
   * changed (the run changes its partition only); 0 in a consistent table.
   */
  readonly otherPartitionRowsDisplaced: number;
}

/**
 * What the run that first merged a normalized object said of it (its marker's counts), kept on
 * the marker a reprocessing run writes in its place: that run's report still lists the object,
 * and the reconciliation checks the report against these counts.
 */
export interface MarkerOrigin {
  readonly runId: string;
  readonly snapshotId: string | null;
  readonly rowsRead: number;
  readonly rowsWritten: number;
  readonly identicalRows: number;
  readonly supersededRows: number;
  readonly rejectedRows: number;
  readonly duplicateRows: number;
  readonly measures: Readonly<Record<string, string>>;
  readonly identicalMeasures: Readonly<Record<string, string>>;
  readonly supersededMeasures: Readonly<Record<string, string>>;
  readonly rejectedMeasures: Readonly<Record<string, string>>;
}

/** A dimension a run joined: the curated table or the file it read, and the snapshot. */
export interface EtlDimensionRead {
  readonly name: string;
  /** `<database>.<table>` of a dimension dataset; null for a dimension file. */
  readonly table: string | null;
  /** S3 URL of a dimension file; null for a dimension table. */
  readonly path: string | null;
  /** The Iceberg snapshot read (decimal string); null for a dimension file. */
  readonly snapshotId: string | null;
}

/** Written once per normalized object the ETL has merged into curated (key: layout.processedMarkerKey). */
export interface ProcessedMarker extends RowAccounting {
  readonly schemaVersion: 2;
  readonly dataset: string;
  readonly runId: string;
  readonly normalizedKey: string;
  readonly sourceId: string;
  /** The table's snapshot after the run: `rowsWritten` rows are in curated as of it. */
  readonly snapshotId: string | null;
  /** Where the rejected rows are in the quarantine bucket; null when none were rejected. */
  readonly rejectedKey: string | null;
  /** Written by a reprocessing run over an earlier marker: that first run's counts (see MarkerOrigin). */
  readonly origin?: MarkerOrigin;
}

/** Control totals of one curated partition for cross-template rules (key: layout.aggregatesKey). */
export interface PartitionAggregates {
  readonly schemaVersion: 2;
  readonly dataset: string;
  readonly partition: string;
  readonly runId: string;
  /** The snapshot the sums were read from (the whole partition as committed by `runId`). */
  readonly snapshotId: string | null;
  readonly rules: readonly {
    readonly rule: string;
    readonly measure: string;
    readonly groupBy: readonly string[];
    /** One entry per template and group: `{template, group: {col: value}, sum}` (sum exact decimal). */
    readonly sums: readonly {
      readonly template: string;
      readonly group: Readonly<Record<string, string | null>>;
      readonly sum: string;
    }[];
  }[];
}

/** The `schemaVersion` a control document declares (`undefined` when it has none). */
export function schemaVersionOf(document: unknown): unknown {
  return document && typeof document === 'object'
    ? (document as { schemaVersion?: unknown }).schemaVersion
    : undefined;
}
