"""Local stand-in for the ``awsglue`` package (AWS Glue 5.0's PySpark API).

Only on the Python path in local runs and tests (``glue-scripts/local``); the real Glue
runtime provides the real package. It implements the part of the API the curate job uses,
on local Spark, against the AWS API emulator (boto3, endpoint from ``AWS_ENDPOINT_URL``):

- ``awsglue.utils.getResolvedOptions``
- ``awsglue.context.GlueContext``: ``create_dynamic_frame.from_catalog`` (JSON, CSV and
  Parquet tables; ``push_down_predicate``; ``additional_options`` ``boundedFiles`` and
  ``catalogPartitionPredicate``; ``transformation_ctx``), ``create_dynamic_frame.from_options``
  (``s3``; csv, json, parquet) and ``write_dynamic_frame.from_options`` (``s3``; parquet, json)
- ``awsglue.dynamicframe.DynamicFrame``: ``toDF``, ``fromDF``, ``count``
- ``awsglue.job.Job``: ``init``, ``commit`` with bookmark state persisted per job and
  ``transformation_ctx`` (see ``awsglue.bookmarks``)

S3 objects are staged through boto3 (downloaded to a temporary directory and read by Spark;
written locally by Spark and uploaded), so no Hadoop S3 connector is needed. Where the
semantics differ from Glue's is documented in docs/etl.md ("The local awsglue stand-in").
"""

import os

# Glue starts the job with a Spark master set; a local ``python curate.py`` has none. Unless the
# caller set PYSPARK_SUBMIT_ARGS, the first SparkContext runs on local[N] (AWSGLUE_LOCAL_SPARK_MASTER,
# default local[2]) with small-machine settings.
os.environ.setdefault(
    "PYSPARK_SUBMIT_ARGS",
    " ".join(
        [
            "--master",
            os.environ.get("AWSGLUE_LOCAL_SPARK_MASTER", "local[2]"),
            # Local runs are short: the client JIT alone starts fast and is not overtaken.
            "--driver-java-options -XX:TieredStopAtLevel=1",
            "--conf spark.ui.showConsoleProgress=false",
            "--conf spark.sql.shuffle.partitions=4",
            "--conf spark.sql.session.timeZone=UTC",
            "pyspark-shell",
        ]
    ),
)

from awsglue.dynamicframe import DynamicFrame

__all__ = ["DynamicFrame"]
