"""Pure transforms of pipeline_etl (local Spark, no emulator)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from localaws import LINEAGE
from pyspark.sql.types import DecimalType, LongType, StringType, TimestampType

from pipeline_etl import transforms
from pipeline_etl.config import EtlConfig


def _config(**overrides) -> EtlConfig:
    raw = {
        "dataset": "sales",
        "database": "db",
        "sourceTable": "normalized_sales",
        "curatedTable": "sales",
        "curatedBucket": "cur",
        "curatedPrefix": "sales/",
        "controlBucket": "ctl",
        "partitionColumn": "period",
        "keys": ["id"],
        "measures": [{"name": "amount", "precision": 38, "scale": 11}],
        "columns": [
            {"name": "amount", "type": "decimal", "precision": 38, "scale": 11},
            {"name": "day", "type": "date"},
            {"name": "at", "type": "timestamp"},
            {"name": "qty", "type": "integer"},
            {"name": "ok", "type": "boolean"},
        ],
        "lineageColumns": list(LINEAGE),
        "dimensions": [],
        "crossTemplateRules": [],
        "controlPrefixes": {
            "runs": "r/",
            "processed": "p/",
            "aggregates": "a/",
            "files": "f/",
            "requests": "q/",
        },
        "restatement": {"replacementScope": [], "conflictPolicy": "latest", "keyScope": "partition"},
        "quarantineBucket": "q",
        "quarantinePrefixes": {"conflicts": "rows/sales/conflicts/"},
        "iceberg": {
            "catalog": "glue_catalog",
            "location": "s3://cur/sales",
            "partitionSpec": [{"transform": "identity", "column": "period"}],
            "tableProperties": {"format-version": "2"},
            "snapshotRetentionDays": 7,
            "retainLastSnapshots": 10,
            "compactionMinInputFiles": 10,
            "targetFileSizeBytes": 134217728,
        },
        "compliance": [],
        "approval": None,
    }
    raw.update(overrides)
    return EtlConfig.from_dict(raw)


def test_target_types_follow_the_config_and_keep_unknown_columns_as_strings():
    types = transforms.target_types(
        _config(),
        ["amount", "day", "at", "qty", "ok", "note", "ingest_time", "ingest_row_number", "ingest_source_id"],
    )
    assert types["amount"] == DecimalType(38, 11)
    assert types["day"].simpleString() == "date"
    assert types["at"] == TimestampType()
    assert types["qty"] == LongType()
    assert types["ok"].simpleString() == "boolean"
    assert types["note"] == StringType()
    assert types["ingest_time"] == TimestampType()
    assert types["ingest_row_number"] == LongType()
    assert types["ingest_source_id"] == StringType()


def test_cast_columns_keeps_decimals_exact_and_parses_iso_timestamps(spark):
    df = spark.createDataFrame(
        [("0.00000080000", "2024-09-01T00:00:00Z", "2024-09-30", "12", "true", "x")],
        "amount string, at string, day string, qty string, ok string, note string",
    )
    types = transforms.target_types(_config(), df.columns)
    row = transforms.cast_columns(df, types).collect()[0]
    assert row["amount"] == Decimal("0.00000080000")
    assert row["at"] == datetime(2024, 9, 1, tzinfo=UTC).replace(tzinfo=None)
    assert str(row["day"]) == "2024-09-30"
    assert row["qty"] == 12
    assert row["ok"] is True
    assert row["note"] == "x"
    assert transforms.cast_columns(df, types).columns == df.columns


def test_cast_failure_counts_counts_values_that_would_become_null(spark):
    df = spark.createDataFrame(
        [
            ("1.5", "2024-09-01T00:00:00Z"),
            ("abc", "not a time"),
            (None, None),
            ("1" + "0" * 30, "2024-09-01"),
        ],
        "amount string, at string",
    )
    types = transforms.target_types(_config(), df.columns)
    counts = df.agg(transforms.cast_failure_counts(df, types).alias("f")).collect()[0]["f"]
    # "abc" and a 31-digit value (does not fit decimal(38,11)) fail; nulls are not failures.
    assert counts.asDict() == {"amount": 2, "at": 1}


def test_with_columns_adds_missing_catalog_columns_as_null_strings(spark):
    df = spark.createDataFrame([("1",)], "id string")
    out = transforms.with_columns(df, ["id", "late_column"])
    assert out.columns == ["id", "late_column"]
    assert out.schema["late_column"].dataType == StringType()
    assert out.collect()[0]["late_column"] is None


def _rows(spark, rows):
    schema = "id string, amount int, ingest_time string, ingest_source_id string, ingest_row_number int, "
    schema += "_curate_new int"
    df = spark.createDataFrame(rows, schema)
    return df.withColumn("ingest_time", df["ingest_time"].cast("timestamp"))


def test_join_dimension_is_a_broadcast_left_join(spark):
    facts = spark.createDataFrame(
        [("1", "acct-1", "Platform?"), ("2", "acct-2", None), ("3", "unknown", None)],
        "id string, sub_account_id string, cost_center string",
    )
    dim = spark.createDataFrame(
        [("acct-1", "Platform", "CC-1"), ("acct-2", "Data", "CC-2")],
        "sub_account_id string, org_unit string, cost_center string",
    )
    joined = transforms.join_dimension(
        facts, dim, {"sub_account_id": "sub_account_id"}, ["org_unit", "cost_center"]
    )
    plan = joined._jdf.queryExecution().executedPlan().toString()
    assert "BroadcastHashJoin" in plan
    rows = {r["id"]: r.asDict() for r in joined.collect()}
    assert len(rows) == 3
    assert rows["1"]["org_unit"] == "Platform"
    assert rows["2"]["org_unit"] == "Data"
    assert rows["3"]["org_unit"] is None  # unmatched facts are kept
    assert rows["1"]["cost_center"] == "Platform?"  # a column the facts have is not replaced
    assert joined.columns == ["id", "sub_account_id", "cost_center", "org_unit"]


def test_join_dimension_names_missing_columns(spark):
    facts = spark.createDataFrame([("1", "a")], "id string, k string")
    dim = spark.createDataFrame([("a", "x")], "k string, v string")
    with pytest.raises(ValueError, match="dimension has no column"):
        transforms.join_dimension(facts, dim, {"k": "k"}, ["w"])


def test_order_columns_puts_known_columns_first(spark):
    df = spark.createDataFrame([("1", "2", "3")], "c string, a string, b string")
    assert transforms.order_columns(df, ["a", "missing", "b"]).columns == ["a", "b", "c"]
