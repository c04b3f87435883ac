import { createHash } from 'node:crypto';

/**
 * Where every stage reads and writes. One module, so that the normalizer, the ETL (which
 * receives these prefixes as job arguments), the reconciler and the local runtime agree.
 *
 * Buckets:
 *  - landing:    `<dataset landing prefix>...`            files exactly as dropped (versioned)
 *  - normalized: `<dataset>/<partition>=<value>/<sourceId>.jsonl.gz`   the crawler's target
 *  - curated:    `<dataset>/` the location of the dataset's Iceberg table (`data/`, `metadata/`;
 *                Iceberg names the files, the Glue job creates the table on its first run)
 *  - quarantine: `files/<dataset>/<sourceId>/...`, `rows/<dataset>/<sourceId>.jsonl`,
 *                `rows/<dataset>/conflicts/<runId>/<sourceId>.jsonl.gz` (rows a run rejected)
 *  - control:    manifests, ETL run reports and markers, reconciliation results, Glue temp
 */

/** Stable id of one source object version: the idempotency key of everything downstream. */
export function sourceIdOf(key: string, versionId: string | null): string {
  return createHash('sha256')
    .update(`${key}\n${versionId ?? 'null'}`)
    .digest('hex')
    .slice(0, 32);
}

export const NORMALIZED_EXTENSION = '.jsonl.gz';

export function normalizedObjectKey(
  dataset: string,
  partitionColumn: string,
  value: string,
  sourceId: string,
) {
  return `${dataset}/${partitionColumn}=${encodePartitionValue(value)}/${sourceId}${NORMALIZED_EXTENSION}`;
}

/** Hive-style escaping of a partition value in a path (`/`, `=`, `%` and control characters). */
export function encodePartitionValue(value: string): string {
  let encoded = '';
  for (const char of value) {
    const code = char.charCodeAt(0);
    encoded +=
      code < 0x20 || code === 0x7f || '%/=#?\\'.includes(char)
        ? `%${code.toString(16).toUpperCase().padStart(2, '0')}`
        : char;
  }
  return encoded;
}

/**
 * The partition predicate of an ETL run, `col in ('a', 'b')` with Spark SQL string literals
 * escaped (backslash and quote); '' for no values. The reconcile Lambda computes it for the state
 * machine, which passes it to the Glue job as its push-down predicate; the job's own copy is
 * glue-scripts/lib/pipeline_etl/layout.py `partition_predicate` (both run lib/contracts/vectors/layout.json).
 */
export function partitionPredicate(column: string, values: readonly string[]): string {
  if (values.length === 0) return '';
  const literal = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return `${column} in (${values.map(literal).join(', ')})`;
}

export const controlPrefixes = {
  manifests: 'manifests/',
  contentIndex: 'content-index/',
  etlRuns: 'etl/runs/',
  etlProcessed: 'etl/processed/',
  etlAggregates: 'etl/aggregates/',
  /** The curate job's registry of merged files (glue-scripts/lib/pipeline_etl/files.py). */
  etlFiles: 'etl/files/',
  /** Per run of a dataset with an approval workflow: the requests it curated (lib/contracts/approvals.ts). */
  etlRequests: 'etl/requests/',
  reconciliation: 'reconciliation/',
  schemaState: 'schema/',
  /** Operations (docs/operations.md): what landed per day and source (lib/contracts/operations.ts). */
  arrivals: 'operations/arrivals/',
  /** Operations: per dataset, template and source, each normalized file's rows and measure totals. */
  volumeHistory: 'operations/volume/',
  /** Operations: the late-data check's open findings (what it alerted as late and not yet recovered). */
  lateState: 'operations/late/',
  glueTemp: 'glue/temp/',
  sparkUi: 'glue/spark-ui/',
} as const;

export const manifestKey = (dataset: string, sourceId: string) =>
  `${controlPrefixes.manifests}${dataset}/${sourceId}.json`;

export const contentIndexKey = (dataset: string, sha256: string) =>
  `${controlPrefixes.contentIndex}${dataset}/${sha256}.json`;

export const etlRunReportKey = (dataset: string, runId: string) =>
  `${controlPrefixes.etlRuns}${dataset}/${runId}.json`;

export const etlRequestsKey = (dataset: string, runId: string) =>
  `${controlPrefixes.etlRequests}${dataset}/${runId}.json`;

/** One marker per normalized object merged into curated; its presence means "processed". */
export const processedMarkerKey = (normalizedKey: string) =>
  `${controlPrefixes.etlProcessed}${normalizedKey}.json`;

/**
 * Per curated partition, after each merge: sums of each cross-template rule's measure by
 * template and group, over the whole partition as written (the reconciler reads these).
 */
export const aggregatesKey = (dataset: string, partitionValue: string) =>
  `${controlPrefixes.etlAggregates}${dataset}/${encodePartitionValue(partitionValue)}.json`;

export const reconciliationResultKey = (dataset: string, executionName: string) =>
  `${controlPrefixes.reconciliation}${dataset}/${executionName}.json`;

export const schemaStateKey = (dataset: string, table: string) =>
  `${controlPrefixes.schemaState}${dataset}/${table}.json`;

export const quarantineFilePrefix = (dataset: string, sourceId: string) => `files/${dataset}/${sourceId}/`;
export const quarantineRowsKey = (dataset: string, sourceId: string) => `rows/${dataset}/${sourceId}.jsonl`;

/**
 * Rows the ETL rejected under the `reject` conflict policy (gzip JSON Lines, each row with its
 * `_reason`), one object per run and source below this prefix. Never a sourceId-named object of
 * `rows/<dataset>/` (those are 32 hex characters and end with `.jsonl`).
 */
export const quarantineConflictsPrefix = (dataset: string) => `rows/${dataset}/conflicts/`;

export const quarantineConflictsKey = (dataset: string, runId: string, sourceId: string) =>
  `${quarantineConflictsPrefix(dataset)}${runId}/${sourceId}.jsonl.gz`;

export const SEED_FOLDER = 'seed/';
/**
 * Landing key of a dimension dataset's seed file (`DatasetConfig.seedFile`): below the
 * dataset's landing prefix, in `seed/`, under its file name. The stack's seed deployment and
 * the local runtime land it at this key, so its rows name it in `ingest_source_key`.
 */
export const seedKey = (landingPrefix: string, seedFile: string) =>
  `${landingPrefix}${SEED_FOLDER}${seedFile.split('/').pop()}`;
