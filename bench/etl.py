"""ETL benchmark (not a test): `npm run bench:etl` writes bench/results/etl.json and etl.md.

Runs the real curate job (glue-scripts/jobs/curate.py, in process, one local[2] SparkSession)
against the local AWS emulator through the awsglue stand-in, and measures:
  1. incrementality: 10 equal batches, each run after its batch lands; the job selects the
     objects without a processed marker (incremental) vs a full scan each time (every marker
     removed before the run, so the job reads every file so far); run-10/run-1 time ratio;
  2. a 2,000-file burst drained by successive runs of the default 450-file cap;
  3. pushdown: files the job read vs files in the partitions the predicate matches.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for folder in ("glue-scripts/tests", "glue-scripts/local", "glue-scripts/lib", "glue-scripts/jobs"):
    sys.path.insert(0, str(REPO / folder))

RESULTS = REPO / "bench" / "results"
BATCHES = 10
FILES_PER_BATCH = 20
ROWS_PER_FILE = 200
BURST_FILES = 2000
REPETITIONS = 3
COMMAND = "npm run bench:etl"


def rows(batch: int, file: int) -> list[dict]:
    return [
        {
            "id": f"b{batch}-f{file}-r{r}",
            "account": f"acct-{r % 40}",
            "sku": f"sku-{(r * 7) % 97}",
            "amount": f"{(batch * 31 + file * 7 + r) % 1000}.{r % 100:02d}",
            "usage_start": f"2024-{1 + batch % 12:02d}-{1 + r % 28:02d}T{r % 24:02d}:00:00Z",
        }
        for r in range(ROWS_PER_FILE)
    ]


def main() -> None:
    from pyspark.sql import SparkSession

    work = Path(tempfile.mkdtemp(prefix="bench-etl-"))
    os.environ["AWSGLUE_LOCAL_TMPDIR"] = str(work / "staging")
    from localaws import Emulator, World, job_argv

    emulator = Emulator()
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("bench-etl")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    import curate
    from awsglue.context import GlueContext

    def run(config: dict, bookmarks: str, **kwargs) -> tuple[dict, float, GlueContext]:
        os.environ["AWSGLUE_LOCAL_BOOKMARKS"] = bookmarks
        glue_context = GlueContext(spark.sparkContext)
        started = time.perf_counter()
        report = curate.main(job_argv(config, **kwargs), glue_context=glue_context)
        return report, time.perf_counter() - started, glue_context

    def world_with(dataset: str) -> tuple[World, dict, str]:
        world = World()
        config = world.config(
            dataset,
            partition="period",
            keys=("id",),
            columns=[{"name": "usage_start", "type": "timestamp"}],
        )
        return world, config, str(work / f"bookmarks-{world.name}")

    results: dict = {
        "command": COMMAND,
        "measuredAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "pyspark": spark.version,
            "spark": "local[2], shuffle partitions 2",
            "emulator": "moto ThreadedMotoServer in the same process",
            "note": "2 cores shared with other engineers' work",
        },
    }
    try:
        # Warm-up (JVM, JIT, first Spark jobs) on its own world, not measured.
        world, config, bookmarks = world_with("warmup")
        world.write_many(config, [("2024-01", f"w{f}", rows(0, f)) for f in range(FILES_PER_BATCH)])
        run(config, bookmarks)
        run(config, bookmarks)

        # 1. Incrementality.
        incremental = {}
        scenarios = [
            ("incremental", "new partition per batch", True, lambda b: f"2024-{b + 1:02d}"),
            ("incremental_same_partition", "every batch into one partition", True, lambda b: "2024-01"),
            ("full_scan", "new partition per batch", False, lambda b: f"2024-{b + 1:02d}"),
        ]
        for name, layout, incremental_run, period in scenarios:
            repetitions, files = [], []
            for repetition in range(REPETITIONS):
                world, config, bookmarks = world_with(f"{name}_{repetition}")
                times, files = [], []
                for batch in range(BATCHES):
                    objects = [
                        (period(batch), f"b{batch:02d}-f{f:02d}", rows(batch, f))
                        for f in range(FILES_PER_BATCH)
                    ]
                    world.write_many(config, objects)
                    if not incremental_run:
                        for key in world.keys(world.control_bucket, "etl/processed/"):
                            world.s3.delete_object(Bucket=world.control_bucket, Key=key)
                    report, seconds, _ = run(config, bookmarks)
                    times.append(round(seconds, 3))
                    files.append(report["filesRead"])
                    print(
                        f"[{name} #{repetition + 1}] run {batch + 1}: {files[-1]} files, {seconds:.2f} s",
                        flush=True,
                    )
                repetitions.append(times)
            medians = [round(statistics.median(t), 3) for t in zip(*repetitions, strict=True)]
            incremental[name] = {
                "layout": layout,
                "incremental": incremental_run,
                "filesPerBatch": FILES_PER_BATCH,
                "rowsPerFile": ROWS_PER_FILE,
                "repetitions": REPETITIONS,
                "secondsPerRun": medians,
                "secondsPerRunEachRepetition": repetitions,
                "filesReadPerRun": files,
                "run10OverRun1": round(medians[-1] / medians[0], 3),
            }
        results["incremental"] = incremental

        # 2. Burst.
        world, config, bookmarks = world_with("burst")
        world.write_many(
            config, [(f"2024-{1 + i % 4:02d}", f"s{i:05d}", rows(0, i)[:5]) for i in range(BURST_FILES)]
        )
        burst_runs = []
        while True:
            report, seconds, _ = run(config, bookmarks)
            if report["filesRead"] == 0:
                break
            burst_runs.append(
                {"files": report["filesRead"], "seconds": round(seconds, 3), "filesLeft": report["filesLeft"]}
            )
            print(f"[burst] run {len(burst_runs)}: {report['filesRead']} files, {seconds:.2f} s", flush=True)
        curated_rows = (
            sum(p["rows"] for p in report["partitionsWritten"]) if report["partitionsWritten"] else None
        )
        results["burst"] = {
            "files": BURST_FILES,
            "cap": 450,
            "runs": len(burst_runs),
            "maxFilesPerRun": max(r["files"] for r in burst_runs),
            "filesPerRun": [r["files"] for r in burst_runs],
            "secondsPerRun": [r["seconds"] for r in burst_runs],
            "filesLeftPerRun": [r["filesLeft"] for r in burst_runs],
            "filesProcessed": sum(r["files"] for r in burst_runs),
            "markers": len(world.keys(world.control_bucket, f"etl/processed/{config['dataset']}/")),
        }
        del curated_rows

        # 3. Pushdown.
        world, config, bookmarks = world_with("pushdown")
        periods = ["2024-09", "2024-10", "2024-11", "2024-12"]
        world.write_many(config, [(p, f"{p}-{f:02d}", rows(0, f)[:20]) for p in periods for f in range(25)])
        predicate = "period in ('2024-10', '2024-12')"
        report, seconds, glue_context = run(config, bookmarks, predicate=predicate)
        own = f"s3://{world.normalized_bucket}/"
        read = sorted(f for r in glue_context.reads for f in r.files if f.startswith(own))
        matching = sorted(
            f"s3://{world.normalized_bucket}/{k}"
            for p in ("2024-10", "2024-12")
            for k in world.keys(world.normalized_bucket, f"{config['dataset']}/period={p}/")
        )
        results["pushdown"] = {
            "predicate": predicate,
            "partitions": len(periods),
            "filesTotal": len(world.keys(world.normalized_bucket, f"{config['dataset']}/")),
            "filesInMatchingPartitions": len(matching),
            "filesRead": len(read),
            "filesReadOutsideMatchingPartitions": len(set(read) - set(matching)),
            "ratio": round(len(read) / len(matching), 6),
            "seconds": round(seconds, 3),
        }
    finally:
        spark.stop()
        emulator.stop()
        shutil.rmtree(work, ignore_errors=True)

    inc = results["incremental"]
    burst = results["burst"]
    push = results["pushdown"]
    results["targets"] = {
        "incrementalRun10OverRun1": {
            "target": "<= 1.3",
            "value": inc["incremental"]["run10OverRun1"],
            "met": inc["incremental"]["run10OverRun1"] <= 1.3,
        },
        "burstRuns": {
            "target": "5 runs of <= 450 files",
            "value": f"{burst['runs']} runs, max {burst['maxFilesPerRun']}",
            "met": burst["runs"] == 5 and burst["maxFilesPerRun"] <= 450,
        },
        "pushdownRatio": {
            "target": "1.0",
            "value": push["ratio"],
            "met": push["ratio"] == 1.0 and push["filesReadOutsideMatchingPartitions"] == 0,
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "etl.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "etl.md").write_text(render(results))
    print((RESULTS / "etl.md").read_text())


def render(results: dict) -> str:
    inc, burst, push, targets = (
        results["incremental"],
        results["burst"],
        results["pushdown"],
        results["targets"],
    )
    machine = results["machine"]
    met = lambda t: "met" if t["met"] else "NOT met"  # noqa: E731
    ratio = inc["incremental"]["run10OverRun1"]
    lines = [
        "# ETL benchmark",
        "",
        f"Command: `{results['command']}` (measured {results['measuredAt']}, {machine['cpus']} cores "
        f"shared with other work, Python {machine['python']}, PySpark {machine['pyspark']} "
        f"local[2]). The real job script runs in process through the local awsglue stand-in against moto "
        f"(in the same process); one warm-up run first; times are medians of {REPETITIONS} repetitions "
        f"of each 10-batch sequence (each on fresh buckets).",
        "",
        "| measure | value | target | |",
        "| --- | --- | --- | --- |",
        f"| incremental, run-10 / run-1 (new partition per batch) | {ratio} | <= 1.3 | "
        f"{met(targets['incrementalRun10OverRun1'])} |",
        f"| incremental, run-10 / run-1 (every batch into one partition) | "
        f"{inc['incremental_same_partition']['run10OverRun1']} | | |",
        f"| full scan (markers removed before each run), run-10 / run-1 | "
        f"{inc['full_scan']['run10OverRun1']} | | |",
        f"| 2,000-file burst | {burst['runs']} runs, max {burst['maxFilesPerRun']} files per run "
        f"({', '.join(map(str, burst['filesPerRun']))}) | 5 runs of <= 450 | {met(targets['burstRuns'])} |",
        f"| pushdown, files read / files in matching partitions | {push['filesRead']} / "
        f"{push['filesInMatchingPartitions']} = {push['ratio']} (of {push['filesTotal']} files) | 1.0 | "
        f"{met(targets['pushdownRatio'])} |",
        "",
        f"Batches: {BATCHES} x {FILES_PER_BATCH} normalized files x {ROWS_PER_FILE} rows.",
        "",
        "Median seconds per run, and files each run read:",
        "",
        "| run | " + " | ".join(str(i) for i in range(1, BATCHES + 1)) + " |",
        "| --- | " + " | ".join("---" for _ in range(BATCHES)) + " |",
    ]
    for name, data in inc.items():
        lines.append(f"| {name} s | " + " | ".join(f"{s:.2f}" for s in data["secondsPerRun"]) + " |")
        lines.append(f"| {name} files | " + " | ".join(str(f) for f in data["filesReadPerRun"]) + " |")
    lines += [
        "",
        "Incremental runs read only the new batch (the objects of the predicate's partitions without "
        "a processed marker; the job uses no Glue bookmark, see docs/etl.md), so their time stays flat "
        "while the full scan reads every file so far and rewrites every partition. When every batch "
        "lands in the same partition the incremental run still rewrites that whole partition (staged "
        "merge: existing rows + new rows) and lists the partition's objects and markers, so its time "
        "grows with the partition's size (not with the number of files ever read); at this size that is "
        "a small part of a run.",
        "",
        f"Burst: {burst['filesProcessed']} files processed, {burst['markers']} processed markers; "
        f"seconds per run {', '.join(f'{s:.1f}' for s in burst['secondsPerRun'])}; "
        f"filesLeft reported after each run {', '.join(str(x) for x in burst['filesLeftPerRun'])}.",
        "",
        f"Pushdown: predicate `{push['predicate']}` over {push['partitions']} partitions; "
        f"{push['filesReadOutsideMatchingPartitions']} files read outside the matching partitions.",
        "",
        f"Median incremental run: {statistics.median(inc['incremental']['secondsPerRun']):.2f} s; "
        f"median full-scan run: {statistics.median(inc['full_scan']['secondsPerRun']):.2f} s.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
