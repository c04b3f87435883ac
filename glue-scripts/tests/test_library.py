"""Config parsing, layout keys and decimal formatting (no Spark)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from localaws import typescript_config

from pipeline_etl import layout
from pipeline_etl.config import ConfigError, EtlConfig
from pipeline_etl.decimals import add_decimal_strings, format_decimal


@pytest.mark.parametrize("dataset", ["cloud_billing", "workforce_capacity"])
def test_the_config_the_stack_ships_parses(dataset):
    raw = typescript_config(
        dataset, "curated-bucket", "control-bucket", account_hierarchy="s3://assets/a.csv"
    )
    config = EtlConfig.from_dict(raw)
    assert config.dataset == dataset
    assert config.source_table == f"normalized_{dataset}"
    assert config.control_prefixes.processed == "etl/processed/"
    assert all(m.scale <= m.precision for m in config.measures)


def test_cloud_billing_measures_hold_focus_precision():
    config = EtlConfig.from_dict(
        typescript_config("cloud_billing", "c", "k", account_hierarchy="s3://a/b.csv")
    )
    assert {m.name: (m.precision, m.scale) for m in config.measures}["billed_cost"] == (38, 18)
    assert config.dimensions[0].join_keys == {"sub_account_id": "sub_account_id"}


def test_a_bad_config_names_the_field():
    raw = typescript_config("workforce_capacity", "c", "k")
    raw["measures"][1]["scale"] = "six"
    with pytest.raises(ConfigError, match=r"measures\[1\]\.scale"):
        EtlConfig.from_dict(raw)
    del raw["controlPrefixes"]["files"]
    with pytest.raises(ConfigError, match=r"controlPrefixes\.files is missing"):
        EtlConfig.from_dict({**raw, "measures": []})
    raw = typescript_config("workforce_capacity", "c", "k")
    raw["restatement"]["conflictPolicy"] = "newest"
    with pytest.raises(ConfigError, match=r"restatement\.conflictPolicy must be one of latest, reject, keep"):
        EtlConfig.from_dict(raw)
    raw = typescript_config("account_hierarchy", "c", "k")
    assert EtlConfig.from_dict(raw).restatement.key_scope == "table"
    raw["restatement"]["keyScope"] = "file"
    with pytest.raises(ConfigError, match=r"restatement\.keyScope must be one of partition, table"):
        EtlConfig.from_dict(raw)
    raw = typescript_config("workforce_capacity", "c", "k")
    raw["iceberg"]["partitionSpec"] = [{"transform": "bucket", "column": "quarter"}]
    with pytest.raises(
        ConfigError, match=r"iceberg\.partitionSpec: transform must be one of month, identity"
    ):
        EtlConfig.from_dict(raw)
    with pytest.raises(ConfigError, match="not JSON"):
        EtlConfig.from_json("{")


def test_partition_values_are_escaped_as_layout_ts_does():
    assert layout.encode_partition_value("2024-09") == "2024-09"
    assert layout.encode_partition_value("a/b=c%d#e?f\\g") == "a%2Fb%3Dc%25d%23e%3Ff%5Cg"
    assert layout.encode_partition_value("tab\there\x7f") == "tab%09here%7F"
    assert layout.encode_partition_value("Q1 2025: 'x'") == "Q1 2025: 'x'"


def test_keys_follow_the_layout_contract():
    config = EtlConfig.from_dict(
        typescript_config("cloud_billing", "cur", "ctl", account_hierarchy="s3://a/b.csv")
    )
    key = layout.normalized_object_key("cloud_billing", "billing_period", "2024-09", "abc")
    assert key == "cloud_billing/billing_period=2024-09/abc.jsonl.gz"
    assert (
        layout.processed_marker_key(config, key)
        == "etl/processed/cloud_billing/billing_period=2024-09/abc.jsonl.gz.json"
    )
    assert layout.run_report_key(config, "jr_1") == "etl/runs/cloud_billing/jr_1.json"
    assert layout.aggregates_key(config, "2024/09") == "etl/aggregates/cloud_billing/2024%2F09.json"
    assert config.control_prefixes.files == "etl/files/cloud_billing/"
    assert config.conflicts_prefix == "rows/cloud_billing/conflicts/"
    assert config.iceberg.location == "s3://cur/cloud_billing"
    assert config.curated_identifier == "`glue_catalog`.`ingest_local`.`cloud_billing`"


def test_partition_predicate_quotes_like_the_reconciler():
    assert layout.partition_predicate("p", []) == ""
    assert layout.partition_predicate("p", ["2024-09", "it's"]) == "p in ('2024-09', 'it\\'s')"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("20.520226728990000000"), "20.52022672899"),
        (Decimal("1E+1"), "10"),
        (Decimal("-0.000"), "0"),
        (Decimal("0.00000080000"), "0.0000008"),
        (None, "0"),
        (Decimal("-12.50"), "-12.5"),
    ],
)
def test_decimals_are_plain_strings_without_trailing_zeros(value, text):
    assert format_decimal(value) == text


def test_decimal_strings_add_exactly():
    assert add_decimal_strings("0.1", "0.2", "-0.3") == "0"
    assert add_decimal_strings("20.52022672899", "0.00000000001") == "20.520226729"
