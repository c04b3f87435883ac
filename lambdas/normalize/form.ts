/**
 * Single-record forms (templates with `layout: 'form'`, XLSX only; lib/config/types.ts
 * `FormLayoutConfig`): label/value pairs down a sheet, then an optional line-item table. A form
 * sheet becomes a one-row table (a header of its labels and the line-item column, one row of
 * their values) that FileRun normalizes like any other table: the same value conversion, null
 * tokens, row rejection, lineage and control totals. A sheet that is not a form is handed back
 * unchanged (its buffered rows, then the rest) to be read as a table.
 *
 * - A label is a cell whose text, a trailing `:` dropped, canonicalizes (canonicalName, then the
 *   dataset's aliases) to a declared column other than the line-item column, and whose next
 *   non-empty cell to the right on the same row (skipping repeats of the label: a merged label
 *   cell) is its value. A cell followed by another label is no label (a table's header row is
 *   not a form); a declared label with nothing to its right is a label with a null value only
 *   when it ends with `:` (`Vendor:` left blank), otherwise it is a heading.
 * - A cell ending with `:` that names no declared column, followed by a value, is an unknown
 *   label: kept as an extra column, as a table keeps an unknown header (schema drift). Without
 *   a colon, any text followed by a value would be a label, so unknown labels need the colon.
 * - A sheet is a form of a template when its labels cover every required column of the
 *   template, unless the row a table would take as its header (one without `Label:` cells)
 *   matches a table template. Detection looks at the first `FORM_SEARCH_ROWS` non-empty rows; a form is then
 *   read whole (at most `MAX_FORM_ROWS` rows).
 * - The line-item table starts at the first row whose cells include the header (a field's name
 *   or alias, canonicalized) of every required field; each following row with a value is an
 *   item, until a blank row, a row with a label, or the end of the sheet. Items are a JSON array
 *   of objects keyed by field name (declared fields only; other item columns are ignored),
 *   values as text, decimals as exact decimal strings; no table, or no item rows: null.
 * - An item decimal that is not a number rejects the form's record (reason `invalid_line_item`,
 *   naming the sheet, row, field and value): a form is one record, so a bad item is a bad cell
 *   of it, and nothing of the form is loaded with a wrong total. Text numbers must read the same
 *   with either decimal mark (`450.00`, `1,234.50`; `1.500` is ambiguous and rejected); typed
 *   number cells are read as they are.
 * - A sheet with at least `NEAR_FORM_LABELS` declared labels ending with `:`, one of them a
 *   required column, whose labels miss another required column (a misspelt `Amt:`) is an
 *   incomplete form: with `unknownTemplate: 'quarantine'` the file is rejected
 *   (`UnknownTemplateError` naming the missing columns and the labels that name none), as a
 *   table whose header matches no template is; with `flag` it is read as a table.
 * - The record's row number is the sheet row of its first label; the manifest table's
 *   `headerRow` is that row too and `skippedRows` the non-empty rows above it (titles).
 * - The template version is the one whose `headers` share the most labels (canonicalized), the
 *   latest on a tie; `match` is `exact` when the labels are exactly that version's headers,
 *   `columns` otherwise.
 */
import { canonicalName } from '../../lib/config/canonical';
import type { ColumnConfig, ResolvedDataset, TemplateConfig } from '../../lib/config/types';
import type { ManifestTemplate } from '../../lib/contracts/manifest';
import { Decimal } from '../common/decimal';
import { UnknownTemplateError, UnreadableFileError } from './errors';
import { chooseHeaderRow, HEADER_SEARCH_ROWS } from './header';
import { readDecimal } from './numbers';
import type { Cell, SourceRow } from './records';
import { aliasMap, resolveHeader } from './schema';

/** Non-empty rows of a sheet examined for form labels. */
export const FORM_SEARCH_ROWS = 100;
/** Declared labels ending with `:` that make a sheet look like a form (`FormReader.incomplete`). */
export const NEAR_FORM_LABELS = 3;
/** Rows of a form sheet held in memory (a form is read whole). */
export const MAX_FORM_ROWS = 10_000;

/** A form sheet as a one-row table. */
export interface FormTable {
  /** Label texts (colon dropped), then the line-item column when the template has one. */
  readonly header: string[];
  /** The record: the labels' values, then the line items as JSON (or a rejection). */
  readonly row: SourceRow;
  readonly template: ManifestTemplate;
  /** Sheet row of the first label. */
  readonly headerRow: number;
  /** Non-empty rows above the first label (titles). */
  readonly skippedRows: number;
}

export type FormOrTable =
  | { readonly form: FormTable; readonly batches?: undefined }
  | { readonly form: null; readonly batches: AsyncIterable<SourceRow[]> };

