/**
 * Benchmark of the local runtime, measured against baselines in the same run:
 *
 * - one file end to end (`pipeline run` in a fresh state folder, as a user runs it) against the
 *   floor any local Spark job pays, a bare `spark-submit` of a no-op script, interleaved so that
 *   machine noise hits both;
 * - `burst_2000_s`: a burst of 2,000 small billing files (three rows each, two billing periods,
 *   made from the FOCUS sample by bench/burst-files.ts) through `pipeline run`, checked by query:
 *   every row present exactly once (row count, distinct ids, exact BilledCost total equal to the
 *   inputs'). A burst that does not pass the check is recorded as failed (with why) and the
 *   benchmark exits 1: its time is no result.
 *
 *   npm run bench:local            (writes bench/results/local.json)
 *   BENCH_ROUNDS=5 BENCH_BURST=0 npm run bench:local    (more single-file rounds; no burst)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT, VENV_BIN } from '../local/emulator';
import { writeBurstFiles } from './burst-files';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BURST = process.env.BENCH_BURST !== '0';
const BURST_FILES = 2000;
const BURST_TARGET_S = 240;
const work = path.join(REPO_ROOT, 'bench', '.work');
mkdirSync(work, { recursive: true });
const noop = path.join(work, 'noop.py');
writeFileSync(
  noop,
  'from pyspark.sql import SparkSession\n\nSparkSession.builder.master("local[2]").getOrCreate().stop()\n',
);
const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');

function run(command: string, args: string[], env: Record<string, string> = {}, allowFailure = false) {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, {
    cwd: REPO_ROOT,
    encoding: 'utf-8',
    env: { ...process.env, ...env },
    maxBuffer: 256 * 1024 * 1024,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0 && !allowFailure)
    throw new Error(
      `${command} ${args.join(' ')} failed:\n${result.stderr.slice(-3000)}${result.stdout.slice(-2000)}`,
    );
  return { seconds, stdout: result.stdout, stderr: result.stderr, status: result.status };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const round2 = (n: number) => Number(n.toFixed(2));

const e2e: number[] = [];
const floor: number[] = [];
for (let round = 1; round <= ROUNDS; round++) {
  floor.push(
    run(path.join(VENV_BIN, 'spark-submit'), [noop], { PYSPARK_PYTHON: path.join(VENV_BIN, 'python') })
      .seconds,
  );
  const state = mkdtempSync(path.join(tmpdir(), 'bench-local-'));
  e2e.push(
    run(tsx, ['bin/pipeline.ts', 'run', 'samples/cloud_billing/focus_sample.csv', '--state', state]).seconds,
  );
  rmSync(state, { recursive: true, force: true });
  console.error(`round ${round}: e2e ${e2e.at(-1)!.toFixed(1)} s, spark floor ${floor.at(-1)!.toFixed(1)} s`);
}

/** Seconds between the progress lines' clock times (HH:MM:SS, stderr) of the first matching lines. */
function phases(stderr: string, total: number) {
  const lines = stderr.split('\n').filter((l) => /^\d\d:\d\d:\d\d /.test(l));
  const at = (pattern: RegExp, last = false) => {
    const found = last
      ? [...lines].reverse().find((l) => pattern.test(l))
      : lines.find((l) => pattern.test(l));
    if (!found) return undefined;
    const [h, m, s] = found.slice(0, 8).split(':').map(Number);
    return h! * 3600 + m! * 60 + s!;
  };
  const begin = at(/./)!;
  const since = (t: number | undefined) => (t === undefined ? null : (t - begin + 86400) % 86400);
  const firstExecution = since(at(/\] execution local-\S+: \d+ file/));
  const dropped = since(at(/dropped \d+ file\(s\)/));
  const executed = since(at(/batch\(es\) executed/));
  const saving = since(at(/saving the local state/));
  return {
    until_first_execution_s: firstExecution,
    all_files_dropped_s: dropped,
    executions_done_s: executed,
    saving_started_s: saving,
    saving_and_report_s: saving === null ? null : round2(total - saving),
  };
}

