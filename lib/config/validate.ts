import { LINEAGE_COLUMNS } from '../contracts/lineage';
import { canonicalName } from './canonical';
import type {
  ColumnConfig,
  ConflictPolicy,
  DatasetConfig,
  DatasetKind,
  FileKind,
  KeyScope,
  ResolvedDataset,
  UnknownTemplatePolicy,
  VolumeBand,
} from './types';
import { checkExpectedArrivals } from './validate-arrivals';
import { checkCompliance, checkForms } from './validate-compliance';

/** Raised when a dataset definition is invalid; `cdk synth` and every handler fail fast on it. */
export class DatasetConfigError extends Error {
  override readonly name = 'DatasetConfigError';
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(
      `Invalid dataset configuration:\n${problems
        .map((p) => `  - dataset "${p.dataset}", field "${p.field}": ${p.message}`)
        .join('\n')}`,
    );
  }
}

export interface ConfigProblem {
  readonly dataset: string;
  readonly field: string;
  readonly message: string;
}

/**
 * Upper bounds. A batch's files and then their outcomes stay in the execution state (about 380
 * bytes per file as delivered, with its event time and sequencer, and about 330 per compact
 * outcome, measured in test/state-machine), and Step Functions caps state at 256 KiB: 500 files
 * (189 KB at most) leave room for the rest of the state and the alert text.
 */
export const LIMITS = {
  maxBatchSize: 500,
  maxWindowSeconds: 300,
  maxNormalizeConcurrency: 40,
  maxBoundedFiles: 10_000,
  maxSnapshotRetentionDays: 3650,
  maxRetainLastSnapshots: 10_000,
  maxCompactionMinInputFiles: 100_000,
  /** Iceberg data files from 1 MiB to 1 TiB (the Glue job refuses anything outside). */
  minTargetFileSizeMb: 1,
  maxTargetFileSizeMb: 1024 * 1024,
} as const;

/** Lineage columns are a contract with the Glue job (lib/contracts/lineage.ts), re-exported for the config's readers. */
export { LINEAGE_COLUMNS };

const DATASET_KINDS: readonly DatasetKind[] = ['fact', 'dimension'];
const UNKNOWN_TEMPLATE_POLICIES: readonly UnknownTemplatePolicy[] = ['quarantine', 'flag'];
export const CONFLICT_POLICIES: readonly ConflictPolicy[] = ['latest', 'reject', 'keep'];
export const KEY_SCOPES: readonly KeyScope[] = ['partition', 'table'];
const FILE_KINDS: readonly FileKind[] = ['csv', 'tsv', 'txt', 'xlsx', 'json', 'jsonl', 'parquet'];
const COLUMN_TYPES = ['string', 'decimal', 'integer', 'date', 'timestamp', 'boolean'];
const NAME = /^[a-z][a-z0-9_]{0,62}$/;
const DECIMAL = /^\d+(\.\d+)?$/;

export function resolveDataset(config: DatasetConfig): ResolvedDataset {
  return {
    ...config,
    kind: config.kind ?? 'fact',
    landingPrefix: config.landingPrefix ?? `${config.name}/`,
    nullTokens: config.nullTokens ?? ['', 'NULL'],
    maxFileBytes: config.maxFileBytes ?? 2 * 1024 ** 3,
    maxXlsxExpansionRatio: config.maxXlsxExpansionRatio ?? 100,
    unknownTemplate: config.unknownTemplate ?? 'quarantine',
    dimensions: config.dimensions ?? [],
    reconciliation: {
      tolerances: config.reconciliation?.tolerances ?? {},
      crossTemplateRules: config.reconciliation?.crossTemplateRules ?? [],
    },
    batching: {
      batchSize: config.batching?.batchSize ?? 400,
      windowSeconds: config.batching?.windowSeconds ?? 60,
      normalizeConcurrency: config.batching?.normalizeConcurrency ?? 10,
    },
    etl: {
      boundedFiles: config.etl?.boundedFiles ?? 450,
      workers: config.etl?.workers ?? 2,
      timeoutMinutes: config.etl?.timeoutMinutes ?? 60,
      snapshotRetentionDays: config.etl?.snapshotRetentionDays ?? 7,
      retainLastSnapshots: config.etl?.retainLastSnapshots ?? 10,
      compactionMinInputFiles: config.etl?.compactionMinInputFiles ?? 10,
      targetFileSizeMb: config.etl?.targetFileSizeMb ?? 128,
    },
    restatement: {
      replacementScope: config.restatement?.replacementScope ?? [],
      conflictPolicy: config.restatement?.conflictPolicy ?? 'latest',
      keyScope: config.restatement?.keyScope ?? (config.kind === 'dimension' ? 'table' : 'partition'),
    },
    compliance: config.compliance ?? null,
    approval: config.approval
      ? {
          ...config.approval,
          linkValidityDays: config.approval.linkValidityDays ?? 7,
          overdueDays: config.approval.overdueDays ?? 5,
        }
      : null,
    volume: {
      historyFiles: config.volume?.historyFiles ?? 10,
      minHistory: config.volume?.minHistory ?? 3,
      rows: config.volume?.rows ?? { low: 0.5, high: 2 },
      measures: config.volume?.measures === undefined ? { low: 0.5, high: 2 } : config.volume.measures,
    },
  };
}

