/**
 * Benchmark of the local runtime: one file end to end (`pipeline run` in a fresh state folder,
 * as a user runs it) against the floor any local Spark job pays, a bare `spark-submit` of a
 * no-op script, measured in the same run and interleaved so that machine noise hits both.
 *
 *   npm run bench:local            (writes bench/results/local.json and local.md)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT, VENV_BIN } from '../local/emulator';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const work = path.join(REPO_ROOT, 'bench', '.work');
mkdirSync(work, { recursive: true });
const noop = path.join(work, 'noop.py');
writeFileSync(
  noop,
  'from pyspark.sql import SparkSession\n\nSparkSession.builder.master("local[2]").getOrCreate().stop()\n',
);

function timed(command: string, args: string[], env: Record<string, string> = {}): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, {
    cwd: REPO_ROOT,
    encoding: 'utf-8',
    env: { ...process.env, ...env },
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} failed:\n${result.stderr.slice(-3000)}`);
  return seconds;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const e2e: number[] = [];
const floor: number[] = [];
for (let round = 1; round <= ROUNDS; round++) {
  floor.push(
    timed(path.join(VENV_BIN, 'spark-submit'), [noop], { PYSPARK_PYTHON: path.join(VENV_BIN, 'python') }),
  );
  const state = mkdtempSync(path.join(tmpdir(), 'bench-local-'));
  e2e.push(
    timed(path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), [
      'bin/pipeline.ts',
      'run',
      'samples/cloud_billing/focus_sample.csv',
      '--state',
      state,
    ]),
  );
  rmSync(state, { recursive: true, force: true });
  console.error(`round ${round}: e2e ${e2e.at(-1)!.toFixed(1)} s, spark floor ${floor.at(-1)!.toFixed(1)} s`);
}

const result = {
  command: 'npm run bench:local',
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, node: process.version },
  input: 'samples/cloud_billing/focus_sample.csv (1,000 rows, 755 KB), fresh state folder each round',
  rounds: ROUNDS,
  e2e_s: Number(median(e2e).toFixed(2)),
  spark_floor_s: Number(median(floor).toFixed(2)),
  ratio: Number((median(e2e) / median(floor)).toFixed(2)),
  target_ratio: 3,
  samples: {
    e2e_s: e2e.map((s) => Number(s.toFixed(2))),
    spark_floor_s: floor.map((s) => Number(s.toFixed(2))),
  },
};
writeFileSync(path.join(REPO_ROOT, 'bench', 'results', 'local.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