interface Label {
  /** The label text, trimmed, a trailing colon dropped. */
  readonly text: string;
  /** Declared column it names; null for an unknown label (text ending with `:`). */
  readonly column: string | null;
  readonly colon: boolean;
}

interface Pair {
  readonly label: Label;
  readonly rowNumber: number;
  readonly value: Cell;
  readonly typed: boolean;
}

interface ItemsTable {
  readonly headerIndex: number;
  /** Field -> cell position in the item rows. */
  readonly positions: ReadonlyMap<string, number>;
  /** Indexes (in the sheet's rows) of the item rows. */
  readonly rows: readonly number[];
}

interface ScannedForm {
  readonly pairs: readonly Pair[];
  readonly items: ItemsTable | null;
}

const blank = (cell: Cell | undefined) => cell === null || cell === undefined || cell.trim() === '';
const COLON = /[:\uff1a]\s*$/u;
const PLAIN_NUMBER = /^-?\d+(?:\.\d+)?$/;

/** The templates of a dataset read as forms. */
export function formTemplates(dataset: ResolvedDataset): TemplateConfig[] {
  return dataset.templates.filter((t) => t.layout === 'form');
}

/** Reads the dataset's form layout: labels and line-item headers, canonicalized once. */
export class FormReader {
  private readonly aliases: Map<string, string>;
  private readonly templates: TemplateConfig[];
  private readonly nullTokens: Set<string>;
  private readonly unknownTemplate: ResolvedDataset['unknownTemplate'];

  constructor(private readonly dataset: ResolvedDataset) {
    this.unknownTemplate = dataset.unknownTemplate;
    this.aliases = aliasMap(dataset);
    this.templates = formTemplates(dataset).sort(
      (a, b) => b.requiredColumns.length - a.requiredColumns.length,
    );
    this.nullTokens = new Set(dataset.nullTokens.map((t) => t.trim()));
  }

  /**
   * Detects a form in a sheet's first rows. A form is read whole and returned as a one-row
   * table; anything else comes back as the sheet's rows (those buffered, then the rest).
   */
  async read(sheet: string, batches: AsyncIterable<SourceRow[]>, label: string): Promise<FormOrTable> {
    const iterator = batches[Symbol.asyncIterator]();
    const buffered: SourceRow[][] = [];
    let nonEmpty = 0;
    let exhausted = false;
    while (nonEmpty < FORM_SEARCH_ROWS) {
      const next = await iterator.next();
      if (next.done) {
        exhausted = true;
        break;
      }
      buffered.push(next.value);
      for (const row of next.value) if (row.values.some((c) => !blank(c))) nonEmpty += 1;
    }
    const rows = buffered.flat();
    const asTable = { form: null, batches: replay(buffered, exhausted ? null : iterator) } as const;
    if (this.isTable(rows)) return asTable;
    const template = this.detect(rows);
    if (!template) {
      const incomplete = this.unknownTemplate === 'quarantine' ? this.incomplete(rows) : null;
      if (incomplete) throw new UnknownTemplateError(`sheet "${sheet}" of ${label} ${incomplete}`);
      return asTable;
    }
    while (!exhausted) {
      const next = await iterator.next();
      if (next.done) break;
      rows.push(...next.value);
      if (rows.length > MAX_FORM_ROWS) {
        throw new UnreadableFileError(
          `sheet "${sheet}" of ${label} is a ${template.name} form with more than ${MAX_FORM_ROWS} rows`,
        );
      }
    }
    return { form: this.record(template, sheet, rows) };
  }

  /**
   * The row a table would take as its header (header.ts) matches a table template, and is not
   * a row of `Label:` cells: a table whose declared headers alternate with unknown ones is a
   * table, not label/value pairs.
   */
  isTable(rows: readonly SourceRow[]): boolean {
    const candidates = rows.filter((r) => r.values.some((c) => !blank(c))).slice(0, HEADER_SEARCH_ROWS);
    const headerIndex = chooseHeaderRow(this.dataset, candidates);
    if (headerIndex === null) return false;
    const header = candidates[headerIndex]!.values.map((c) => c ?? '');
    if (header.some((cell) => COLON.test(cell.trim()))) return false;
    return resolveHeader(this.dataset, header).template.match !== 'unknown';
  }

  /** The form template whose required columns the rows' labels cover (the most demanding first). */
  detect(rows: readonly SourceRow[]): TemplateConfig | null {
    for (const template of this.templates) {
      const { pairs } = this.scan(template, rows);
      const found = new Set(pairs.map((p) => p.label.column));
      if (template.requiredColumns.every((c) => found.has(c))) return template;
    }
    return null;
  }