export interface ValidateOptions {
  /**
   * Checks dimension and seed files exist; a function so that handlers (which have no repo) can
   * skip it.
   */
  readonly fileExists?: (path: string) => boolean;
}

/** Validates every dataset and returns them resolved; throws one error listing every problem. */
export function validateDatasets(
  configs: readonly DatasetConfig[],
  options: ValidateOptions = {},
): ResolvedDataset[] {
  const problems: ConfigProblem[] = [];
  const resolved = configs.map((config) => resolveDataset(config));
  if (resolved.length === 0) {
    problems.push({ dataset: '*', field: 'datasets', message: 'at least one dataset is required' });
  }
  const names = new Set<string>();
  for (const dataset of resolved) {
    const name = typeof dataset.name === 'string' ? dataset.name : '<unnamed>';
    const add = (field: string, message: string) => problems.push({ dataset: name, field, message });
    if (names.has(name)) add('name', 'is used by another dataset');
    names.add(name);
    checkDataset(dataset, add, options);
  }
  checkPrefixOverlap(resolved, problems);
  checkDimensionDatasets(resolved, problems);
  if (problems.length > 0) throw new DatasetConfigError(problems);
  return resolved;
}

type Add = (field: string, message: string) => void;

function checkDataset(d: ResolvedDataset, add: Add, options: ValidateOptions): void {
  if (typeof d.name !== 'string' || !NAME.test(d.name)) {
    add('name', 'must be lowercase snake_case: a letter, then letters, digits or "_" (max 63)');
  }
  if (!d.description || typeof d.description !== 'string') add('description', 'is required');
  if (!DATASET_KINDS.includes(d.kind)) {
    add('kind', `unknown kind "${String(d.kind)}" (${DATASET_KINDS.map((k) => `"${k}"`).join(' or ')})`);
  }
  if (d.seedFile !== undefined) {
    if (d.kind !== 'dimension') add('seedFile', 'is only for dimension datasets (kind "dimension")');
    if (typeof d.seedFile !== 'string' || d.seedFile === '') add('seedFile', 'must be a repository path');
    else if (options.fileExists && !options.fileExists(d.seedFile))
      add('seedFile', `"${d.seedFile}" does not exist`);
  }
  if (typeof d.landingPrefix !== 'string' || !/^[A-Za-z0-9_.-][A-Za-z0-9_./-]*\/$/.test(d.landingPrefix)) {
    add(
      'landingPrefix',
      `must be letters, digits, "_", "-", "." and "/", not start with "/" and end with "/" (got "${d.landingPrefix}")`,
    );
  }
  if (!Array.isArray(d.fileKinds) || d.fileKinds.length === 0)
    add('fileKinds', 'must list at least one kind');
  for (const [i, kind] of (d.fileKinds ?? []).entries()) {
    if (!FILE_KINDS.includes(kind))
      add(`fileKinds[${i}]`, `unknown kind "${kind}" (one of ${FILE_KINDS.join(', ')})`);
  }
  if (!Number.isInteger(d.maxFileBytes) || d.maxFileBytes <= 0)
    add('maxFileBytes', 'must be a positive integer');
  if (!(d.maxXlsxExpansionRatio > 1)) add('maxXlsxExpansionRatio', 'must be greater than 1');
  if (!UNKNOWN_TEMPLATE_POLICIES.includes(d.unknownTemplate)) {
    add(
      'unknownTemplate',
      `unknown policy "${String(d.unknownTemplate)}" (${UNKNOWN_TEMPLATE_POLICIES.map((p) => `"${p}"`).join(' or ')})`,
    );
  }

  const columns = new Map<string, ColumnConfig>();
  const aliasOwner = new Map<string, string>();
  for (const [i, column] of (d.columns ?? []).entries()) {
    const field = `columns[${i}]`;
    if (!NAME.test(column.name ?? '') || canonicalName(column.name) !== column.name) {
      add(`${field}.name`, `"${column.name}" is not a canonical snake_case name`);
      continue;
    }
    if (columns.has(column.name)) add(`${field}.name`, `"${column.name}" is declared twice`);
    if ((LINEAGE_COLUMNS as readonly string[]).includes(column.name)) {
      add(`${field}.name`, `"${column.name}" is a lineage column the normalizer adds`);
    }
    columns.set(column.name, column);
    if (!COLUMN_TYPES.includes(column.type)) add(`${field}.type`, `unknown type "${column.type}"`);
    if (column.type === 'decimal') {
      const precision = column.precision ?? 38;
      const scale = column.scale ?? 18;
      if (!Number.isInteger(precision) || precision < 1 || precision > 38) {
        add(`${field}.precision`, 'must be an integer from 1 to 38');
      }
      if (!Number.isInteger(scale) || scale < 0 || scale > precision) {
        add(`${field}.scale`, 'must be an integer from 0 to precision');
      }
    }
    for (const [j, alias] of [column.name, ...(column.aliases ?? [])].entries()) {
      const canonical = canonicalName(alias);
      if (!canonical) {
        add(`${field}.aliases[${j - 1}]`, `"${alias}" has no letters or digits`);
        continue;
      }
      const owner = aliasOwner.get(canonical);
      if (owner && owner !== column.name) {
        add(`${field}.aliases[${j - 1}]`, `"${alias}" also names column "${owner}"`);
      }
      aliasOwner.set(canonical, column.name);
    }
  }
  if (columns.size === 0) add('columns', 'must declare at least the key, measure and partition columns');

  const requireColumn = (field: string, name: string, types?: readonly string[]) => {
    const column = columns.get(name);
    if (!column) add(field, `"${name}" is not a declared column`);
    else if (types && !types.includes(column.type)) {
      add(field, `"${name}" must be of type ${types.join(' or ')} (is ${column.type})`);
    }
  };

  for (const [i, m] of (d.measures ?? []).entries()) requireColumn(`measures[${i}]`, m, ['decimal']);
  if (new Set(d.measures).size !== (d.measures ?? []).length) add('measures', 'lists a measure twice');
  if (!Array.isArray(d.keys) || d.keys.length === 0) add('keys', 'must list at least one key column');
  (d.keys ?? []).forEach((k, i) => {
    // `ingest_template` may be part of a key, so that two templates sharing a dataset never collide.
    if (k !== 'ingest_template') requireColumn(`keys[${i}]`, k);
  });

  const p = d.partition;
  if (!p) add('partition', 'is required');
  else {
    if (!NAME.test(p.column ?? ''))
      add('partition.column', `"${p.column}" is not a canonical snake_case name`);
    if (!['identity', 'month', 'quarter'].includes(p.transform)) {
      add('partition.transform', `unknown transform "${p.transform}" (identity, month or quarter)`);
    }
    const sourceTypes = p.transform === 'month' ? ['date', 'timestamp'] : undefined;
    requireColumn('partition.sourceColumn', p.sourceColumn, sourceTypes);
    if (p.column !== p.sourceColumn && columns.has(p.column)) {
      add('partition.column', `"${p.column}" is also a data column; name the partition column differently`);
    }
  }

  const templates = new Set<string>();
  if (!Array.isArray(d.templates) || d.templates.length === 0) add('templates', 'must declare at least one');
  for (const [i, template] of (d.templates ?? []).entries()) {
    const field = `templates[${i}]`;
    if (!NAME.test(template.name ?? '')) add(`${field}.name`, `"${template.name}" is not snake_case`);
    if (templates.has(template.name)) add(`${field}.name`, `"${template.name}" is declared twice`);
    templates.add(template.name);
    for (const [j, c] of (template.requiredColumns ?? []).entries())
      requireColumn(`${field}.requiredColumns[${j}]`, c);
    if (!template.versions?.length) add(`${field}.versions`, 'must list at least one version');
    const versions = new Set<string>();
    for (const [j, version] of (template.versions ?? []).entries()) {
      if (!version.version) add(`${field}.versions[${j}].version`, 'is required');
      if (versions.has(version.version)) add(`${field}.versions[${j}].version`, 'is declared twice');
      versions.add(version.version);
      if (!version.headers?.length) add(`${field}.versions[${j}].headers`, 'must list the headers');
      const resolvedHeaders = (version.headers ?? []).map(
        (h) => aliasOwner.get(canonicalName(h)) ?? canonicalName(h),
      );
      for (const required of template.requiredColumns ?? []) {
        if (!resolvedHeaders.includes(required)) {
          add(`${field}.versions[${j}].headers`, `no header maps to required column "${required}"`);
        }
      }
    }
  }

  for (const [i, dim] of d.dimensions.entries()) {
    const field = `dimensions[${i}]`;
    if (!NAME.test(dim.name ?? '')) add(`${field}.name`, `"${dim.name}" is not snake_case`);
    // Exactly one source: a dimension dataset's curated table, or a CSV asset. (The dataset is
    // checked against the other datasets in checkDimensionDatasets.)
    if (dim.dataset !== undefined && dim.file !== undefined) {
      add(field, 'names both a dataset and a file; give exactly one');
    } else if (dim.dataset === undefined) {
      if (!dim.file) add(`${field}.file`, 'is required (or dataset: a dimension dataset)');
      else if (options.fileExists && !options.fileExists(dim.file))
        add(`${field}.file`, `"${dim.file}" does not exist`);
    }
    const joinKeys = Object.entries(dim.joinKeys ?? {});
    if (joinKeys.length === 0) add(`${field}.joinKeys`, 'must map at least one fact column');
    for (const [fact] of joinKeys) requireColumn(`${field}.joinKeys.${fact}`, fact);
    if (!dim.columns?.length) add(`${field}.columns`, 'must list the columns to add');
    for (const [j, c] of (dim.columns ?? []).entries()) {
      if (!NAME.test(c)) add(`${field}.columns[${j}]`, `"${c}" is not snake_case`);
      else if (columns.has(c)) add(`${field}.columns[${j}]`, `"${c}" would overwrite a data column`);
    }
  }

  for (const [measure, tolerance] of Object.entries(d.reconciliation.tolerances)) {
    if (!(d.measures ?? []).includes(measure))
      add(`reconciliation.tolerances.${measure}`, 'is not a measure');
    if (!DECIMAL.test(tolerance))
      add(`reconciliation.tolerances.${measure}`, `"${tolerance}" is not a decimal >= 0`);
  }
  for (const [i, rule] of d.reconciliation.crossTemplateRules.entries()) {
    const field = `reconciliation.crossTemplateRules[${i}]`;
    if (!NAME.test(rule.name ?? '')) add(`${field}.name`, `"${rule.name}" is not snake_case`);
    if (!(d.measures ?? []).includes(rule.measure))
      add(`${field}.measure`, `"${rule.measure}" is not a measure`);
    if (!rule.groupBy?.length) add(`${field}.groupBy`, 'must list at least one column');
    (rule.groupBy ?? []).forEach((c, j) => {
      if (c !== d.partition?.column) requireColumn(`${field}.groupBy[${j}]`, c);
    });
    for (const side of ['left', 'right'] as const) {
      if (!templates.has(rule[side]?.template)) {
        add(`${field}.${side}.template`, `"${rule[side]?.template}" is not a declared template`);
      }
    }
    if (rule.tolerance !== undefined && !DECIMAL.test(rule.tolerance)) {
      add(`${field}.tolerance`, `"${rule.tolerance}" is not a decimal >= 0`);
    }
  }

  const { batchSize, windowSeconds, normalizeConcurrency } = d.batching;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > LIMITS.maxBatchSize) {
    add('batching.batchSize', `must be an integer from 1 to ${LIMITS.maxBatchSize} (state payload limit)`);
  }
  if (!Number.isInteger(windowSeconds) || windowSeconds < 0 || windowSeconds > LIMITS.maxWindowSeconds) {
    add('batching.windowSeconds', `must be an integer from 0 to ${LIMITS.maxWindowSeconds}`);
  } else if (batchSize > 10 && windowSeconds < 1) {
    add('batching.windowSeconds', 'must be at least 1 when batchSize is over 10 (an SQS rule for batching)');
  }
  if (
    !Number.isInteger(normalizeConcurrency) ||
    normalizeConcurrency < 1 ||
    normalizeConcurrency > LIMITS.maxNormalizeConcurrency
  ) {
    add('batching.normalizeConcurrency', `must be an integer from 1 to ${LIMITS.maxNormalizeConcurrency}`);
  }
  const {
    boundedFiles,
    workers,
    timeoutMinutes,
    snapshotRetentionDays,
    retainLastSnapshots,
    compactionMinInputFiles,
    targetFileSizeMb,
  } = d.etl;
  if (!Number.isInteger(boundedFiles) || boundedFiles < 1 || boundedFiles > LIMITS.maxBoundedFiles) {
    add('etl.boundedFiles', `must be an integer from 1 to ${LIMITS.maxBoundedFiles}`);
  }
  if (!Number.isInteger(workers) || workers < 2 || workers > 100)
    add('etl.workers', 'must be an integer from 2 to 100');
  if (!Number.isInteger(timeoutMinutes) || timeoutMinutes < 1 || timeoutMinutes > 2880) {
    add('etl.timeoutMinutes', 'must be an integer from 1 to 2880');
  }
  const integerIn = (field: string, value: number, min: number, max: number, why = '') => {
    if (!Number.isInteger(value) || value < min || value > max)
      add(field, `must be an integer from ${min} to ${max}${why}`);
  };
  integerIn('etl.snapshotRetentionDays', snapshotRetentionDays, 0, LIMITS.maxSnapshotRetentionDays);
  integerIn('etl.retainLastSnapshots', retainLastSnapshots, 1, LIMITS.maxRetainLastSnapshots);
  // Iceberg's rewrite_data_files refuses min-input-files below 1; one file is no compaction.
  integerIn('etl.compactionMinInputFiles', compactionMinInputFiles, 2, LIMITS.maxCompactionMinInputFiles);
  integerIn('etl.targetFileSizeMb', targetFileSizeMb, LIMITS.minTargetFileSizeMb, LIMITS.maxTargetFileSizeMb);

  checkRestatement(d, columns, add);
  checkSource(d, columns, add);
  checkVolume(d, add);
  checkForms(d, columns, add);
  checkCompliance(d, columns, add);
  checkExpectedArrivals(d, add);
}

