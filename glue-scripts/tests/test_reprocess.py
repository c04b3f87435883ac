"""Reprocessing one partition (``--reprocess_partition``; docs/etl.md, "Reprocessing one
partition"): the partition's rows recomputed from every normalized object of it with the job's
current logic and the restatement rules, one commit, other partitions untouched, control
documents consistent, and a rerun that changes nothing."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from localaws import World
from test_contract_schemas import problems

from pipeline_etl import iceberg
from pipeline_etl.config import EtlConfig
from pipeline_etl.reprocess import (
    CuratedTableMissingError,
    EmptyPartitionError,
    ReprocessArgumentError,
    reprocess_predicate,
)

T0 = "2024-10-01T00:00:00Z"
T1 = "2024-10-01T01:00:00Z"
T2 = "2024-10-01T02:00:00Z"


def _rows(pairs, **extra) -> list[dict]:
    return [{"id": str(i), "amount": str(a), **extra} for i, a in pairs]


def _table(world, config, *extra: str) -> list[tuple]:
    return sorted(
        (r["period"], r["id"], r["amount"], r["ingest_source_id"], *[r.get(e) for e in extra])
        for r in world.curated_rows(config)
    )


def _sql(config: dict, statement: str) -> None:
    """A change made behind the job's back (what a bug in an earlier version of the job left)."""
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    parsed = EtlConfig.from_dict(config)
    iceberg.configure_catalog(spark, parsed)
    spark.sql(statement.format(table=parsed.curated_identifier))


def _snapshot_ids(config: dict, *, rows_only: bool = False) -> list[int]:
    """The table's snapshots, oldest first; ``rows_only``: not the maintenance's compactions
    (``replace`` snapshots change no row)."""
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    parsed = EtlConfig.from_dict(config)
    iceberg.configure_catalog(spark, parsed)
    rows = spark.sql(
        f"SELECT snapshot_id, operation FROM {parsed.curated_identifier}.snapshots ORDER BY committed_at"
    ).collect()
    return [r[0] for r in rows if not (rows_only and r[1] == "replace")]


def _marker(world, config, value: str, source_id: str) -> dict:
    return world.json(f"etl/processed/{world.normalized_key(config, value, source_id)}.json")


def _plain_config() -> EtlConfig:
    """The tests' dataset config without an emulator (validation needs no bucket)."""
    names = SimpleNamespace(database="db", curated_bucket="c", control_bucket="k", quarantine_bucket="q")
    return EtlConfig.from_dict(World.config(names))


def _reprocess(run_job, config, value: str):
    report, _ = run_job(config, reprocess_partition=f"{config['partitionColumn']}={value}")
    return report


