import type { ResolvedDataset } from '../../lib/config/types';
import type { NormalizerManifest } from '../../lib/contracts/manifest';
import {
  DelimitedTokenizer,
  type Delimiter,
  detectDelimiter,
  isBlankRecord,
  MalformedTextError,
} from './delimited';
import { EmptyFileError, UnreadableFileError, UnsupportedFileTypeError } from './errors';
import { JsonArrayReader, type JsonRecord, MalformedJsonError, parseJsonLine } from './json';
import type { SourceRow, SourceTable } from './records';
import { gunzip, isGzip, peek } from './source';
import {
  BinaryContentError,
  createTextDecoder,
  type DetectedEncoding,
  detectEncoding,
  onlyAscii,
  type TextChunkDecoder,
} from './text';

/** How a file is read, from its key's extension (a trailing `.gz` is compression, not kind). */
export type ReaderKind = 'delimited' | 'json' | 'jsonl' | 'xlsx' | 'parquet';

export interface ClassifiedKey {
  readonly reader: ReaderKind;
  /** The extension's kind as the dataset config names it. */
  readonly kind: string;
  readonly gzip: boolean;
}

const EXTENSION_KINDS: Readonly<Record<string, { kind: string; reader: ReaderKind }>> = {
  csv: { kind: 'csv', reader: 'delimited' },
  tsv: { kind: 'tsv', reader: 'delimited' },
  tab: { kind: 'tsv', reader: 'delimited' },
  txt: { kind: 'txt', reader: 'delimited' },
  json: { kind: 'json', reader: 'json' },
  jsonl: { kind: 'jsonl', reader: 'jsonl' },
  ndjson: { kind: 'jsonl', reader: 'jsonl' },
  xlsx: { kind: 'xlsx', reader: 'xlsx' },
  xlsm: { kind: 'xlsx', reader: 'xlsx' },
  parquet: { kind: 'parquet', reader: 'parquet' },
};

/** Classifies a key by extension; throws UnsupportedFileTypeError for kinds the dataset does not accept. */
export function classifyKey(key: string, accepted: readonly string[]): ClassifiedKey {
  const name = key.slice(key.lastIndexOf('/') + 1).toLowerCase();
  const gzip = name.endsWith('.gz');
  const base = gzip ? name.slice(0, -3) : name;
  const dot = base.lastIndexOf('.');
  const extension = dot > 0 ? base.slice(dot + 1) : '';
  const known = EXTENSION_KINDS[extension];
  const shown = `${extension ? `.${extension}` : '(no extension)'}${gzip ? '.gz' : ''}`;
  if (!known || !accepted.includes(known.kind)) {
    throw new UnsupportedFileTypeError(
      `"${key}" is of type ${shown}; dataset accepts ${accepted.map((k) => `.${k}`).join(', ')} (text kinds also as .gz)`,
    );
  }
  if (gzip && (known.reader === 'xlsx' || known.reader === 'parquet')) {
    throw new UnsupportedFileTypeError(
      `"${key}": ${known.kind} files are compressed already; upload them without .gz`,
    );
  }
  return { ...known, gzip };
}

export type FormatInfo = {
  -readonly [K in keyof NormalizerManifest['format']]: NormalizerManifest['format'][K];
};

export interface TextSource {
  readonly format: FormatInfo;
  readonly table: SourceTable;
}

export interface TextReadOptions {
  readonly dataset: ResolvedDataset;
  readonly classified: ClassifiedKey;
  readonly label: string;
}

const SNIFF_BYTES = 64 * 1024;
const MAGIC: readonly { bytes: number[]; what: string }[] = [
  { bytes: [0x50, 0x4b, 0x03, 0x04], what: 'a zip archive (an Excel workbook? name it .xlsx)' },
  { bytes: [0x50, 0x41, 0x52, 0x31], what: 'a Parquet file (name it .parquet)' },
  {
    bytes: [0xd0, 0xcf, 0x11, 0xe0],
    what: 'a legacy .xls or password-protected Office file (save as .xlsx)',
  },
  { bytes: [0x25, 0x50, 0x44, 0x46], what: 'a PDF document' },
];

