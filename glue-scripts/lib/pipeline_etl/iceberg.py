"""The curated Iceberg table: catalog set-up, creation, schema evolution, the one commit of a
run, snapshots and maintenance. Same code on AWS Glue 5.1 (Iceberg 1.10.0, ``--datalake-formats
iceberg``) and on local Spark with the same Iceberg runtime jar.

Iceberg facts this module relies on (Apache Iceberg documentation, "Spark Writes" and
"Procedures"): every write (``append``, ``MERGE INTO``) commits exactly one new snapshot, or
nothing when it fails, so readers see the table before or after a run, never part of it; a
snapshot stays readable (time travel) until ``expire_snapshots`` removes it; with
``write.merge.mode=merge-on-read`` a MERGE that deletes rows writes delete files instead of
rewriting the data files that hold them.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipeline_etl import layout
from pipeline_etl.config import EtlConfig
from pipeline_etl.lineage import INGEST_ROW_NUMBER, INGEST_SOURCE_ID, SHEET_COLUMN
from pipeline_etl.transforms import col

log = logging.getLogger("pipeline_etl")

SPARK_CATALOG = "org.apache.iceberg.spark.SparkCatalog"
GLUE_CATALOG = "org.apache.iceberg.aws.glue.GlueCatalog"
S3_FILE_IO = "org.apache.iceberg.aws.s3.S3FileIO"


def configure_catalog(spark: SparkSession, config: EtlConfig) -> None:
    """Registers the Iceberg catalog the curated tables live in: the Glue Data Catalog, files
    through S3FileIO. Catalog properties are read when the catalog is first used, so setting them
    at run time works on Glue as locally. ``AWS_ENDPOINT_URL`` (the AWS SDKs' standard variable,
    set only by the local runtime) points the catalog's Glue and S3 clients at the emulator."""
    prefix = f"spark.sql.catalog.{config.iceberg.catalog}"
    settings = {
        prefix: SPARK_CATALOG,
        f"{prefix}.catalog-impl": GLUE_CATALOG,
        f"{prefix}.io-impl": S3_FILE_IO,
        f"{prefix}.warehouse": config.iceberg.location,
        # No table cache: a run must see the catalog's current metadata pointer every time it
        # looks (a warm driver, as the local job server keeps, would otherwise reuse another
        # run's metadata; Glue starts a driver per run, so it costs nothing there).
        f"{prefix}.cache-enabled": "false",
    }
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        settings.update(
            {
                f"{prefix}.glue.endpoint": endpoint,
                f"{prefix}.s3.endpoint": endpoint,
                f"{prefix}.s3.path-style-access": "true",
                f"{prefix}.client.region": region,
            }
        )
    for key, value in settings.items():
        spark.conf.set(key, value)


def table_exists(spark: SparkSession, config: EtlConfig) -> bool:
    """One ``GetTable`` (``SHOW TABLES`` would list the database: ``GetTables`` needs rights on
    every table of it, which the job role does not have)."""
    return spark.catalog.tableExists(f"{config.iceberg.catalog}.{config.database}.{config.curated_table}")


def quote(identifier: str) -> str:
    """``a.b.c`` -> ```a`.`b`.`c``` (names may hold characters Spark SQL would misread)."""
    return ".".join(f"`{part}`" for part in identifier.split("."))


def current_snapshot(spark: SparkSession, config: EtlConfig) -> int | None:
    """The curated table's current snapshot id (None for a table without one)."""
    return current_snapshot_of(spark, f"{config.iceberg.catalog}.{config.database}.{config.curated_table}")


def current_snapshot_of(spark: SparkSession, identifier: str) -> int | None:
    """A table's current snapshot id (None for a table without one)."""
    rows = (
        spark.sql(f"SELECT snapshot_id FROM {quote(identifier)}.history WHERE is_current_ancestor")
        .orderBy(F.col("made_current_at").desc())
        .limit(1)
        .collect()
    )
    return rows[0]["snapshot_id"] if rows else None


def partition_transforms(config: EtlConfig) -> list:
    out = []
    for field in config.iceberg.partition_spec:
        if field.transform == "month":
            out.append(F.months(col(field.column)))
        else:
            out.append(col(field.column))
    return out


