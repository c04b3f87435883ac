import type { ConflictPolicy, KeyScope, ResolvedDataset } from '../config/types';
import { LINEAGE_COLUMNS } from '../config/validate';
import { controlPrefixes, quarantineConflictsPrefix } from '../contracts/layout';
import type { PipelineNames } from '../contracts/naming';

/**
 * The dataset configuration the Glue job receives as its `--dataset_config` argument (JSON):
 * everything the ETL needs and nothing it does not, derived from the one dataset definition.
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
}

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

/**
 * Table properties of every curated table. Athena reads and writes Iceberg format version 2
 * with Parquet data files; merge-on-read keeps a MERGE from rewriting whole data files (it
 * writes position deletes, which compaction folds back in); hash distribution gives one writer
 * per partition (fewer, larger files); old metadata files are deleted after each commit,
 * keeping the last 100.
 */
export function icebergTableProperties(targetFileSizeBytes: number): Record<string, string> {
  return {
    'format-version': '2',
    'write.format.default': 'parquet',
    'write.parquet.compression-codec': 'snappy',
    'write.delete.mode': 'merge-on-read',
    'write.update.mode': 'merge-on-read',
    'write.merge.mode': 'merge-on-read',
    'write.distribution-mode': 'hash',
    'write.metadata.delete-after-commit.enabled': 'true',
    'write.metadata.previous-versions-max': '100',
    'write.target-file-size-bytes': String(targetFileSizeBytes),
  };
}

/**
 * The Iceberg partition spec of a dataset: `month` of the source column when the dataset
 * partitions by month of a declared date/timestamp column (a hidden partition: readers filter
 * on the column itself); otherwise the partition column as it is (`quarter` values such as
 * `2025-Q1` have no Iceberg transform: Iceberg has none for quarters).
 */
export function icebergPartitionSpec(dataset: ResolvedDataset): IcebergPartitionField[] {
  const { partition } = dataset;
  const source = dataset.columns.find((c) => c.name === partition.sourceColumn);
  if (partition.transform === 'month' && (source?.type === 'date' || source?.type === 'timestamp')) {
    return [{ transform: 'month', column: partition.sourceColumn }];
  }
  return [{ transform: 'identity', column: partition.column }];
}

export interface EtlJobConfigInput {
  readonly dataset: ResolvedDataset;
  readonly names: PipelineNames;
  readonly curatedBucket: string;
  readonly controlBucket: string;
  readonly quarantineBucket: string;
  /** S3 URL of each dimension file (dimensions with a `file`), by dimension name. @default {} */
  readonly dimensionPaths?: Readonly<Record<string, string>>;
}

export function etlJobConfig(input: EtlJobConfigInput): EtlJobConfig {
  const { dataset, names } = input;
  const columnsByName = new Map(dataset.columns.map((c) => [c.name, c]));
  const targetFileSizeBytes = dataset.etl.targetFileSizeMb * 1024 * 1024;
  return {
    dataset: dataset.name,
    database: names.database,
    sourceTable: names.normalizedTable(dataset.name),
    curatedTable: names.curatedTable(dataset.name),
    curatedBucket: input.curatedBucket,
    curatedPrefix: `${dataset.name}/`,
    controlBucket: input.controlBucket,
    partitionColumn: dataset.partition.column,
    keys: dataset.keys,
    measures: dataset.measures.map((name) => {
      const column = columnsByName.get(name)!;
      return { name, precision: column.precision ?? 38, scale: column.scale ?? 18 };
    }),
    columns: dataset.columns
      .filter((c) => !(c.name === dataset.partition.column && c.name === dataset.partition.sourceColumn))
      .map((c) => ({
        name: c.name,
        type: c.type,
        ...(c.type === 'decimal' ? { precision: c.precision ?? 38, scale: c.scale ?? 18 } : {}),
      })),
    lineageColumns: LINEAGE_COLUMNS,
    dimensions: dataset.dimensions.map((d): EtlDimension => {
      const join = { name: d.name, joinKeys: d.joinKeys, columns: d.columns };
      if (d.dataset !== undefined) return { ...join, table: names.curatedTable(d.dataset) };
      const path = input.dimensionPaths?.[d.name];
      if (path === undefined)
        throw new Error(`dimension ${d.name} of ${dataset.name}: no S3 path for its file`);
      return { ...join, path };
    }),
    crossTemplateRules: dataset.reconciliation.crossTemplateRules.map((r) => ({
      name: r.name,
      measure: r.measure,
      groupBy: r.groupBy,
      templates: [r.left.template, r.right.template],
    })),
    controlPrefixes: {
      runs: `${controlPrefixes.etlRuns}${dataset.name}/`,
      processed: controlPrefixes.etlProcessed,
      aggregates: `${controlPrefixes.etlAggregates}${dataset.name}/`,
      files: `${controlPrefixes.etlFiles}${dataset.name}/`,
    },
    restatement: {
      replacementScope: dataset.restatement.replacementScope,
      conflictPolicy: dataset.restatement.conflictPolicy,
      keyScope: dataset.restatement.keyScope,
    },
    quarantineBucket: input.quarantineBucket,
    quarantinePrefixes: { conflicts: quarantineConflictsPrefix(dataset.name) },
    iceberg: {
      catalog: ICEBERG_CATALOG,
      location: `s3://${input.curatedBucket}/${dataset.name}`,
      partitionSpec: icebergPartitionSpec(dataset),
      tableProperties: icebergTableProperties(targetFileSizeBytes),
      snapshotRetentionDays: dataset.etl.snapshotRetentionDays,
      retainLastSnapshots: dataset.etl.retainLastSnapshots,
      compactionMinInputFiles: dataset.etl.compactionMinInputFiles,
      targetFileSizeBytes,
    },
  };
}

/** Job arguments every run gets (the state machine adds the per-run predicate). */
export function etlDefaultArguments(config: string, boundedFiles: number): Record<string, string> {
  return {
    '--dataset_config': config,
    '--bounded_files': String(boundedFiles),
    '--push_down_predicate': '',
  };
}
