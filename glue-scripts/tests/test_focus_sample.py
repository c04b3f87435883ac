"""The FOCUS 1.0 sample end to end through the job, with the shipped cloud_billing config and
the account hierarchy dimension: exact totals, partitions, the broadcast join."""

from __future__ import annotations

import csv
import hashlib
import logging
import re
from decimal import Decimal

import pytest
from localaws import REPO, typescript_config

from pipeline_etl import iceberg
from pipeline_etl.config import EtlConfig
from pipeline_etl.decimals import format_decimal

SAMPLE = REPO / "samples" / "cloud_billing" / "focus_sample.csv"
HIERARCHY = REPO / "data" / "dimensions" / "account_hierarchy.csv"
MEASURES = {
    "billed_cost",
    "effective_cost",
    "list_cost",
    "contracted_cost",
    "consumed_quantity",
    "pricing_quantity",
}
TIMESTAMPS = {"billing_period_start", "billing_period_end", "charge_period_start", "charge_period_end"}
SOURCE_KEY = "cloud_billing/focus_sample.csv"


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def normalize_row(raw: dict[str, str]) -> dict[str, str | None]:
    """What the normalizer makes of one FOCUS row: canonical names, NULL -> null, canonical
    decimals for measures, ISO-8601 UTC timestamps."""
    row: dict[str, str | None] = {}
    for header, value in raw.items():
        name = snake(header)
        if value.strip() in ("", "NULL"):
            row[name] = None
        elif name in MEASURES:
            row[name] = format_decimal(Decimal(value))
        elif name in TIMESTAMPS:
            row[name] = value.replace(" ", "T") + "Z"
        else:
            row[name] = value
    return row


@pytest.fixture
def focus(world):
    """The sample as normalized objects (one per billing period) and the shipped config."""
    config = typescript_config(
        "cloud_billing",
        world.curated_bucket,
        world.control_bucket,
    )
    # The shipped config joins the account_hierarchy dimension dataset's Iceberg table; here the
    # same rows come from its seed CSV (a path dimension, read whole), so the test needs no
    # second dataset loaded first (test_job.py covers the table dimension).
    path = world.put_dimension("account_hierarchy", HIERARCHY.read_text())
    config["dimensions"] = [
        {k: v for k, v in d.items() if k != "table"} | {"path": path} for d in config["dimensions"]
    ]
    config["database"] = world.database
    config["quarantineBucket"] = world.quarantine_bucket
    with SAMPLE.open(newline="", encoding="utf-8") as handle:
        rows = [normalize_row(r) for r in csv.DictReader(handle)]
    by_period: dict[str, list[dict]] = {}
    for row in rows:
        by_period.setdefault(row["billing_period_start"][:7], []).append(row)
    source_id = hashlib.sha256(f"{SOURCE_KEY}\nnull".encode()).hexdigest()[:32]
    keys = [
        world.write_normalized(config, period, source_id, part, source_key=SOURCE_KEY, template="focus")
        for period, part in sorted(by_period.items())
    ]
    return config, source_id, keys, {p: len(r) for p, r in by_period.items()}


def test_the_focus_sample_goes_through_the_job_with_exact_totals(world, run_job, focus, caplog, spark):
    config, source_id, keys, counts = focus
    assert counts == {"2024-09": 999, "2024-10": 1}

    with caplog.at_level(logging.DEBUG, logger="pipeline_etl"):
        report, _ = run_job(config)

    rows = world.curated_rows(config)
    assert len(rows) == 1000
    assert sum((r["billed_cost"] for r in rows), Decimal(0)) == Decimal("20.52022672899")
    assert {p: sum(1 for r in rows if r["billing_period"] == p) for p in counts} == counts
    # The dimension is joined onto every row (each SubAccountId is in the hierarchy).
    assert all(r["org_unit"] and r["cost_center"] and r["owner_email"] for r in rows)
    assert "BroadcastHashJoin" in "\n".join(m for m in caplog.messages if m.startswith("merge plan"))

    (source,) = report["sources"]
    assert source["sourceId"] == source_id and source["sourceKey"] == SOURCE_KEY
    assert source["normalizedKeys"] == sorted(keys)
    assert (source["rowsRead"], source["rowsWritten"], source["duplicateRows"]) == (1000, 1000, 0)
    assert source["measures"]["billed_cost"] == "20.52022672899"
    assert {p["value"]: p["rowsAdded"] for p in report["partitionsWritten"]} == counts
    assert report["snapshotId"] is not None and report["restatements"] == [] and report["conflicts"] == []
    markers = [world.json(f"etl/processed/{k}.json") for k in keys]
    total = sum((Decimal(m["measures"]["billed_cost"]) for m in markers), Decimal(0))
    assert total == Decimal("20.52022672899")

    columns = iceberg.table_schema(spark, EtlConfig.from_dict(config))
    assert columns["billed_cost"] == "decimal(38,18)"
    assert columns["charge_period_start"] == "timestamp"
    assert columns["tags"] == "string"  # not declared: kept as a string
    assert columns["org_unit"] == "string"
    # Partitioned by the month of the billing period's start (an Iceberg transform), two months.
    partitions = spark.sql(
        f"SELECT partition FROM {EtlConfig.from_dict(config).curated_identifier}.partitions"
    )
    assert [f.name for f in partitions.schema["partition"].dataType.fields] == ["billing_period_start_month"]
    assert partitions.count() == 2


def test_the_same_sample_again_changes_nothing(world, run_job, focus):
    config, _, keys, _ = focus
    run_job(config)
    first = world.curated_rows(config)
    # The same objects written again (same bytes, later LastModified): their processed markers
    # stand, so they are not merged again.
    for key in keys:
        body = world.s3.get_object(Bucket=world.normalized_bucket, Key=key)["Body"].read()
        world.s3.put_object(Bucket=world.normalized_bucket, Key=key, Body=body)
    assert run_job(config)[0]["filesRead"] == 0
    # Their markers removed (as a replay would), they are read again and replace their own rows
    # instead of adding to them.
    for key in keys:
        world.s3.delete_object(Bucket=world.control_bucket, Key=f"etl/processed/{key}.json")

    report, _ = run_job(config)

    assert report["filesRead"] == 2
    rows = world.curated_rows(config)
    assert len(rows) == 1000
    assert sum((r["billed_cost"] for r in rows), Decimal(0)) == Decimal("20.52022672899")
    assert sorted((r["id"], str(r["charge_period_start"])) for r in rows) == sorted(
        (r["id"], str(r["charge_period_start"])) for r in first
    )
