import type { Readable } from 'node:stream';
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import yauzl from 'yauzl';
import { Decimal } from '../common/decimal';
import { DecompressionLimitError, SheetNotFoundError, UnreadableFileError } from './errors';
import { type Cell, detach, type SourceRow, type SourceTable } from './records';

/**
 * XLSX (Office Open XML workbook) reading, streamed entry by entry from a random-access zip
 * reader (S3 ranged GETs in the Lambda). Only the shared-strings table is held in memory;
 * sheets are parsed with a streaming XML parser and yielded in row batches.
 *
 * - every visible sheet, or the configured one; hidden sheets are skipped (and reported);
 * - cells with a date number format, and `t="d"` cells, become ISO-8601 (1900 and 1904 date
 *   systems, Excel's 1900 leap-year bug honoured);
 * - formulas yield their cached value (`<v>`); a formula without one is an empty cell;
 * - numbers are rounded to Excel's 15 significant digits (what Excel shows and stores
 *   reliably): a double's 17-digit noise such as 0.30000000000000004 becomes 0.3;
 * - merged ranges repeat the top-left value over every cell of the range (so a header cell
 *   merged across two columns names both, and a merged label applies to every row it spans);
 * - the sum of the entries' uncompressed sizes may not exceed `maxExpansionRatio` times the
 *   file size, and no entry may inflate past its declared size (zip bombs).
 */

export interface XlsxOptions {
  readonly sheet?: string;
  readonly maxExpansionRatio: number;
  readonly label: string;
  /** Rows per yielded batch. @default 2000 */
  readonly batchRows?: number;
}

export interface XlsxWorkbook {
  readonly sheets: readonly string[];
  readonly skippedSheets: readonly { sheet: string; reason: string }[];
  readonly tables: AsyncIterable<SourceTable>;
}

interface SheetInfo {
  readonly name: string;
  readonly path: string;
  readonly hidden: boolean;
}

const MAX_MERGES = 100_000;
const MAX_COLUMNS = 16_384;

export async function openXlsx(reader: yauzl.RandomAccessReader, size: number, options: XlsxOptions) {
  const zip = await openZip(reader, size, options.label);
  const entries = await readEntries(zip, options.label);
  let uncompressed = 0;
  for (const entry of entries.values()) uncompressed += entry.uncompressedSize;
  if (uncompressed > size * options.maxExpansionRatio) {
    zip.close();
    throw new DecompressionLimitError(
      `${options.label} expands from ${size} to ${uncompressed} bytes, more than ${options.maxExpansionRatio} times its size`,
    );
  }
  const part = (path: string) => entries.get(path.replace(/^\/+/, ''));
  const rootRels = part('_rels/.rels')
    ? await readRelationships(zip, part('_rels/.rels')!, '', options.label)
    : new Map<string, Relationship>();
  const workbookPath =
    [...rootRels.values()].find((r) => r.type.endsWith('/officeDocument'))?.target ?? 'xl/workbook.xml';
  const workbookEntry = part(workbookPath);
  if (!workbookEntry) {
    zip.close();
    throw new UnreadableFileError(
      `${options.label} is a zip archive without an Excel workbook (${workbookPath})`,
    );
  }
  const baseDir = workbookPath.includes('/') ? workbookPath.slice(0, workbookPath.lastIndexOf('/') + 1) : '';
  const relsPath = `${baseDir}_rels/${workbookPath.slice(baseDir.length)}.rels`;
  const rels = part(relsPath)
    ? await readRelationships(zip, part(relsPath)!, baseDir, options.label)
    : new Map<string, Relationship>();
  const workbook = await readWorkbook(zip, workbookEntry, rels, baseDir, options.label);
  const stylesPath =
    [...rels.values()].find((r) => r.type.endsWith('/styles'))?.target ?? `${baseDir}styles.xml`;
  const dateStyles = part(stylesPath) ? await readDateStyles(zip, part(stylesPath)!, options.label) : [];
  const stringsPath =
    [...rels.values()].find((r) => r.type.endsWith('/sharedStrings'))?.target ??
    `${baseDir}sharedStrings.xml`;
  const sharedStrings = part(stringsPath)
    ? await readSharedStrings(zip, part(stringsPath)!, options.label)
    : [];

  let selected: SheetInfo[];
  const skippedSheets: { sheet: string; reason: string }[] = [];
  if (options.sheet !== undefined) {
    const sheet = workbook.sheets.find((s) => s.name === options.sheet);
    if (!sheet) {
      zip.close();
      throw new SheetNotFoundError(
        `${options.label} has no sheet "${options.sheet}" (sheets: ${workbook.sheets.map((s) => `"${s.name}"`).join(', ')})`,
      );
    }
    selected = [sheet];
  } else {
    selected = workbook.sheets.filter((s) => !s.hidden);
    for (const s of workbook.sheets) if (s.hidden) skippedSheets.push({ sheet: s.name, reason: 'hidden' });
  }
  const context: SheetContext = {
    sharedStrings,
    dateStyles,
    date1904: workbook.date1904,
    label: options.label,
    batchRows: options.batchRows ?? 2000,
  };
  async function* tables(): AsyncIterable<SourceTable> {
    try {
      for (const sheet of selected) {
        const entry = part(sheet.path);
        if (!entry) {
          skippedSheets.push({ sheet: sheet.name, reason: 'missing_part' });
          continue;
        }
        const merges = await readMerges(zip, entry, options.label);
        yield {
          sheet: sheet.name,
          header: null,
          fixedWidth: false,
          batches: readSheetRows(zip, entry, merges, context),
        };
      }
    } finally {
      zip.close();
    }
  }
  return {
    sheets: selected.map((s) => s.name),
    skippedSheets,
    tables: tables(),
  } satisfies XlsxWorkbook;
}