def test_reprocessing_restores_a_corrupted_partition_keeps_restatements_and_leaves_others_alone(
    world, run_job
):
    config = world.config(policy="latest")
    world.write_normalized(config, "2024-09", "a", _rows([(1, 1), (2, 2), (3, 3)]), landed_at=T0)
    first, _ = run_job(config)
    # b restates id 2 (a newer row with the same key) and adds id 4; c is another partition.
    world.write_normalized(config, "2024-09", "b", _rows([(2, 20), (4, 4)]), landed_at=T1)
    world.write_normalized(config, "2024-10", "c", _rows([(1, 7)]), landed_at=T1)
    second, _ = run_job(config)
    expected = [
        ("2024-09", "1", Decimal(1), "a"),
        ("2024-09", "2", Decimal(20), "b"),
        ("2024-09", "3", Decimal(3), "a"),
        ("2024-09", "4", Decimal(4), "b"),
        ("2024-10", "1", Decimal(7), "c"),
    ]
    assert _table(world, config) == expected
    october_marker = _marker(world, config, "2024-10", "c")
    # What a faulty version of the job left: a wrong value and a lost row in 2024-09, and a wrong
    # value in 2024-10 that this reprocessing must not touch.
    _sql(config, "UPDATE {table} SET amount = 999 WHERE period = '2024-09' AND id = '1'")
    _sql(config, "DELETE FROM {table} WHERE period = '2024-09' AND id = '4'")
    _sql(config, "UPDATE {table} SET amount = 70 WHERE period = '2024-10'")
    before = _snapshot_ids(config, rows_only=True)

    report = _reprocess(run_job, config, "2024-09")

    assert _table(world, config) == [*expected[:4], ("2024-10", "1", Decimal(70), "c")]
    assert _snapshot_ids(config, rows_only=True) == [*before, int(report["snapshotId"])]  # one commit
    after = _snapshot_ids(config)
    assert report["mode"] == "reprocess"
    assert report["reprocess"] == {
        "partition": "period=2024-09",
        "column": "period",
        "value": "2024-09",
        "objects": 2,
        "rowsBefore": 3,
        "rowsAfter": 4,
        "rowsInserted": 1,
        "rowsUpdated": 1,
        "rowsDeleted": 0,
        "rowsUnchanged": 2,
        "committed": True,
        "otherPartitionRowsDisplaced": 0,
    }
    assert report["partitionsWritten"] == [{"value": "2024-09", "rowsAdded": 2, "rowsDeleted": 1}]
    assert (report["filesRead"], report["capReached"], report["filesLeft"]) == (2, False, 0)
    # Superseded stays superseded: a's id 2 lost to b's, as in a fresh load.
    assert [
        (r["sourceId"], r["supersededSourceId"], r["reason"], r["rows"]) for r in report["restatements"]
    ] == [("b", "a", "key", 1)]
    a, b = _marker(world, config, "2024-09", "a"), _marker(world, config, "2024-09", "b")
    assert (a["runId"], a["snapshotId"]) == (report["runId"], report["snapshotId"])
    assert (a["rowsRead"], a["rowsWritten"], a["identicalRows"], a["supersededRows"]) == (3, 2, 1, 1)
    assert (b["rowsRead"], b["rowsWritten"], b["identicalRows"], b["supersededRows"]) == (2, 2, 1, 0)
    assert a["measures"] == {"amount": "4"} and a["supersededMeasures"] == {"amount": "2"}
    # The markers they replace are kept as origin: the first runs' reports still add up.
    assert (a["origin"]["runId"], a["origin"]["rowsWritten"]) == (first["runId"], 3)
    assert (b["origin"]["runId"], b["origin"]["rowsWritten"]) == (second["runId"], 2)
    assert _marker(world, config, "2024-10", "c") == october_marker
    assert {s["sourceId"] for s in report["sources"]} == {"a", "b"}
    # The documents follow their contracts (lib/contracts/schemas), the new fields included.
    written = world.json(f"etl/runs/sales/{report['runId']}.json")
    assert written["reprocess"] == report["reprocess"]
    assert problems("etl-run-report", written) == []
    assert problems("processed-marker", a) == [] and problems("processed-marker", b) == []
    assert problems("etl-run-report", {**written, "mode": "replay"}) != []

    again = _reprocess(run_job, config, "2024-09")

    assert _table(world, config) == [*expected[:4], ("2024-10", "1", Decimal(70), "c")]
    assert _snapshot_ids(config) == after  # nothing committed, no maintenance either
    # (the table's current snapshot is the compaction maintenance committed after the first)
    assert again["snapshotId"] is None and again["previousSnapshotId"] == str(after[-1])
    assert again["reprocess"]["committed"] is False
    assert (again["reprocess"]["rowsUnchanged"], again["reprocess"]["rowsAfter"]) == (4, 4)
    a2 = _marker(world, config, "2024-09", "a")
    assert (a2["runId"], a2["snapshotId"], a2["identicalRows"]) == (again["runId"], str(after[-1]), 2)
    assert a2["origin"] == a["origin"]  # the first run's counts are passed on, not the last run's


