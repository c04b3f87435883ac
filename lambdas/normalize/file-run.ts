/**
 * One landing file's normalization run (FileRun): the header of each table located and matched
 * to a template, values normalized row by row, rows written per partition value (gzip JSON Lines)
 * and rejected rows to quarantine, with exact measure totals. lambdas/normalize/core.ts opens the
 * source, drives a run over its tables and writes the manifest.
 */
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import type { ColumnConfig, ResolvedDataset } from '../../lib/config/types';
import { normalizedObjectKey, quarantineRowsKey } from '../../lib/contracts/layout';
import { LINEAGE_COLUMNS } from '../../lib/contracts/lineage';
import type {
  ManifestPartition,
  ManifestSourceOverflow,
  ManifestSourceTotals,
  MeasureTotal,
  NormalizerManifest,
  UnknownTemplateFlag,
} from '../../lib/contracts/manifest';
import type { NormalizeDeps } from './core';
import {
  EmptyFileError,
  MissingPartitionColumnError,
  TooManyPartitionsError,
  UnknownTemplateError,
  UnreadableFileError,
} from './errors';
import { FormReader, formTemplates } from './form';
import { locateHeader } from './header';
import { NumberFormatVote, numberEvidence } from './numbers';
import { type Cell, detach, type SourceRow, type SourceTable } from './records';
import { describeMismatch, resolveHeader, templateMismatch } from './schema';
import { DecimalSum } from './totals';
import { normalizeTemporal, parseMeasure, partitionValue, RowRejection } from './values';
import { type LineWriterOptions, S3LineWriter } from './writer';

/**
 * Partitions one file may write. Each open partition holds a gzip stream and an upload
 * buffer of up to one part, so this bounds memory.
 */
export const MAX_PARTITIONS_PER_FILE = 48;

/**
 * Distinct values of the dataset's source column one file records in its manifest's `sources`
 * (the first ones in row order); the rows of any further value are totalled together in
 * `sourcesOverflow`. Keeps the manifest small whatever the column holds.
 */
export const MAX_SOURCES_PER_FILE = 100;

/** Data column added to rows read from XLSX: the sheet each row came from. */
export const SHEET_COLUMN = 'source_sheet';

/** The manifest's optional per-table details, always written by this normalizer. */
export type ManifestDetails = Required<Pick<NormalizerManifest, 'tables' | 'skippedSheets'>>;

interface PartitionState {
  readonly value: string;
  readonly key: string;
  readonly writer: S3LineWriter;
  rowCount: number;
  /** JSON pieces of the current batch's rows, joined and written after it. */
  pending: string[];
  /** Rows in `pending`. */
  lines: number;
  readonly sums: Map<string, DecimalSum>;
  readonly nulls: Map<string, number>;
  /**
   * With a source column: the partition's exact sums per source (keyed by the file's SourceState
   * of that value, or of the overflow). Each row is added to one cell only; the partition's,
   * the source's and the file's totals are sums of cells, so recording sources costs no second
   * exact sum per row (`sums` and `nulls` above then stay empty).
   */
  readonly cells: Map<SourceState, SourceState>;
}

/** Rows and exact measure totals of one source value (or of the overflow past the cap). */
interface SourceState {
  rowCount: number;
  readonly sums: Map<string, DecimalSum>;
  readonly nulls: Map<string, number>;
}

const newSourceState = (): SourceState => ({ rowCount: 0, sums: new Map(), nulls: new Map() });

interface ColumnPlan {
  readonly name: string;
  /** `"name":` (followed by a JSON value). */
  readonly keyBare: string;
  /** `"name":"` (followed by string content that needs no escaping and `",`). */
  readonly keyQuoted: string;
  /** False for the partition column when it is also the partition source (it lives in the path). */
  readonly output: boolean;
  readonly measure: boolean;
  readonly temporal: ColumnConfig | null;
  /** Raw text -> normalized text of a temporal column (only successful conversions are cached). */
  readonly temporalCache: Map<string, string> | null;
}

