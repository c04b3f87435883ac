/**
 * Delimited text (CSV, TSV, semicolon, pipe): delimiter detection and a streaming,
 * quote-aware tokenizer over decoded text. Pure functions: no I/O.
 *
 * Rules (RFC 4180 plus what spreadsheet exports do):
 * - a field that starts with `"` is quoted: it may hold delimiters, line breaks and `""`
 *   (an escaped quote); text after the closing quote up to the delimiter is kept as is;
 * - a `"` inside an unquoted field is an ordinary character;
 * - records end at LF, CRLF or a lone CR;
 * - an unclosed quote at the end of the input is an error (it would swallow the rest of the
 *   file), as is a single record larger than `maxRecordChars`.
 */

export const DELIMITER_CANDIDATES = [',', ';', '\t', '|'] as const;
export type Delimiter = (typeof DELIMITER_CANDIDATES)[number];

export class MalformedTextError extends Error {
  override readonly name = 'MalformedTextError';
}

const QUOTE = 34;
const LF = 10;
const CR = 13;

/** One tokenized record: its fields and its 1-based position among the records of the input. */
export interface TextRecord {
  readonly recordNumber: number;
  readonly fields: string[];
}

export class DelimitedTokenizer {
  private buffer = '';
  private records = 0;
  private readonly delimiterCode: number;

  constructor(
    readonly delimiter: string,
    private readonly maxRecordChars = 32 * 1024 * 1024,
  ) {
    this.delimiterCode = delimiter.charCodeAt(0);
  }

  /** Feeds decoded text; returns the records completed by it. */
  push(text: string): TextRecord[] {
    this.buffer = this.buffer.length === 0 ? text : this.buffer + text;
    return this.parse(false);
  }

  /** Ends the input; returns the last record, if any. */
  end(): TextRecord[] {
    return this.parse(true);
  }

  private parse(final: boolean): TextRecord[] {
    const s = this.buffer;
    const n = s.length;
    const d = this.delimiterCode;
    const delimiter = this.delimiter;
    const out: TextRecord[] = [];
    let pos = 0;
    // Cached positions of the next delimiter and the next LF at or after `i` (n when none).
    let nextDelimiter = -1;
    let nextLf = -1;
    let nextCr = -1;
    records: while (pos < n) {
      const fields: string[] = [];
      let i = pos;
      for (;;) {
        let value: string;
        if (s.charCodeAt(i) === QUOTE) {
          let j = i + 1;
          value = '';
          for (;;) {
            const k = s.indexOf('"', j);
            if (k < 0 || (k === n - 1 && !final)) {
              if (final) {
                throw new MalformedTextError(
                  `record ${this.records + 1}: a quoted field is never closed (opened at character ${i - pos + 1} of the record)`,
                );
              }
              break records;
            }
            if (s.charCodeAt(k + 1) === QUOTE) {
              value += s.slice(j, k + 1);
              j = k + 2;
              continue;
            }
            value += s.slice(j, k);
            i = k + 1;
            break;
          }
          // Text between the closing quote and the delimiter is kept (lenient, like spreadsheets).
          const c = s.charCodeAt(i);
          if (i < n && c !== d && c !== LF && c !== CR) {
            if (nextDelimiter < i) nextDelimiter = indexOrEnd(s, delimiter, i);
            if (nextLf < i) nextLf = indexOrEnd(s, '\n', i);
            if (nextCr < i) nextCr = indexOrEnd(s, '\r', i);
            const j = Math.min(nextDelimiter, nextLf, nextCr);
            if (j === n && !final) break records;
            value += s.slice(i, j);
            i = j;
          }
        } else {
          if (nextDelimiter < i) nextDelimiter = indexOrEnd(s, delimiter, i);
          if (nextLf < i) nextLf = indexOrEnd(s, '\n', i);
          if (nextCr < i) nextCr = indexOrEnd(s, '\r', i);
          const j = Math.min(nextDelimiter, nextLf, nextCr);
          if (j === n && !final) break records;
          value = s.slice(i, j);
          i = j;
        }
        fields.push(value);
        if (i >= n) {
          if (!final) break records;
          pos = n;
          break;
        }
        const c = s.charCodeAt(i);
        if (c === d) {
          i += 1;
          if (i >= n && !final) break records;
          if (i >= n) {
            fields.push('');
            pos = n;
            break;
          }
          continue;
        }
        if (c === CR) {
          if (i + 1 >= n && !final) break records;
          i += s.charCodeAt(i + 1) === LF ? 2 : 1;
        } else {
          i += 1; // LF
        }
        pos = i;
        break;
      }
      this.records += 1;
      out.push({ recordNumber: this.records, fields });
    }
    this.buffer = pos >= n ? '' : s.slice(pos);
    if (this.buffer.length > this.maxRecordChars) {
      throw new MalformedTextError(
        `record ${this.records + 1} is longer than ${this.maxRecordChars} characters (an unclosed quote?)`,
      );
    }
    return out;
  }
}

function indexOrEnd(s: string, search: string, from: number): number {
  const index = s.indexOf(search, from);
  return index < 0 ? s.length : index;
}

/** True when every field of a record is empty (blank lines and rows of bare delimiters). */
export function isBlankRecord(fields: readonly string[]): boolean {
  for (const field of fields) if (field.trim() !== '') return false;
  return true;
}

/**
 * Picks the delimiter of a text sample (its first lines). For each candidate the sample is
 * tokenized quote-aware; the winner is the candidate whose most common field count (over
 * lines with more than one field) occurs on the most lines, then the larger field count.
 * Title lines above a header do not disturb it. A sample where no candidate splits any
 * line is a single-column file: the fallback is used.
 */
export function detectDelimiter(sample: string, fallback: Delimiter = ','): Delimiter {
  // Only whole lines: drop the last (possibly cut) line unless the sample is the whole file.
  let best: { delimiter: Delimiter; lines: number; fields: number } | undefined;
  for (const delimiter of DELIMITER_CANDIDATES) {
    let records: TextRecord[];
    try {
      const tokenizer = new DelimitedTokenizer(delimiter);
      records = tokenizer.push(sample);
      if (records.length === 0) records = tokenizer.end();
    } catch {
      continue;
    }
    const counts = new Map<number, number>();
    for (const record of records.slice(0, 50)) {
      if (record.fields.length > 1 && !isBlankRecord(record.fields)) {
        counts.set(record.fields.length, (counts.get(record.fields.length) ?? 0) + 1);
      }
    }
    for (const [fields, lines] of counts) {
      if (
        !best ||
        lines > best.lines ||
        (lines === best.lines && fields > best.fields) ||
        (lines === best.lines && fields === best.fields && delimiter === fallback)
      ) {
        best = { delimiter, lines, fields };
      }
    }
  }
  return best?.delimiter ?? fallback;
}
