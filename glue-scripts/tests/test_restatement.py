"""Restatement and conflict semantics of the curate job (docs/etl.md, "Restatement and
conflicts"): corrections of a landing object, replacement scopes, the three key policies, and
the same batch in different completion orders giving the same table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

T0 = "2024-10-01T00:00:00Z"
T1 = "2024-10-01T01:00:00Z"
T2 = "2024-10-01T02:00:00Z"


def _rows(pairs, **extra) -> list[dict]:
    return [{"id": str(i), "amount": str(a), **extra} for i, a in pairs]


def _table(world, config) -> list[tuple]:
    return sorted(
        (r["period"], r["id"], r.get("org"), r["amount"], r["ingest_source_id"])
        for r in world.curated_rows(config)
    )


def test_a_corrected_version_of_an_object_replaces_every_row_of_the_old_one(world, run_job):
    """v2 of landing/sales.csv drops id 3 and changes id 2: id 3 must leave curated too, and the
    correction may move a row to another partition."""
    config = world.config(policy="keep")  # no key rule: only the same-object rule acts
    key = "landing/sales.csv"
    world.write_normalized(
        config, "2024-09", "v1", _rows([(1, 1), (2, 2), (3, 3)]), source_key=key, landed_at=T0
    )
    first, _ = run_job(config)
    world.write_normalized(config, "2024-09", "v2", _rows([(1, 1), (2, 20)]), source_key=key, landed_at=T1)
    world.write_normalized(config, "2024-10", "v2", _rows([(4, 4)]), source_key=key, landed_at=T1)

    report, _ = run_job(config)

    assert _table(world, config) == [
        ("2024-09", "1", None, Decimal(1), "v2"),
        ("2024-09", "2", None, Decimal(20), "v2"),
        ("2024-10", "4", None, Decimal(4), "v2"),
    ]
    assert report["restatements"] == [
        {
            "sourceId": "v2",
            "sourceKey": key,
            "supersededSourceId": "v1",
            "supersededSourceKey": key,
            "reason": "same_object",
            "rows": 3,
        }
    ]
    assert {p["value"]: (p["rowsAdded"], p["rowsDeleted"]) for p in report["partitionsWritten"]} == {
        "2024-09": (2, 3),
        "2024-10": (1, 0),
    }
    # Time travel: the snapshot v1's reconciliation checked still holds v1's three rows.
    assert len(world.curated_rows(config, snapshot=first["snapshotId"])) == 3


def test_an_older_version_processed_after_the_newer_one_never_replaces_it(world, run_job):
    config = world.config(policy="keep")
    key = "landing/sales.csv"
    world.write_normalized(
        config, "2024-09", "v2", _rows([(1, 10)]), source_key=key, landed_at=T1, sequencer="0B"
    )
    run_job(config)
    # Same event second, smaller sequencer: v1 is the older version (S3 orders events of one key
    # by sequencer); processed later, its rows are superseded at once.
    world.write_normalized(
        config, "2024-09", "v1", _rows([(1, 1), (2, 2)]), source_key=key, landed_at=T1, sequencer="0A"
    )

    report, _ = run_job(config)

    assert _table(world, config) == [("2024-09", "1", None, Decimal(10), "v2")]
    (source,) = report["sources"]
    assert (source["rowsRead"], source["rowsWritten"], source["supersededRows"]) == (2, 0, 2)
    assert source["supersededMeasures"] == {"amount": "3"}
    assert [(d["sourceId"], d["reason"], d["rows"]) for d in source["supersededBy"]] == [
        ("v2", "same_object", 2)
    ]


def test_a_newer_file_covering_a_scope_replaces_that_scope_only(world, run_job):
    config = world.config(
        keys=("id",), policy="reject", scope=("org", "period"), columns=[{"name": "org", "type": "string"}]
    )
    world.write_normalized(
        config,
        "2024-09",
        "plan-a",
        [*_rows([(1, 1), (2, 2)], org="Data"), *_rows([(3, 3)], org="Ops")],
        landed_at=T0,
    )
    run_job(config)
    # A new Data plan for 2024-09 (another file): Data's old rows go, even id 2 it no longer has;
    # Ops keeps its row. Within the new scope no key collides, so `reject` rejects nothing.
    world.write_normalized(config, "2024-09", "plan-b", _rows([(1, 5), (7, 7)], org="Data"), landed_at=T1)

    report, _ = run_job(config)

    assert _table(world, config) == [
        ("2024-09", "1", "Data", Decimal(5), "plan-b"),
        ("2024-09", "3", "Ops", Decimal(3), "plan-a"),
        ("2024-09", "7", "Data", Decimal(7), "plan-b"),
    ]
    assert [
        (r["sourceId"], r["supersededSourceId"], r["reason"], r["rows"]) for r in report["restatements"]
    ] == [("plan-b", "plan-a", "scope", 2)]
    assert report["conflicts"] == []


def test_policy_reject_quarantines_the_later_rows_naming_the_file_they_collided_with(world, run_job):
    config = world.config(policy="reject")
    world.write_normalized(config, "2024-09", "first", _rows([(1, 1), (2, 2)]), landed_at=T0)
    world.write_normalized(config, "2024-09", "second", _rows([(2, 20), (3, 30)]), landed_at=T1)

    report, _ = run_job(config)

    assert _table(world, config) == [
        ("2024-09", "1", None, Decimal(1), "first"),
        ("2024-09", "2", None, Decimal(2), "first"),
        ("2024-09", "3", None, Decimal(30), "second"),
    ]
    (conflict,) = report["conflicts"]
    assert (conflict["sourceId"], conflict["conflictsWithSourceId"], conflict["rows"]) == (
        "second",
        "first",
        1,
    )
    marker = world.json("etl/processed/sales/period=2024-09/second.jsonl.gz.json")
    assert (marker["rowsRead"], marker["rowsWritten"], marker["rejectedRows"]) == (2, 1, 1)
    assert (
        marker["rejectedMeasures"] == {"amount": "20"} and marker["rejectedKey"] == conflict["quarantineKey"]
    )
    assert [(d["sourceId"], d["reason"]) for d in marker["conflictsWith"]] == [("first", "conflict")]
    (quarantined,) = world.rejected_rows(config)
    assert (quarantined["id"], quarantined["ingest_source_id"], quarantined["conflicts_with_source_id"]) == (
        "2",
        "second",
        "first",
    )
    assert quarantined["_reason"] == "key_conflict"


def test_policy_reject_is_decided_by_landing_order_not_processing_order(world, run_job):
    """The later landing is processed first; when the earlier one arrives, the earlier row is the
    one that stays and the later one moves from curated to quarantine: the same table as in order."""
    config = world.config(policy="reject")
    world.write_normalized(config, "2024-09", "second", _rows([(2, 20)]), landed_at=T1)
    run_job(config)
    world.write_normalized(config, "2024-09", "first", _rows([(1, 1), (2, 2)]), landed_at=T0)

    report, _ = run_job(config)

    assert _table(world, config) == [
        ("2024-09", "1", None, Decimal(1), "first"),
        ("2024-09", "2", None, Decimal(2), "first"),
    ]
    (conflict,) = report["conflicts"]
    assert (conflict["sourceId"], conflict["conflictsWithSourceId"]) == ("second", "first")
    assert [r["ingest_source_id"] for r in world.rejected_rows(config)] == ["second"]
    assert report["partitionsWritten"] == [{"value": "2024-09", "rowsAdded": 2, "rowsDeleted": 1}]


def test_keys_unique_across_the_table_collide_across_partitions(world, run_job):
    """A dimension (keyScope table, scope ingest_template, reject): a sub-account listed under two
    org units collides although the rows are in different partitions; a newer hierarchy replaces
    every older row, also in a partition (org unit) it no longer lists."""
    config = world.config(
        "hierarchy",
        partition="org",
        keys=("id",),
        policy="reject",
        scope=("ingest_template",),
        key_scope="table",
    )

    def land(source_id: str, by_org: dict[str, list[tuple]], at: str) -> None:
        """One hierarchy file (its own landing key), one normalized object per org unit."""
        for org, pairs in by_org.items():
            world.write_normalized(config, org, source_id, _rows(pairs), template="hierarchy", landed_at=at)

    def table() -> list[tuple]:
        return sorted((r["org"], r["id"], r["ingest_source_id"]) for r in world.curated_rows(config))

    land("h1", {"A": [(1, 0), (2, 0)], "B": [(3, 0)], "C": [(4, 0)]}, T0)
    run_job(config)
    assert table() == [("A", "1", "h1"), ("A", "2", "h1"), ("B", "3", "h1"), ("C", "4", "h1")]

    # h2 drops org C, moves 2 to B and lists 5 under A and (a data error) under B as well.
    land("h2", {"A": [(1, 0), (5, 0)], "B": [(2, 0), (3, 0), (5, 0)]}, T1)
    report, _ = run_job(config)

    assert table() == [("A", "1", "h2"), ("A", "5", "h2"), ("B", "2", "h2"), ("B", "3", "h2")]
    assert {p["value"]: (p["rowsAdded"], p["rowsDeleted"]) for p in report["partitionsWritten"]} == {
        "A": (2, 2),
        "B": (2, 1),
        "C": (0, 1),
    }
    ((conflict_source, conflict_with, rows),) = [
        (c["sourceId"], c["conflictsWithSourceId"], c["rows"]) for c in report["conflicts"]
    ]
    assert (conflict_source, conflict_with, rows) == ("h2", "h2", 1)
    (quarantined,) = world.rejected_rows(config)
    assert (quarantined["id"], quarantined["org"]) == ("5", "B")
    assert sorted((r["supersededSourceId"], r["reason"], r["rows"]) for r in report["restatements"]) == [
        ("h1", "scope", 4)
    ]


def test_policy_keep_keeps_every_row_of_colliding_files(world, run_job):
    config = world.config(policy="keep")
    world.write_normalized(config, "2024-09", "a", _rows([(1, 1), (1, 1)]), landed_at=T0)
    world.write_normalized(config, "2024-09", "b", _rows([(1, 5)]), landed_at=T1)

    report, _ = run_job(config)

    assert [(r[1], r[3], r[4]) for r in _table(world, config)] == [
        ("1", Decimal(1), "a"),
        ("1", Decimal(1), "a"),
        ("1", Decimal(5), "b"),
    ]
    assert report["restatements"] == [] and report["conflicts"] == []
    # Running the same objects again (markers lost) inserts nothing twice: rows have identities.
    for key in world.keys(world.control_bucket, "etl/processed/"):
        world.s3.delete_object(Bucket=world.control_bucket, Key=key)
    again, _ = run_job(config)
    assert len(world.curated_rows(config)) == 3
    assert sum(s["identicalRows"] for s in again["sources"]) == 3


def _batch(world, config):
    """Four files of one batch colliding in every way: a correction, a scope, keys."""
    files = [
        ("f1", "landing/a.csv", T0, "01", _rows([(1, 1), (2, 2)], org="Data")),
        ("f2", "landing/a.csv", T1, "02", _rows([(1, 10)], org="Data")),
        ("f3", "landing/b.csv", T1, "01", _rows([(1, 100), (3, 3)], org="Ops")),
        ("f4", "landing/c.csv", T2, "01", _rows([(3, 30), (4, 4)], org="Ops")),
    ]
    return [
        world.write_normalized(config, "2024-09", sid, rows, source_key=key, landed_at=landed, sequencer=seq)
        for sid, key, landed, seq, rows in files
    ]


def test_the_same_batch_in_two_completion_orders_gives_the_same_table(world, run_job, spark):
    """The Map's Lambdas finish in any order, so the normalized objects' LastModified (which
    decides what a capped run reads first) differs between two deliveries of one batch; the
    table must not. Run A merges all four files at once; run B one file per run, newest first."""
    results = {}
    for name, order, bounded in (("all-at-once", [0, 1, 2, 3], 450), ("one-by-one", [3, 2, 1, 0], 1)):
        config = world.config(
            dataset=f"sales_{name.replace('-', '_')}",
            policy="latest",
            columns=[{"name": "org", "type": "string"}],
        )
        keys = _batch(world, config)
        base = datetime.now(UTC) - timedelta(minutes=30)
        for position, index in enumerate(order):
            world.set_last_modified(keys[index], base + timedelta(minutes=position))
        for _ in range(4 if bounded == 1 else 1):
            run_job(config, bounded=bounded)
        results[name] = [
            {k: v for k, v in row.items() if k != "ingest_time"}
            for row in sorted(world.curated_rows(config), key=lambda r: (r["id"], r["ingest_source_id"]))
        ]
    assert results["all-at-once"] == results["one-by-one"]
    assert [(r["id"], r["amount"], r["ingest_source_id"]) for r in results["all-at-once"]] == [
        ("1", Decimal(100), "f3"),  # f3 (b.csv) and f2 (a.csv v2) landed together: key b > a decides
        ("3", Decimal(30), "f4"),
        ("4", Decimal(4), "f4"),
    ]