function openZip(reader: yauzl.RandomAccessReader, size: number, label: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.fromRandomAccessReader(
      reader,
      size,
      { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: false },
      (error, zip) => {
        if (error || !zip)
          reject(new UnreadableFileError(`${label} is not a valid zip archive: ${error?.message}`));
        else resolve(zip);
      },
    );
  });
}

function readEntries(zip: yauzl.ZipFile, label: string): Promise<Map<string, yauzl.Entry>> {
  return new Promise((resolve, reject) => {
    const entries = new Map<string, yauzl.Entry>();
    zip.on('entry', (entry: yauzl.Entry) => {
      entries.set(entry.fileName, entry);
      zip.readEntry();
    });
    zip.once('end', () => resolve(entries));
    zip.once('error', (error: Error) =>
      reject(new UnreadableFileError(`${label}: corrupt zip directory: ${error.message}`)),
    );
    zip.readEntry();
  });
}

function openEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, label: string): Promise<Readable> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (error, stream) => {
      if (error || !stream) reject(zipError(error, entry, label));
      else resolve(stream);
    });
  });
}

function zipError(error: unknown, entry: yauzl.Entry, label: string): Error {
  const message = (error as Error | undefined)?.message ?? 'unknown error';
  if (/too many bytes|expected \d+ bytes/i.test(message)) {
    return new DecompressionLimitError(
      `${label}: entry ${entry.fileName} inflates past its declared size (${entry.uncompressedSize} bytes): ${message}`,
    );
  }
  return new UnreadableFileError(`${label}: cannot read ${entry.fileName}: ${message}`);
}

/** Streams one XML entry through a SAX parser; `onChunk` runs after each chunk's events. */
async function* parseXml(
  zip: yauzl.ZipFile,
  entry: yauzl.Entry,
  label: string,
  setup: (parser: SaxesParser) => void,
): AsyncIterable<void> {
  const stream = await openEntry(zip, entry, label);
  const parser = new SaxesParser({ xmlns: false, position: false });
  let failure: Error | undefined;
  parser.on('error', (error) => {
    failure ??= new UnreadableFileError(`${label}: malformed XML in ${entry.fileName}: ${error.message}`);
  });
  setup(parser);
  const decoder = new TextDecoder('utf-8');
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      parser.write(decoder.decode(chunk, { stream: true }));
      if (failure) throw failure;
      yield;
    }
    parser.write(decoder.decode());
    parser.close();
    if (failure) throw failure;
    yield;
  } catch (error) {
    if (error instanceof UnreadableFileError || error instanceof DecompressionLimitError) throw error;
    throw zipError(error, entry, label);
  } finally {
    stream.destroy();
  }
}

async function drain(iterable: AsyncIterable<void>): Promise<void> {
  for await (const _ of iterable) {
    // events were handled by the parser's listeners
  }
}

const local = (name: string) => {
  const colon = name.indexOf(':');
  return colon < 0 ? name : name.slice(colon + 1);
};

/** An unprefixed attribute (SpreadsheetML's own attributes carry no prefix). */
function attribute(tag: SaxesTagPlain, name: string): string | undefined {
  return tag.attributes[name];
}

/** An attribute under any prefix (`r:id`, whatever the relationships prefix is bound to). */
function prefixedAttribute(tag: SaxesTagPlain, name: string): string | undefined {
  for (const [key, value] of Object.entries(tag.attributes)) if (local(key) === name) return value;
  return undefined;
}

interface Relationship {
  readonly type: string;
  readonly target: string;
}

async function readRelationships(
  zip: yauzl.ZipFile,
  entry: yauzl.Entry,
  baseDir: string,
  label: string,
): Promise<Map<string, Relationship>> {
  const rels = new Map<string, Relationship>();
  await drain(
    parseXml(zip, entry, label, (parser) => {
      parser.on('opentag', (tag) => {
        if (local(tag.name) !== 'Relationship') return;
        const id = attribute(tag, 'Id');
        const target = attribute(tag, 'Target');
        if (!id || !target || attribute(tag, 'TargetMode') === 'External') return;
        rels.set(id, {
          type: attribute(tag, 'Type') ?? '',
          target: target.startsWith('/') ? target.slice(1) : normalizePath(`${baseDir}${target}`),
        });
      });
    }),
  );
  return rels;
}

function normalizePath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '..') parts.pop();
    else if (part !== '.' && part !== '') parts.push(part);
  }
  return parts.join('/');
}

async function readWorkbook(
  zip: yauzl.ZipFile,
  entry: yauzl.Entry,
  rels: Map<string, Relationship>,
  baseDir: string,
  label: string,
): Promise<{ sheets: SheetInfo[]; date1904: boolean }> {
  const sheets: SheetInfo[] = [];
  let date1904 = false;
  await drain(
    parseXml(zip, entry, label, (parser) => {
      parser.on('opentag', (tag) => {
        const name = local(tag.name);
        if (name === 'workbookPr') {
          const value = attribute(tag, 'date1904');
          date1904 = value === '1' || value === 'true';
        } else if (name === 'sheet') {
          const id = prefixedAttribute(tag, 'id');
          const rel = id ? rels.get(id) : undefined;
          const state = attribute(tag, 'state');
          sheets.push({
            name: attribute(tag, 'name') ?? `Sheet${sheets.length + 1}`,
            path: rel?.target ?? `${baseDir}worksheets/sheet${sheets.length + 1}.xml`,
            hidden: state === 'hidden' || state === 'veryHidden',
          });
        }
      });
    }),
  );
  return { sheets, date1904 };
}

/** Built-in number formats that are dates or times (ECMA-376 18.8.30, plus East Asian ids). */
const BUILTIN_DATE_FORMATS = new Set([
  14, 15, 16, 17, 18, 19, 20, 21, 22, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 45, 46, 47, 50, 51, 52, 53, 54,
  55, 56, 57, 58,
]);

/** True when a number format code formats a date or time. */
export function isDateFormat(code: string): boolean {
  const stripped = code
    .replace(/"[^"]*"/g, '')
    .replace(/\\./g, '')
    .replace(/\[(?!h\]|hh\]|m\]|mm\]|s\]|ss\])[^\]]*\]/gi, '')
    .replace(/_.|\*./g, '');
  // Only the first section (positive numbers) decides.
  const first = stripped.split(';')[0] ?? '';
  if (/general/i.test(first)) return false;
  return /[dmyhs]/i.test(first.replace(/E[+-]/g, ''));
}

async function readDateStyles(zip: yauzl.ZipFile, entry: yauzl.Entry, label: string): Promise<boolean[]> {
  const customDate = new Map<number, boolean>();
  const styles: boolean[] = [];
  let inCellXfs = false;
  await drain(
    parseXml(zip, entry, label, (parser) => {
      parser.on('opentag', (tag) => {
        const name = local(tag.name);
        if (name === 'numFmt') {
          customDate.set(
            Number(attribute(tag, 'numFmtId')),
            isDateFormat(attribute(tag, 'formatCode') ?? ''),
          );
        } else if (name === 'cellXfs') {
          inCellXfs = true;
        } else if (name === 'xf' && inCellXfs) {
          const id = Number(attribute(tag, 'numFmtId') ?? 0);
          styles.push(customDate.get(id) ?? BUILTIN_DATE_FORMATS.has(id));
        }
      });
      parser.on('closetag', (tag) => {
        if (local(tag.name) === 'cellXfs') inCellXfs = false;
      });
    }),
  );
  return styles;
}

async function readSharedStrings(zip: yauzl.ZipFile, entry: yauzl.Entry, label: string): Promise<string[]> {
  const strings: string[] = [];
  let current = '';
  let inT = false;
  let phonetic = 0;
  await drain(
    parseXml(zip, entry, label, (parser) => {
      parser.on('opentag', (tag) => {
        const name = local(tag.name);
        if (name === 'si') current = '';
        else if (name === 't') inT = phonetic === 0;
        else if (name === 'rPh') phonetic += 1;
      });
      parser.on('text', (text) => {
        if (inT) current += text;
      });
      parser.on('closetag', (tag) => {
        const name = local(tag.name);
        if (name === 't') inT = false;
        else if (name === 'rPh') phonetic -= 1;
        else if (name === 'si') strings.push(detach(current));
      });
    }),
  );
  return strings;
}