def test_reprocessing_applies_a_corrected_dimension_to_that_partition_only(world, run_job):
    """A logic correction: the dimension was wrong when the rows were merged."""
    path = world.put_dimension("accounts", "account,org\n1,Dta\n")
    config = world.config(
        columns=[{"name": "account", "type": "string"}],
        dimensions=[
            {"name": "accounts", "path": path, "joinKeys": {"account": "account"}, "columns": ["org"]}
        ],
    )
    world.write_normalized(config, "2024-09", "a", _rows([(1, 1), (2, 2)], account="1"), landed_at=T0)
    world.write_normalized(config, "2024-10", "b", _rows([(3, 3)], account="1"), landed_at=T0)
    run_job(config)
    world.put_dimension("accounts", "account,org\n1,Data\n")

    report = _reprocess(run_job, config, "2024-09")

    assert _table(world, config, "org") == [
        ("2024-09", "1", Decimal(1), "a", "Data"),
        ("2024-09", "2", Decimal(2), "a", "Data"),
        ("2024-10", "3", Decimal(3), "b", "Dta"),
    ]
    assert (report["reprocess"]["rowsUpdated"], report["reprocess"]["rowsUnchanged"]) == (2, 0)
    marker = _marker(world, config, "2024-09", "a")
    assert (marker["rowsWritten"], marker["identicalRows"]) == (2, 0)


def test_a_correction_of_an_object_in_another_partition_keeps_superseding_after_reprocessing(world, run_job):
    """v2 of a landing object moved every row to 2024-10: v1's rows in 2024-09 stay superseded
    (the registry of merged files knows v2), so 2024-09 is empty after the reprocessing."""
    config = world.config(policy="keep")
    key = "landing/sales.csv"
    world.write_normalized(config, "2024-09", "v1", _rows([(1, 1), (2, 2)]), source_key=key, landed_at=T0)
    run_job(config)
    world.write_normalized(config, "2024-10", "v2", _rows([(1, 1), (2, 2)]), source_key=key, landed_at=T1)
    run_job(config)
    assert [r[0] for r in _table(world, config)] == ["2024-10", "2024-10"]

    report = _reprocess(run_job, config, "2024-09")

    assert [r[0] for r in _table(world, config)] == ["2024-10", "2024-10"]
    assert report["reprocess"]["rowsAfter"] == 0 and report["reprocess"]["committed"] is False
    marker = _marker(world, config, "2024-09", "v1")
    assert (marker["rowsRead"], marker["rowsWritten"], marker["supersededRows"]) == (2, 0, 2)
    assert [(d["sourceId"], d["reason"]) for d in marker["supersededBy"]] == [("v2", "same_object")]


def test_conflicts_stay_rejected_and_are_quarantined_under_the_reprocessing_run(world, run_job):
    config = world.config(policy="reject")
    world.write_normalized(config, "2024-09", "first", _rows([(1, 1), (2, 2)]), landed_at=T0)
    run_job(config)
    world.write_normalized(config, "2024-09", "second", _rows([(2, 20), (3, 30)]), landed_at=T1)
    run_job(config)

    report = _reprocess(run_job, config, "2024-09")

    assert _table(world, config) == [
        ("2024-09", "1", Decimal(1), "first"),
        ("2024-09", "2", Decimal(2), "first"),
        ("2024-09", "3", Decimal(30), "second"),
    ]
    marker = _marker(world, config, "2024-09", "second")
    assert (marker["rowsWritten"], marker["rejectedRows"]) == (1, 1)
    assert marker["rejectedKey"] == f"rows/sales/conflicts/{report['runId']}/"
    assert world.keys(world.quarantine_bucket, marker["rejectedKey"])  # the rows are where it says
    (conflict,) = report["conflicts"]
    assert (conflict["sourceId"], conflict["conflictsWithSourceId"]) == ("second", "first")


