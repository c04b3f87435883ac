/**
 * Dataset configuration: the one source of truth that feeds the CDK stack, the Lambda
 * handlers, the Glue job (as job arguments) and the local runtime.
 *
 * Column names in this file are *canonical* names: the snake_case form the normalizer
 * produces from a raw header (`BilledCost` -> `billed_cost`, `Cost (USD)` -> `cost`).
 */

import type { ApprovalConfig, ComplianceConfig } from './compliance';

/** File kinds the normalizer can read. A `.gz` suffix on any text kind is also accepted. */
export type FileKind = 'csv' | 'tsv' | 'txt' | 'xlsx' | 'json' | 'jsonl' | 'parquet';

/** Logical column types; measures are always `decimal`. */
export type ColumnType = 'string' | 'decimal' | 'integer' | 'date' | 'timestamp' | 'boolean';

export interface ColumnConfig {
  /** Canonical (snake_case) column name. */
  readonly name: string;
  readonly type: ColumnType;
  /** Raw header spellings that map to this column (matched after canonicalization). @default [] */
  readonly aliases?: readonly string[];
  /** Decimal precision for `decimal` columns. @default 38 */
  readonly precision?: number;
  /** Decimal scale for `decimal` columns. @default 18 */
  readonly scale?: number;
  readonly description?: string;
}

/** One version of a template: the raw headers a file of that version carries. */
export interface TemplateVersionConfig {
  readonly version: string;
  /** Raw headers as the template's users export them (canonicalized before matching). */
  readonly headers: readonly string[];
}

/** A template: a kind of file that lands in the dataset area (e.g. capacity plan, roster). */
export interface TemplateConfig {
  readonly name: string;
  readonly description?: string;
  /** Canonical columns a file must have (after aliasing) to be recognized as this template. */
  readonly requiredColumns: readonly string[];
  /** Known versions, most recent last. */
  readonly versions: readonly TemplateVersionConfig[];
  /**
   * How a file of this template is laid out: `table` (a header row, then one row per record) or
   * `form` (one record per sheet: label/value pairs down the sheet, then an optional line-item
   * table; XLSX only; see `FormLayoutConfig`). @default 'table'
   */
  readonly layout?: TemplateLayout;
  /** The form's line-item table (only with `layout: 'form'`). @default none (labels only) */
  readonly form?: FormLayoutConfig;
}

export type TemplateLayout = 'table' | 'form';

/**
 * A single-record form (one request per sheet). Labels are cells whose text (a trailing `:`
 * dropped, then canonicalized like a header) names a column or one of its aliases; the value is
 * the next non-empty cell to its right on the same row. Labels come in any order, with blank and
 * title rows between them. A version's `headers` are the labels that version carries. A sheet is
 * this form when its labels include every required column of the template.
 *
 * Below the labels, a line-item table: a row whose cells include the headers of every required
 * line-item field starts it; each following row with any value is an item, until a blank row or
 * a row of labels. The items are stored as one JSON array (objects keyed by field name, values as
 * strings, decimals exact) in `lineItems.column`.
 */
export interface FormLayoutConfig {
  readonly lineItems?: {
    /** The string column holding the items as a JSON array (declared in `columns`). */
    readonly column: string;
    /** The item fields: canonical names, types (`string` or `decimal`) and header aliases. */
    readonly fields: readonly ColumnConfig[];
    /** Fields whose header must be present to start the table. */
    readonly requiredFields: readonly string[];
  };
}

/**
 * What happens to a file with a table whose header matches no declared template (neither a
 * version's headers nor any template's required columns):
 * - `quarantine`: the file is rejected whole (`UnknownTemplateError`, reason `unknown_template`):
 *   nothing of it lands, it is kept in quarantine and the quarantine alert names its unmatched
 *   headers and the closest template;
 * - `flag`: its rows land (template null) and the file is flagged: the manifest's
 *   `unknownTemplate`, the file outcome's `flag`, and an `unknown_template` alert naming the
 *   unmatched headers and the closest template.
 */
export type UnknownTemplatePolicy = 'quarantine' | 'flag';

/** How the partition value is derived from a row. */
export type PartitionTransform = 'identity' | 'month' | 'quarter';