export interface MergeRange {
  readonly top: number;
  readonly left: number;
  readonly bottom: number;
  readonly right: number;
}

/** Finds the sheet's merged ranges (they follow the cell data) in a quick pre-pass. */
async function readMerges(zip: yauzl.ZipFile, entry: yauzl.Entry, label: string): Promise<MergeRange[]> {
  const stream = await openEntry(zip, entry, label);
  const merges: MergeRange[] = [];
  const pattern = /<(?:\w+:)?mergeCell\b[^>]*?\bref="([A-Za-z]+)(\d+)(?::([A-Za-z]+)(\d+))?"/g;
  let carry = '';
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const text = carry + chunk.toString('latin1');
      if (text.indexOf('mergeCell') < 0) {
        carry = text.slice(-64);
        continue;
      }
      pattern.lastIndex = 0;
      let last = 0;
      for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
        const top = Number(m[2]);
        const left = columnIndex(m[1]!);
        merges.push({
          top,
          left,
          bottom: m[4] ? Number(m[4]) : top,
          right: m[3] ? columnIndex(m[3]) : left,
        });
        if (merges.length > MAX_MERGES) {
          throw new UnreadableFileError(`${label}: sheet has more than ${MAX_MERGES} merged ranges`);
        }
        last = pattern.lastIndex;
      }
      // Keep an unfinished tag for the next chunk.
      const open = text.lastIndexOf('<');
      carry = open >= last ? text.slice(Math.max(open, text.length - 512)) : '';
    }
  } catch (error) {
    if (error instanceof UnreadableFileError) throw error;
    throw zipError(error, entry, label);
  } finally {
    stream.destroy();
  }
  return merges.sort((a, b) => a.top - b.top || a.left - b.left);
}

/** `A` -> 0, `Z` -> 25, `AA` -> 26. */
export function columnIndex(letters: string): number {
  let index = 0;
  for (let i = 0; i < letters.length; i++) index = index * 26 + ((letters.charCodeAt(i) | 0x20) - 96);
  return index - 1;
}

interface SheetContext {
  readonly sharedStrings: readonly string[];
  readonly dateStyles: readonly boolean[];
  readonly date1904: boolean;
  readonly label: string;
  readonly batchRows: number;
}