/** Everything about one table that the row loop needs. */
interface TablePlan {
  readonly sheet: string | null;
  plan: ColumnPlan[];
  partitionIndex: number;
  /** Position of the dataset's source column (`source.column`); -1 when the table lacks it. */
  sourceIndex: number;
  /** Positions of the measure columns (their text decides the file's decimal mark). */
  measures: number[];
  readonly template: NormalizerManifest['template'];
  /** The lineage fields of every row of the table, as JSON text (row number excluded). */
  readonly lineage: string;
  rowCount: number;
  rejectedRowCount: number;
}

/** A table's header and its rows, before the header is resolved. */
interface OpenedTable {
  readonly header: string[];
  /** Row number of the header row (a form's first label); null when the format names its columns. */
  readonly headerRow: number | null;
  readonly skippedRows: number;
  readonly rows: AsyncIterable<SourceRow[]>;
  /** A form's template (from its labels); tables are matched by their header. */
  readonly template?: NormalizerManifest['template'];
}

const PLAIN_NUMBER = /^-?\d+(?:\.\d+)?$/;
/** Characters JSON strings must escape; values without them are quoted as they are (fast path). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what JSON must escape.
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;
/** Distinct date/time texts remembered per file (timestamps repeat across rows). */
const TEMPORAL_CACHE_SIZE = 10_000;
/**
 * Lookahead while a file's decimal mark is undecided: rows held at most (and their cells'
 * characters at most), so memory stays bounded whatever the file.
 */
export const MAX_HELD_ROWS = 10_000;
export const MAX_HELD_CHARS = 8 * 1024 * 1024;

/** The landing object a run normalizes: identity and landing order (lib/contracts/batch.ts). */
interface RunSource {
  /** Decoded object key. */
  readonly key: string;
  readonly versionId: string | null;
  readonly sourceId: string;
  /** The S3 event's `time`, written on every row as `ingest_landed_at`. */
  readonly eventTime: string;
  /** The S3 event's `detail.object.sequencer`, written on every row as `ingest_sequencer`. */
  readonly sequencer: string;
}

/** The state of normalizing one file: header resolution, per-partition writers and totals. */
export class FileRun {
  outputColumns: string[] = [];
  unknownColumns: string[] = [];
  rowCount = 0;
  rejectedCount = 0;
  rejectedRowsKey: string | null = null;
  tables: ManifestDetails['tables'][number][] = [];
  skippedSheets: { sheet: string; reason: string }[] = [];
  /** The first table whose header matched no template (dataset setting `unknownTemplate: 'flag'`). */
  unknownTemplate: UnknownTemplateFlag | null = null;
  private readonly partitions = new Map<string, PartitionState>();
  /** The dataset's source column (null: the dataset declares none, no per-source totals). */
  private readonly sourceColumn: string | null;
  /** Per source value, in order of first appearance (at most MAX_SOURCES_PER_FILE). */
  private readonly sources = new Map<string, SourceState>();
  /** Rows of source values past the cap. */
  private sourceOverflow: SourceState | null = null;
  private rejectedWriter: S3LineWriter | undefined;
  private rejectedPending: string[] = [];
  /** The file's decimal mark, decided from its unambiguous measure values. */
  readonly numbers = new NumberFormatVote();
  /** Rows held (in order) until the decimal mark is decided; see `admit`. */
  private held: SourceRow[] = [];
  private heldChars = 0;
  private readonly ingestTime: string;
  private readonly nullTokens: Set<string>;
  private readonly maxNullTokenLength: number;
  private readonly writerOptions: LineWriterOptions;
  private readonly key: string;
  private readonly versionId: string | null;
  private readonly sourceId: string;
  /** Reads form sheets; null for a dataset without form templates (every sheet is a table). */
  private readonly forms: FormReader | null;

  constructor(
    private readonly deps: NormalizeDeps,
    private readonly dataset: ResolvedDataset,
    private readonly source: RunSource,
  ) {
    this.key = source.key;
    this.versionId = source.versionId;
    this.sourceId = source.sourceId;
    this.ingestTime = (deps.now?.() ?? new Date()).toISOString();
    this.nullTokens = new Set(dataset.nullTokens.map((t) => t.trim()));
    this.maxNullTokenLength = Math.max(0, ...dataset.nullTokens.map((t) => t.length));
    this.writerOptions = { gzip: true, contentType: 'application/x-ndjson', ...deps.output };
    this.forms = formTemplates(dataset).length > 0 ? new FormReader(dataset) : null;
    this.sourceColumn = dataset.source && 'column' in dataset.source ? dataset.source.column : null;
  }

