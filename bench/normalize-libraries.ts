/**
 * How the normalizer's parsing libraries were chosen: each candidate reads the same inputs
 * the benchmark generates (run `npm run bench:normalize` first). Candidates that are not
 * project dependencies are installed into bench/.work/candidates (git-ignored):
 *   npm install --prefix bench/.work/candidates exceljs@4.4.0 papaparse@5.7.1 iconv-lite@0.7.3
 * Run: npx tsx bench/normalize-libraries.ts   (prints JSON; results are quoted in docs/normalizer.md)
 */
import { createReadStream, statSync } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import yauzl from 'yauzl';
import { DelimitedTokenizer } from '../lambdas/normalize/delimited';
import { decodeWindows1252 } from '../lambdas/normalize/text';
import { openXlsx } from '../lambdas/normalize/xlsx';

const WORK = path.resolve(__dirname, '.work');
const CANDIDATES = path.join(WORK, 'candidates', 'node_modules');
const CSV = path.join(WORK, 'inputs', 'cloud_billing', 'focus_100mb.csv');
const XLSX = path.join(WORK, 'inputs', 'workforce_capacity', 'capacity_100k.xlsx');
const MB = 1024 * 1024;

const timed = async (fn: () => Promise<number>) => {
  const start = process.hrtime.bigint();
  const count = await fn();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, count };
};

class FileReader extends yauzl.RandomAccessReader {
  constructor(private readonly file: string) {
    super();
  }
  override _readStreamForRange(start: number, end: number): Readable {
    return createReadStream(this.file, { start, end: end - 1 });
  }
}

async function main() {
  const csvMb = statSync(CSV).size / MB;
  const results: Record<string, number> = {};
  const ours = await timed(async () => {
    const tokenizer = new DelimitedTokenizer(',');
    const decoder = new TextDecoder('utf-8', { fatal: true });
    let n = 0;
    for await (const chunk of createReadStream(CSV, { highWaterMark: 256 * 1024 })) {
      n += tokenizer.push(decoder.decode(chunk as Buffer, { stream: true })).length;
    }
    return n + tokenizer.end().length;
  });
  results.csv_ours_tokenizer_mb_s = csvMb / ours.seconds;
  const csvParse = await timed(async () => {
    let n = 0;
    for await (const _ of createReadStream(CSV, { highWaterMark: 256 * 1024 }).pipe(
      parse({ relax_column_count: true }),
    ))
      n++;
    return n;
  });
  results.csv_parse_mb_s = csvMb / csvParse.seconds;
  const Papa = require(path.join(CANDIDATES, 'papaparse'));
  const papa = await timed(
    () =>
      new Promise<number>((resolve) => {
        let n = 0;
        Papa.parse(createReadStream(CSV, { highWaterMark: 256 * 1024 }), {
          step: () => {
            n++;
          },
          complete: () => resolve(n),
        });
      }),
  );
  results.csv_papaparse_mb_s = csvMb / papa.seconds;

  const latin = Buffer.alloc(64 * MB);
  for (let i = 0; i < latin.length; i++) latin[i] = i % 41 === 0 ? 0xe9 : i % 97 === 0 ? 0x80 : 32 + (i % 90);
  const own1252 = await timed(async () => {
    let n = 0;
    for (let o = 0; o < latin.length; o += 256 * 1024)
      n += decodeWindows1252(latin.subarray(o, o + 256 * 1024)).length;
    return n;
  });
  results.cp1252_ours_mb_s = 64 / own1252.seconds;
  const iconv = require(path.join(CANDIDATES, 'iconv-lite'));
  const iconv1252 = await timed(async () => {
    let n = 0;
    for (let o = 0; o < latin.length; o += 256 * 1024)
      n += iconv.decode(latin.subarray(o, o + 256 * 1024), 'win1252').length;
    return n;
  });
  results.cp1252_iconv_lite_mb_s = 64 / iconv1252.seconds;

  const xlsxSize = statSync(XLSX).size;
  const oursXlsx = await timed(async () => {
    const workbook = await openXlsx(new FileReader(XLSX), xlsxSize, {
      maxExpansionRatio: 100,
      label: 'bench',
    });
    let n = 0;
    for await (const table of workbook.tables) for await (const batch of table.batches) n += batch.length;
    return n;
  });
  results.xlsx_ours_rows_s = oursXlsx.count / oursXlsx.seconds;
  const ExcelJS = require(path.join(CANDIDATES, 'exceljs'));
  const exceljs = await timed(async () => {
    const reader = new ExcelJS.stream.xlsx.WorkbookReader(XLSX, {
      sharedStrings: 'cache',
      worksheets: 'emit',
    });
    let n = 0;
    for await (const sheet of reader) for await (const _row of sheet) n++;
    return n;
  });
  results.xlsx_exceljs_stream_rows_s = exceljs.count / exceljs.seconds;
  console.log(
    JSON.stringify(
      Object.fromEntries(Object.entries(results).map(([k, v]) => [k, Math.round(v * 10) / 10])),
      null,
      2,
    ),
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
