import type { ColumnConfig, PartitionTransform } from '../../lib/config/types';
import { Decimal } from '../common/decimal';
import { type DecimalMark, markName, readDecimal } from './numbers';

/** A row-level problem: the row goes to the quarantine rows object with this reason. */
export class RowRejection {
  constructor(
    readonly reason: string,
    readonly detail: string,
  ) {}
}

/**
 * A measure cell as an exact decimal, read with the file's decimal mark (`null`: not decided;
 * see numbers.ts). Returns `null` for a null cell; throws RowRejection with `invalid_measure`,
 * `ambiguous_number` or `number_format_conflict` otherwise.
 */
export function parseMeasure(column: string, text: string | null, mark: DecimalMark | null): Decimal | null {
  if (text === null) return null;
  const read = readDecimal(text, mark);
  if (read instanceof Decimal) return read;
  const shown = `column "${column}": "${truncate(text)}"`;
  switch (read) {
    case 'invalid':
      throw new RowRejection('invalid_measure', `${shown} is not a number`);
    case 'ambiguous':
      throw new RowRejection(
        'ambiguous_number',
        `${shown} reads differently with a decimal point and with a decimal comma, and no unambiguous number of the file decides which it uses; not guessed`,
      );
    case 'conflict':
      throw new RowRejection(
        'number_format_conflict',
        `${shown} can only be read with ${mark === '.' ? 'a decimal comma' : 'a decimal point'}, but the file's numbers use ${markName(mark!)}`,
      );
  }
}

const MONTHS: Readonly<Record<string, number>> = {
  jan: 1,
  feb: 2,
  mar: 3,
  apr: 4,
  may: 5,
  jun: 6,
  jul: 7,
  aug: 8,
  sep: 9,
  sept: 9,
  oct: 10,
  nov: 11,
  dec: 12,
};

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[ T](\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$/i;
const SLASHED_YMD = /^(\d{4})[/.](\d{1,2})[/.](\d{1,2})(?:[ T](.+))?$/;
const DOTTED_DMY = /^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ T](.+))?$/;
const SLASHED = /^(\d{1,2})[/-](\d{1,2})[/-](\d{4})(?:[ T](.+))?$/;
const NAMED_DMY = /^(\d{1,2})[\s-]([A-Za-z]{3,9})[\s-,]+(\d{4})(?:[ T](.+))?$/;
const NAMED_MDY = /^([A-Za-z]{3,9})\.?\s+(\d{1,2}),?\s+(\d{4})(?:[ T](.+))?$/;
const TIME = /^(\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?\s*([AaPp][Mm])?\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$/;

const two = (n: number) => String(n).padStart(2, '0');

function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  return d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}

function zoneOf(zone: string | undefined): string {
  if (!zone || /^(z|utc)$/i.test(zone)) return 'Z';
  if (zone.includes(':')) return zone;
  return zone.length === 3 ? `${zone}:00` : `${zone.slice(0, 3)}:${zone.slice(3)}`;
}

/** `HH:MM:SS[.f]<zone>` from a time text, or null. */
function parseTime(text: string): string | null {
  const t = TIME.exec(text.trim());
  if (!t) return null;
  let hour = Number(t[1]);
  const meridiem = t[5]?.toLowerCase();
  if (meridiem) {
    if (hour < 1 || hour > 12) return null;
    hour = (hour % 12) + (meridiem === 'pm' ? 12 : 0);
  }
  const minute = Number(t[2]);
  const second = Number(t[3] ?? '0');
  if (hour > 23 || minute > 59 || second > 59) return null;
  return `${two(hour)}:${two(minute)}:${two(second)}${t[4] ?? ''}${zoneOf(t[6])}`;
}

/**
 * Normalizes a date or timestamp cell to ISO-8601: `YYYY-MM-DD` for date columns,
 * `YYYY-MM-DDTHH:MM:SS[.f]Z` (or with the source's offset) for timestamp columns. Accepted:
 * ISO dates and date-times (space or `T`, optional zone), `YYYY/MM/DD`, `DD.MM.YYYY`,
 * `M/D/YYYY` (US order; read as `D/M/YYYY` when the first number is over 12), `1-Sep-2024`,
 * `Sep 1, 2024`, each optionally followed by a time (`14:05`, `2:05 PM`). A text without a
 * zone is taken as UTC.
 */
