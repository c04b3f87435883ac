"""Glue I/O of the curate job: catalog and S3 reads and writes (functions taking the GlueContext
or boto3 clients). Everything here is the same on AWS Glue and on the local stand-in."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame

from pipeline_etl.config import Dimension, EtlConfig
from pipeline_etl.layout import partition_predicate

log = logging.getLogger("pipeline_etl")

#: The normalized source's bookmark key: renaming it makes the next run re-read everything.
NORMALIZED_SOURCE_CTX = "normalized_source"

PARQUET_STORAGE = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "Parameters": {"serialization.format": "1"},
    },
}
_TABLE_INPUT_FIELDS = (
    "Name",
    "Description",
    "Owner",
    "Retention",
    "StorageDescriptor",
    "PartitionKeys",
    "TableType",
    "Parameters",
)
CONTROL_WRITERS = 16


@dataclass(frozen=True)
class Clients:
    s3: Any
    glue: Any


# --- Spark sources and sinks (GlueContext) --------------------------------------------------


def read_normalized(glue_context, config: EtlConfig, predicate: str, bounded_files: int) -> DataFrame:
    """This run's new normalized rows: bookmarked (``transformation_ctx``), capped at
    ``bounded_files`` objects, only partitions matching ``predicate`` listed and read."""
    options: dict[str, str] = {"boundedFiles": str(bounded_files)}
    if predicate:
        options["catalogPartitionPredicate"] = predicate
    frame = glue_context.create_dynamic_frame.from_catalog(
        database=config.database,
        table_name=config.source_table,
        push_down_predicate=predicate,
        additional_options=options,
        transformation_ctx=NORMALIZED_SOURCE_CTX,
    )
    return frame.toDF()


def read_dimension(glue_context, dimension: Dimension) -> DataFrame:
    """A dimension CSV (header row, all strings), read whole every run.

    Deliberately without ``transformation_ctx``: a bookmarked dimension would be empty on
    every run after the first.
    """
    frame = glue_context.create_dynamic_frame.from_options(
        connection_type="s3",
        connection_options={"paths": [dimension.path]},
        format="csv",
        format_options={"withHeader": True},
    )
    return frame.toDF()


def read_curated(glue_context, config: EtlConfig, values: list[str]) -> DataFrame:
    """The committed rows of the given curated partitions, through the catalog (whatever
    location each partition points at now). Not bookmarked: the merge needs them all."""
    predicate = partition_predicate(config.partition_column, values)
    frame = glue_context.create_dynamic_frame.from_catalog(
        database=config.database,
        table_name=config.curated_table,
        push_down_predicate=predicate,
        additional_options={"catalogPartitionPredicate": predicate},
    )
    return frame.toDF()


def write_parquet(glue_context, df: DataFrame, location: str) -> None:
    from awsglue.dynamicframe import DynamicFrame  # the Glue runtime's (or the local stand-in's)

    glue_context.write_dynamic_frame.from_options(
        frame=DynamicFrame.fromDF(df, glue_context, "curated"),
        connection_type="s3",
        connection_options={"path": location},
        format="parquet",
        format_options={"compression": "snappy"},
    )


# --- Data Catalog (boto3) -------------------------------------------------------------------


def get_table(glue, database: str, name: str) -> dict | None:
    try:
        return glue.get_table(DatabaseName=database, Name=name)["Table"]
    except glue.exceptions.EntityNotFoundException:
        return None


def table_columns(table: dict) -> list[dict]:
    return list(table.get("StorageDescriptor", {}).get("Columns", []))


def ensure_curated_table(glue, config: EtlConfig, columns: list[dict], table: dict | None) -> list[str]:
    """Creates the curated table, or appends the columns it lacks (existing columns and their
    types are kept). Returns the names of the columns added."""
    if table is None:
        glue.create_table(
            DatabaseName=config.database,
            TableInput={
                "Name": config.curated_table,
                "Description": f"Curated {config.dataset} (written by the curate job; do not edit)",
                "TableType": "EXTERNAL_TABLE",
                "Parameters": {
                    "classification": "parquet",
                    "EXTERNAL": "TRUE",
                    "parquet.compression": "SNAPPY",
                },
                "PartitionKeys": [{"Name": config.partition_column, "Type": "string"}],
                "StorageDescriptor": {
                    **PARQUET_STORAGE,
                    "Columns": columns,
                    "Location": config.curated_location,
                },
            },
        )
        return [c["Name"] for c in columns]
    known = {c["Name"] for c in table_columns(table)}
    added = [c for c in columns if c["Name"] not in known]
    if not added:
        return []
    table_input = {k: v for k, v in table.items() if k in _TABLE_INPUT_FIELDS}
    table_input["StorageDescriptor"] = {
        **table_input["StorageDescriptor"],
        "Columns": table_columns(table) + added,
    }
    glue.update_table(DatabaseName=config.database, TableInput=table_input)
    return [c["Name"] for c in added]


def partition_locations(glue, config: EtlConfig, table: str, values: Iterable[str]) -> dict[str, str]:
    """Current location of each given partition that exists (value -> S3 URL)."""
    values = list(dict.fromkeys(values))
    found: dict[str, str] = {}
    for start in range(0, len(values), 1000):
        chunk = values[start : start + 1000]
        response = glue.batch_get_partition(
            DatabaseName=config.database,
            TableName=table,
            PartitionsToGet=[{"Values": [v]} for v in chunk],
        )
        for partition in response.get("Partitions", []):
            found[partition["Values"][0]] = partition["StorageDescriptor"]["Location"]
    return found


def swap_partition(
    glue, config: EtlConfig, value: str, location: str, columns: list[dict], exists: bool
) -> None:
    """Points one curated partition at ``location`` in one catalog call (create or update)."""
    partition_input = {
        "Values": [value],
        "Parameters": {"classification": "parquet"},
        "StorageDescriptor": {**PARQUET_STORAGE, "Columns": columns, "Location": location},
    }
    if exists:
        glue.update_partition(
            DatabaseName=config.database,
            TableName=config.curated_table,
            PartitionValueList=[value],
            PartitionInput=partition_input,
        )
        return
    try:
        glue.create_partition(
            DatabaseName=config.database, TableName=config.curated_table, PartitionInput=partition_input
        )
    except glue.exceptions.AlreadyExistsException:
        glue.update_partition(
            DatabaseName=config.database,
            TableName=config.curated_table,
            PartitionValueList=[value],
            PartitionInput=partition_input,
        )


def matching_partitions(
    glue, config: EtlConfig, table: str, expression: str, limit: int
) -> list[dict] | None:
    """Partitions of a table matching a catalog expression; None when there are more than ``limit``."""
    params = {"DatabaseName": config.database, "TableName": table}
    if expression:
        params["Expression"] = expression
    found: list[dict] = []
    for page in glue.get_paginator("get_partitions").paginate(**params):
        found.extend(page.get("Partitions", []))
        if len(found) > limit:
            return None
    return found


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


def list_keys(s3, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def delete_prefix(s3, url: str) -> int:
    """Deletes every object below an S3 folder URL; returns how many."""
    bucket, prefix = split_s3_url(url)
    if not prefix.endswith("/"):
        prefix += "/"
    keys = list_keys(s3, bucket, prefix)
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})
    return len(keys)