/**
 * `restatement`: scope columns are declared columns, the partition column or `ingest_template`,
 * each once; the policy is one of the three; the key scope one of the two.
 */
/** `source`: a declared column that is not a measure, or `{ prefix: true }`. */
function checkSource(d: ResolvedDataset, columns: ReadonlyMap<string, ColumnConfig>, add: Add): void {
  const source = d.source as { column?: unknown; prefix?: unknown } | undefined;
  if (source === undefined) return;
  const hasColumn = source !== null && typeof source === 'object' && 'column' in source;
  const hasPrefix = source !== null && typeof source === 'object' && 'prefix' in source;
  if (hasColumn === hasPrefix || (hasPrefix && source.prefix !== true)) {
    add('source', 'must be { column: "<declared column>" } or { prefix: true }');
    return;
  }
  if (!hasColumn) return;
  const name = String(source.column);
  if (!columns.has(name)) add('source.column', `"${name}" is not a declared column`);
  else if ((d.measures ?? []).includes(name)) add('source.column', `"${name}" is a measure, not a source`);
}

/** Largest `volume.historyFiles`: one List and at most this many small reads per file and source. */
export const MAX_VOLUME_HISTORY = 100;

/** `volume`: whole numbers of files, bands with 0 <= low <= 1 <= high and low < high. */
function checkVolume(d: ResolvedDataset, add: Add): void {
  const { historyFiles, minHistory, rows, measures } = d.volume;
  if (!Number.isInteger(historyFiles) || historyFiles < 1 || historyFiles > MAX_VOLUME_HISTORY) {
    add(
      'volume.historyFiles',
      `must be a whole number from 1 to ${MAX_VOLUME_HISTORY} (got ${historyFiles})`,
    );
  }
  if (!Number.isInteger(minHistory) || minHistory < 1 || minHistory > historyFiles) {
    add(
      'volume.minHistory',
      `must be a whole number from 1 to historyFiles (${historyFiles}) (got ${minHistory})`,
    );
  }
  const band = (field: string, b: VolumeBand | undefined) => {
    const ok =
      b !== null &&
      typeof b === 'object' &&
      Number.isFinite(b.low) &&
      Number.isFinite(b.high) &&
      b.low >= 0 &&
      b.low <= 1 &&
      b.high >= 1 &&
      b.low < b.high;
    if (!ok)
      add(
        field,
        `must be { low, high } with 0 <= low <= 1 <= high and low < high (got ${JSON.stringify(b)})`,
      );
  };
  band('volume.rows', rows);
  if (measures !== null) band('volume.measures', measures);
}