  /** The manifest's template: the first table's with data rows (or the first table's). */
  template(): NormalizerManifest['template'] {
    const table = this.tables.find((t) => t.rowCount + t.rejectedRowCount > 0) ?? this.tables[0];
    return table?.template ?? { name: null, version: null, match: 'unknown' };
  }

  async consume(tables: AsyncIterable<SourceTable>, skippedSheets: { sheet: string; reason: string }[]) {
    let sawHeader = false;
    let missingPartition: string | null = null;
    let tableCount = 0;
    for await (const table of tables) {
      tableCount += 1;
      const opened = await this.openTable(table);
      if (opened === 'empty') {
        if (table.sheet !== null) skippedSheets.push({ sheet: table.sheet, reason: 'empty' });
        continue;
      }
      if (opened === null) continue;
      const { header, headerRow, skippedRows, rows } = opened;
      if (header.length === 0) continue;
      sawHeader = true;
      const width = header.length;
      const resolved = resolveHeader(this.dataset, header, opened.template);
      const partitionIndex = resolved.columns.indexOf(this.dataset.partition.sourceColumn);
      const description = `${table.sheet !== null ? `sheet "${table.sheet}" of ` : ''}"${this.key}"`;
      if (partitionIndex < 0) {
        const message = `${description} has no column for partition source "${this.dataset.partition.sourceColumn}" (header: ${header.slice(0, 20).join(', ')})`;
        if (table.sheet !== null && this.dataset.sheet === undefined) {
          skippedSheets.push({ sheet: table.sheet, reason: 'no_partition_column' });
          missingPartition ??= message;
          continue;
        }
        throw new MissingPartitionColumnError(message);
      }
      if (resolved.template.match === 'unknown' && this.dataset.templates.length > 0) {
        this.unknownTemplateFound(header, resolved.columns, table.sheet);
      }
      const tablePlan: TablePlan = {
        sheet: table.sheet,
        plan: [],
        partitionIndex,
        sourceIndex: -1,
        measures: [],
        template: resolved.template,
        lineage: this.lineageOf(resolved.template, table.sheet),
        rowCount: 0,
        rejectedRowCount: 0,
      };
      this.applyHeader(tablePlan, resolved.columns, resolved.unknownColumns, table.sheet !== null);
      for await (const batch of rows) {
        if (table.header !== null && table.header.length > tablePlan.plan.length) {
          const grown = resolveHeader(this.dataset, table.header);
          this.applyHeader(tablePlan, grown.columns, grown.unknownColumns, false);
          tablePlan.partitionIndex = grown.columns.indexOf(this.dataset.partition.sourceColumn);
        }
        await this.processBatch(tablePlan, batch, table.fixedWidth ? width : -1);
      }
      await this.releaseHeld(tablePlan, table.fixedWidth ? width : -1);
      this.tables.push({
        sheet: table.sheet,
        headerRow,
        skippedRows,
        template: resolved.template,
        rowCount: tablePlan.rowCount,
        rejectedRowCount: tablePlan.rejectedRowCount,
      });
    }
    this.skippedSheets = skippedSheets;
    if (this.rowCount === 0 && this.rejectedCount === 0) {
      if (missingPartition)
        throw new MissingPartitionColumnError(`${missingPartition}; no other sheet has one`);
      if (!sawHeader) {
        throw new EmptyFileError(
          `"${this.key}" has no header row${tableCount > 1 ? ' in any sheet' : ''} (nothing but blank rows)`,
        );
      }
      throw new EmptyFileError(`"${this.key}" has a header but no data rows`);
    }
  }