/** Opens a text file (delimited, JSON array, JSON Lines), optionally gzip-compressed, as one table. */
export async function openTextSource(
  source: AsyncIterable<Buffer>,
  options: TextReadOptions,
): Promise<TextSource> {
  const { dataset, classified, label } = options;
  const first = await peek(source, 2);
  let bytes = first.chunks;
  let compression: 'gzip' | null = null;
  if (isGzip(first.head)) {
    bytes = gunzip(bytes, dataset.maxFileBytes, label);
    compression = 'gzip';
  } else if (classified.gzip) {
    throw new UnreadableFileError(`${label} is named .gz but is not gzip-compressed`);
  }
  const sample = await peek(bytes, SNIFF_BYTES);
  if (sample.head.length === 0) throw new EmptyFileError(`${label} has no content`);
  for (const magic of MAGIC) {
    if (magic.bytes.every((b, i) => sample.head[i] === b)) {
      throw new UnreadableFileError(`${label} is named .${classified.kind} but is ${magic.what}`);
    }
  }
  let detected: DetectedEncoding;
  try {
    detected = detectEncoding(sample.head, sample.complete);
  } catch (error) {
    if (error instanceof BinaryContentError) throw new UnreadableFileError(`${label}: ${error.message}`);
    throw error;
  }
  const sampleText = createTextDecoder(detected.encoding).decode(sample.head);
  const format: FormatInfo = {
    kind: classified.reader === 'delimited' ? 'csv' : classified.reader,
    compression,
    encoding: detected.encoding,
    delimiter: null,
    sheets: null,
  };
  const decoder = createTextDecoder(detected.encoding, {
    // A sample of nothing but ASCII decides nothing: the file's first non-ASCII bytes will.
    undecided: detected.encoding === 'utf-8' && !detected.bom && onlyAscii(sample.head, sample.complete),
    onSwitch: (encoding) => {
      format.encoding = encoding;
    },
  });
  if (classified.reader === 'delimited') {
    const delimiter = detectDelimiter(
      sampleText.replace(/^\uFEFF/, ''),
      classified.kind === 'tsv' ? '\t' : ',',
    );
    format.delimiter = delimiter;
    return {
      format,
      table: {
        sheet: null,
        header: null,
        fixedWidth: true,
        batches: delimitedRows(sample.chunks, decoder, delimiter, label),
      },
    };
  }
  const start = sampleText.replace(/^\uFEFF/, '').trimStart()[0];
  const header: string[] = [];
  if (start === '[') {
    format.kind = 'json';
    return {
      format,
      table: {
        sheet: null,
        header,
        fixedWidth: false,
        batches: jsonArrayRows(sample.chunks, decoder, header, label),
      },
    };
  }
  if (start === '{') {
    format.kind = 'jsonl';
    return {
      format,
      table: {
        sheet: null,
        header,
        fixedWidth: false,
        batches: jsonLinesRows(sample.chunks, decoder, header, label),
      },
    };
  }
  throw new UnreadableFileError(
    `${label} is neither a JSON array nor JSON Lines (starts with "${start ?? ''}")`,
  );
}

async function* decoded(bytes: AsyncIterable<Buffer>, decoder: TextChunkDecoder): AsyncIterable<string> {
  let first = true;
  for await (const chunk of bytes) {
    let text = decoder.decode(chunk);
    if (first && text.length > 0) {
      // TextDecoder drops a BOM; the Windows-1252 decoder has none to drop.
      text = text.replace(/^\uFEFF/, '');
      first = false;
    }
    if (text.length > 0) yield text;
  }
  const tail = decoder.end();
  if (tail.length > 0) yield tail;
}

/** A streaming parser of decoded text: records as text arrives, the rest at the end. */
interface ChunkParser<R> {
  push(text: string): R[];
  end(): R[];
}

/**
 * Feeds decoded text to a parser and yields its rows chunk by chunk; a parse error the parser
 * raises for malformed input becomes UnreadableFileError with `describe`'s text.
 */
async function* parsedRows<R>(
  bytes: AsyncIterable<Buffer>,
  decoder: TextChunkDecoder,
  parser: ChunkParser<R>,
  toRows: (records: R[]) => SourceRow[],
  describe: (error: unknown) => string | undefined,
  label: string,
): AsyncIterable<SourceRow[]> {
  try {
    for await (const text of decoded(bytes, decoder)) {
      const rows = toRows(parser.push(text));
      if (rows.length > 0) yield rows;
    }
    const rows = toRows(parser.end());
    if (rows.length > 0) yield rows;
    noInvalidTextLeft(decoder, label);
  } catch (error) {
    const message = describe(error);
    if (message !== undefined) throw new UnreadableFileError(message);
    throw error;
  }
}

const REPLACEMENT = '\uFFFD';

/**
 * Rejects the rows that hold the replacement characters of invalid UTF-8 sequences the decoder
 * met (`decoder.invalid`, oldest first, taken as they are matched): reason `invalid_encoding`,
 * naming the bytes and their offset. Costs nothing while a file has no invalid byte.
 */
function rejectInvalidText(rows: SourceRow[], decoder: TextChunkDecoder): SourceRow[] {
  if (decoder.invalid.length === 0) return rows;
  return rows.map((row) => {
    if (decoder.invalid.length === 0 || row.error) return row;
    let count = 0;
    for (const value of row.values) {
      if (value === null) continue;
      for (let at = value.indexOf(REPLACEMENT); at >= 0; at = value.indexOf(REPLACEMENT, at + 1)) count += 1;
    }
    if (count === 0) return row;
    const taken = decoder.invalid.splice(0, count);
    const where = taken.map((s) => `${s.bytes} at byte ${s.offset}`).join(', ');
    return {
      rowNumber: row.rowNumber,
      values: row.values,
      error: {
        reason: 'invalid_encoding',
        detail: `invalid UTF-8 (${where}) in a file read as UTF-8`,
      },
    };
  });
}