def create_table(spark: SparkSession, config: EtlConfig, rows: DataFrame) -> None:
    """Creates the curated table with ``rows`` as its first snapshot (one commit: create and
    data together). Fails if the table exists (another writer created it meanwhile)."""
    writer = rows.writeTo(config.curated_identifier).using("iceberg")
    writer = writer.tableProperty("location", config.iceberg.location)
    for key, value in sorted(config.iceberg.table_properties.items()):
        writer = writer.tableProperty(key, value)
    writer.partitionedBy(*partition_transforms(config)).create()


def table_schema(spark: SparkSession, config: EtlConfig) -> dict[str, str]:
    """Column name -> Spark SQL type of the curated table."""
    return {f.name: f.dataType.simpleString() for f in spark.table(config.curated_identifier).schema.fields}


def add_columns(spark: SparkSession, config: EtlConfig, columns: list[tuple[str, str]]) -> None:
    """Schema evolution: adds columns (name, Spark SQL type) at the end. A metadata-only
    change: no data file is touched and the current snapshot's rows read the new columns as null."""
    if not columns:
        return
    ddl = ", ".join(f"`{name.replace('`', '``')}` {kind}" for name, kind in columns)
    spark.sql(f"ALTER TABLE {config.curated_identifier} ADD COLUMNS ({ddl})")


def identity_condition(config: EtlConfig, has_sheet: bool, left: str = "t", right: str = "s") -> str:
    """A curated row's identity: partition, source file, (sheet,) row number of the file."""
    parts = [config.partition_column, INGEST_SOURCE_ID, INGEST_ROW_NUMBER]
    clauses = [f"{left}.`{p}` = {right}.`{p}`" for p in parts]
    if has_sheet:
        clauses.append(f"{left}.`{SHEET_COLUMN}` <=> {right}.`{SHEET_COLUMN}`")
    return " AND ".join(clauses)


def commit(
    spark: SparkSession,
    config: EtlConfig,
    inserts: DataFrame,
    deletes: DataFrame | None,
    has_sheet: bool,
    view: str,
) -> None:
    """The run's one commit: ``inserts`` appended and ``deletes`` (rows matched by identity)
    removed in the same snapshot. Without deletes it is an append (no scan of the table)."""
    columns = inserts.columns
    if deletes is None:
        inserts.writeTo(config.curated_identifier).append()
        return
    op = "_curate_op"
    source = inserts.withColumn(op, F.lit("insert")).unionByName(
        deletes.select(*[col(c) for c in deletes.columns if c in columns]).withColumn(op, F.lit("delete")),
        allowMissingColumns=True,
    )
    source.createOrReplaceTempView(view)
    names = ", ".join(f"`{c.replace('`', '``')}`" for c in columns)
    values = ", ".join(f"s.`{c.replace('`', '``')}`" for c in columns)
    spark.sql(
        f"MERGE INTO {config.curated_identifier} t USING `{view}` s "
        f"ON {identity_condition(config, has_sheet)} "
        f"WHEN MATCHED AND s.`{op}` = 'delete' THEN DELETE "
        f"WHEN NOT MATCHED AND s.`{op}` = 'insert' THEN INSERT ({names}) VALUES ({values})"
    )
    spark.catalog.dropTempView(view)


