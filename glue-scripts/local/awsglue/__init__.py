"""Local stand-in for the ``awsglue`` package (AWS Glue 5.1's PySpark API).

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
written locally by Spark and uploaded), so no Hadoop S3 connector is needed. Iceberg tables are
read and written by Spark itself with the Iceberg runtime (what ``--datalake-formats iceberg`` puts
on Glue's classpath): every local SparkContext gets the Iceberg jars that ``npm run setup``
downloads and Iceberg's SQL extensions; the job configures its catalog (GlueCatalog, S3FileIO)
itself. Where the semantics differ from Glue's is documented in docs/etl.md ("The local awsglue
stand-in").
"""

import os
import sys
from pathlib import Path

#: The Iceberg release of Glue 5.1, and the jars that ``--datalake-formats iceberg`` adds there.
ICEBERG_VERSION = "1.10.0"
ICEBERG_JARS = (
    f"iceberg-spark-runtime-3.5_2.12-{ICEBERG_VERSION}.jar",
    f"iceberg-aws-bundle-{ICEBERG_VERSION}.jar",
)
ICEBERG_EXTENSIONS = "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"
#: Where scripts/setup-python.sh puts the jars (the same variable overrides both).
ENV_ICEBERG_JARS = "PIPELINE_ICEBERG_JARS"
_REPO = Path(__file__).resolve().parents[3]


class IcebergJarsMissingError(RuntimeError):
    """Local Spark has no Iceberg runtime: the jars were not downloaded (``npm run setup``)."""


def iceberg_jar_dir() -> Path:
    """The folder of the Iceberg jars: ``$PIPELINE_ICEBERG_JARS``, else ``iceberg-jars`` in the
    virtualenv that runs this Python, else in the project's ``.venv``."""
    if os.environ.get(ENV_ICEBERG_JARS):
        return Path(os.environ[ENV_ICEBERG_JARS])
    for candidate in (Path(sys.prefix) / "iceberg-jars", _REPO / ".venv" / "iceberg-jars"):
        if candidate.is_dir():
            return candidate
    return _REPO / ".venv" / "iceberg-jars"


def iceberg_jars() -> list[str]:
    """Paths of the Iceberg jars; ``IcebergJarsMissingError`` (with what to do) if one is missing."""
    folder = iceberg_jar_dir()
    paths = [folder / name for name in ICEBERG_JARS]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise IcebergJarsMissingError(
            f"local Spark needs the Iceberg {ICEBERG_VERSION} jars ({', '.join(missing)} missing in "
            f"{folder}): run `npm run setup` (it downloads them from Maven Central)"
        )
    return [str(p) for p in paths]


def _submit_args() -> str:
    try:
        jars = ["--jars", ",".join(iceberg_jars())]
    except IcebergJarsMissingError:
        # Spark still starts (and non-Iceberg work runs); GlueContext raises the error with what to do.
        jars = []
    return " ".join(
        [
            "--master",
            os.environ.get("AWSGLUE_LOCAL_SPARK_MASTER", "local[2]"),
            *jars,
            f"--conf spark.sql.extensions={ICEBERG_EXTENSIONS}",
            # Local runs are short: the client JIT alone starts fast and is not overtaken. A warm
            # driver serves many runs (the job server, the benchmark); with the client JIT alone
            # the JVM reserves a 48 MB code cache, which those fill within a minute, and then
            # stops compiling altogether ("CodeCache is full. Compiler has been disabled").
            "--driver-java-options '-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m'",
            "--conf spark.ui.showConsoleProgress=false",
            "--conf spark.sql.shuffle.partitions=4",
            "--conf spark.sql.session.timeZone=UTC",
            "pyspark-shell",
        ]
    )


# Glue starts the job with a Spark master set; a local ``python curate.py`` has none. Unless the
# caller set PYSPARK_SUBMIT_ARGS (then it is the caller's to include the Iceberg jars and
# extensions), the first SparkContext runs on local[N] (AWSGLUE_LOCAL_SPARK_MASTER, default
# local[2]) with small-machine settings, the Iceberg runtime and Iceberg's SQL extensions.
os.environ.setdefault("PYSPARK_SUBMIT_ARGS", _submit_args())

from awsglue.dynamicframe import DynamicFrame  # noqa: E402

__all__ = ["DynamicFrame", "IcebergJarsMissingError", "iceberg_jars"]