  /**
   * A table's header and rows: a form sheet as its one-row table (form.ts, with the template its
   * labels matched), a header found among the first rows (header.ts), or the header the format
   * names (JSON, Parquet). `empty`: a sheet without rows; null: a table without records.
   */
  private async openTable(table: SourceTable): Promise<OpenedTable | 'empty' | null> {
    if (table.header === null) {
      let batches = table.batches;
      if (table.sheet !== null && this.forms) {
        const read = await this.forms.read(table.sheet, batches, `"${this.key}"`);
        if (read.form) {
          const { header, headerRow, skippedRows, row, template } = read.form;
          return { header, headerRow, skippedRows, rows: single([row]), template };
        }
        batches = read.batches;
      }
      const located = await locateHeader(this.dataset, batches);
      if (!located) return 'empty';
      if (located.header.error) {
        // The header row itself could not be read (an invalid byte in a file read as UTF-8).
        throw new UnreadableFileError(
          `${table.sheet !== null ? `sheet "${table.sheet}" of ` : ''}"${this.key}": header row ${located.header.rowNumber}: ${located.header.error.detail}`,
        );
      }
      return {
        header: located.header.values.map((cell) => cell ?? ''),
        headerRow: located.header.rowNumber,
        skippedRows: located.skippedRows,
        rows: located.rows,
      };
    }
    // Formats that name their columns per record (JSON) fill the header as rows are read.
    const iterator = table.batches[Symbol.asyncIterator]();
    const first = await iterator.next();
    if (first.done) return null;
    return { header: table.header, headerRow: null, skippedRows: 0, rows: prepend(first.value, iterator) };
  }

  /**
   * A header that matches no declared template: the file is quarantined (`UnknownTemplateError`,
   * before any of its rows is written) or, with `unknownTemplate: 'flag'`, flagged and read on.
   */
  private unknownTemplateFound(header: readonly string[], columns: readonly string[], sheet: string | null) {
    const mismatch = templateMismatch(this.dataset, header, columns);
    const detail = describeMismatch(this.dataset.name, mismatch, sheet);
    if (this.dataset.unknownTemplate === 'quarantine') {
      // The detail first: the quarantine outcome keeps the first 500 characters of the message.
      throw new UnknownTemplateError(`${detail} (file "${this.key}")`);
    }
    this.unknownTemplate ??= { sheet, headers: [...header], ...mismatch, detail };
  }

  /** Extends the table's column plan with columns not planned yet (all of them, the first time). */
  private applyHeader(
    table: TablePlan,
    columns: readonly string[],
    unknown: readonly string[],
    xlsx: boolean,
  ) {
    const start = table.plan.length;
    const added = planColumns(this.dataset, columns.slice(start));
    table.plan.push(...added);
    table.measures = table.plan.flatMap((column, i) => (column.measure ? [i] : []));
    if (this.sourceColumn !== null)
      table.sourceIndex = table.plan.findIndex((c) => c.name === this.sourceColumn);
    for (const column of added) {
      if (column.output && !this.outputColumns.includes(column.name)) this.outputColumns.push(column.name);
    }
    for (const name of unknown) {
      const output = reservedName(this.dataset, name);
      if (!this.unknownColumns.includes(output)) this.unknownColumns.push(output);
    }
    if (xlsx && !this.outputColumns.includes(SHEET_COLUMN)) {
      this.outputColumns.push(SHEET_COLUMN);
      this.unknownColumns.push(SHEET_COLUMN);
    }
  }

  private lineageOf(template: NormalizerManifest['template'], sheet: string | null): string {
    const fields: Record<(typeof LINEAGE_COLUMNS)[number], string | null> = {
      ingest_source_key: this.key,
      ingest_source_version: this.versionId,
      ingest_source_id: this.sourceId,
      ingest_time: this.ingestTime,
      ingest_template: template.name,
      ingest_template_version: template.version,
      ingest_landed_at: this.source.eventTime,
      ingest_sequencer: this.source.sequencer,
      ingest_row_number: null,
    };
    const parts = LINEAGE_COLUMNS.filter((c) => c !== 'ingest_row_number').map(
      (c) => `${JSON.stringify(c)}:${JSON.stringify(fields[c])}`,
    );
    if (sheet !== null) parts.unshift(`${JSON.stringify(SHEET_COLUMN)}:${JSON.stringify(sheet)}`);
    return `${parts.join(',')},"ingest_row_number":`;
  }