def replace_partition_rows(
    spark: SparkSession, config: EtlConfig, source: DataFrame, value: str, has_sheet: bool, view: str
) -> None:
    """A reprocessing run's one commit: ``source`` rows carry ``_curate_op`` 'insert', 'update'
    (the row of the same identity gets every column's new value) or 'delete' (matched by identity),
    all in partition ``value``. One ``MERGE INTO``: one snapshot, or nothing when it fails (Iceberg,
    "Spark Writes": MERGE INTO rewrites or deletes the matched rows and inserts the others in one
    commit). The target is restricted to the partition in the ON clause, so only its files are
    scanned; each target row matches at most one source row (identities are unique)."""
    op = "_curate_op"
    columns = [c for c in source.columns if c != op]
    source.createOrReplaceTempView(view)
    quoted = [f"`{c.replace('`', '``')}`" for c in columns]
    names = ", ".join(quoted)
    values = ", ".join(f"s.{c}" for c in quoted)
    sets = ", ".join(f"t.{c} = s.{c}" for c in quoted)
    pc = config.partition_column.replace("`", "``")
    literal = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    try:
        spark.sql(
            f"MERGE INTO {config.curated_identifier} t USING `{view}` s "
            f"ON {identity_condition(config, has_sheet)} AND t.`{pc}` = {literal} "
            f"WHEN MATCHED AND s.`{op}` = 'delete' THEN DELETE "
            f"WHEN MATCHED AND s.`{op}` = 'update' THEN UPDATE SET {sets} "
            f"WHEN NOT MATCHED AND s.`{op}` = 'insert' THEN INSERT ({names}) VALUES ({values})"
        )
    finally:
        spark.catalog.dropTempView(view)


def maintain(spark: SparkSession, config: EtlConfig, now: datetime, partitions: list[str]) -> dict:
    """Table maintenance after a run: expires snapshots older than the retention (keeping the
    last ``retainLastSnapshots``), then compacts the touched partitions: once at least
    ``compactionMinInputFiles`` files are smaller than the target size, or a file has 30% or more
    of its rows deleted (Iceberg's ``delete-ratio-threshold`` default), they are rewritten.
    Each procedure commits its own snapshot that changes no row."""
    ice = config.iceberg
    identifier = f"{config.database}.{config.curated_table}"
    catalog = f"`{ice.catalog}`"
    done: dict = {}
    if partitions:
        # Two levels of quoting: the filter is a Spark expression (its literals escaped as the
        # run's push-down predicate escapes them), passed as a SQL string literal (backslash and
        # double quote escaped). Quote doubling ('it''s') would read as "its".
        where = layout.partition_predicate(config.partition_column, partitions)
        quoted = where.replace("\\", "\\\\").replace('"', '\\"')
        rows = spark.sql(
            f"CALL {catalog}.system.rewrite_data_files(table => '{identifier}', where => \"{quoted}\", "
            f"options => map('min-input-files', '{ice.compaction_min_input_files}', "
            f"'target-file-size-bytes', '{ice.target_file_size_bytes}'))"
        ).collect()
        done["rewrittenDataFiles"] = rows[0]["rewritten_data_files_count"] if rows else 0
        done["addedDataFiles"] = rows[0]["added_data_files_count"] if rows else 0
    cutoff = (now - timedelta(days=ice.snapshot_retention_days)).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    if not _expirable(spark, config, cutoff):
        done["deletedDataFiles"] = 0
        done["deletedManifestFiles"] = 0
        return done
    rows = spark.sql(
        f"CALL {catalog}.system.expire_snapshots(table => '{identifier}', "
        f"older_than => TIMESTAMP '{cutoff}', retain_last => {ice.retain_last_snapshots})"
    ).collect()
    if rows:
        done["deletedDataFiles"] = rows[0]["deleted_data_files_count"]
        done["deletedManifestFiles"] = rows[0]["deleted_manifest_files_count"]
    return done


def _expirable(spark: SparkSession, config: EtlConfig, cutoff: str) -> bool:
    """Whether ``expire_snapshots`` would remove a snapshot: one older than the cutoff that is not
    among the ``retainLastSnapshots`` newest (the table's history is linear: every commit and
    maintenance snapshot is an ancestor of the current one). Read from the table metadata alone;
    the procedure itself also plans which files became unreachable, which costs about a second
    even when nothing expires, so it runs only when something does."""
    identifier = quote(f"{config.iceberg.catalog}.{config.database}.{config.curated_table}")
    retain = config.iceberg.retain_last_snapshots
    row = spark.sql(
        f"SELECT count_if(position > {retain} AND committed_at < TIMESTAMP '{cutoff}') AS n FROM "
        f"(SELECT committed_at, row_number() OVER (ORDER BY committed_at DESC) AS position "
        f"FROM {identifier}.snapshots)"
    ).collect()[0]
    return bool(row["n"])
