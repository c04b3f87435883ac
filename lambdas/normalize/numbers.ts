/**
 * Number formats of measure text. A file writes its numbers either with a decimal point
 * (`1,234.56`) or with a decimal comma (`1.234,56`), and a few spellings read differently in
 * the two: `2,500` is 2500 or 2.5, `1.234` is 1.234 or 1234. Such a value is *ambiguous*; every
 * other value either carries *evidence* of its file's decimal mark or is *neutral* (`2500`).
 *
 * The normalizer decides one decimal mark per file from its unambiguous values
 * (`NumberFormatVote`) and reads every text value of the file with it (`readDecimal`): an
 * ambiguous value is read the file's way, a value whose evidence contradicts the file's mark
 * is a conflict, and an ambiguous value in a file whose mark nothing decides is rejected,
 * never guessed. Typed numbers (XLSX number cells, JSON numbers, Parquet numerics) are
 * always dot-decimal and never vote. Pure functions: no I/O.
 */
import { Decimal } from '../common/decimal';

/** A file's decimal mark: `.` (decimal point, `,` groups) or `,` (decimal comma, `.` groups). */
export type DecimalMark = '.' | ',';

/** What one value says about its file's decimal mark. */
export type NumberEvidence = DecimalMark | 'ambiguous' | 'neutral' | 'invalid';

/** Why a text could not be read as a number with the file's decimal mark. */
export type NumberProblem = 'invalid' | 'ambiguous' | 'conflict';