function checkRestatement(d: ResolvedDataset, columns: ReadonlyMap<string, ColumnConfig>, add: Add): void {
  const { replacementScope, conflictPolicy, keyScope } = d.restatement;
  if (!KEY_SCOPES.includes(keyScope)) {
    add(
      'restatement.keyScope',
      `unknown key scope "${String(keyScope)}" (${KEY_SCOPES.map((s) => `"${s}"`).join(', ')})`,
    );
  }
  if (!CONFLICT_POLICIES.includes(conflictPolicy)) {
    add(
      'restatement.conflictPolicy',
      `unknown policy "${String(conflictPolicy)}" (${CONFLICT_POLICIES.map((p) => `"${p}"`).join(', ')})`,
    );
  }
  if (!Array.isArray(replacementScope)) {
    add('restatement.replacementScope', 'must be a list of column names');
    return;
  }
  const seen = new Set<string>();
  for (const [i, column] of replacementScope.entries()) {
    const field = `restatement.replacementScope[${i}]`;
    if (seen.has(column)) add(field, `"${column}" is listed twice`);
    seen.add(column);
    // `ingest_template` (as in `keys`): a scope per template, so that two templates sharing a
    // dataset never replace each other's rows.
    if (column !== d.partition?.column && column !== 'ingest_template' && !columns.has(column)) {
      add(
        field,
        `"${column}" is neither a declared column, the partition column "${d.partition?.column}" nor "ingest_template"`,
      );
    }
  }
}

