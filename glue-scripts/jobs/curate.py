"""Glue 5.0 job: merges a dataset's new normalized files into its curated table.

Which normalized objects a run merges is decided by the processed markers in the control
bucket (the oldest objects without one in the predicate's partitions, at most the cap), not by
Glue job bookmarks: no source of this job has a ``transformation_ctx`` (docs/etl.md, "Bookmarks
and the file cap"). ``job.init`` and ``job.commit`` stay, first and last.

Arguments (``getResolvedOptions``):
  --JOB_NAME             job name
  --dataset_config       EtlJobConfig JSON (lib/glue/job-config.ts)
  --bounded_files        files per run, default 450 (optional)
  --push_down_predicate  Spark SQL over the partition column; '' = every partition (optional)
  --execution_id         Step Functions execution that started the run (optional; in the report)
  --reprocess_partition  ``<partition column>=<value>``: reprocess that one partition (every
                         normalized object of it again, markers ignored, no cap), for a
                         correction of the job's own logic; '' (the default) = the incremental
                         run (docs/etl.md, "Reprocessing one partition")
  --JOB_RUN_ID           set by Glue; the run id (``run=<runId>/``, run report name). The local
                         stand-in makes one when it is absent.

The library (``pipeline_etl``) comes from ``--extra-py-files``; ``awsglue`` from the Glue runtime
or, locally, from glue-scripts/local. The last line on stdout is one JSON object:
``{"event": "etl_run_completed", "runId": ..., "reportBucket": ..., "reportKey": ..., ...}``.
"""

from __future__ import annotations

import json
import logging
import sys

REQUIRED = ["JOB_NAME", "dataset_config"]
OPTIONAL = ["bounded_files", "push_down_predicate", "execution_id", "reprocess_partition"]
DEFAULT_BOUNDED_FILES = 450


def resolve_arguments(argv: list[str]) -> dict:
    from awsglue.utils import getResolvedOptions

    present = [name for name in OPTIONAL if f"--{name}" in argv]
    return getResolvedOptions(argv, REQUIRED + present)


def main(argv: list[str] | None = None, glue_context=None) -> dict:
    """Runs the job; returns the run report. ``glue_context`` may be passed in by tests."""
    import boto3
    from pyspark.context import SparkContext

    from awsglue.context import GlueContext
    from awsglue.job import Job
    from pipeline_etl import glue_io, layout
    from pipeline_etl.config import EtlConfig
    from pipeline_etl.curation import RunOptions, run_curate
    from pipeline_etl.reprocess import reprocess_predicate

    argv = list(sys.argv if argv is None else argv)
    args = resolve_arguments(argv)
    config = EtlConfig.from_json(args["dataset_config"])
    bounded = int(args.get("bounded_files") or DEFAULT_BOUNDED_FILES)
    if bounded < 1:
        raise ValueError(f"--bounded_files must be at least 1, got {bounded}")
    # Validated before Spark starts: a wrong partition fails in seconds, having changed nothing.
    reprocess, predicate = reprocess_predicate(
        config, args.get("reprocess_partition") or "", (args.get("push_down_predicate") or "").strip()
    )
    if glue_context is None:
        glue_context = GlueContext(SparkContext.getOrCreate())
    glue_context.spark_session.conf.set("spark.sql.session.timeZone", "UTC")

    job = Job(glue_context)
    job.init(args["JOB_NAME"], args)
    options = RunOptions(
        job_name=args["JOB_NAME"],
        run_id=args.get("JOB_RUN_ID") or "",
        push_down_predicate=predicate,
        bounded_files=bounded,
        execution_id=args.get("execution_id") or None,
        reprocess=reprocess,
    )
    if not options.run_id:
        raise ValueError("no JOB_RUN_ID: Glue passes one; the local stand-in makes one")
    clients = glue_io.Clients(s3=boto3.client("s3"), glue=boto3.client("glue"))
    report = run_curate(glue_context, config, options, clients)
    job.commit()
    summary = {
        "event": "etl_run_completed",
        "dataset": config.dataset,
        "runId": options.run_id,
        "reportBucket": config.control_bucket,
        "reportKey": layout.run_report_key(config, options.run_id),
        "filesRead": report["filesRead"],
        "capReached": report["capReached"],
        "filesLeft": report["filesLeft"],
        "partitionsWritten": [p["value"] for p in report["partitionsWritten"]],
    }
    if "reprocess" in report:
        summary["mode"] = "reprocess"
        summary["reprocess"] = report["reprocess"]
    print(json.dumps(summary), flush=True)
    return report


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    main()
