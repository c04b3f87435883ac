"""The layout vectors shared with test/contracts/vectors.test.ts (lib/contracts/vectors/layout.json):
the job's keys, partition escaping and predicate against the same cases as the TypeScript side.
No Spark and no emulator: the keys take their prefixes from the job config the stack builds."""

from __future__ import annotations

import json
from functools import cache

import pytest
from localaws import REPO, typescript_config

from pipeline_etl import layout
from pipeline_etl.config import EtlConfig
from pipeline_etl.lineage import LINEAGE_COLUMNS

VECTORS = json.loads((REPO / "lib" / "contracts" / "vectors" / "layout.json").read_text(encoding="utf-8"))


@cache
def shipped_config(dataset: str) -> EtlConfig:
    """The dataset's ``--dataset_config`` as the stack ships it: the prefixes the keys are built on."""
    return EtlConfig.from_dict(typescript_config(dataset, "curated-bucket", "control-bucket"))


def cases(function: str) -> list:
    """One pytest param per vector, with the vector's name as its id."""
    return [pytest.param(case, id=case["name"]) for case in VECTORS[function]]


@pytest.mark.parametrize(
    "function",
    [
        "encodePartitionValue",
        "normalizedObjectKey",
        "processedMarkerKey",
        "etlRunReportKey",
        "aggregatesKey",
        "partitionPredicate",
    ],
)
def test_every_function_has_cases(function):
    assert len(VECTORS[function]) > 0


@pytest.mark.parametrize("case", cases("encodePartitionValue"))
def test_encode_partition_value(case):
    assert layout.encode_partition_value(case["value"]) == case["expected"], case["name"]


@pytest.mark.parametrize("case", cases("normalizedObjectKey"))
def test_normalized_object_key(case):
    actual = layout.normalized_object_key(
        case["dataset"], case["partitionColumn"], case["value"], case["sourceId"]
    )
    assert actual == case["expected"], case["name"]


@pytest.mark.parametrize("case", cases("processedMarkerKey"))
def test_processed_marker_key(case):
    config = shipped_config(case["dataset"])
    assert layout.processed_marker_key(config, case["normalizedKey"]) == case["expected"], case["name"]


@pytest.mark.parametrize("case", cases("etlRunReportKey"))
def test_run_report_key(case):
    config = shipped_config(case["dataset"])
    assert layout.run_report_key(config, case["runId"]) == case["expected"], case["name"]


@pytest.mark.parametrize("case", cases("aggregatesKey"))
def test_aggregates_key(case):
    config = shipped_config(case["dataset"])
    assert layout.aggregates_key(config, case["partitionValue"]) == case["expected"], case["name"]


@pytest.mark.parametrize("case", cases("partitionPredicate"))
def test_partition_predicate(case):
    assert layout.partition_predicate(case["column"], case["values"]) == case["expected"], case["name"]


@pytest.mark.parametrize("dataset", ["cloud_billing", "workforce_capacity", "account_hierarchy"])
def test_lineage_columns_are_the_ones_the_stack_ships(dataset):
    # lib/contracts/lineage.ts is the source; the job's own tuple must name the same columns in order.
    assert shipped_config(dataset).lineage_columns == LINEAGE_COLUMNS