  /**
   * Why a sheet with form labels (at least `NEAR_FORM_LABELS` declared ones ending with `:`, one
   * of them a required column) is no form: the required columns no label names, and the labels
   * that name no column (a misspelt label). Null when the sheet does not look like a form.
   */
  incomplete(rows: readonly SourceRow[]): string | null {
    let best: { template: TemplateConfig; pairs: readonly Pair[]; found: number } | null = null;
    for (const template of this.templates) {
      const { pairs } = this.scan(template, rows);
      const columns = new Set(pairs.map((p) => p.label.column));
      const found = template.requiredColumns.filter((c) => columns.has(c)).length;
      if (!best || found > best.found) best = { template, pairs, found };
    }
    // Declared labels with colons: a notes sheet (`Prepared by:`) does not look like a form.
    const declared = best?.pairs.filter((p) => p.label.colon && p.label.column !== null).length ?? 0;
    if (!best || best.found === 0 || declared < NEAR_FORM_LABELS) return null;
    const columns = new Set(best.pairs.map((p) => p.label.column));
    const missing = best.template.requiredColumns.filter((c) => !columns.has(c));
    const unknown = best.pairs
      .filter((p) => p.label.column === null)
      .map((p) => JSON.stringify(p.label.text));
    const list = (items: readonly string[]) =>
      `${items.slice(0, 10).join(', ')}${items.length > 10 ? ` and ${items.length - 10} more` : ''}`;
    return (
      `has the labels of a ${best.template.name} form but none for its required column(s) ${list(missing)}` +
      `; labels naming no column: ${unknown.length > 0 ? list(unknown) : 'none'}`
    );
  }

  /** The form's one record. */
  record(template: TemplateConfig, sheet: string, rows: readonly SourceRow[]): FormTable {
    const { pairs, items } = this.scan(template, rows);
    const first = pairs[0]!;
    const firstIndex = rows.findIndex((r) => r.rowNumber === first.rowNumber);
    const skippedRows = rows.slice(0, firstIndex).filter((r) => r.values.some((c) => !blank(c))).length;
    const header = pairs.map((p) => p.label.text);
    const values: Cell[] = pairs.map((p) => p.value);
    const typed = pairs.map((p) => p.typed);
    const lineItems = template.form?.lineItems;
    let error: SourceRow['error'];
    if (lineItems) {
      header.push(lineItems.column);
      typed.push(false);
      try {
        values.push(this.itemsJson(lineItems.fields, items, rows, sheet));
      } catch (problem) {
        if (!(problem instanceof LineItemProblem)) throw problem;
        values.push(null);
        error = { reason: 'invalid_line_item', detail: problem.message };
      }
    }
    // A row read with an error (an invalid byte) in any label's row rejects the record.
    const unreadable = rows.find((r) => r.error && pairs.some((p) => p.rowNumber === r.rowNumber));
    if (unreadable?.error) error ??= unreadable.error;
    return {
      header,
      row: { rowNumber: first.rowNumber, values, typed, ...(error ? { error } : {}) },
      template: this.version(template, pairs),
      headerRow: first.rowNumber,
      skippedRows,
    };
  }

  /** The version whose headers share the most labels (the latest on a tie). */
  private version(template: TemplateConfig, pairs: readonly Pair[]): ManifestTemplate {
    const labels = new Set(pairs.map((p) => canonicalName(p.label.text)));
    let best: { version: string; common: number; exact: boolean } | null = null;
    for (const version of template.versions) {
      const headers = new Set(version.headers.map((h) => canonicalName(h)));
      const common = [...headers].filter((h) => labels.has(h)).length;
      if (!best || common >= best.common) {
        best = {
          version: version.version,
          common,
          exact: common === headers.size && headers.size === labels.size,
        };
      }
    }
    return { name: template.name, version: best?.version ?? null, match: best?.exact ? 'exact' : 'columns' };
  }

  /** Labels and the line-item table of a sheet's rows. */
  private scan(template: TemplateConfig, rows: readonly SourceRow[]): ScannedForm {
    const itemsColumn = template.form?.lineItems?.column ?? null;
    const items = template.form?.lineItems
      ? this.itemsTable(template.form.lineItems, rows, itemsColumn)
      : null;
    const inItems = new Set<number>(items ? [items.headerIndex, ...items.rows] : []);
    const pairs: Pair[] = [];
    rows.forEach((row, index) => {
      if (!inItems.has(index)) pairs.push(...this.pairsOf(row, itemsColumn));
    });
    return { pairs, items };
  }

  /** What a cell says as a label, or null when it is none. */
  private labelOf(cell: Cell | undefined, itemsColumn: string | null): Label | null {
    if (blank(cell)) return null;
    const trimmed = cell!.trim();
    const colon = COLON.test(trimmed);
    const text = colon ? trimmed.replace(COLON, '').trim() : trimmed;
    const canonical = canonicalName(text);
    if (canonical === '') return null;
    const column = this.aliases.get(canonical);
    if (column !== undefined && column !== itemsColumn) return { text, column, colon };
    // The line-item column is no label ("Line items" is the table's title).
    if (column === itemsColumn) return null;
    return colon ? { text, column: null, colon } : null;
  }

