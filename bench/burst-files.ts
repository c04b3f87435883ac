/**
 * A burst of small billing files made from the FOCUS sample: `files` CSV files of
 * `rowsPerFile` rows each, alternating between two billing periods (2024-09 and 2024-10), every
 * row with an id of its own (so every row must be curated exactly once). Returns what the
 * curated table must then hold: the row count and the exact BilledCost total.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'csv-parse/sync';
import { REPO_ROOT } from '../local/processes';

export const BURST_SAMPLE = path.join(REPO_ROOT, 'samples', 'cloud_billing', 'focus_sample.csv');
/** decimal(38,18): BilledCost is summed exactly at this scale. */
const SCALE = 18;

export interface BurstExpectation {
  readonly files: number;
  readonly rows: number;
  /** The exact sum of BilledCost with 18 decimals, as the query engine prints a decimal(38,18). */
  readonly billedCost: string;
  /** Rows per billing period (`2024-09`, `2024-10`). */
  readonly rowsPerPeriod: Record<string, number>;
  /** Every row written: its id, exact BilledCost (18 decimals) and billing period, sorted by id. */
  readonly rowList: { id: string; billedCost: string; period: string }[];
}

const PERIODS = [
  { period: '2024-09', start: '2024-09-01 00:00:00', end: '2024-10-01 00:00:00' },
  { period: '2024-10', start: '2024-10-01 00:00:00', end: '2024-11-01 00:00:00' },
];

function toUnits(decimal: string): bigint {
  const negative = decimal.startsWith('-');
  const [whole = '0', fraction = ''] = decimal.replace(/^[-+]/, '').split('.');
  if (fraction.length > SCALE) throw new Error(`BilledCost ${decimal} has more than ${SCALE} decimals`);
  const units = BigInt(whole || '0') * 10n ** BigInt(SCALE) + BigInt(fraction.padEnd(SCALE, '0') || '0');
  return negative ? -units : units;
}

function fromUnits(units: bigint): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(SCALE + 1, '0');
  return `${negative ? '-' : ''}${digits.slice(0, -SCALE)}.${digits.slice(-SCALE)}`;
}

const cell = (value: string) => (value === 'NULL' ? 'NULL' : `"${value.replace(/"/g, '""')}"`);

/** Writes the burst into `dir` (created) as `burst-00001.csv`, ...; returns what must be curated. */
export function writeBurstFiles(dir: string, files = 2000, rowsPerFile = 3): BurstExpectation {
  const rows = parse(readFileSync(BURST_SAMPLE), { relax_quotes: true }) as string[][];
  const [header, ...data] = rows;
  if (!header || data.length === 0) throw new Error(`${BURST_SAMPLE} has no rows`);
  const column = (name: string) => {
    const index = header.indexOf(name);
    if (index < 0) throw new Error(`${BURST_SAMPLE} has no ${name} column`);
    return index;
  };
  const id = column('Id');
  const cost = column('BilledCost');
  const periodStart = column('BillingPeriodStart');
  const periodEnd = column('BillingPeriodEnd');
  mkdirSync(dir, { recursive: true });
  let total = 0n;
  const rowsPerPeriod: Record<string, number> = {};
  const rowList: BurstExpectation['rowList'] = [];
  for (let file = 0; file < files; file++) {
    const period = PERIODS[file % PERIODS.length]!;
    const lines = [header.map(cell).join(',')];
    for (let r = 0; r < rowsPerFile; r++) {
      const row = [...data[(file * rowsPerFile + r) % data.length]!];
      row[id] = `${row[id]}-b${file}-${r}`;
      row[periodStart] = period.start;
      row[periodEnd] = period.end;
      total += toUnits(row[cost]!);
      rowList.push({ id: row[id]!, billedCost: fromUnits(toUnits(row[cost]!)), period: period.period });
      lines.push(row.map(cell).join(','));
    }
    rowsPerPeriod[period.period] = (rowsPerPeriod[period.period] ?? 0) + rowsPerFile;
    writeFileSync(path.join(dir, `burst-${String(file + 1).padStart(5, '0')}.csv`), `${lines.join('\n')}\n`);
  }
  rowList.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { files, rows: files * rowsPerFile, billedCost: fromUnits(total), rowsPerPeriod, rowList };
}