/** An invalid sequence no row value holds (a JSON key): the file cannot be read without loss. */
function noInvalidTextLeft(decoder: TextChunkDecoder, label: string): void {
  const [first] = decoder.invalid;
  if (first) {
    throw new UnreadableFileError(
      `${label}: invalid UTF-8 (${first.bytes} at byte ${first.offset}) outside any row value, e.g. in a JSON key`,
    );
  }
}

async function* delimitedRows(
  bytes: AsyncIterable<Buffer>,
  decoder: TextChunkDecoder,
  delimiter: Delimiter,
  label: string,
): AsyncIterable<SourceRow[]> {
  const tokenizer = new DelimitedTokenizer(delimiter);
  const toRows = (records: ReturnType<DelimitedTokenizer['push']>): SourceRow[] => {
    const rows: SourceRow[] = [];
    for (const record of records) {
      if (!isBlankRecord(record.fields)) rows.push({ rowNumber: record.recordNumber, values: record.fields });
    }
    return rejectInvalidText(rows, decoder);
  };
  yield* parsedRows(
    bytes,
    decoder,
    tokenizer,
    toRows,
    (error) =>
      error instanceof MalformedTextError || error instanceof BinaryContentError
        ? `${label}: ${error.message}`
        : undefined,
    label,
  );
}

/** A JSON record as a row aligned to the (growing) header; JSON numbers are typed cells. */
function alignRecord(
  rowNumber: number,
  record: JsonRecord,
  header: string[],
  index: Map<string, number>,
): SourceRow {
  const values: (string | null)[] = new Array(header.length).fill(null);
  let typed: boolean[] | undefined;
  for (const [key, value] of record) {
    let position = index.get(key);
    if (position === undefined) {
      position = header.length;
      header.push(key);
      index.set(key, position);
      values.push(null);
    }
    values[position] = value;
    if (record.numbers?.has(key)) {
      typed ??= [];
      typed[position] = true;
    }
  }
  return typed ? { rowNumber, values, typed } : { rowNumber, values };
}

async function* jsonArrayRows(
  bytes: AsyncIterable<Buffer>,
  decoder: TextChunkDecoder,
  header: string[],
  label: string,
): AsyncIterable<SourceRow[]> {
  const reader = new JsonArrayReader();
  const index = new Map<string, number>();
  let element = 0;
  const toRows = (records: ReturnType<JsonArrayReader['push']>): SourceRow[] =>
    rejectInvalidText(
      records.map((record) => {
        element += 1;
        if (record instanceof Map) return alignRecord(element, record, header, index);
        return {
          rowNumber: element,
          values: [],
          error: {
            reason: 'not_an_object',
            detail: `element ${element} is ${record.notAnObject.slice(0, 80)}`,
          },
        };
      }),
      decoder,
    );
  yield* parsedRows(
    bytes,
    decoder,
    reader,
    toRows,
    (error) =>
      error instanceof MalformedJsonError || error instanceof BinaryContentError
        ? `${label}: invalid JSON: ${error.message}`
        : undefined,
    label,
  );
}

const MAX_LINE_CHARS = 32 * 1024 * 1024;

async function* jsonLinesRows(
  bytes: AsyncIterable<Buffer>,
  decoder: TextChunkDecoder,
  header: string[],
  label: string,
): AsyncIterable<SourceRow[]> {
  const index = new Map<string, number>();
  let carry = '';
  let lineNumber = 0;
  const toRow = (line: string): SourceRow | null => {
    lineNumber += 1;
    if (line.trim() === '') return null;
    try {
      const record = parseJsonLine(line);
      if (record instanceof Map) return alignRecord(lineNumber, record, header, index);
      return {
        rowNumber: lineNumber,
        values: [],
        error: {
          reason: 'not_an_object',
          detail: `line ${lineNumber} is ${record.notAnObject.slice(0, 80)}`,
        },
      };
    } catch (error) {
      if (!(error instanceof MalformedJsonError)) throw error;
      return { rowNumber: lineNumber, values: [], error: { reason: 'invalid_json', detail: error.message } };
    }
  };
  try {
    for await (const text of decoded(bytes, decoder)) {
      const lines = (carry + text).split('\n');
      carry = lines.pop()!;
      if (carry.length > MAX_LINE_CHARS) {
        throw new UnreadableFileError(
          `${label}: line ${lineNumber + 1} is longer than ${MAX_LINE_CHARS} characters`,
        );
      }
      const rows: SourceRow[] = [];
      for (const line of lines) {
        const row = toRow(line.endsWith('\r') ? line.slice(0, -1) : line);
        if (row) rows.push(row);
      }
      if (rows.length > 0) yield rejectInvalidText(rows, decoder);
    }
    const last = toRow(carry.endsWith('\r') ? carry.slice(0, -1) : carry);
    if (last) yield rejectInvalidText([last], decoder);
    noInvalidTextLeft(decoder, label);
  } catch (error) {
    if (error instanceof BinaryContentError) throw new UnreadableFileError(`${label}: ${error.message}`);
    throw error;
  }
}