export interface PartitionConfig {
  /** Partition column name in the normalized and curated tables (never stored inside rows). */
  readonly column: string;
  /** Canonical source column the value is derived from. */
  readonly sourceColumn: string;
  /** `month` -> `YYYY-MM` from a date/timestamp; `quarter` -> `YYYY-Qn`; `identity` -> as is. */
  readonly transform: PartitionTransform;
}

/**
 * A dimension table broadcast-joined onto the dataset in the ETL: exactly one of `dataset` (the
 * curated Iceberg table of a dimension dataset, joined at its current snapshot: the data way,
 * changed by dropping a file) or `file` (a CSV shipped as a deploy-time asset: changed only by
 * a redeploy).
 */
export interface DimensionConfig {
  readonly name: string;
  /** The dimension dataset (`kind: 'dimension'`) whose curated table is joined. @default none (then `file`) */
  readonly dataset?: string;
  /** Repository path of a dimension file (CSV with a header row), shipped as an asset. @default none (then `dataset`) */
  readonly file?: string;
  /** Fact column -> dimension column. */
  readonly joinKeys: Readonly<Record<string, string>>;
  /** Dimension columns added to the curated rows. */
  readonly columns: readonly string[];
}

/** Cross-template rule: sum(measure) grouped by `groupBy` must agree between two templates. */
export interface CrossTemplateRuleConfig {
  readonly name: string;
  readonly description: string;
  readonly measure: string;
  readonly groupBy: readonly string[];
  readonly left: { readonly template: string };
  readonly right: { readonly template: string };
  /** Allowed absolute difference, as a decimal string. @default "0" */
  readonly tolerance?: string;
}

export interface ReconciliationConfig {
  /** Per-measure absolute tolerance, as decimal strings. Measures not listed use "0". */
  readonly tolerances?: Readonly<Record<string, string>>;
  readonly crossTemplateRules?: readonly CrossTemplateRuleConfig[];
}

export interface BatchingConfig {
  /** Files per Step Functions execution (EventBridge Pipe batch size). @default 400 */
  readonly batchSize?: number;
  /** Pipe batching window in seconds. @default 60 */
  readonly windowSeconds?: number;
  /** Normalize Map concurrency. @default 10 */
  readonly normalizeConcurrency?: number;
}

export interface EtlConfig {
  /** Normalized files per Glue job run (`boundedFiles`). @default 450 */
  readonly boundedFiles?: number;
  /** Glue workers (G.1X). @default 2 */
  readonly workers?: number;
  /** Job timeout in minutes. @default 60 */
  readonly timeoutMinutes?: number;
  /**
   * Days an expired Iceberg snapshot is kept before snapshot expiry removes it (and the data
   * files only it references): the window time travel can reach back. @default 7
   */
  readonly snapshotRetentionDays?: number;
  /** Snapshots always kept, however old (expiry never goes below this many). @default 10 */
  readonly retainLastSnapshots?: number;
  /**
   * Compaction rewrites a partition's data files only when it has at least this many
   * files smaller than the target (Iceberg `rewrite_data_files` `min-input-files`). @default 10
   */
  readonly compactionMinInputFiles?: number;
  /** Target size of the curated table's data files in MiB (`write.target-file-size-bytes`). @default 128 */
  readonly targetFileSizeMb?: number;
}

/**
 * How rows of different files of a dataset relate when they describe the same things
 * (docs/etl.md, "Restatement and conflicts"). A newer version of the same landing object
 * always replaces every row of the version it supersedes, whatever is declared here.
 *
 * - `latest`: of rows colliding on `keys`, the row of the file that landed last wins (landing
 *   order: the S3 event's time, then its sequencer; never the processing time);
 * - `reject`: the later file's colliding rows are quarantined, naming the file they collide with;
 * - `keep`: no deduplication on `keys` beyond exact redelivery of the same object.
 */
export type ConflictPolicy = 'latest' | 'reject' | 'keep';

