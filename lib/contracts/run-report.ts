/** The Glue ETL's run report (one per job run) and per-normalized-object processed markers. */

export interface EtlSourceTotals {
  readonly sourceId: string;
  readonly sourceKey: string;
  readonly sourceVersion: string | null;
  readonly normalizedKeys: readonly string[];
  readonly rowsRead: number;
  readonly rowsWritten: number;
  /** Rows dropped because another row with the same key was kept (within or across files). */
  readonly duplicateRows: number;
  /**
   * Of `duplicateRows`, those whose kept row has the same value in every data column (the same
   * data delivered twice): delivered, not a key collision. Absent in documents of older runs.
   */
  readonly identicalRows?: number;
  /** Exact decimal sums of the rows written to curated, as strings. */
  readonly measures: Readonly<Record<string, string>>;
  /** Exact decimal sums of the `identicalRows`. */
  readonly identicalMeasures?: Readonly<Record<string, string>>;
}

export interface EtlPartitionWrite {
  readonly value: string;
  readonly location: string;
  readonly previousLocation: string | null;
  readonly rows: number;
}

export interface EtlRunReport {
  readonly schemaVersion: 1;
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
  readonly sources: readonly EtlSourceTotals[];
  readonly partitionsWritten: readonly EtlPartitionWrite[];
  readonly curatedTable: string;
  readonly addedColumns: readonly string[];
}

/** Written once per normalized object the ETL has merged into curated (key: see layout.processedMarkerKey). */
export interface ProcessedMarker {
  readonly schemaVersion: 1;
  readonly dataset: string;
  readonly runId: string;
  readonly normalizedKey: string;
  readonly sourceId: string;
  readonly rowsRead: number;
  readonly rowsWritten: number;
  readonly duplicateRows: number;
  /** Of `duplicateRows`, rows equal in every data column to the row kept (see EtlSourceTotals). */
  readonly identicalRows?: number;
  readonly measures: Readonly<Record<string, string>>;
  readonly identicalMeasures?: Readonly<Record<string, string>>;
}

/** Control totals of one curated partition for cross-template rules (key: layout.aggregatesKey). */
export interface PartitionAggregates {
  readonly schemaVersion: 1;
  readonly dataset: string;
  readonly partition: string;
  readonly runId: string;
  readonly location: string;
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

/**
 * The ETL's record of one run's partition swaps (key: `etl/swaps/<dataset>/<runId>.json`):
 * superseded locations are deleted by later runs once older than the retention, never at the swap.
 */
export interface SwapRecord {
  readonly schemaVersion: 1;
  readonly dataset: string;
  readonly runId: string;
  readonly state: 'staged' | 'swapped';
  readonly createdAt: string;
  readonly swappedAt: string | null;
  readonly partitions: readonly {
    readonly value: string;
    readonly location: string;
    readonly previousLocation: string | null;
  }[];
}