async function* readSheetRows(
  zip: yauzl.ZipFile,
  entry: yauzl.Entry,
  merges: readonly MergeRange[],
  context: SheetContext,
): AsyncIterable<SourceRow[]> {
  const { sharedStrings, dateStyles, date1904, label } = context;
  let batch: SourceRow[] = [];
  let rowNumber = 0;
  let cells: Cell[] = [];
  // Positions of number cells in the row (typed numbers: never read by a file's number format).
  let typed: boolean[] | undefined;
  let column = -1;
  let type = 'n';
  let style = 0;
  let value: string | null = null;
  let text = '';
  let inValue = false;
  let inInline = false;
  let inText = false;
  let phonetic = 0;
  // Merged ranges: pending (not reached yet), active (covering the current row).
  let nextMerge = 0;
  const active: { range: MergeRange; value: Cell; typed: boolean }[] = [];

  const finishRow = () => {
    while (nextMerge < merges.length && merges[nextMerge]!.top <= rowNumber) {
      const range = merges[nextMerge++]!;
      if (range.bottom >= rowNumber) active.push({ range, value: null, typed: false });
    }
    for (let i = active.length - 1; i >= 0; i--) {
      const merge = active[i]!;
      const { range } = merge;
      if (range.bottom < rowNumber) {
        active.splice(i, 1);
        continue;
      }
      if (range.top === rowNumber) {
        merge.value = cells[range.left] ?? null;
        merge.typed = typed?.[range.left] === true;
      }
      for (let c = range.left; c <= range.right && c < MAX_COLUMNS; c++) {
        if (c !== range.left || range.top !== rowNumber) {
          cells[c] = merge.value;
          if (merge.typed) {
            typed ??= [];
            typed[c] = true;
          } else if (typed) typed[c] = false;
        }
      }
    }
    for (let i = 0; i < cells.length; i++) if (cells[i] === undefined) cells[i] = null;
    batch.push(typed ? { rowNumber, values: cells, typed } : { rowNumber, values: cells });
  };

  const rows = parseXml(zip, entry, label, (parser) => {
    parser.on('opentag', (tag) => {
      const name = local(tag.name);
      switch (name) {
        case 'row': {
          const r = attribute(tag, 'r');
          rowNumber = r ? Number(r) : rowNumber + 1;
          cells = [];
          typed = undefined;
          column = -1;
          break;
        }
        case 'c': {
          const ref = attribute(tag, 'r');
          const letters = ref ? /^[A-Za-z]+/.exec(ref)?.[0] : undefined;
          column = letters ? columnIndex(letters) : column + 1;
          if (column >= MAX_COLUMNS) {
            parser.fail(`cell ${ref} is beyond column XFD`);
          }
          type = attribute(tag, 't') ?? 'n';
          style = Number(attribute(tag, 's') ?? 0);
          value = null;
          break;
        }
        case 'v':
          inValue = true;
          text = '';
          break;
        case 'is':
          inInline = true;
          text = '';
          break;
        case 't':
          if (inInline && phonetic === 0) inText = true;
          break;
        case 'rPh':
          phonetic += 1;
          break;
      }
    });
    parser.on('text', (chunk) => {
      if (inValue || inText) text += chunk;
    });
    parser.on('closetag', (tag) => {
      const name = local(tag.name);
      switch (name) {
        case 'v':
          inValue = false;
          value = text;
          break;
        case 't':
          inText = false;
          break;
        case 'rPh':
          phonetic -= 1;
          break;
        case 'is':
          inInline = false;
          value = text;
          break;
        case 'c':
          cells[column] = cellValue(type, style, value, sharedStrings, dateStyles, date1904);
          if (type === 'n' && value !== null && value.trim() !== '' && !dateStyles[style]) {
            typed ??= [];
            typed[column] = true;
          }
          break;
        case 'row':
          finishRow();
          break;
      }
    });
  });
  for await (const _ of rows) {
    if (batch.length >= context.batchRows) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

function cellValue(
  type: string,
  style: number,
  raw: string | null,
  sharedStrings: readonly string[],
  dateStyles: readonly boolean[],
  date1904: boolean,
): Cell {
  if (raw === null) return null;
  switch (type) {
    case 's':
      return sharedStrings[Number(raw)] ?? null;
    case 'str':
    case 'inlineStr':
      return raw;
    case 'b':
      return raw === '1' || raw === 'true' ? 'true' : 'false';
    case 'e':
      return raw;
    case 'd':
      return raw.trim();
    default: {
      if (raw.trim() === '') return null;
      if (dateStyles[style]) {
        const serial = Number(raw);
        if (Number.isFinite(serial)) return excelSerialToIso(serial, date1904);
      }
      return excelNumber(raw);
    }
  }
}

const SHORT_INTEGER = /^-?\d{1,15}$/;
const SHORT_DECIMAL = /^-?(\d+)\.(\d+)$/;

/** A number cell's text at Excel's 15 significant digits, as a plain decimal string. */
export function excelNumber(text: string): string {
  const trimmed = text.trim();
  if (SHORT_INTEGER.test(trimmed)) return trimmed;
  const short = SHORT_DECIMAL.exec(trimmed);
  if (short && short[1]!.replace(/^0+/, '').length + short[2]!.length <= 15) return trimmed;
  const number = Number(trimmed);
  if (!Number.isFinite(number)) return trimmed;
  return Decimal.parse(number.toPrecision(15)).toString();
}

const DAY_MS = 86_400_000;

/** An Excel date serial as ISO-8601: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS[.sss]`, or `HH:MM:SS` for times. */
export function excelSerialToIso(serial: number, date1904: boolean): string {
  let ms = Math.round(serial * DAY_MS);
  const wholeDays = Math.floor(ms / DAY_MS);
  if (serial < 1 && serial >= 0 && !date1904) {
    // A time of day without a date.
    return isoTime(ms);
  }
  let epoch: number;
  if (date1904) epoch = Date.UTC(1904, 0, 1);
  else if (wholeDays >= 61) epoch = Date.UTC(1899, 11, 30);
  else {
    // Serials 1-59 count from 1900-01-01 = 1; 60 is Excel's fictitious 1900-02-29.
    epoch = Date.UTC(1899, 11, 31);
    if (wholeDays === 60) ms -= DAY_MS;
  }
  const date = new Date(epoch + ms);
  const iso = date.toISOString();
  if (ms % DAY_MS === 0) return iso.slice(0, 10);
  return iso.endsWith('.000Z') ? iso.slice(0, 19) : iso.slice(0, 23);
}

function isoTime(ms: number): string {
  return new Date(ms).toISOString().slice(11, ms % 1000 === 0 ? 19 : 23);
}