const PLAIN_NUMBER = /^-?\d+(?:\.\d+)?$/;
/** One separator followed by exactly three digits, after a group of 1-3 digits not starting with 0. */
const AMBIGUOUS_DOT = /^-?[1-9]\d{0,2}\.\d{3}$/;
const AMBIGUOUS = /^[1-9]\d{0,2}[.,]\d{3}$/;
const CURRENCY_SYMBOL = /^\p{Sc}+|\p{Sc}+$/u;
const CURRENCY_CODE = /^[A-Z]{3}(?=[\s\d.,(+-])|(?<=[\s\d.,)])[A-Z]{3}$/;
const GROUP_SPACES = /(?<=\d)[\s\u00a0\u202f\u2009'’](?=\d)/g;
const DIGITS = /^\d+(?:[eE][+-]?\d+)?$/;
const US_GROUPED = /^\d{1,3}(?:,\d{3})+(?:\.\d+)?$/;
const EU_GROUPED = /^\d{1,3}(?:\.\d{3})+(?:,\d+)?$/;
const DECIMAL_COMMA = /^\d+,\d+$/;
const DECIMAL_POINT = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The evidence of a plain number (`-?digits[.digits]`, the common case): no regex beyond the test. */
function plainEvidence(text: string): NumberEvidence {
  if (text.indexOf('.') < 0) return 'neutral';
  return AMBIGUOUS_DOT.test(text) ? 'ambiguous' : '.';
}

interface Scanned {
  /** Digits with `.`/`,` separators (and an exponent), signs, currency, percent and group spaces removed. */
  readonly core: string;
  readonly negative: boolean;
  readonly percent: boolean;
}

/**
 * Strips what people and their tools write around a number: currency symbols and ISO codes
 * before or after, a leading or trailing sign, parentheses for negatives, a percent sign, and
 * spaces or apostrophes between digit groups. Null when the text cannot be a number.
 */
function scan(input: string): Scanned | null {
  let s = input.trim().replace(/[\u2212\u2012\u2013]/g, '-');
  if (s === '') return null;
  let negative = false;
  let percent = false;
  const parenthesized = /^\((.*)\)$/.exec(s);
  if (parenthesized) {
    negative = true;
    s = parenthesized[1]!.trim();
  }
  // Signs, currency and percent may come in any order around the digits.
  for (let changed = true; changed; ) {
    const before = s;
    if (s.endsWith('%')) {
      if (percent) return null;
      percent = true;
      s = s.slice(0, -1).trim();
    }
    s = s.replace(CURRENCY_SYMBOL, '').trim();
    s = s.replace(CURRENCY_CODE, '').trim();
    if (s.startsWith('-') || s.startsWith('+') || (s.endsWith('-') && s.length > 1)) {
      const sign = s.startsWith('-') || s.startsWith('+') ? s[0] : '-';
      s = (s.startsWith('-') || s.startsWith('+') ? s.slice(1) : s.slice(0, -1)).trim();
      if (sign === '-') {
        if (negative) return null;
        negative = true;
      }
    }
    changed = s !== before;
  }
  return { core: s.replace(GROUP_SPACES, ''), negative, percent };
}

/** The evidence of a scanned core. */
function coreEvidence(core: string): NumberEvidence {
  const comma = core.indexOf(',');
  const dot = core.indexOf('.');
  if (comma < 0 && dot < 0) return DIGITS.test(core) ? 'neutral' : 'invalid';
  if (AMBIGUOUS.test(core)) return 'ambiguous';
  if (comma >= 0 && dot >= 0) {
    if (US_GROUPED.test(core)) return '.';
    if (EU_GROUPED.test(core)) return ',';
    return 'invalid';
  }
  if (comma >= 0) {
    if (DECIMAL_COMMA.test(core)) return ',';
    // Several commas can only group thousands.
    return US_GROUPED.test(core) ? '.' : 'invalid';
  }
  if (DECIMAL_POINT.test(core)) return '.';
  // Several dots can only group thousands.
  return EU_GROUPED.test(core) ? ',' : 'invalid';
}

/** What a measure text says about its file's decimal mark. */
export function numberEvidence(text: string): NumberEvidence {
  if (PLAIN_NUMBER.test(text)) return plainEvidence(text);
  const scanned = scan(text);
  return scanned ? coreEvidence(scanned.core) : 'invalid';
}

/**
 * Reads a measure text as an exact decimal (never through float) with the file's decimal
 * mark (`null`: not decided). Accepts thousands separators (`1,234.56`, `1.234,56`,
 * `1 234,56`, `1'234.56`), currency symbols and ISO codes (`$1,200`, `12 EUR`), parentheses
 * for negatives, a leading or trailing sign, percentages (`12.5%` -> `0.125`) and exponents
 * (`1.5E-7`). Returns the problem instead when the text is not a number (`invalid`), when it
 * reads differently with either mark and the mark is not decided (`ambiguous`), or when it can
 * only be read with the other mark (`conflict`).
 */
export function readDecimal(text: string, mark: DecimalMark | null): Decimal | NumberProblem {
  if (PLAIN_NUMBER.test(text)) {
    const evidence = plainEvidence(text);
    if (evidence === 'neutral' || mark === '.') return Decimal.parse(text);
    if (evidence === 'ambiguous') {
      if (mark === null) return 'ambiguous';
      return Decimal.parse(text.replace('.', ''));
    }
    return mark === ',' ? 'conflict' : Decimal.parse(text);
  }
  const scanned = scan(text);
  if (!scanned) return 'invalid';
  const { core } = scanned;
  const evidence = coreEvidence(core);
  let plain: string;
  switch (evidence) {
    case 'invalid':
      return 'invalid';
    case 'neutral':
      plain = core;
      break;
    case 'ambiguous':
      if (mark === null) return 'ambiguous';
      plain = mark === '.' ? core.replace(',', '') : core.replace('.', '').replace(',', '.');
      break;
    case '.':
      if (mark === ',') return 'conflict';
      plain = core.replace(/,/g, '');
      break;
    case ',':
      if (mark === '.') return 'conflict';
      plain = core.replace(/\./g, '').replace(',', '.');
      break;
  }
  let value = Decimal.parse(plain);
  if (scanned.negative) value = value.negate();
  if (scanned.percent) value = value.shift(-2);
  return value;
}

/** Unambiguous values counted before a file's decimal mark is decided by their majority. */
export const DECIDING_VALUES = 20;

/**
 * The decimal mark of one file, decided by the majority of its first `DECIDING_VALUES`
 * unambiguous values (or of those seen when the caller must decide earlier: its lookahead is
 * full, or the table ended); on a tie, the first value's mark. Once decided it never changes.
 */
export class NumberFormatVote {
  mark: DecimalMark | null = null;
  /** Unambiguous values the decision was taken on (0 while undecided). */
  decidedOn = 0;
  private points = 0;
  private commas = 0;
  private first: DecimalMark | null = null;

  /** Counts one value's evidence; true when it takes part in the decision (evidence or ambiguous). */
  count(evidence: NumberEvidence): boolean {
    if (evidence === '.') this.points += 1;
    else if (evidence === ',') this.commas += 1;
    else return evidence === 'ambiguous';
    this.first ??= evidence;
    return true;
  }

  /** Enough unambiguous values have been counted to decide. */
  get ready(): boolean {
    return this.points + this.commas >= DECIDING_VALUES;
  }

  /** Decides from what was counted; stays undecided when no unambiguous value was. */
  decide(): DecimalMark | null {
    if (this.mark !== null) return this.mark;
    const votes = this.points + this.commas;
    if (votes === 0) return null;
    this.mark = this.points > this.commas ? '.' : this.commas > this.points ? ',' : this.first;
    this.decidedOn = votes;
    return this.mark;
  }
}

/** How a decimal mark is described to people. */
export function markName(mark: DecimalMark): string {
  return mark === '.' ? 'a decimal point (1,234.56)' : 'a decimal comma (1.234,56)';
}
