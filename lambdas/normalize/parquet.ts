import type { AsyncBuffer, FileMetaData, SchemaElement } from 'hyparquet';
import { parquetMetadataAsync, parquetRead } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { Decimal } from '../common/decimal';
import { UnreadableFileError } from './errors';
import type { Cell, SourceRow, SourceTable } from './records';

/**
 * Parquet reading with hyparquet (pure JavaScript) over ranged reads: the footer first, then
 * one row group at a time, decoded in slices of `sliceRows`. Memory follows the largest row
 * group's compressed size, not the file's.
 *
 * Values become text exactly: DECIMAL columns are decoded from their unscaled integers (never
 * through float), timestamps keep their full precision as ISO-8601, DATE as `YYYY-MM-DD`,
 * doubles as the shortest text that round-trips, nested values as compact JSON.
 */

export interface ParquetSource {
  readonly columns: readonly string[];
  readonly rowCount: number;
  readonly table: SourceTable;
}

const SLICE_ROWS = 20_000;
/** Physical types whose values are numbers (DECIMAL columns are recognized by their annotation). */
const NUMERIC_TYPES = new Set(['INT32', 'INT64', 'FLOAT', 'DOUBLE']);

/** A numeric physical type without a date or time annotation. */
function isPlainNumeric(element: SchemaElement): boolean {
  if (!NUMERIC_TYPES.has(element.type ?? '')) return false;
  const annotation = String(
    element.converted_type ?? (element.logical_type as { type?: string })?.type ?? '',
  );
  return !/DATE|TIME/.test(annotation);
}

export async function openParquet(file: AsyncBuffer, label: string, sliceRows = SLICE_ROWS) {
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (error) {
    throw new UnreadableFileError(`${label} is not a readable Parquet file: ${(error as Error).message}`);
  }
  const decimals = stripDecimalAnnotations(metadata);
  const root = metadata.schema[0]!;
  const top = topLevelColumns(metadata.schema, root.num_children ?? 0);
  const columns = top.map((element) => element.name);
  const rowCount = Number(metadata.num_rows);
  // Numeric columns hold typed numbers (one array shared by every row).
  const typed = top.map((element) => decimals.has(element.name) || isPlainNumeric(element));

  async function* batches(): AsyncIterable<SourceRow[]> {
    let groupStart = 0;
    for (const group of metadata.row_groups) {
      const groupRows = Number(group.num_rows);
      for (let start = groupStart; start < groupStart + groupRows; start += sliceRows) {
        const end = Math.min(start + sliceRows, groupStart + groupRows);
        let rows: unknown[][] = [];
        try {
          await parquetRead({
            file,
            metadata,
            compressors,
            rowStart: start,
            rowEnd: end,
            utf8: false,
            parsers: TEXT_PARSERS,
            onComplete: (result: unknown[][]) => {
              rows = result;
            },
          });
        } catch (error) {
          throw new UnreadableFileError(
            `${label}: cannot decode rows ${start}-${end}: ${(error as Error).message}`,
          );
        }
        yield rows.map((row, i) => ({
          rowNumber: start + i + 1,
          values: row.map((value, c) => toCell(value, decimals.get(columns[c]!))),
          typed,
        }));
      }
      groupStart += groupRows;
    }
  }
  return {
    columns,
    rowCount,
    table: { sheet: null, header: [...columns], fixedWidth: false, batches: batches() },
  } satisfies ParquetSource;
}

function topLevelColumns(schema: readonly SchemaElement[], count: number): SchemaElement[] {
  const out: SchemaElement[] = [];
  let index = 1;
  const skip = (): number => {
    const element = schema[index++]!;
    for (let i = 0; i < (element.num_children ?? 0); i++) skip();
    return 0;
  };
  for (let i = 0; i < count; i++) {
    out.push(schema[index]!);
    skip();
  }
  return out;
}

interface DecimalColumn {
  readonly scale: number;
  readonly binary: boolean;
}

/**
 * hyparquet converts DECIMAL through float; removing the annotation makes it return the
 * unscaled integers (INT32/INT64) or big-endian two's-complement bytes, which are scaled here.
 */
function stripDecimalAnnotations(metadata: FileMetaData): Map<string, DecimalColumn> {
  const decimals = new Map<string, DecimalColumn>();
  for (const element of metadata.schema) {
    const logical = element.logical_type as { type?: string; scale?: number } | undefined;
    if (element.converted_type === 'DECIMAL' || logical?.type === 'DECIMAL') {
      const scale = element.scale ?? logical?.scale ?? 0;
      decimals.set(element.name, {
        scale,
        binary: element.type === 'FIXED_LEN_BYTE_ARRAY' || element.type === 'BYTE_ARRAY',
      });
      const mutable = element as { converted_type?: unknown; logical_type?: unknown };
      delete mutable.converted_type;
      delete mutable.logical_type;
    }
  }
  return decimals;
}

const pad = (n: number | bigint, width = 2) => n.toString().padStart(width, '0');

function isoFromEpoch(value: bigint, unitsPerSecond: bigint, digits: number): string {
  let seconds = value / unitsPerSecond;
  let fraction = value % unitsPerSecond;
  if (fraction < 0n) {
    fraction += unitsPerSecond;
    seconds -= 1n;
  }
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  if (fraction === 0n) return `${base}Z`;
  return `${base}.${pad(fraction, digits).replace(/0+$/, '')}Z`;
}

const TEXT_PARSERS = {
  timestampFromMilliseconds: (millis: bigint) => isoFromEpoch(BigInt(millis), 1000n, 3),
  timestampFromMicroseconds: (micros: bigint) => isoFromEpoch(BigInt(micros), 1_000_000n, 6),
  timestampFromNanoseconds: (nanos: bigint) => isoFromEpoch(BigInt(nanos), 1_000_000_000n, 9),
  dateFromDays: (days: number) => new Date(days * 86_400_000).toISOString().slice(0, 10),
  stringFromBytes: (bytes: Uint8Array | undefined) => (bytes ? Buffer.from(bytes).toString('utf8') : bytes),
};

function bigintFromTwosComplement(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  if (bytes.length > 0 && bytes[0]! & 0x80) value -= 1n << BigInt(bytes.length * 8);
  return value;
}

function toCell(value: unknown, decimal: DecimalColumn | undefined): Cell {
  if (value === null || value === undefined) return null;
  if (decimal) {
    const unscaled =
      value instanceof Uint8Array ? bigintFromTwosComplement(value) : BigInt(value as number | bigint);
    return Decimal.parse(`${unscaled}e-${decimal.scale}`).toString();
  }
  switch (typeof value) {
    case 'string':
      return value;
    case 'number': {
      // Doubles as the shortest text that round-trips, without exponent (4e-7 -> 0.0000004).
      const text = String(value);
      return Number.isFinite(value) && /e/i.test(text) ? Decimal.parse(text).toString() : text;
    }
    case 'bigint':
    case 'boolean':
      return String(value);
    default:
      if (value instanceof Date) return value.toISOString();
      if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
      return JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? v.toString() : v));
  }
}