export interface RestatementConfig {
  /**
   * Columns whose value combination a file covers: a newer file covering a combination
   * replaces every older file's rows of that combination (also rows the newer file no longer
   * has). Declared columns or the partition column. @default [] (no scope: files replace
   * only earlier versions of themselves). `ingest_template` may be one of them (a scope per
   * template, when templates of one dataset share the other scope columns).
   */
  readonly replacementScope?: readonly string[];
  /** Rows of different files colliding on `keys`. @default 'latest' */
  readonly conflictPolicy?: ConflictPolicy;
  /**
   * Where `keys` must be unique: `partition` (per partition value: a fact such as a charge of
   * month A and one of month B with the same key are two rows) or `table` (across partitions:
   * a dimension joins one row per key, so a sub-account listed under two org units collides).
   * @default 'table' for a dimension, 'partition' otherwise
   */
  readonly keyScope?: KeyScope;
}

export type KeyScope = 'partition' | 'table';

/**
 * - `fact`: rows that other tables are not joined onto (billing charges, capacity plans);
 * - `dimension`: reference data other datasets broadcast-join at curation (`DimensionConfig.dataset`),
 *   e.g. the account hierarchy. Loaded like any dataset (landing prefix, validation, versions,
 *   quarantine), usually with `replacementScope: ['ingest_template']` so that a newer file
 *   replaces the whole table, and a `seedFile` so that it exists from the first deploy.
 */
export type DatasetKind = 'fact' | 'dimension';

/**
 * What names the source of a file's rows (a provider, an org unit, a team's folder), for
 * expected arrivals and volume anomalies (docs/operations.md):
 * - `column`: a column of the dataset (declared); each distinct value in a file is a source,
 *   with its own rows and measure totals (the manifest's `sources`);
 * - `prefix`: the first path segment of the landing key under the dataset's landing prefix
 *   (`<landingPrefix><source>/...`); a file directly under the prefix is the source ''.
 */
export type SourceConfig = { readonly column: string } | { readonly prefix: true };

/**
 * How often an expected arrival is due (docs/operations.md, "Expected arrivals"), in UTC:
 * - `day`: every calendar day;
 * - `workingDay`: Monday to Friday (no holiday calendar);
 * - `quarter`: once per calendar quarter, by a day of one of its months.
 */
export type ArrivalCadence = 'day' | 'workingDay' | 'quarter';

/** When in a quarter an arrival is due: a day of its first, second or third month, at a UTC time. */
export interface QuarterDue {
  /** The month of the quarter (1: January, April, July, October). */
  readonly month: 1 | 2 | 3;
  /** The day of that month (1-31; a day past the month's end is its last day). */
  readonly day: number;
  /** UTC time of day, `HH:MM`. @default '23:59' */
  readonly time?: string;
}

/**
 * What a dataset expects to land, checked by the scheduled late-data check (lambdas/late): for
 * each period of `every`, at least `minFiles` files of each of `sources` (of `template`, when
 * set) by the due time, else a `late` alert; a `recovered` notice when they come.
 */
export interface ArrivalExpectation {
  /** snake_case, unique within the dataset: names the finding in alerts and state. */
  readonly name: string;
  readonly description?: string;
  readonly every: ArrivalCadence;
  /**
   * When each period's files are due: `HH:MM` UTC on the day (`day`, `workingDay`; @default
   * '23:59'), or a QuarterDue (`quarter`: required).
   */
  readonly by?: string | QuarterDue;
  /**
   * Source values (`DatasetConfig.source`) that must each arrive. @default none: any file of the
   * dataset counts (the dataset as one source)
   */
  readonly sources?: readonly string[];
  /** Only files of this template count. @default any template */
  readonly template?: string;
  /** Files (of each source) per period. @default 1 */
  readonly minFiles?: number;
}

/** A band of ratios to a trailing median: `low <= value / median <= high` is usual volume. */
export interface VolumeBand {
  readonly low: number;
  readonly high: number;
}

/**
 * Volume anomalies (docs/operations.md): each normalized file's rows and measure totals, per
 * template and source, compared with the median of the same source's previous files.
 */
export interface VolumeConfig {
  /** Previous files of the same dataset, template and source the median is taken over. @default 10 */
  readonly historyFiles?: number;
  /** Fewer previous files than this: no verdict (the file still joins the history). @default 3 */
  readonly minHistory?: number;
  /** Usual band of a file's rows to the median rows. @default { low: 0.5, high: 2 } */
  readonly rows?: VolumeBand;
  /**
   * Usual band of each measure total to its median total; null: measure totals are not compared
   * (rows only). @default { low: 0.5, high: 2 }
   */
  readonly measures?: VolumeBand | null;
}