def test_a_table_wide_key_lets_rows_of_other_partitions_win_without_changing_them(world, run_job):
    config = world.config(policy="latest", key_scope="table")
    world.write_normalized(config, "2024-09", "old", _rows([(1, 1), (2, 2)]), landed_at=T0)
    world.write_normalized(config, "2024-10", "new", _rows([(1, 10)]), landed_at=T1)
    run_job(config)
    table = _table(world, config)
    assert table == [("2024-09", "2", Decimal(2), "old"), ("2024-10", "1", Decimal(10), "new")]

    report = _reprocess(run_job, config, "2024-09")

    assert _table(world, config) == table
    assert report["reprocess"]["committed"] is False
    marker = _marker(world, config, "2024-09", "old")
    assert (marker["rowsWritten"], marker["supersededRows"]) == (1, 1)
    assert [(d["sourceId"], d["reason"]) for d in marker["supersededBy"]] == [("new", "key")]


def test_an_object_not_merged_yet_is_merged_once_and_the_next_incremental_run_reads_nothing(world, run_job):
    config = world.config()
    world.write_normalized(config, "2024-09", "a", _rows([(1, 1)]), landed_at=T0)
    run_job(config)
    # A batch normalized while the reprocessing runs: its object has no marker yet.
    world.write_normalized(config, "2024-09", "b", _rows([(2, 2)]), landed_at=T1)

    report = _reprocess(run_job, config, "2024-09")

    assert _table(world, config) == [("2024-09", "1", Decimal(1), "a"), ("2024-09", "2", Decimal(2), "b")]
    assert (report["reprocess"]["rowsInserted"], report["reprocess"]["rowsUnchanged"]) == (1, 1)
    b = _marker(world, config, "2024-09", "b")
    assert (b["runId"], b["rowsWritten"], "origin" in b) == (report["runId"], 1, False)
    after, _ = run_job(config, predicate="period in ('2024-09')")
    assert (after["filesRead"], after["filesLeft"]) == (0, 0)
    assert len(world.curated_rows(config)) == 2


def test_a_partition_without_normalized_objects_is_an_error_that_changes_nothing(world, run_job):
    config = world.config()
    world.write_normalized(config, "2024-09", "a", _rows([(1, 1)]), landed_at=T0)
    run_job(config)
    before = _snapshot_ids(config)
    runs = world.keys(world.control_bucket, "etl/runs/")

    with pytest.raises(EmptyPartitionError, match=r"period=2024-11 of sales has no normalized objects"):
        _reprocess(run_job, config, "2024-11")

    assert _snapshot_ids(config) == before
    assert world.keys(world.control_bucket, "etl/runs/") == runs


def test_reprocessing_before_the_table_exists_is_an_error(world, run_job):
    config = world.config()
    world.write_normalized(config, "2024-09", "a", _rows([(1, 1)]), landed_at=T0)

    with pytest.raises(CuratedTableMissingError, match="does not exist yet"):
        _reprocess(run_job, config, "2024-09")

    assert world.keys(world.control_bucket, "etl/processed/") == []


@pytest.mark.parametrize(
    ("argument", "predicate", "message"),
    [
        ("2024-09", "", "must be <partition column>=<value>"),
        ("period=", "", "must be <partition column>=<value>"),
        ("month=2024-09", "", "names column 'month', but sales is partitioned by 'period'"),
        ("period= 2024-09", "", "leading or trailing spaces"),
        ("period=2024-09", "period in ('2024-09', '2024-10')", "does not select exactly the partition"),
    ],
)
def test_the_partition_argument_is_validated(argument, predicate, message):
    config = _plain_config()
    with pytest.raises(ReprocessArgumentError, match=message):
        reprocess_predicate(config, argument, predicate)


def test_the_partition_argument_gives_the_partition_predicate():
    config = _plain_config()
    assert reprocess_predicate(config, "", "period in ('x')") == (None, "period in ('x')")
    assert reprocess_predicate(config, "period=it's", "") == ("it's", "period in ('it\\'s')")
    assert reprocess_predicate(config, " period=2024-09 ", "period in ('2024-09')") == (
        "2024-09",
        "period in ('2024-09')",
    )
