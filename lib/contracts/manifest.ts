/**
 * The normalizer's manifest: one per source object version, written last (the commit point of a
 * file): docs/normalizer.md "Output". Reconciliation compares it with the ETL's processed markers:
 * docs/reconciliation.md "Source → curated control totals".
 */

export interface ManifestSource {
  readonly bucket: string;
  readonly key: string;
  readonly versionId: string | null;
  readonly sourceId: string;
  readonly size: number;
  readonly etag: string | null;
  /** SHA-256 of the object's bytes, hex. */
  readonly contentSha256: string;
  /**
   * When the object landed: the S3 event's time (BatchFile.eventTime, ISO-8601 UTC), where the
   * end-to-end latency metric starts (lib/contracts/metrics.ts). Absent in manifests written
   * before it was recorded; reconciliation then measures no latency for the file.
   */
  readonly eventTime?: string;
}

export interface MeasureTotal {
  /** Exact decimal sum, as a plain decimal string (never via float). */
  readonly sum: string;
  readonly nullCount: number;
}

/**
 * The rows and measure totals of one source value of the file (the dataset's `source.column`,
 * e.g. one provider of a billing export): what volume anomalies compare and expected arrivals
 * count (docs/operations.md). One entry per distinct value (trimmed), in value order; a null or
 * empty value is the source ''.
 */
export interface ManifestSourceTotals {
  readonly value: string;
  readonly rowCount: number;
  readonly measures: Readonly<Record<string, MeasureTotal>>;
}

/**
 * The rows of the file's source values past the first `MAX_SOURCES_PER_FILE` (100) distinct ones
 * (lambdas/normalize/file-run.ts), totalled together: `sources` plus this add up to the file.
 */
export type ManifestSourceOverflow = Omit<ManifestSourceTotals, 'value'>;

export interface ManifestPartition {
  /** Partition value, e.g. `2024-09`. */
  readonly value: string;
  /** Normalized object key written for this partition. */
  readonly key: string;
  readonly rowCount: number;
  readonly measures: Readonly<Record<string, MeasureTotal>>;
}

export interface NormalizerManifest {
  readonly schemaVersion: 1;
  readonly dataset: string;
  readonly status: 'normalized' | 'duplicate';
  readonly source: ManifestSource;
  /** Set when the same content was already ingested from another object version. */
  readonly duplicateOf: {
    readonly key: string;
    readonly versionId: string | null;
    readonly sourceId: string;
  } | null;
  readonly template: ManifestTemplate;
  readonly format: {
    readonly kind: string;
    readonly compression: 'gzip' | null;
    readonly encoding: string | null;
    readonly delimiter: string | null;
    readonly sheets: readonly string[] | null;
    /**
     * Decimal mark the file's measure text was read with, decided from its unambiguous values
     * (`.`: 1,234.56; `,`: 1.234,56); null when none decided it (typed numbers only, or none).
     */
    readonly decimalMark?: '.' | ',' | null;
  };
  /** Output data columns in order (canonical names, lineage columns excluded). */
  readonly columns: readonly string[];
  /** Output columns the dataset config does not declare (kept, never dropped). */
  readonly unknownColumns: readonly string[];
  readonly rowCount: number;
  readonly rejectedRowCount: number;
  readonly measures: Readonly<Record<string, MeasureTotal>>;
  readonly partitions: readonly ManifestPartition[];
  /**
   * Per value of the dataset's `source.column` (docs/operations.md): absent when the dataset
   * declares no source column, and in manifests written before sources were recorded.
   */
  readonly sources?: readonly ManifestSourceTotals[];
  /** Rows of source values past the cap on `sources` (absent when there were none). */
  readonly sourcesOverflow?: ManifestSourceOverflow;
  readonly normalizedKeys: readonly string[];
  /** Quarantine object holding the rejected rows with reasons, when there were any. */
  readonly rejectedRowsKey: string | null;
  readonly normalizedAt: string;
  /** One entry per table read (an XLSX sheet, or the file). */
  readonly tables?: readonly ManifestTable[];
  /** XLSX sheets not read, with why (`hidden`, `empty`, `no_partition_column`). */
  readonly skippedSheets?: readonly { readonly sheet: string; readonly reason: string }[];
  /**
   * Set when a table's header matched no declared template and the dataset's
   * `unknownTemplate` is `flag`: the rows landed (template null) and need review. Null or
   * absent otherwise (with `quarantine` such a file is quarantined instead).
   */
  readonly unknownTemplate?: UnknownTemplateFlag | null;
}

/** The first table of a file whose header matched no declared template. */
export interface UnknownTemplateFlag {
  readonly sheet: string | null;
  /** The table's header as read. */
  readonly headers: readonly string[];
  /** Headers that name no column of the closest template. */
  readonly unmatchedHeaders: readonly string[];
  /** The template the header comes closest to (null when it shares no column with any). */
  readonly closestTemplate: string | null;
  /** Required columns of the closest template the header lacks. */
  readonly missingColumns: readonly string[];
  /** The same in one sentence (quoted by the file outcome's `reason` and the alert). */
  readonly detail: string;
}

/** The template a file's (or table's) header matched. */
export interface ManifestTemplate {
  readonly name: string | null;
  readonly version: string | null;
  /** `exact`: headers equal a declared version; `columns`: required columns found; `unknown`: neither. */
  readonly match: 'exact' | 'columns' | 'unknown';
}

export interface ManifestTable {
  readonly sheet: string | null;
  /** Row number of the header row (null when the format names its columns). */
  readonly headerRow: number | null;
  /** Non-empty rows above the header row (titles, notes), skipped. */
  readonly skippedRows: number;
  readonly template: ManifestTemplate;
  readonly rowCount: number;
  readonly rejectedRowCount: number;
}