export function normalizeTemporal(column: ColumnConfig, text: string): string {
  const date = ISO_DATE.exec(text);
  if (date && validDate(Number(date[1]), Number(date[2]), Number(date[3]))) {
    return column.type === 'date' ? text : `${text}T00:00:00Z`;
  }
  const dateTime = DATE_TIME.exec(text);
  if (dateTime) {
    const [, y, mo, d, h, mi, s = '00', fraction = '', zone] = dateTime;
    if (validDate(Number(y), Number(mo), Number(d)) && Number(h) < 24 && Number(mi) < 60 && Number(s) < 60) {
      if (column.type === 'date') return `${y}-${mo}-${d}`;
      return `${y}-${mo}-${d}T${two(Number(h))}:${mi}:${s}${fraction}${zoneOf(zone)}`;
    }
  }
  const loose = parseLooseDate(text.trim());
  if (loose) {
    const [y, m, d, time] = loose;
    const day = `${y}-${two(m)}-${two(d)}`;
    if (column.type === 'date') return day;
    return `${day}T${time ?? '00:00:00Z'}`;
  }
  throw new RowRejection(
    'invalid_date',
    `column "${column.name}": "${truncate(text)}" is not a ${column.type === 'date' ? 'date' : 'timestamp'}`,
  );
}

type DateParts = [year: number, month: number, day: number, rest: string | undefined];

const monthNumber = (name: string) => {
  const lower = name.toLowerCase();
  return MONTHS[lower.startsWith('sept') ? 'sept' : lower.slice(0, 3)] ?? 0;
};

/** Date layouts other than ISO, tried in order; each returns year, month, day and the rest. */
const LOOSE_DATES: readonly [RegExp, (m: RegExpExecArray) => DateParts][] = [
  [SLASHED_YMD, (m) => [Number(m[1]), Number(m[2]), Number(m[3]), m[4]]],
  [DOTTED_DMY, (m) => [Number(m[3]), Number(m[2]), Number(m[1]), m[4]]],
  [
    SLASHED,
    (m) => {
      const first = Number(m[1]);
      const second = Number(m[2]);
      // US order (M/D/YYYY) unless the first number cannot be a month.
      return first > 12 ? [Number(m[3]), second, first, m[4]] : [Number(m[3]), first, second, m[4]];
    },
  ],
  [NAMED_DMY, (m) => [Number(m[3]), monthNumber(m[2]!), Number(m[1]), m[4]]],
  [NAMED_MDY, (m) => [Number(m[3]), monthNumber(m[1]!), Number(m[2]), m[4]]],
];

function parseLooseDate(text: string): [number, number, number, string | null] | null {
  let parts: DateParts | undefined;
  for (const [pattern, read] of LOOSE_DATES) {
    const match = pattern.exec(text);
    if (match) {
      parts = read(match);
      break;
    }
  }
  if (!parts) return null;
  const [y, m, d, rest] = parts;
  if (!validDate(y, m, d)) return null;
  let time: string | null = null;
  if (rest !== undefined) {
    time = parseTime(rest);
    if (time === null) return null;
  }
  return [y, m, d, time];
}

const QUARTER_FIRST = /^Q([1-4])[\s\-_/]*(?:FY)?(\d{4})$/i;
const YEAR_FIRST = /^(?:FY)?(\d{4})[\s\-_/]*Q([1-4])$/i;
const ISO_MONTH_PREFIX = /^(\d{4})-(\d{2})(?:-\d{2})?(?:[T ].*)?$/;

/** Derives the partition value of a row from its source column. */
export function partitionValue(transform: PartitionTransform, column: string, value: string | null): string {
  if (value === null || value.trim() === '') {
    throw new RowRejection('missing_partition_value', `column "${column}" is empty`);
  }
  switch (transform) {
    case 'identity':
      return value;
    case 'month': {
      const month = /^(\d{4})-(\d{2})/.exec(value);
      if (!month || Number(month[2]) < 1 || Number(month[2]) > 12)
        throw new RowRejection('invalid_partition_value', `column "${column}": "${truncate(value)}"`);
      return `${month[1]}-${month[2]}`;
    }
    case 'quarter': {
      const text = value.trim();
      const yearFirst = YEAR_FIRST.exec(text);
      if (yearFirst) return `${yearFirst[1]}-Q${yearFirst[2]}`;
      const quarterFirst = QUARTER_FIRST.exec(text);
      if (quarterFirst) return `${quarterFirst[2]}-Q${quarterFirst[1]}`;
      // A date (e.g. the quarter's first day in an XLSX date cell) names its quarter.
      const month = ISO_MONTH_PREFIX.exec(text);
      if (month && Number(month[2]) >= 1 && Number(month[2]) <= 12) {
        return `${month[1]}-Q${Math.ceil(Number(month[2]) / 3)}`;
      }
      throw new RowRejection(
        'invalid_partition_value',
        `column "${column}": "${truncate(value)}" is not a quarter (YYYY-Qn)`,
      );
    }
  }
}

export function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}...` : text;
}
