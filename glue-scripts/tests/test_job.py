"""The curate job end to end on local Spark, the Iceberg runtime and the emulator: incrementality,
the file cap, pushdown, schema evolution, deduplication, failures and retries, control documents,
table maintenance. Restatement and conflict policies: test_restatement.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from localaws import REPO, job_argv, normalized_body, typescript_config

from pipeline_etl import glue_io, iceberg
from pipeline_etl.config import EtlConfig
from pipeline_etl.curation import CastError, DimensionKeyError, SourceObjectError
from pipeline_etl.glue_io import DimensionMissingError

T1 = "2024-10-01T00:00:00.000Z"
T2 = "2024-10-02T00:00:00.000Z"


def _rows(ids, amount="1", **extra) -> list[dict]:
    return [{"id": str(i), "amount": amount, **extra} for i in ids]


def _normalized_reads(world, glue_context) -> list[str]:
    """The normalized objects a run read (the stand-in records every source's files)."""
    own = f"s3://{world.normalized_bucket}/"
    return [f for read in glue_context.reads for f in read.files if f.startswith(own)]


def _marked(world, dataset="sales") -> int:
    """Normalized objects with a processed marker (merged into curated)."""
    return len(world.keys(world.control_bucket, f"etl/processed/{dataset}/"))


def _bookmark(bookmarks, job_name="curate-test") -> dict | None:
    path = bookmarks / f"{job_name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _snapshots(config) -> list[dict]:
    """The curated table's snapshots, oldest first (id, parent, operation, summary)."""
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    parsed = EtlConfig.from_dict(config)
    iceberg.configure_catalog(spark, parsed)
    rows = spark.sql(
        f"SELECT snapshot_id, parent_id, operation, summary FROM {parsed.curated_identifier}.snapshots"
        " ORDER BY committed_at"
    ).collect()
    return [r.asDict() for r in rows]


def _data_files(config) -> set[str]:
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    parsed = EtlConfig.from_dict(config)
    iceberg.configure_catalog(spark, parsed)
    return {
        r[0] for r in spark.sql(f"SELECT file_path FROM {parsed.curated_identifier}.data_files").collect()
    }


def test_a_second_run_with_no_new_files_processes_nothing(world, run_job):
    config = world.config()
    world.write_normalized(config, "2024-09", "a", _rows(range(3)))
    first, _ = run_job(config)
    assert first["filesRead"] == 1 and first["partitionsWritten"] == [
        {"value": "2024-09", "rowsAdded": 3, "rowsDeleted": 0}
    ]
    assert first["snapshotId"] == str(_snapshots(config)[-1]["snapshot_id"])
    markers = world.keys(world.control_bucket, "etl/processed/")

    second, glue_context = run_job(config)

    assert second["filesRead"] == 0 and second["sources"] == [] and second["partitionsWritten"] == []
    assert _normalized_reads(world, glue_context) == []
    # Nothing committed: the table is at the first run's snapshot.
    assert second["snapshotId"] is None and second["previousSnapshotId"] == first["snapshotId"]
    assert len(_snapshots(config)) == 1 and second["restatements"] == [] and second["conflicts"] == []
    assert world.keys(world.control_bucket, "etl/processed/") == markers
    assert world.json(f"etl/runs/sales/{second['runId']}.json") == second


def test_new_files_are_merged_incrementally(world, run_job):
    config = world.config()
    world.write_normalized(config, "2024-09", "a", _rows(range(3)), ingest_time=T1)
    first, _ = run_job(config)
    files = _data_files(config)
    world.write_normalized(config, "2024-09", "b", _rows(range(3, 5)), ingest_time=T2)
    report, glue_context = run_job(config)
    assert [f.rsplit("/", 1)[-1] for f in _normalized_reads(world, glue_context)] == ["b.jsonl.gz"]
    assert report["partitionsWritten"] == [{"value": "2024-09", "rowsAdded": 2, "rowsDeleted": 0}]
    assert sorted(int(r["id"]) for r in world.curated_rows(config)) == [0, 1, 2, 3, 4]
    # One commit, an append: the first run's data files are still the table's, untouched.
    snapshots = _snapshots(config)
    assert [s["operation"] for s in snapshots] == ["append", "append"]
    assert report["previousSnapshotId"] == first["snapshotId"] == str(snapshots[0]["snapshot_id"])
    assert files < _data_files(config)
    # Time travel: the first snapshot still says what the table said then.
    assert len(world.curated_rows(config, snapshot=first["snapshotId"])) == 3


def test_a_burst_is_drained_450_files_per_run(world, run_job, bookmarks):
    config = world.config()
    world.write_many(config, [(f"2024-{1 + i % 2:02d}", f"s{i:04d}", _rows([i])) for i in range(1000)])

    reports = [run_job(config)[0] for _ in range(4)]

    assert [r["filesRead"] for r in reports] == [450, 450, 100, 0]
    assert [r["capReached"] for r in reports] == [True, True, False, False]
    assert [r["filesLeft"] for r in reports] == [550, 100, 0, 0]
    # Markers, not bookmarks, said what was left: the job keeps no bookmark state of any source.
    bookmark = _bookmark(bookmarks)
    assert bookmark["run"] == 4 and bookmark["contexts"] == {}
    rows = world.curated_rows(config)
    assert len(rows) == 1000 and len({r["id"] for r in rows}) == 1000
    assert len(world.keys(world.control_bucket, "etl/processed/sales/")) == 1000


def test_bounded_files_argument_sets_the_cap(world, run_job):
    config = world.config()
    world.write_many(config, [("2024-09", f"s{i}", _rows([i])) for i in range(5)])
    reports = [run_job(config, bounded=2)[0] for _ in range(3)]
    assert [r["filesRead"] for r in reports] == [2, 2, 1]
    assert reports[0]["boundedFiles"] == 2 and reports[0]["filesLeft"] == 3


def test_pushdown_reads_exactly_the_files_of_the_matching_partitions(world, run_job):
    config = world.config()
    keys = world.write_many(
        config,
        [
            (value, f"{value}-{n}", _rows([f"{value}-{n}"]))
            for value in ("2024-08", "2024-09", "2024-10")
            for n in (1, 2)
        ],
    )
    predicate = "period in ('2024-09', '2024-10')"

    report, glue_context = run_job(config, predicate=predicate)

    expected = sorted(f"s3://{world.normalized_bucket}/{k}" for k in keys if "2024-08" not in k)
    assert sorted(_normalized_reads(world, glue_context)) == expected
    assert report["filesRead"] == len(expected) == 4
    assert report["pushDownPredicate"] == predicate
    assert sorted({r["period"] for r in world.curated_rows(config)}) == ["2024-09", "2024-10"]
    # Files outside the predicate were not marked read: a run without it picks them up.
    later, glue_context = run_job(config)
    assert sorted(_normalized_reads(world, glue_context)) == sorted(
        f"s3://{world.normalized_bucket}/{k}" for k in keys if "2024-08" in k
    )
    assert later["filesRead"] == 2


def test_interleaved_batches_in_different_partitions_are_all_merged(world, run_job, bookmarks):
    """Finding 6: batch A lands in 2024-08; batch B lands 20 minutes later in 2024-09, and B's
    run (its predicate) goes first. Under Glue's modification-time bookmarks a bookmarked read
    would now skip A's files for good (test_standin.py pins that); the job selects by processed
    markers instead, so A's runs, capped at 2 files, read every one of A's files."""
    config = world.config()
    a_keys = [world.write_normalized(config, "2024-08", f"a{i}", _rows([f"a{i}"])) for i in range(3)]
    for i, key in enumerate(a_keys):
        world.set_last_modified(key, datetime.now(UTC) - timedelta(minutes=25 - i))
    b_keys = [world.write_normalized(config, "2024-09", f"b{i}", _rows([f"b{i}"])) for i in range(2)]
    urls = lambda keys: sorted(f"s3://{world.normalized_bucket}/{k}" for k in keys)  # noqa: E731

    b_run, b_context = run_job(config, predicate="period in ('2024-09')")
    a_first, a_context = run_job(config, predicate="period in ('2024-08')", bounded=2)
    a_second, a_context_2 = run_job(config, predicate="period in ('2024-08')", bounded=2)

    assert b_run["filesRead"] == 2 and sorted(_normalized_reads(world, b_context)) == urls(b_keys)
    assert (a_first["filesRead"], a_first["capReached"], a_first["filesLeft"]) == (2, True, 1)
    assert sorted(_normalized_reads(world, a_context)) == urls(a_keys[:2])  # the oldest first
    assert (a_second["filesRead"], a_second["filesLeft"]) == (1, 0)
    assert _normalized_reads(world, a_context_2) == urls(a_keys[2:])
    assert sorted(r["id"] for r in world.curated_rows(config)) == ["a0", "a1", "a2", "b0", "b1"]
    assert _marked(world) == 5
    assert run_job(config)[0]["filesRead"] == 0
    assert _bookmark(bookmarks)["contexts"] == {}


def test_an_object_without_rows_is_consumed_with_a_zero_marker(world, run_job):
    config = world.config()
    world.write_normalized(config, "2024-09", "a", _rows([1]))
    empty = world.write_normalized(config, "2024-09", "empty", [])

    report, _ = run_job(config)

    assert report["filesRead"] == 2 and report["filesLeft"] == 0
    marker = world.json(f"etl/processed/{empty}.json")
    assert (marker["sourceId"], marker["rowsRead"], marker["rowsWritten"]) == ("empty", 0, 0)
    assert marker["measures"] == {"amount": "0"}
    assert run_job(config)[0]["filesRead"] == 0


def test_rows_that_name_another_object_fail_the_run_before_anything_is_written(world, run_job):
    config = world.config()
    world.write_normalized(config, "2024-09", "a", _rows([1]))
    # An object copied by hand under another name: its rows name a source with no object here.
    world.s3.put_object(
        Bucket=world.normalized_bucket,
        Key=world.normalized_key(config, "2024-09", "copy"),
        Body=normalized_body(_rows([2]), "ghost", T1, "landing/ghost.csv", None),
    )
    with pytest.raises(SourceObjectError, match=r"ghost\.jsonl\.gz"):
        run_job(config)
    assert world.keys(world.control_bucket, "etl/processed/") == []
    assert world.keys(world.curated_bucket) == []


def test_a_new_column_appears_in_curated_and_is_null_for_older_rows(world, run_job, spark):
    config = world.config()
    world.write_normalized(config, "2024-09", "a", _rows([1, 2]), ingest_time=T1)
    world.write_normalized(config, "2024-10", "b", _rows([3]), ingest_time=T1)
    run_job(config)
    files = _data_files(config)
    world.write_normalized(config, "2024-09", "c", _rows([4], region="EU"), ingest_time=T2)

    report, _ = run_job(config)

    assert report["addedColumns"] == ["region"]
    schema = iceberg.table_schema(spark, EtlConfig.from_dict(config))
    assert schema["region"] == "string" and schema["amount"] == "decimal(38,18)"
    regions = {r["id"]: r.get("region") for r in world.curated_rows(config)}
    assert regions == {"1": None, "2": None, "3": None, "4": "EU"}
    # Schema evolution is metadata only: no earlier data file was rewritten.
    assert files < _data_files(config)


def test_rows_are_deduplicated_within_the_batch_and_against_curated(world, run_job):
    """Policy `latest`: the later landing wins (event time, not processing time); within one file
    the later row. "c" is processed last but landed first: its row loses to "a"'s."""
    config = world.config()
    world.write_normalized(config, "2024-09", "a", _rows([1, 2, 3], amount="1"), ingest_time=T1)
    run_job(config)
    world.write_normalized(
        config,
        "2024-09",
        "b",
        [{"id": "2", "amount": "20"}, {"id": "4", "amount": "40"}, {"id": "4", "amount": "41"}],
        ingest_time=T2,
    )
    world.write_normalized(
        config,
        "2024-09",
        "c",
        [{"id": "1", "amount": "5"}],
        ingest_time="2024-10-05T00:00:00Z",
        landed_at="2024-09-30T00:00:00Z",
    )

    report, _ = run_job(config)

    amounts = {r["id"]: r["amount"] for r in world.curated_rows(config)}
    assert amounts == {"1": Decimal(1), "2": Decimal(20), "3": Decimal(1), "4": Decimal(41)}
    sources = {s["sourceId"]: s for s in report["sources"]}
    b, c = sources["b"], sources["c"]
    assert (b["rowsRead"], b["rowsWritten"], b["supersededRows"], b["duplicateRows"]) == (3, 2, 1, 1)
    assert b["measures"] == {"amount": "61"} and b["supersededMeasures"] == {"amount": "40"}
    assert [(d["sourceId"], d["reason"], d["rows"]) for d in b["supersededBy"]] == [("b", "key", 1)]
    assert (c["rowsRead"], c["rowsWritten"], c["supersededRows"]) == (1, 0, 1)
    assert [(d["sourceId"], d["reason"]) for d in c["supersededBy"]] == [("a", "key")]
    marker = world.json("etl/processed/sales/period=2024-09/b.jsonl.gz.json")
    assert marker["rowsRead"] == 3 and marker["rowsWritten"] == 2 and marker["supersededRows"] == 1
    assert report["partitionsWritten"] == [{"value": "2024-09", "rowsAdded": 2, "rowsDeleted": 1}]
    restated = {
        (r["sourceId"], r["supersededSourceId"], r["reason"]): r["rows"] for r in report["restatements"]
    }
    assert restated == {("b", "a", "key"): 1, ("b", "b", "key"): 1, ("a", "c", "key"): 1}
    # One commit deleted a's row 2 and added b's rows: an overwrite snapshot (merge-on-read).
    (snapshot,) = [s for s in _snapshots(config) if str(s["snapshot_id"]) == report["snapshotId"]]
    assert snapshot["operation"] == "overwrite" and snapshot["summary"]["added-position-deletes"] == "1"


def test_control_documents_follow_the_contracts(world, run_job):
    config = typescript_config("workforce_capacity", world.curated_bucket, world.control_bucket)
    config["database"] = world.database
    config["quarantineBucket"] = world.quarantine_bucket
    plan = [
        {
            "org_unit": "Data",
            "cost_center": "CC-1",
            "job_family": "Eng",
            "location": "Berlin",
            "headcount": "3",
        },
        {
            "org_unit": "Data",
            "cost_center": "CC-1",
            "job_family": "PM",
            "location": "Berlin",
            "headcount": "4.5",
        },
        {"org_unit": "Ops", "cost_center": "CC-2", "job_family": "Eng", "location": "Lyon", "headcount": "2"},
    ]
    roster = [{"org_unit": "Data", "headcount": "7.5"}, {"org_unit": "Ops", "headcount": "3"}]
    plan_key = world.write_normalized(config, "2025-Q1", "plan1", plan, template="capacity_plan")
    world.write_normalized(
        config, "2025-Q1", "roster1", roster, template="org_roster", source_key="hr/roster.csv"
    )

    report, _ = run_job(config, execution_id="exec-42")

    assert report["executionId"] == "exec-42" and report["jobName"] == "curate-test"
    assert report["boundedFiles"] == 450 and report["capReached"] is False and report["filesLeft"] == 0
    assert report["curatedTable"] == "workforce_capacity"
    assert report["partitionsWritten"] == [{"value": "2025-Q1", "rowsAdded": 5, "rowsDeleted": 0}]
    assert report["tableLocation"] == f"s3://{world.curated_bucket}/workforce_capacity"
    assert report["snapshotId"] is not None and report["previousSnapshotId"] is None
    assert report["restatements"] == [] and report["conflicts"] == []
    plan_source = next(s for s in report["sources"] if s["sourceId"] == "plan1")
    assert plan_source["normalizedKeys"] == [plan_key]
    assert plan_source["measures"]["headcount"] == "9.5" and plan_source["measures"]["fte"] == "0"
    marker = world.json(f"etl/processed/{plan_key}.json")
    zero = {m: "0" for m in plan_source["measures"]}
    assert marker == {
        "schemaVersion": 2,
        "dataset": "workforce_capacity",
        "runId": report["runId"],
        "normalizedKey": plan_key,
        "sourceId": "plan1",
        "snapshotId": report["snapshotId"],
        "rowsRead": 3,
        "rowsWritten": 3,
        "identicalRows": 0,
        "supersededRows": 0,
        "rejectedRows": 0,
        "duplicateRows": 0,
        "measures": plan_source["measures"],
        "identicalMeasures": zero,
        "supersededMeasures": zero,
        "rejectedMeasures": zero,
        "supersededBy": [],
        "conflictsWith": [],
        "rejectedKey": None,
    }
    aggregates = world.json("etl/aggregates/workforce_capacity/2025-Q1.json")
    assert aggregates["partition"] == "2025-Q1" and aggregates["snapshotId"] == report["snapshotId"]
    (rule,) = aggregates["rules"]
    assert rule["rule"] == "headcount_matches_roster" and rule["groupBy"] == ["org_unit", "quarter"]
    assert rule["sums"] == [
        {"template": "capacity_plan", "group": {"org_unit": "Data", "quarter": "2025-Q1"}, "sum": "7.5"},
        {"template": "capacity_plan", "group": {"org_unit": "Ops", "quarter": "2025-Q1"}, "sum": "2"},
        {"template": "org_roster", "group": {"org_unit": "Data", "quarter": "2025-Q1"}, "sum": "7.5"},
        {"template": "org_roster", "group": {"org_unit": "Ops", "quarter": "2025-Q1"}, "sum": "3"},
    ]


def _two_partition_world(world, run_job):
    config = world.config()
    world.write_normalized(config, "2024-09", "a", _rows([1, 2]), ingest_time=T1)
    world.write_normalized(config, "2024-10", "b", _rows([3]), ingest_time=T1)
    run_job(config)
    before_rows = world.curated_rows(config)
    before_snapshots = _snapshots(config)
    world.write_normalized(config, "2024-09", "c", _rows([2, 4], amount="7"), ingest_time=T2)
    world.write_normalized(config, "2024-10", "d", _rows([5], amount="7"), ingest_time=T2)
    return config, before_rows, before_snapshots


def _by_id(rows):
    return sorted((r["period"], r["id"], r["amount"]) for r in rows)


def test_a_failure_mid_write_leaves_curated_as_it_was_and_the_rerun_completes_it(
    world, run_job, monkeypatch, bookmarks
):
    """A Spark task fails while the commit's data files are being written (after other tasks
    wrote theirs): Iceberg commits nothing, readers keep the previous snapshot."""
    from pyspark.sql import functions as F

    config, before_rows, before_snapshots = _two_partition_world(world, run_job)
    real_commit = iceberg.commit
    explode = F.udf(lambda value: 1 // 0 if value == "4" else True, "boolean")

    def failing_commit(spark, parsed, inserts, deletes, has_sheet, view):
        real_commit(spark, parsed, inserts.where(explode(F.col("id"))), deletes, has_sheet, view)

    monkeypatch.setattr(iceberg, "commit", failing_commit)
    with pytest.raises(Exception, match="ZeroDivisionError"):
        run_job(config)
    monkeypatch.setattr(iceberg, "commit", real_commit)

    # Readers still see every committed row: no new snapshot, nothing marked.
    assert _snapshots(config) == before_snapshots
    assert _by_id(world.curated_rows(config)) == _by_id(before_rows)
    assert world.json("etl/processed/sales/period=2024-09/c.jsonl.gz.json") is None
    assert _marked(world) == 2

    report, _ = run_job(config)

    assert report["filesRead"] == 2
    assert _by_id(world.curated_rows(config)) == [
        ("2024-09", "1", Decimal(1)),
        ("2024-09", "2", Decimal(7)),
        ("2024-09", "4", Decimal(7)),
        ("2024-10", "3", Decimal(1)),
        ("2024-10", "5", Decimal(7)),
    ]
    assert world.json("etl/processed/sales/period=2024-09/c.jsonl.gz.json")["rowsWritten"] == 2
    assert _marked(world) == 4
    assert report["previousSnapshotId"] == str(before_snapshots[-1]["snapshot_id"])


def test_a_failure_after_the_swap_is_retried_without_duplicates(world, run_job, monkeypatch, bookmarks):
    config, _, _ = _two_partition_world(world, run_job)

    def fail(*args, **kwargs):
        raise ConnectionError("injected: control bucket unreachable")

    real_put = glue_io.put_json_many
    monkeypatch.setattr(glue_io, "put_json_many", fail)
    with pytest.raises(ConnectionError):
        run_job(config)
    monkeypatch.setattr(glue_io, "put_json_many", real_put)
    swapped_rows = world.curated_rows(config)
    assert len(swapped_rows) == 5  # the commit is visible already ...
    assert world.json("etl/processed/sales/period=2024-09/c.jsonl.gz.json") is None  # ... but not marked
    assert _marked(world) == 2
    assert _bookmark(bookmarks)["run"] == 1

    report, _ = run_job(config)

    assert _by_id(world.curated_rows(config)) == _by_id(swapped_rows)
    source = next(s for s in report["sources"] if s["sourceId"] == "c")
    # Its rows were found in curated by identity: counted written (and identical), not inserted again.
    assert (source["rowsRead"], source["rowsWritten"], source["identicalRows"]) == (2, 2, 2)
    assert source["supersededRows"] == 0 and report["partitionsWritten"] == [
        {"value": "2024-09", "rowsAdded": 0, "rowsDeleted": 0},
        {"value": "2024-10", "rowsAdded": 0, "rowsDeleted": 0},
    ]
    assert report["filesRead"] == 2 and _marked(world) == 4


def test_every_marker_names_a_run_whose_report_exists_even_when_the_report_write_fails(
    world, run_job, monkeypatch
):
    config, _, _ = _two_partition_world(world, run_job)
    real_put = glue_io.put_json

    def failing_report(s3, bucket, key, document):
        if key.startswith("etl/runs/"):
            raise ConnectionError("injected: report write lost")
        real_put(s3, bucket, key, document)

    monkeypatch.setattr(glue_io, "put_json", failing_report)
    with pytest.raises(ConnectionError):
        run_job(config)
    monkeypatch.setattr(glue_io, "put_json", real_put)
    assert _marked(world) == 2  # the failed run marked nothing: its objects are still unprocessed

    report, _ = run_job(config)

    assert report["filesRead"] == 2 and _marked(world) == 4
    for key in world.keys(world.control_bucket, "etl/processed/sales/"):
        assert world.json(f"etl/runs/sales/{world.json(key)['runId']}.json") is not None, key
    assert len(world.curated_rows(config)) == 5


def test_maintenance_expires_old_snapshots_and_compacts_small_files(world, run_job, spark):
    config = world.config()
    config["iceberg"].update(snapshotRetentionDays=0, retainLastSnapshots=2, compactionMinInputFiles=3)
    reports = []
    for n, source in enumerate(["a", "b", "c", "d"]):
        world.write_normalized(config, "2024-09", source, _rows([n], amount=f"{n}.5"), ingest_time=T1)
        reports.append(run_job(config)[0])

    # Compaction rewrote the partition's small files into one (a replace snapshot, no row changed).
    assert reports[2]["maintenance"]["rewrittenDataFiles"] >= 3
    assert len(_data_files(config)) <= 2
    assert _by_id(world.curated_rows(config)) == [("2024-09", str(n), Decimal(f"{n}.5")) for n in range(4)]
    # Snapshots past the retention are expired, keeping the last two: time travel to the first fails.
    assert len(_snapshots(config)) == 2
    with pytest.raises(Exception, match="snapshot"):
        world.curated_rows(config, snapshot=reports[0]["snapshotId"])


def test_maintenance_compacts_a_partition_whose_value_has_quotes_and_a_backslash(world, run_job):
    # The compaction filter is a Spark expression inside a SQL string: each level has its own
    # escaping. SQL-style quote doubling ('it''s') reads as two adjacent strings, "its", and
    # would compact another partition or none.
    value = 'it\'s "q3" \\ 2024'
    config = world.config()
    config["iceberg"].update(compactionMinInputFiles=3)
    reports = []
    for n, source in enumerate(["a", "b", "c"]):
        world.write_normalized(config, value, source, _rows([n], amount=f"{n}.5"), ingest_time=T1)
        reports.append(run_job(config)[0])

    assert reports[2]["maintenance"]["rewrittenDataFiles"] >= 3
    assert _by_id(world.curated_rows(config)) == [(value, str(n), Decimal(f"{n}.5")) for n in range(3)]


def test_values_that_do_not_cast_fail_the_run_before_anything_is_written(world, run_job, bookmarks):
    config = world.config()
    world.write_normalized(config, "2024-09", "a", [{"id": "1", "amount": "12,5"}])
    with pytest.raises(CastError, match=r"amount \(decimal\(38,18\)\): 1 value"):
        run_job(config)
    assert world.keys(world.curated_bucket) == []
    assert world.keys(world.control_bucket, "etl/processed/") == []
    assert _bookmark(bookmarks) is None  # no commit


def test_a_dimension_with_a_duplicate_key_fails_the_run(world, run_job):
    path = world.put_dimension("accounts", "account,org\n1,Data\n1,Platform\n")
    config = world.config(
        columns=[{"name": "account", "type": "string"}],
        dimensions=[
            {"name": "accounts", "path": path, "joinKeys": {"account": "account"}, "columns": ["org"]}
        ],
    )
    world.write_normalized(config, "2024-09", "a", _rows([1], account="1"))
    with pytest.raises(DimensionKeyError, match="accounts"):
        run_job(config)


def test_the_job_script_runs_as_the_local_runtime_invokes_it(world, tmp_path):
    config = world.config()
    world.write_normalized(config, "2024-09", "a", _rows([1, 2]))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(REPO / "glue-scripts" / "local"), str(REPO / "glue-scripts" / "lib")]
        ),
        "AWSGLUE_LOCAL_BOOKMARKS": f"s3://{world.control_bucket}/glue-bookmarks/",
    }
    env.pop("PYSPARK_SUBMIT_ARGS", None)
    argv = job_argv(config, job_name="curate-cli", bounded=450, predicate="", execution_id="exec-1")
    done = subprocess.run(
        [sys.executable, *argv], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["event"] == "etl_run_completed" and summary["filesRead"] == 1
    assert summary["reportBucket"] == world.control_bucket
    report = world.json(summary["reportKey"])
    assert report["runId"] == summary["runId"] and report["executionId"] == "exec-1"
    assert world.json("glue-bookmarks/curate-cli.json")["run"] == 1
    assert len(world.curated_rows(config)) == 2


def test_a_dimension_dataset_is_joined_at_its_current_snapshot(world, run_job):
    """A dimension loaded like any dataset (its own curated Iceberg table): the facts join its
    current version, a newer file of it replaces it (scope: the whole table), and the run
    report names the snapshot joined. Facts before it exists fail loudly."""
    accounts = world.config(
        "accounts",
        partition="region",
        keys=("account",),
        measures={},
        columns=[{"name": "account", "type": "string"}, {"name": "org", "type": "string"}],
        scope=("ingest_template",),
    )
    sales = world.config(
        columns=[{"name": "account", "type": "string"}],
        dimensions=[
            {"name": "accounts", "table": "accounts", "joinKeys": {"account": "account"}, "columns": ["org"]}
        ],
    )
    world.write_normalized(sales, "2024-09", "s1", _rows([1], account="A1"))
    with pytest.raises(DimensionMissingError, match="accounts"):
        run_job(sales)

    world.write_normalized(
        accounts, "EU", "h1", [{"account": "A1", "org": "Data"}], template="hierarchy", landed_at=T1
    )
    first, _ = run_job(accounts)
    report, _ = run_job(sales)
    assert [(r["id"], r["org"]) for r in world.curated_rows(sales)] == [("1", "Data")]
    assert report["dimensions"] == [
        {"name": "accounts", "table": "accounts", "path": None, "snapshotId": first["snapshotId"]}
    ]

    # An org change: a newer hierarchy file replaces the whole dimension; later facts join it.
    world.write_normalized(
        accounts, "EU", "h2", [{"account": "A1", "org": "Platform"}], template="hierarchy", landed_at=T2
    )
    second, _ = run_job(accounts)
    assert [(r["account"], r["org"]) for r in world.curated_rows(accounts)] == [("A1", "Platform")]
    world.write_normalized(sales, "2024-09", "s2", _rows([2], account="A1"))
    report, _ = run_job(sales)
    assert sorted((r["id"], r["org"]) for r in world.curated_rows(sales)) == [
        ("1", "Data"),
        ("2", "Platform"),
    ]
    # The dimension's current snapshot: its second load (or the compaction after it, same rows).
    current = str(_snapshots(accounts)[-1]["snapshot_id"])
    assert report["dimensions"][0]["snapshotId"] == current != first["snapshotId"]
    assert second["snapshotId"] in {str(s["snapshot_id"]) for s in _snapshots(accounts)}
