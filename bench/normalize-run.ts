/**
 * One measured normalizer run (a child process of bench/normalize.ts, bundled with esbuild like
 * the Lambda): normalizes one local file through the in-process S3 stand-in and prints
 * {seconds, maxRssMb, rows, ...} as JSON. Arguments: <root> <dataset> <key> [gzipLevel].
 */
import { statSync } from 'node:fs';
import * as path from 'node:path';
import { normalizeFile } from '../lambdas/normalize/core';
import { loadDatasets } from '../lib/config';
import { localS3 } from './normalize-s3';

async function main() {
  const [root, dataset, key, level] = process.argv.slice(2) as [string, string, string, string | undefined];
  const s3 = localS3(root);
  const size = statSync(path.join(root, 'landing', key)).size;
  const started = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  const outcome = await normalizeFile(
    {
      s3,
      env: { normalizedBucket: 'normalized', quarantineBucket: 'quarantine', controlBucket: 'control' },
      datasets: loadDatasets(),
      ...(level ? { output: { gzipLevel: Number(level) } } : {}),
    },
    {
      dataset,
      file: {
        dataset,
        bucket: 'landing',
        key: encodeURIComponent(key).replace(/%2F/g, '/'),
        versionId: null,
        size,
        eventTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
        sequencer: '00',
      },
    },
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  process.stdout.write(
    `${JSON.stringify({
      seconds,
      // Every thread of the process: the main thread and zlib on the thread pool.
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      bytes: size,
      mbPerSecond: size / 1024 / 1024 / seconds,
      rows: outcome.rows,
      rowsPerSecond: (outcome.rows ?? 0) / seconds,
      rejectedRows: outcome.rejectedRows,
      maxRssMb: process.resourceUsage().maxRSS / 1024,
      manifestKey: outcome.manifestKey,
    })}\n`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
