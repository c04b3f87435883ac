/** What every reader produces: tables of rows, read in batches. */

/** A cell as read: text, or `null` where the format itself says "no value" (empty XLSX cell, JSON null). */
export type Cell = string | null;

export interface SourceRow {
  /**
   * 1-based position of the row in its source, as a person would count it: the record number
   * counting the header (the line number when no field spans lines) for delimited text, the
   * sheet row for XLSX, the line for JSON Lines, the element or row index for JSON arrays and
   * Parquet.
   */
  readonly rowNumber: number;
  readonly values: Cell[];
  /**
   * Positions whose cell is a typed number (an XLSX number cell, a JSON number, a Parquet
   * numeric column): its text is a plain dot-decimal number, read as such whatever the file's
   * number format. Absent when the row has none (every delimited text row).
   */
  readonly typed?: readonly boolean[];
  /** Set by readers for a row they could not parse (e.g. a JSON Lines line that is not JSON). */
  readonly error?: { readonly reason: string; readonly detail: string };
}

export interface SourceTable {
  /** XLSX sheet name; null for single-table formats. */
  readonly sheet: string | null;
  /**
   * Column names given by the format's structure (JSON keys, Parquet schema). JSON readers
   * append keys first seen in later records, so it may grow while rows are read. Null when
   * the header is a row of the data, found by header detection.
   */
  readonly header: string[] | null;
  /** Rows must have exactly the header's field count (delimited text). */
  readonly fixedWidth: boolean;
  readonly batches: AsyncIterable<SourceRow[]>;
}

/**
 * A copy of a string that does not reference the text it was cut from. V8 represents slices
 * and concatenations by reference, so a string kept for the rest of a file (a cached timestamp,
 * an XLSX shared string) would otherwise keep its whole source chunk alive.
 */
export function detach(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}