  /**
   * A cell as written: null tokens to null, measures exact (text read with the file's decimal
   * mark; typed numbers as they are), dates ISO-8601 (may throw RowRejection).
   */
  private normalizeCell(column: ColumnPlan, raw: Cell | undefined, typed: boolean): Cell {
    if (raw === null || raw === undefined) return null;
    if (raw.length <= this.maxNullTokenLength && this.nullTokens.has(raw.trim())) return null;
    if (column.measure) return this.measureCell(column, raw.trim(), typed);
    if (column.temporal) {
      const cache = column.temporalCache!;
      const cached = cache.get(raw);
      if (cached !== undefined) return cached;
      const normalized = normalizeTemporal(column.temporal, raw.trim());
      if (cache.size < TEMPORAL_CACHE_SIZE) cache.set(detach(raw), detach(normalized));
      return normalized;
    }
    return raw;
  }

  /** A measure's text as an exact decimal: typed numbers as they are, text with the file's decimal mark. */
  private measureCell(column: ColumnPlan, text: string, typed: boolean): string {
    // Fast path: a plain number reads the same with either mark unless it has a dot.
    if (PLAIN_NUMBER.test(text)) {
      if (typed || this.numbers.mark === '.' || text.indexOf('.') < 0) return text;
    } else if (typed) {
      return parseMeasure(column.name, text, '.')!.toString();
    }
    return parseMeasure(column.name, text, this.numbers.mark)!.toString();
  }

  /**
   * Normalizes a batch of rows (after `admit` while the file's decimal mark is undecided) and
   * writes the result.
   */
  private async processBatch(table: TablePlan, batch: readonly SourceRow[], fixedWidth: number) {
    const rows = this.numbers.mark === null && table.measures.length > 0 ? this.admit(table, batch) : batch;
    if (rows.length > 0) this.normalizeRows(table, rows, fixedWidth);
    // Written after every batch: pending pieces are slices of the batch's source text, and
    // holding them longer (a sparse partition waiting for more rows) would keep that text alive.
    await this.flush();
  }

  /**
   * While the file's decimal mark is undecided, rows are held from the first one with a
   * measure that takes part in the decision (an unambiguous or an ambiguous number) until
   * `DECIDING_VALUES` unambiguous values decide it, the lookahead is full (`MAX_HELD_ROWS`,
   * `MAX_HELD_CHARS`: then what was seen decides, or nothing does) or the table ends
   * (`releaseHeld`). Returns the rows to normalize now, in their order.
   */
  private admit(table: TablePlan, batch: readonly SourceRow[]): readonly SourceRow[] {
    const ready: SourceRow[] = [];
    for (const row of batch) {
      if (this.numbers.mark !== null) {
        ready.push(row);
        continue;
      }
      const counts = this.countNumbers(table, row);
      if (!counts && this.held.length === 0) {
        ready.push(row);
        continue;
      }
      this.held.push(row);
      for (const cell of row.values) if (cell !== null) this.heldChars += cell.length;
      if (this.numbers.ready || this.held.length >= MAX_HELD_ROWS || this.heldChars >= MAX_HELD_CHARS) {
        this.numbers.decide();
        for (const held of this.held) ready.push(held);
        this.held = [];
        this.heldChars = 0;
      }
    }
    return ready;
  }

  /** Counts the evidence of a row's measure texts; true when any takes part in the decision. */
  private countNumbers(table: TablePlan, row: SourceRow): boolean {
    if (row.error) return false;
    const { values, typed } = row;
    let counts = false;
    for (const i of table.measures) {
      const raw = values[i];
      if (raw === null || raw === undefined || typed?.[i] === true) continue;
      const text = raw.trim();
      if (text === '' || this.nullTokens.has(text)) continue;
      if (this.numbers.count(numberEvidence(text))) counts = true;
    }
    return counts;
  }

  /** At the end of a table: decides with what was seen and normalizes the held rows. */
  private async releaseHeld(table: TablePlan, fixedWidth: number): Promise<void> {
    if (this.held.length === 0) return;
    this.numbers.decide();
    const rows = this.held;
    this.held = [];
    this.heldChars = 0;
    this.normalizeRows(table, rows, fixedWidth);
    await this.flush();
  }

