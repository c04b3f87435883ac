import type { ColumnConfig, PartitionTransform } from '../../lib/config/types';
import { Decimal } from '../common/decimal';

/** A row-level problem: the row goes to the quarantine rows object with this reason. */
export class RowRejection {
  constructor(
    readonly reason: string,
    readonly detail: string,
  ) {}
}

/** Parses a measure cell to an exact decimal; `null` for a null cell. */
export function parseMeasure(column: string, text: string | null): Decimal | null {
  if (text === null) return null;
  try {
    return Decimal.parse(text);
  } catch {
    throw new RowRejection('invalid_measure', `column "${column}": "${truncate(text)}" is not a number`);
  }
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** Normalizes a date or timestamp cell to ISO-8601 (`YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ`). */
export function normalizeTemporal(column: ColumnConfig, text: string): string {
  const date = ISO_DATE.exec(text);
  if (date) return column.type === 'date' ? text : `${text}T00:00:00Z`;
  const dateTime = DATE_TIME.exec(text);
  if (dateTime) {
    const [, y, mo, d, h, mi, s = '00', fraction = '', zone] = dateTime;
    if (column.type === 'date') return `${y}-${mo}-${d}`;
    const offset =
      !zone || zone === 'Z' ? 'Z' : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
    return `${y}-${mo}-${d}T${h}:${mi}:${s}${fraction}${offset}`;
  }
  throw new RowRejection('invalid_date', `column "${column.name}": "${truncate(text)}" is not a date`);
}

const QUARTER_FIRST = /^Q([1-4])[\s\-_/]*(?:FY)?(\d{4})$/i;
const YEAR_FIRST = /^(?:FY)?(\d{4})[\s\-_/]*Q([1-4])$/i;

/** Derives the partition value of a row from its source column. */
export function partitionValue(transform: PartitionTransform, column: string, value: string | null): string {
  if (value === null || value === '') {
    throw new RowRejection('missing_partition_value', `column "${column}" is empty`);
  }
  switch (transform) {
    case 'identity':
      return value;
    case 'month': {
      const month = /^(\d{4})-(\d{2})/.exec(value);
      if (!month)
        throw new RowRejection('invalid_partition_value', `column "${column}": "${truncate(value)}"`);
      return `${month[1]}-${month[2]}`;
    }
    case 'quarter': {
      const text = value.trim();
      const yearFirst = YEAR_FIRST.exec(text);
      if (yearFirst) return `${yearFirst[1]}-Q${yearFirst[2]}`;
      const quarterFirst = QUARTER_FIRST.exec(text);
      if (quarterFirst) return `${quarterFirst[2]}-Q${quarterFirst[1]}`;
      throw new RowRejection(
        'invalid_partition_value',
        `column "${column}": "${truncate(value)}" is not a quarter (YYYY-Qn)`,
      );
    }
  }
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}...` : text;
}
