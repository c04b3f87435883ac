"""A warm local Spark driver that runs Glue job scripts on request (local runtime only).

Glue keeps its workers warm; a local ``python curate.py`` pays a cold JVM and Spark's first
queries on every run. The local runtime starts this server when a run begins, in parallel
with normalization and crawling, and sends it each job run: the real script runs unchanged
(``runpy`` as ``__main__``, with its own ``sys.argv``) in the already started SparkContext.

Protocol: one JSON request per stdin line, ``{"script": path, "argv": [...], "env": {...}}``.
Every line the server itself writes to stdout starts with ``@@job-server@@ `` followed by
JSON: ``{"ready": true}`` once Spark is up (and warmed), ``{"exitCode": n}`` after each run.
Anything else on stdout or stderr is the job's own output.
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import sys
import tempfile
import traceback

import boto3

MARKER = "@@job-server@@ "


def say(message: dict) -> None:
    sys.stdout.write(MARKER + json.dumps(message) + "\n")
    sys.stdout.flush()


def warm_up(spark) -> None:
    """Runs the kinds of query the curate job runs, on a few rows, so that their classes load."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    folder = tempfile.mkdtemp(prefix="job-server-warm-")
    try:
        with open(os.path.join(folder, "rows.json"), "w", encoding="utf-8") as f:
            for i in range(20):
                f.write(json.dumps({"k": str(i % 5), "v": f"{i}.125", "t": "2024-09-01T00:00:00Z"}) + "\n")
        with open(os.path.join(folder, "dim.csv"), "w", encoding="utf-8") as f:
            f.write("k,name\n" + "".join(f"{i},n{i}\n" for i in range(5)))
        schema = StructType([StructField(c, StringType()) for c in ("k", "v", "t")])
        rows = spark.read.schema(schema).json(os.path.join(folder, "rows.json"))
        typed = rows.select(
            "k",
            F.col("v").cast("decimal(38,18)").alias("v"),
            F.to_timestamp("t").alias("t"),
            F.input_file_name(),
        )
        dim = spark.read.option("header", "true").csv(os.path.join(folder, "dim.csv"))
        joined = typed.join(F.broadcast(dim), "k", "left")
        joined.groupBy("k").agg(F.count(F.lit(1)), F.sum("v")).collect()
        joined.write.mode("overwrite").parquet(os.path.join(folder, "out"))
        spark.read.parquet(os.path.join(folder, "out")).count()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(request: dict) -> int:
    env = request.get("env") or {}
    if "AWS_ACCESS_KEY_ID" in env and "AWS_SESSION_TOKEN" not in env:
        # Credentials of another role: a session token of an earlier run's must not come with them.
        os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.update(env)
    # On AWS each run starts in a fresh driver, so its boto3 clients sign with that run's role.
    # boto3's default session (``boto3.client(...)``) resolves credentials once per process: forget
    # it, or a second job's run (e.g. cloud_billing after the account_hierarchy seed) would sign as
    # the first job's role and be denied by local IAM.
    boto3.DEFAULT_SESSION = None
    script = request["script"]
    sys.argv = [script, *request.get("argv", [])]
    try:
        runpy.run_path(script, run_name="__main__")
        return 0
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except BaseException:
        traceback.print_exc()
        return 1


def main() -> int:
    from pyspark.context import SparkContext
    from pyspark.sql import SparkSession

    import awsglue  # noqa: F401 - sets the local Spark defaults (and the Iceberg jars) before the context starts
    from awsglue import _jvm

    sc = SparkContext.getOrCreate()
    # Fails before "ready" when `npm run setup` has not downloaded the Iceberg jars. (Each run's
    # GlueContext copies that run's AWS credentials into the JVM: see awsglue._jvm.)
    _jvm.require_iceberg(sc)
    spark = SparkSession.builder.getOrCreate()
    if os.environ.get("JOB_SERVER_WARM_UP", "false") == "true":
        warm_up(spark)
    say({"ready": True})
    for line in sys.stdin:
        if not line.strip():
            continue
        code = run(json.loads(line))
        spark.catalog.clearCache()
        sys.stdout.flush()
        sys.stderr.flush()
        say({"exitCode": code})
    return 0


if __name__ == "__main__":
    sys.exit(main())