let burst: Record<string, unknown> | undefined;
if (BURST) {
  const input = path.join(work, 'burst', 'cloud_billing');
  rmSync(path.dirname(input), { recursive: true, force: true });
  const expected = writeBurstFiles(input, BURST_FILES, 3);
  const state = mkdtempSync(path.join(tmpdir(), 'bench-burst-'));
  const reportFile = path.join(state, '..', `${path.basename(state)}-report.json`);
  const load = loadavg()[0]!;
  // A run with a failed execution exits 1 and still writes its report.
  const result = run(
    tsx,
    ['bin/pipeline.ts', 'run', input, '--state', state, '--report', reportFile],
    {},
    true,
  );
  const report = JSON.parse(readFileSync(reportFile, 'utf-8')) as {
    files: { status: string }[];
    executions: { status: string; etlRuns: number; error?: string; cause?: string }[];
  };
  const query = (sql: string) =>
    JSON.parse(run(tsx, ['bin/pipeline.ts', 'query', sql, '--json', '--state', state]).stdout) as Record<
      string,
      unknown
    >[];
  let totals: Record<string, unknown> | undefined;
  try {
    [totals] = query(
      'select count(*) as n, count(distinct id) as ids, sum(billed_cost) as billed from cloud_billing',
    );
  } catch (error) {
    console.error(`burst: the curated table cannot be queried: ${(error as Error).message.slice(0, 300)}`);
  }
  const curated = {
    rows: Number(totals?.n ?? 0),
    distinctIds: Number(totals?.ids ?? 0),
    billedCost: String(totals?.billed ?? null),
  };
  rmSync(state, { recursive: true, force: true });
  rmSync(reportFile, { force: true });
  const exactlyOnce =
    curated.rows === expected.rows &&
    curated.distinctIds === expected.rows &&
    curated.billedCost === expected.billedCost;
  const passed = exactlyOnce && report.executions.every((e) => e.status === 'SUCCEEDED');
  burst = {
    status: passed ? 'passed' : 'FAILED',
    ...(passed
      ? {}
      : {
          failed_because: `curated ${JSON.stringify(curated)} vs expected ${expected.rows} rows and billed cost ${expected.billedCost}; executions ${report.executions
            .map((e) => `${e.status}${e.error ? ` ${e.error}: ${(e.cause ?? '').slice(0, 160)}` : ''}`)
            .join('; ')}`,
        }),
    input: `${BURST_FILES} CSV files of 3 rows (${expected.rows} rows, billing periods 2024-09 and 2024-10) made from samples/cloud_billing/focus_sample.csv by bench/burst-files.ts; fresh state folder`,
    seconds: round2(result.seconds),
    target_s: BURST_TARGET_S,
    load_average_at_start: round2(load),
    executions: report.executions.length,
    etl_runs: report.executions.reduce((n, e) => n + e.etlRuns, 0),
    files_processed: report.files.filter((f) => f.status === 'processed').length,
    curated,
    phases: phases(result.stderr, result.seconds),
    ratio_to_single_file: round2(result.seconds / median(e2e)),
    ratio_to_spark_floor: round2(result.seconds / median(floor)),
  };
  console.error(`burst: ${result.seconds.toFixed(1)} s (${JSON.stringify(burst.phases)})`);
}

const result = {
  command: 'npm run bench:local',
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, node: process.version },
  input: 'samples/cloud_billing/focus_sample.csv (1,000 rows, 755 KB), fresh state folder each round',
  rounds: ROUNDS,
  e2e_s: round2(median(e2e)),
  spark_floor_s: round2(median(floor)),
  ratio: round2(median(e2e) / median(floor)),
  target_ratio: 3,
  samples: {
    e2e_s: e2e.map(round2),
    spark_floor_s: floor.map(round2),
  },
  ...(burst ? { burst_2000_s: burst.status === 'passed' ? burst.seconds : null, burst } : {}),
};
writeFileSync(path.join(REPO_ROOT, 'bench', 'results', 'local.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
if (burst && burst.status !== 'passed') {
  console.error(`burst FAILED: ${burst.failed_because}`);
  process.exit(1);
}