  /**
   * Normalizes rows. Each row's JSON is appended as pieces to its partition's pending list and
   * each partition's pieces are joined once per batch: one string copy per batch instead of one
   * per cell (the row loop is the normalizer's hot path). A row is validated completely before
   * it opens a partition: the first row of a new partition value is built aside and opens the
   * partition (its writer, hence its object) only when the whole row is valid, so a rejected
   * row never leaves an empty normalized object behind.
   */
  private normalizeRows(table: TablePlan, rows: readonly SourceRow[], fixedWidth: number): void {
    const { plan, partitionIndex, sourceIndex } = table;
    const bySource = this.sourceColumn !== null;
    const { transform, sourceColumn } = this.dataset.partition;
    const columnCount = plan.length;
    const measureValues: (string | null)[] = [];
    for (const row of rows) {
      const rowNumber = row.rowNumber;
      let pieces: string[] | undefined;
      let mark = 0;
      try {
        if (row.error) throw new RowRejection(row.error.reason, row.error.detail);
        const values = row.values;
        // Blank rows (an XLSX row with styles but no values, an empty JSON object) are skipped.
        if (isBlankRow(values)) continue;
        if (values.length !== columnCount) checkWidth(values, columnCount, fixedWidth);
        const typed = row.typed;
        const partitionCell =
          partitionIndex >= 0
            ? this.normalizeCell(
                plan[partitionIndex]!,
                values[partitionIndex],
                typed?.[partitionIndex] === true,
              )
            : null;
        const partition = partitionValue(transform, sourceColumn, partitionCell);
        let state = this.partitions.get(partition);
        pieces = state ? state.pending : [];
        mark = pieces.length;
        pieces.push('{');
        measureValues.length = 0;
        let sourceValue: Cell = null;
        for (let i = 0; i < columnCount; i++) {
          const column = plan[i]!;
          const value =
            i === partitionIndex
              ? partitionCell
              : this.normalizeCell(column, values[i], typed !== undefined && typed[i] === true);
          if (column.measure) measureValues.push(column.name, value);
          if (i === sourceIndex) sourceValue = value;
          if (!column.output) continue;
          if (value === null) pieces.push(column.keyBare, 'null,');
          // Measures and normalized dates are plain ASCII; other text is escaped only when it must be.
          else if (column.measure || column.temporal || !NEEDS_ESCAPE.test(value))
            pieces.push(column.keyQuoted, value, '",');
          else pieces.push(column.keyBare, JSON.stringify(value), ',');
        }
        pieces.push(table.lineage, '"', String(rowNumber), '"}\n');
        // The row is valid: only now may it open its partition.
        state ??= this.openPartition(partition, pieces);
        state.lines += 1;
        state.rowCount += 1;
        table.rowCount += 1;
        this.rowCount += 1;
        if (bySource) {
          const source = this.sourceStateOf(sourceValue);
          source.rowCount += 1;
          let cell = state.cells.get(source);
          if (!cell) {
            cell = newSourceState();
            state.cells.set(source, cell);
          }
          addMeasures(cell, measureValues);
        } else addMeasures(state, measureValues);
      } catch (error) {
        if (!(error instanceof RowRejection)) throw error;
        if (pieces) pieces.length = mark;
        this.reject(table, rowNumber, error, row.values);
      }
    }
  }

  /** The totals of a row's source value (trimmed; null is ''), or the overflow's past the cap. */
  private sourceStateOf(value: Cell): SourceState {
    const key = value === null ? '' : value.trim();
    let state = this.sources.get(key);
    if (state) return state;
    if (this.sources.size >= MAX_SOURCES_PER_FILE) {
      this.sourceOverflow ??= newSourceState();
      return this.sourceOverflow;
    }
    state = newSourceState();
    this.sources.set(detach(key), state);
    return state;
  }

