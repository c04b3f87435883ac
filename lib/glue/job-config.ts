import type { ResolvedDataset } from '../config/types';
import {
  type EtlDimension,
  type EtlJobConfig,
  ICEBERG_CATALOG,
  type IcebergPartitionField,
} from '../contracts/etl-job-config';
import { controlPrefixes, quarantineConflictsPrefix } from '../contracts/layout';
import { LINEAGE_COLUMNS } from '../contracts/lineage';
import type { PipelineNames } from '../contracts/naming';

export type {
  EtlApproval,
  EtlDimension,
  EtlJobConfig,
  IcebergPartitionField,
  IcebergTableConfig,
} from '../contracts/etl-job-config';
export { ICEBERG_CATALOG } from '../contracts/etl-job-config';

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
      requests: `${controlPrefixes.etlRequests}${dataset.name}/`,
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
    compliance: dataset.compliance?.rules ?? [],
    approval: dataset.approval
      ? {
          idColumn: dataset.approval.idColumn,
          requesterColumn: dataset.approval.requesterColumn,
          submittedAtColumn: dataset.approval.submittedAtColumn,
        }
      : null,
  };
}

/** Job arguments every run gets (the state machine adds the per-run predicate). */
export function etlDefaultArguments(config: string, boundedFiles: number): Record<string, string> {
  return {
    '--dataset_config': config,
    '--bounded_files': String(boundedFiles),
    '--push_down_predicate': '',
    // Declared, empty: the incremental run. A partition reprocessing passes `<column>=<value>`
    // in StartJobRun's Arguments ("For this job run, they replace the default arguments set in
    // the job definition itself", Glue API, StartJobRun/JobRun `Arguments`), docs/etl.md
    // "Reprocessing one partition".
    '--reprocess_partition': '',
  };
}
