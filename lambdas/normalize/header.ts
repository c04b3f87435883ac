import { canonicalName } from '../../lib/config/canonical';
import type { ResolvedDataset } from '../../lib/config/types';
import type { Cell, SourceRow } from './records';
import { aliasMap } from './schema';

/** Rows examined for the header row (title rows above it are skipped). */
export const HEADER_SEARCH_ROWS = 30;

export interface LocatedHeader {
  readonly header: SourceRow;
  /** Rows above the header (titles, notes), skipped. */
  readonly skippedRows: number;
  /** The data rows: those buffered after the header, then the rest of the source. */
  readonly rows: AsyncIterable<SourceRow[]>;
}

const nonEmpty = (cell: Cell) => cell !== null && cell.trim() !== '';

/**
 * Picks the header row among the first rows of a table: the row naming the most declared
 * columns of the dataset (aliases applied), the earliest on a tie. When no row names any,
 * the first row with the most non-empty cells. Returns null for a table without rows.
 */
export function chooseHeaderRow(dataset: ResolvedDataset, rows: readonly SourceRow[]): number | null {
  const aliases = aliasMap(dataset);
  let best = -1;
  let bestScore = 0;
  let widest = -1;
  let widestCount = 0;
  for (const [index, row] of rows.entries()) {
    const known = new Set<string>();
    let filled = 0;
    for (const cell of row.values) {
      if (!nonEmpty(cell)) continue;
      filled += 1;
      const column = aliases.get(canonicalName(cell!));
      if (column) known.add(column);
    }
    if (known.size > bestScore) {
      best = index;
      bestScore = known.size;
    }
    if (filled > widestCount) {
      widest = index;
      widestCount = filled;
    }
  }
  if (best >= 0) return best;
  return widest >= 0 ? widest : null;
}

/** Buffers the first rows of a table, finds its header row and returns the rows after it. */
export async function locateHeader(
  dataset: ResolvedDataset,
  batches: AsyncIterable<SourceRow[]>,
): Promise<LocatedHeader | null> {
  const iterator = batches[Symbol.asyncIterator]();
  const buffered: SourceRow[] = [];
  let exhausted = false;
  let candidates = 0;
  while (candidates < HEADER_SEARCH_ROWS) {
    const next = await iterator.next();
    if (next.done) {
      exhausted = true;
      break;
    }
    for (const row of next.value) {
      buffered.push(row);
      if (row.values.some(nonEmpty)) candidates += 1;
    }
  }
  const candidateRows = buffered.filter((row) => row.values.some(nonEmpty)).slice(0, HEADER_SEARCH_ROWS);
  const chosen = chooseHeaderRow(dataset, candidateRows);
  if (chosen === null) return null;
  const header = candidateRows[chosen]!;
  const headerIndex = buffered.indexOf(header);
  const after = buffered.slice(headerIndex + 1);
  async function* rows(): AsyncIterable<SourceRow[]> {
    if (after.length > 0) yield after;
    if (exhausted) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return {
    header,
    skippedRows: buffered.slice(0, headerIndex).filter((row) => row.values.some(nonEmpty)).length,
    rows: rows(),
  };
}