export interface DatasetConfig {
  /** Dataset name: lowercase snake_case; also the curated table's name. */
  readonly name: string;
  readonly description: string;
  /** What the dataset is to the others. @default 'fact' */
  readonly kind?: DatasetKind;
  /**
   * Repository path of a file landed under the landing prefix (at `seedKey`) on deploy and by
   * the local runtime before the first run that needs it: the dataset's initial content.
   * Only for `kind: 'dimension'`. @default none
   */
  readonly seedFile?: string;
  /** Landing-bucket key prefix files of this dataset are dropped under. @default `${name}/` */
  readonly landingPrefix?: string;
  /** File kinds accepted. */
  readonly fileKinds: readonly FileKind[];
  /** XLSX sheet to read; every sheet when unset. */
  readonly sheet?: string;
  /** Cell values read as null (compared after trimming, case-sensitive). @default ["", "NULL"] */
  readonly nullTokens?: readonly string[];
  /** Largest accepted source file, bytes. @default 2 GiB */
  readonly maxFileBytes?: number;
  /** Largest accepted XLSX uncompressed/compressed size ratio. @default 100 */
  readonly maxXlsxExpansionRatio?: number;
  /** Known columns (types, aliases). Columns not listed are kept as strings. */
  readonly columns: readonly ColumnConfig[];
  /** Measure columns (must be declared `decimal` columns): summed exactly for control totals. */
  readonly measures: readonly string[];
  /** Deduplication key (canonical columns). */
  readonly keys: readonly string[];
  readonly partition: PartitionConfig;
  readonly templates: readonly TemplateConfig[];
  /**
   * A file whose header matches none of `templates`: quarantined, or landed and flagged (see
   * `UnknownTemplatePolicy`). @default 'quarantine' (nothing unrecognized lands unreviewed)
   */
  readonly unknownTemplate?: UnknownTemplatePolicy;
  readonly dimensions?: readonly DimensionConfig[];
  readonly reconciliation?: ReconciliationConfig;
  readonly batching?: BatchingConfig;
  readonly etl?: EtlConfig;
  /** Restatement and conflict semantics of the curated table. @default { replacementScope: [], conflictPolicy: 'latest' } */
  readonly restatement?: RestatementConfig;
  /**
   * Business rules every curated row is checked against in the ETL (lib/config/compliance.ts):
   * each row gets `compliance_status` and `compliance_findings`. @default none
   */
  readonly compliance?: ComplianceConfig;
  /**
   * The approval workflow (docs/approvals.md): compliant records wait for an approver's decision,
   * flagged ones go back to the requester. Requires `compliance`. @default none
   */
  readonly approval?: ApprovalConfig;
  /**
   * What names a file's source, for expected arrivals and volume anomalies (docs/operations.md).
   * @default the whole dataset is one source ('')
   */
  readonly source?: SourceConfig;
  /**
   * What must land and by when: checked by the scheduled late-data check (docs/operations.md,
   * "Expected arrivals"). @default none
   */
  readonly expectedArrivals?: readonly ArrivalExpectation[];
  /** Volume-anomaly detection settings (docs/operations.md). @default VolumeConfig's defaults */
  readonly volume?: VolumeConfig;
}

/** A dataset with every default applied; what code downstream of validation works with. */
export interface ResolvedDataset extends Omit<DatasetConfig, 'compliance' | 'approval'> {
  readonly kind: DatasetKind;
  readonly landingPrefix: string;
  readonly nullTokens: readonly string[];
  readonly maxFileBytes: number;
  readonly maxXlsxExpansionRatio: number;
  readonly unknownTemplate: UnknownTemplatePolicy;
  readonly dimensions: readonly DimensionConfig[];
  readonly reconciliation: Required<ReconciliationConfig>;
  readonly batching: Required<BatchingConfig>;
  readonly etl: Required<EtlConfig>;
  readonly restatement: Required<RestatementConfig>;
  readonly compliance: ComplianceConfig | null;
  readonly approval: Required<ApprovalConfig> | null;
  readonly volume: Required<VolumeConfig>;
}
