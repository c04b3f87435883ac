/**
 * Writes the volume-anomaly samples (samples/volume/cloud_billing/: outside samples/cloud_billing/,
 * so that a run of that folder drops the FOCUS sample alone): three daily FOCUS exports of
 * one provider (AWS) with 45 rows each, then a fourth with a tenth of them (docs/operations.md,
 * "Volume anomalies"). Rows are the FOCUS sample's AWS rows with new ids and charge periods in
 * 2024-10, so no key repeats a row of another file (no restatement).
 *
 *   npx tsx scripts/volume-samples.ts
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', 'samples', 'cloud_billing');
const out = path.resolve(__dirname, '..', 'samples', 'volume', 'cloud_billing');

/** One CSV record of the sample (no field spans lines): quoted fields with "" escapes, NULL bare. */
function parseLine(line: string): (string | null)[] {
  const fields: (string | null)[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let value = '';
      i += 1;
      for (;;) {
        const quote = line.indexOf('"', i);
        value += line.slice(i, quote);
        i = quote + 1;
        if (line[i] === '"') {
          value += '"';
          i += 1;
        } else break;
      }
      fields.push(value);
      i += 1;
    } else {
      const comma = line.indexOf(',', i);
      const end = comma < 0 ? line.length : comma;
      const raw = line.slice(i, end);
      fields.push(raw === 'NULL' ? null : raw);
      i = end + 1;
    }
  }
  return fields;
}

const format = (fields: readonly (string | null)[]) =>
  fields.map((f) => (f === null ? 'NULL' : `"${f.replace(/"/g, '""')}"`)).join(',');

const [headerLine, ...lines] = readFileSync(path.join(root, 'focus_sample.csv'), 'utf8')
  .trimEnd()
  .split('\n');
const header = parseLine(headerLine!) as string[];
const at = (name: string) => header.indexOf(name);
const aws = lines.map(parseLine).filter((f) => f[at('ProviderName')] === 'AWS');

/** `rows` rows of day `day` of October 2024, each an AWS row of the sample with a new id and hour. */
function exportOf(day: number, rows: number): string {
  const out: string[] = [header.map((h) => `"${h}"`).join(',')];
  for (let n = 0; n < rows; n++) {
    const row = [...aws[n % aws.length]!];
    const hour = String(n % 24).padStart(2, '0');
    const date = `2024-10-${String(day).padStart(2, '0')}`;
    row[at('Id')] = `vol-${date}-${n}`;
    row[at('ChargePeriodStart')] = `${date} ${hour}:00:00`;
    row[at('ChargePeriodEnd')] = `${date} ${hour}:59:59`;
    row[at('BillingPeriodStart')] = '2024-10-01 00:00:00';
    row[at('BillingPeriodEnd')] = '2024-11-01 00:00:00';
    out.push(format(row));
  }
  return `${out.join('\n')}\n`;
}

mkdirSync(out, { recursive: true });
for (const day of [1, 2, 3])
  writeFileSync(path.join(out, `aws_export_2024-10-0${day}.csv`), exportOf(day, 45));
writeFileSync(path.join(out, 'aws_export_2024-10-04_partial.csv'), exportOf(4, 4));