  /**
   * The manifest's per-source totals, in value order, and the overflow past MAX_SOURCES_PER_FILE;
   * both undefined when the dataset declares no source column.
   */
  sourceSummaries(): { sources?: ManifestSourceTotals[]; sourcesOverflow?: ManifestSourceOverflow } {
    if (this.sourceColumn === null) return {};
    const partitions = [...this.partitions.values()];
    const totals = (source: SourceState) => {
      const cells = partitions.flatMap((p) => p.cells.get(source) ?? []);
      return Object.fromEntries(this.dataset.measures.map((m) => [m, this.measureTotal(cells, m)]));
    };
    const sources = [...this.sources.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([value, state]) => ({ value, rowCount: state.rowCount, measures: totals(state) }));
    const overflow = this.sourceOverflow;
    return {
      sources,
      ...(overflow ? { sourcesOverflow: { rowCount: overflow.rowCount, measures: totals(overflow) } } : {}),
    };
  }

  /** Writes every partition's pending rows, and pending rejected rows. */
  async flush(): Promise<void> {
    for (const state of this.partitions.values()) {
      if (state.pending.length > 0) {
        const text = state.pending.join('');
        const lines = state.lines;
        state.pending = [];
        state.lines = 0;
        await state.writer.writeText(text, lines);
      }
    }
    if (this.rejectedPending.length > 0) {
      const lines = this.rejectedPending;
      this.rejectedPending = [];
      await this.rejectedWriter!.writeLines(lines);
    }
  }

  /** Opens the partition of a valid row (`pending`: that row's pieces). */
  private openPartition(value: string, pending: string[]): PartitionState {
    if (this.partitions.size >= MAX_PARTITIONS_PER_FILE) {
      throw new TooManyPartitionsError(
        `"${this.key}" spans more than ${MAX_PARTITIONS_PER_FILE} values of ${this.dataset.partition.column}; split the file`,
      );
    }
    const key = normalizedObjectKey(this.dataset.name, this.dataset.partition.column, value, this.sourceId);
    const writer = new S3LineWriter(this.deps.s3, this.deps.env.normalizedBucket, key, this.writerOptions);
    const state: PartitionState = {
      value,
      key,
      writer,
      rowCount: 0,
      pending,
      lines: 0,
      sums: new Map(),
      nulls: new Map(),
      cells: new Map(),
    };
    this.partitions.set(value, state);
    return state;
  }

  private reject(
    table: TablePlan,
    rowNumber: number,
    rejection: RowRejection,
    values: readonly Cell[],
  ): void {
    if (!this.rejectedWriter) {
      this.rejectedRowsKey = quarantineRowsKey(this.dataset.name, this.sourceId);
      this.rejectedWriter = new S3LineWriter(
        this.deps.s3,
        this.deps.env.quarantineBucket,
        this.rejectedRowsKey,
        { gzip: false, contentType: 'application/x-ndjson' },
      );
    }
    this.rejectedCount += 1;
    table.rejectedRowCount += 1;
    this.rejectedPending.push(
      JSON.stringify({
        sourceKey: this.key,
        sourceVersion: this.versionId,
        sourceId: this.sourceId,
        ...(table.sheet !== null ? { sheet: table.sheet } : {}),
        rowNumber,
        reason: rejection.reason,
        detail: rejection.detail,
        values,
      }),
    );
  }

  private measureTotal(states: Iterable<SourceState>, measure: string): MeasureTotal {
    let sum = new DecimalSum();
    let nullCount = 0;
    for (const state of states) {
      const partial = state.sums.get(measure);
      if (partial) sum = sum.plus(partial);
      nullCount += state.nulls.get(measure) ?? 0;
    }
    return { sum: sum.total().toString(), nullCount };
  }

  totals(): Record<string, MeasureTotal> {
    return Object.fromEntries(
      this.dataset.measures.map((m) => [
        m,
        this.measureTotal(
          [...this.partitions.values()].flatMap((p) => [p, ...p.cells.values()]),
          m,
        ),
      ]),
    );
  }

