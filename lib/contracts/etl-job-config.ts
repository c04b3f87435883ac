import type { ApprovalConfig, ComplianceRuleConfig } from '../config/compliance';
import type { ConflictPolicy, KeyScope } from '../config/types';

/**
 * The dataset configuration the Glue job receives as its `--dataset_config` argument (JSON):
 * everything the ETL needs and nothing it does not, derived from the one dataset definition by
 * lib/glue/job-config.ts `etlJobConfig()`. The job reads it in glue-scripts/lib/pipeline_etl/
 * config.py; its JSON Schema is schemas/etl-job-config.schema.json (pytest validates the config
 * the stack ships and the ones the tests build against it).
 */
export interface EtlJobConfig {
  readonly dataset: string;
  readonly database: string;
  readonly sourceTable: string;
  readonly curatedTable: string;
  readonly curatedBucket: string;
  readonly curatedPrefix: string;
  readonly controlBucket: string;
  readonly partitionColumn: string;
  readonly keys: readonly string[];
  readonly measures: readonly { readonly name: string; readonly precision: number; readonly scale: number }[];
  readonly columns: readonly {
    readonly name: string;
    readonly type: string;
    readonly precision?: number;
    readonly scale?: number;
  }[];
  readonly lineageColumns: readonly string[];
  readonly dimensions: readonly EtlDimension[];
  readonly crossTemplateRules: readonly {
    readonly name: string;
    readonly measure: string;
    readonly groupBy: readonly string[];
    readonly templates: readonly string[];
  }[];
  readonly controlPrefixes: {
    readonly runs: string;
    readonly processed: string;
    readonly aggregates: string;
    /** Registry of the files merged so far (landing order, replacement-scope values covered). */
    readonly files: string;
    /** The requests documents of a dataset with an approval workflow (`etl/requests/<dataset>/`). */
    readonly requests: string;
  };
  /** The dataset's restatement and conflict semantics (lib/config/types.ts, RestatementConfig). */
  readonly restatement: {
    readonly replacementScope: readonly string[];
    readonly conflictPolicy: ConflictPolicy;
    /** Where keys must be unique: per partition value or across the table. */
    readonly keyScope: KeyScope;
  };
  /** Where rows rejected under the `reject` policy go. */
  readonly quarantineBucket: string;
  readonly quarantinePrefixes: {
    /** `rows/<dataset>/conflicts/` */
    readonly conflicts: string;
  };
  readonly iceberg: IcebergTableConfig;
  /**
   * The dataset's compliance rules as declared (lib/config/compliance.ts), evaluated on every row
   * by glue-scripts/lib/pipeline_etl/compliance.py; empty for a dataset without rules (no
   * compliance columns, no summary in the run report).
   */
  readonly compliance: readonly ComplianceRuleConfig[];
  /**
   * The approval workflow's columns (datasets with `approval`): the job writes a requests document
   * per run (layout.etlRequestsKey). Null for other datasets.
   */
  readonly approval: EtlApproval | null;
}

/** What the job needs of a dataset's approval workflow: which columns identify a request. */
export type EtlApproval = Pick<ApprovalConfig, 'idColumn' | 'requesterColumn' | 'submittedAtColumn'>;

/**
 * A dimension the job broadcast-joins: the curated Iceberg table `<database>.<table>` of a
 * dimension dataset (read at its current snapshot; DimensionMissingError until it is loaded),
 * or a CSV at an S3 `path` (a deploy-time asset). Exactly one of `table` and `path`.
 */
export type EtlDimension = {
  readonly name: string;
  readonly joinKeys: Readonly<Record<string, string>>;
  readonly columns: readonly string[];
} & ({ readonly table: string; readonly path?: never } | { readonly path: string; readonly table?: never });

/** One field of the curated table's Iceberg partition spec. */
export type IcebergPartitionField =
  | { readonly transform: 'month'; readonly column: string }
  | { readonly transform: 'identity'; readonly column: string };

/**
 * The curated Iceberg table: the job sets the Spark catalog `catalog` up (Iceberg GlueCatalog,
 * S3FileIO) at run time, creates the table at `location` on its first run, and runs snapshot
 * expiry and compaction with these settings.
 */
export interface IcebergTableConfig {
  readonly catalog: 'glue_catalog';
  /** `s3://<curated bucket>/<dataset>` */
  readonly location: string;
  readonly partitionSpec: readonly IcebergPartitionField[];
  readonly tableProperties: Readonly<Record<string, string>>;
  readonly snapshotRetentionDays: number;
  readonly retainLastSnapshots: number;
  readonly compactionMinInputFiles: number;
  readonly targetFileSizeBytes: number;
}

/** The Spark catalog name the job registers the Glue Data Catalog under for Iceberg. */
export const ICEBERG_CATALOG = 'glue_catalog';
