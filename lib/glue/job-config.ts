import type { ResolvedDataset } from '../config/types';
import { LINEAGE_COLUMNS } from '../config/validate';
import { controlPrefixes } from '../contracts/layout';
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
  readonly dimensions: readonly {
    readonly name: string;
    readonly path: string;
    readonly joinKeys: Readonly<Record<string, string>>;
    readonly columns: readonly string[];
  }[];
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
    readonly swaps: string;
  };
  readonly supersededRetentionDays: number;
}

export interface EtlJobConfigInput {
  readonly dataset: ResolvedDataset;
  readonly names: PipelineNames;
  readonly curatedBucket: string;
  readonly controlBucket: string;
  /** S3 URL of each dimension file, by dimension name. */
  readonly dimensionPaths: Readonly<Record<string, string>>;
}

export function etlJobConfig(input: EtlJobConfigInput): EtlJobConfig {
  const { dataset, names } = input;
  const columnsByName = new Map(dataset.columns.map((c) => [c.name, c]));
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
    dimensions: dataset.dimensions.map((d) => ({
      name: d.name,
      path: input.dimensionPaths[d.name]!,
      joinKeys: d.joinKeys,
      columns: d.columns,
    })),
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
      swaps: `${controlPrefixes.etlSwaps}${dataset.name}/`,
    },
    supersededRetentionDays: dataset.etl.supersededRetentionDays,
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