/**
 * A dimension naming a `dataset`: that dataset exists, is a dimension (`kind: 'dimension'`), is
 * not the dataset itself, and declares the dimension side of every join key and every column
 * the join adds (its partition column counts: the curated table has it).
 */
function checkDimensionDatasets(datasets: readonly ResolvedDataset[], problems: ConfigProblem[]): void {
  const byName = new Map(datasets.map((d) => [d.name, d]));
  for (const d of datasets) {
    for (const [i, dim] of (d.dimensions ?? []).entries()) {
      if (dim.dataset === undefined || dim.file !== undefined) continue;
      const add = (field: string, message: string) =>
        problems.push({ dataset: d.name, field: `dimensions[${i}].${field}`, message });
      const source = byName.get(dim.dataset);
      if (!source) {
        add('dataset', `"${dim.dataset}" is not a configured dataset`);
        continue;
      }
      if (source === d) {
        add('dataset', `"${dim.dataset}" is this dataset`);
        continue;
      }
      if (source.kind !== 'dimension') {
        add('dataset', `"${dim.dataset}" is not a dimension dataset (its kind is "${source.kind}")`);
      }
      const has = (column: string) =>
        column === source.partition?.column || (source.columns ?? []).some((c) => c.name === column);
      for (const [fact, column] of Object.entries(dim.joinKeys ?? {})) {
        if (!has(column)) add(`joinKeys.${fact}`, `"${column}" is not a column of dataset "${source.name}"`);
      }
      for (const [j, column] of (dim.columns ?? []).entries()) {
        if (!has(column)) add(`columns[${j}]`, `"${column}" is not a column of dataset "${source.name}"`);
      }
    }
  }
}

function checkPrefixOverlap(datasets: readonly ResolvedDataset[], problems: ConfigProblem[]): void {
  for (const a of datasets) {
    for (const b of datasets) {
      if (a !== b && typeof a.landingPrefix === 'string' && b.landingPrefix?.startsWith(a.landingPrefix)) {
        problems.push({
          dataset: b.name,
          field: 'landingPrefix',
          message: `"${b.landingPrefix}" overlaps dataset "${a.name}" ("${a.landingPrefix}")`,
        });
      }
    }
  }
}