  partitionSummaries(): ManifestPartition[] {
    return [...this.partitions.values()]
      .sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0))
      .map((state) => ({
        value: state.value,
        key: state.key,
        rowCount: state.rowCount,
        measures: Object.fromEntries(
          this.dataset.measures.map((m) => [m, this.measureTotal([state, ...state.cells.values()], m)]),
        ),
      }));
  }

  async close(): Promise<void> {
    await this.flush();
    await Promise.all([...this.partitions.values()].map((p) => p.writer.close()));
    await this.rejectedWriter?.close();
  }

  async abort(): Promise<void> {
    await Promise.all([...this.partitions.values()].map((p) => p.writer.abort()));
    await this.rejectedWriter?.abort();
  }

  /** Removes every object this run wrote (a duplicate's rows are already in the first source's objects). */
  async discardOutputs(): Promise<void> {
    const keys = [...this.partitions.values()].map((p) => ({
      bucket: this.deps.env.normalizedBucket,
      key: p.key,
    }));
    if (this.rejectedRowsKey)
      keys.push({ bucket: this.deps.env.quarantineBucket, key: this.rejectedRowsKey });
    await Promise.all(
      keys.map(({ bucket, key }) => this.deps.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))),
    );
  }
}

/** Adds a row's measure values (`[name, value, name, value, ...]`) to a state's exact sums. */
function addMeasures(state: SourceState, measureValues: readonly (string | null)[]): void {
  for (let m = 0; m < measureValues.length; m += 2) {
    const name = measureValues[m]!;
    const value = measureValues[m + 1];
    if (value === null || value === undefined) state.nulls.set(name, (state.nulls.get(name) ?? 0) + 1);
    else {
      let sum = state.sums.get(name);
      if (!sum) {
        sum = new DecimalSum();
        state.sums.set(name, sum);
      }
      sum.addPlain(value);
    }
  }
}

async function* single<T>(item: T): AsyncIterable<T> {
  yield item;
}

async function* prepend<T>(first: T, rest: AsyncIterator<T>): AsyncIterable<T> {
  yield first;
  for (;;) {
    const next = await rest.next();
    if (next.done) return;
    yield next.value;
  }
}

function isBlankRow(values: readonly Cell[]): boolean {
  for (const value of values) if (value !== null && value !== undefined && value.trim() !== '') return false;
  return true;
}

/** A row whose width differs from the header's: extra empty cells are fine, anything else is rejected. */
function checkWidth(values: readonly Cell[], columns: number, fixedWidth: number): void {
  if (values.length > columns) {
    for (let i = columns; i < values.length; i++) {
      const cell = values[i];
      if (cell !== null && cell !== undefined && cell.trim() !== '') {
        throw new RowRejection(
          'field_count',
          `expected ${columns} fields, found ${values.length} (field ${i + 1} has a value but no header)`,
        );
      }
    }
    return;
  }
  if (fixedWidth >= 0) {
    throw new RowRejection('field_count', `expected ${fixedWidth} fields, found ${values.length}`);
  }
}

/** Output name of a source column: one named like a lineage or partition column is kept as `source_<name>`. */
function reservedName(dataset: ResolvedDataset, name: string): string {
  const reserved = new Set<string>([...LINEAGE_COLUMNS, SHEET_COLUMN]);
  const { column: partitionColumn, sourceColumn } = dataset.partition;
  if (partitionColumn !== sourceColumn) reserved.add(partitionColumn);
  return reserved.has(name) ? `source_${name}` : name;
}

function planColumns(dataset: ResolvedDataset, columns: readonly string[]): ColumnPlan[] {
  const declared = new Map(dataset.columns.map((c) => [c.name, c]));
  const measures = new Set(dataset.measures);
  const { column: partitionColumn, sourceColumn } = dataset.partition;
  return columns.map((name) => {
    const config = declared.get(name);
    const outputName = reservedName(dataset, name);
    return {
      name: outputName,
      keyBare: `${JSON.stringify(outputName)}:`,
      keyQuoted: `${JSON.stringify(outputName)}:"`,
      // The partition source column that *is* the partition column lives in the object's path.
      output: !(name === partitionColumn && name === sourceColumn),
      measure: measures.has(name),
      temporal: config && (config.type === 'date' || config.type === 'timestamp') ? config : null,
      temporalCache: config && (config.type === 'date' || config.type === 'timestamp') ? new Map() : null,
    };
  });
}