  /** A row's label/value pairs, left to right. */
  private pairsOf(row: SourceRow, itemsColumn: string | null): Pair[] {
    const pairs: Pair[] = [];
    const cells = row.values;
    let i = 0;
    while (i < cells.length) {
      const label = this.labelOf(cells[i], itemsColumn);
      if (!label) {
        i += 1;
        continue;
      }
      const own = cells[i]!.trim();
      let j = i + 1;
      while (j < cells.length && (blank(cells[j]) || cells[j]!.trim() === own)) j += 1;
      if (j >= cells.length) {
        // Nothing to the right: a declared label left blank, when it says it is a label.
        if (label.colon && label.column !== null)
          pairs.push({ label, rowNumber: row.rowNumber, value: null, typed: false });
        break;
      }
      if (this.labelOf(cells[j], itemsColumn)) {
        // Followed by another label: a header row, not a label/value pair.
        i = j;
        continue;
      }
      pairs.push({ label, rowNumber: row.rowNumber, value: cells[j]!, typed: row.typed?.[j] === true });
      const value = cells[j]!;
      // A merged value repeats over its range.
      i = j + 1;
      while (i < cells.length && cells[i] === value) i += 1;
    }
    return pairs;
  }

  /** The line-item table: the first row with every required field's header, and its item rows. */
  private itemsTable(
    config: NonNullable<NonNullable<TemplateConfig['form']>['lineItems']>,
    rows: readonly SourceRow[],
    itemsColumn: string | null,
  ): ItemsTable | null {
    const fieldOf = new Map<string, string>();
    for (const field of config.fields) {
      fieldOf.set(canonicalName(field.name), field.name);
      for (const alias of field.aliases ?? []) fieldOf.set(canonicalName(alias), field.name);
    }
    for (const [index, row] of rows.entries()) {
      const positions = new Map<string, number>();
      row.values.forEach((cell, c) => {
        if (blank(cell)) return;
        const field = fieldOf.get(canonicalName(cell!));
        if (field !== undefined && !positions.has(field)) positions.set(field, c);
      });
      if (!config.requiredFields.every((f) => positions.has(f))) continue;
      const itemRows: number[] = [];
      for (let r = index + 1; r < rows.length; r++) {
        const item = rows[r]!;
        // Rows the reader skipped entirely (no cells) end the table like blank ones.
        if (item.rowNumber !== rows[r - 1]!.rowNumber + 1) break;
        if (!item.values.some((c) => !blank(c))) break;
        if (this.pairsOf(item, itemsColumn).length > 0) break;
        itemRows.push(r);
      }
      return { headerIndex: index, positions, rows: itemRows };
    }
    return null;
  }

  /** The items as a JSON array (null without items); throws LineItemProblem for a bad decimal. */
  private itemsJson(
    fields: readonly ColumnConfig[],
    items: ItemsTable | null,
    rows: readonly SourceRow[],
    sheet: string,
  ): string | null {
    if (!items || items.rows.length === 0) return null;
    const objects = items.rows.map((index) => {
      const row = rows[index]!;
      const item: Record<string, string | null> = {};
      for (const field of fields) {
        const position = items.positions.get(field.name);
        const raw = position === undefined ? null : (row.values[position] ?? null);
        const text = raw === null ? null : raw.trim();
        if (text === null || text === '' || this.nullTokens.has(text)) {
          item[field.name] = null;
          continue;
        }
        if (field.type !== 'decimal') {
          item[field.name] = raw;
          continue;
        }
        // A typed number cell is dot-decimal whatever its look (`1.234`); text must not be ambiguous.
        const read = row.typed?.[position!] === true ? Decimal.parse(text) : readDecimal(text, null);
        if (typeof read === 'string') {
          throw new LineItemProblem(
            `line item in row ${row.rowNumber} of sheet "${sheet}": ${field.name} ${JSON.stringify(text.slice(0, 100))} is ${
              read === 'ambiguous'
                ? 'ambiguous (it reads differently with a decimal point and a decimal comma)'
                : 'not a number'
            }`,
          );
        }
        // A plain number is kept as written (`450.00`), as a table's measure cell is.
        item[field.name] = PLAIN_NUMBER.test(text) ? text : read.toString();
      }
      return item;
    });
    return JSON.stringify(objects);
  }
}

class LineItemProblem extends Error {}

/** The buffered batches, then the rest of the source. */
async function* replay(
  buffered: readonly SourceRow[][],
  rest: AsyncIterator<SourceRow[]> | null,
): AsyncIterable<SourceRow[]> {
  for (const batch of buffered) yield batch;
  if (!rest) return;
  for (;;) {
    const next = await rest.next();
    if (next.done) return;
    yield next.value;
  }
}
