"""Glue I/O of the curate job: catalog and S3 reads and writes (functions taking the GlueContext
or boto3 clients). Everything here is the same on AWS Glue and on the local stand-in."""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipeline_etl import layout
from pipeline_etl.config import Dimension, EtlConfig

log = logging.getLogger("pipeline_etl")

CONTROL_WRITERS = 16


@dataclass(frozen=True)
class Clients:
    s3: Any
    glue: Any


# --- which normalized objects a run reads (boto3) -------------------------------------------


@dataclass(frozen=True)
class NormalizedObject:
    """A normalized object of one partition, as listed."""

    bucket: str
    key: str
    partition_value: str
    last_modified: datetime

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class Selection:
    """What a run reads: the oldest unprocessed objects, at most the cap, and how many wait."""

    objects: list[NormalizedObject]
    unprocessed: int
    partitions: int

    @property
    def left(self) -> int:
        return self.unprocessed - len(self.objects)


def select_unprocessed(
    clients: Clients, config: EtlConfig, predicate: str, bounded_files: int | None, *, every: bool = False
) -> Selection:
    """The normalized objects this run merges, decided by the project's processed markers, not by
    Glue job bookmarks (docs/etl.md, "Bookmarks and the file cap").

    Lists the source table's partitions matching ``predicate`` (a catalog expression, as
    ``catalogPartitionPredicate``; '' = every partition), then in each the normalized objects
    and the processed markers below the same prefix: an object without a marker is
    unprocessed, whenever it was written and whatever earlier runs read. The oldest
    (LastModified, then key) ``bounded_files`` of them are this run's input.

    ``every`` (reprocessing a partition): every normalized object of the matching partitions,
    with or without a marker; ``bounded_files`` None: no cap.
    """
    params = {"DatabaseName": config.database, "TableName": config.source_table}
    if predicate:
        params["Expression"] = predicate
    pages = clients.glue.get_paginator("get_partitions").paginate(**params)
    partitions = [p for page in pages for p in page["Partitions"]]

    def pending(partition: dict) -> list[NormalizedObject]:
        bucket, prefix = split_s3_url(partition["StorageDescriptor"]["Location"])
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        objects = [
            NormalizedObject(bucket, key, partition["Values"][0], modified)
            for key, modified in list_objects(clients.s3, bucket, prefix)
            if key.endswith(layout.NORMALIZED_EXTENSION) and not key.rsplit("/", 1)[-1].startswith(("_", "."))
        ]
        if not objects or every:
            return objects
        marker_prefix = config.control_prefixes.processed + prefix
        markers = set(list_keys(clients.s3, config.control_bucket, marker_prefix))
        return [o for o in objects if layout.processed_marker_key(config, o.key) not in markers]

    with ThreadPoolExecutor(CONTROL_WRITERS) as pool:
        waiting = [o for found in pool.map(pending, partitions) for o in found]
    waiting.sort(key=lambda o: (o.last_modified, o.url))
    chosen = waiting if bounded_files is None else waiting[:bounded_files]
    return Selection(chosen, len(waiting), len(partitions))


# --- Spark sources and sinks (GlueContext) --------------------------------------------------


def read_normalized(glue_context, config: EtlConfig, selection: Selection) -> DataFrame | None:
    """The rows of the selected normalized objects (None when there are none).

    One S3 read per partition value, of exactly its selected objects (JSON Lines, gzip), with
    the partition column added from the catalog's value (it lives in the path, not in the
    rows). Deliberately without ``transformation_ctx``: the selection is made by markers, and a
    bookmark could hide a selected object that its modification-time marks call old.
    """
    by_value: dict[str, list[str]] = {}
    for obj in selection.objects:
        by_value.setdefault(obj.partition_value, []).append(obj.url)
    frames = []
    for value, urls in by_value.items():
        frame = glue_context.create_dynamic_frame.from_options(
            connection_type="s3",
            connection_options={"paths": urls},
            format="json",
        )
        frames.append(frame.toDF().withColumn(config.partition_column, F.lit(value)))
    if not frames:
        return None
    return reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)


class DimensionMissingError(LookupError):
    """A dimension table the dataset joins has not been loaded yet."""


def read_dimension(glue_context, config: EtlConfig, dimension: Dimension) -> tuple[DataFrame, str | None]:
    """A dimension, read whole every run, and the snapshot id read (None for a CSV).

    A dimension dataset's curated table is read at its current snapshot (the version the run
    joins; the run report names it). A CSV (header row, all strings) is read without
    ``transformation_ctx``: a bookmarked dimension would be empty on every run after the first.
    """
    if dimension.table is not None:
        from pipeline_etl import iceberg

        spark = glue_context.spark_session
        identifier = f"{config.iceberg.catalog}.{config.database}.{dimension.table}"
        if not spark.catalog.tableExists(identifier):
            raise DimensionMissingError(
                f"dimension {dimension.name}: table {config.database}.{dimension.table} does not exist yet;"
                f" drop its file under the {dimension.table} landing prefix (the stack seeds it on deploy)"
            )
        snapshot = iceberg.current_snapshot_of(spark, identifier)
        frame = spark.sql(
            f"SELECT * FROM {iceberg.quote(identifier)}"
            + (f" VERSION AS OF {snapshot}" if snapshot is not None else "")
        )
        keep = [*dimension.join_keys.values(), *dimension.columns]
        return frame.select(*[F.col(f"`{c}`").cast("string").alias(c) for c in dict.fromkeys(keep)]), (
            None if snapshot is None else str(snapshot)
        )
    frame = glue_context.create_dynamic_frame.from_options(
        connection_type="s3",
        connection_options={"paths": [dimension.path]},
        format="csv",
        format_options={"withHeader": True},
    )
    return frame.toDF(), None


def write_json_lines(glue_context, df: DataFrame, location: str) -> None:
    """Writes rows as gzip JSON Lines below an S3 folder (quarantined rows)."""
    from awsglue.dynamicframe import DynamicFrame  # the Glue runtime's (or the local stand-in's)

    glue_context.write_dynamic_frame.from_options(
        frame=DynamicFrame.fromDF(df, glue_context, "rejected"),
        connection_type="s3",
        connection_options={"path": location},
        format="json",
        format_options={"compression": "gzip"},
    )


# --- Data Catalog (boto3) -------------------------------------------------------------------


def get_table(glue, database: str, name: str) -> dict | None:
    try:
        return glue.get_table(DatabaseName=database, Name=name)["Table"]
    except glue.exceptions.EntityNotFoundException:
        return None


def table_columns(table: dict) -> list[dict]:
    return list(table.get("StorageDescriptor", {}).get("Columns", []))


# --- S3 objects (boto3) ---------------------------------------------------------------------


def split_s3_url(url: str) -> tuple[str, str]:
    rest = url.split("://", 1)[1]
    bucket, _, key = rest.partition("/")
    return bucket, key


def put_json(s3, bucket: str, key: str, document: Any) -> None:
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(document, indent=2).encode(),
        ContentType="application/json",
    )


def put_json_many(s3, bucket: str, documents: dict[str, Any]) -> None:
    with ThreadPoolExecutor(CONTROL_WRITERS) as pool:
        for future in [pool.submit(put_json, s3, bucket, k, d) for k, d in documents.items()]:
            future.result()


def get_json(s3, bucket: str, key: str) -> Any | None:
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def list_objects(s3, bucket: str, prefix: str) -> list[tuple[str, datetime]]:
    """(key, LastModified) of every object below a prefix."""
    found: list[tuple[str, datetime]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found.extend((item["Key"], item["LastModified"]) for item in page.get("Contents", []))
    return found


def list_keys(s3, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys
