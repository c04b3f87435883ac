"""The control documents of a curate run (control bucket): the run report, the aggregates per
touched partition and the processed marker per normalized object read (docs/etl.md, "Control
documents"). Keys, field names, field order and values are read by the reconciliation and the
local runtime (lib/contracts/): change them only with the contract.

Written after the run's commit, in this order: aggregates, the requests document (datasets with
an approval workflow), run report, markers. A marker means its object's rows are in curated and
accounted for, so it comes last; a run that fails before it is retried in full.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from pipeline_etl import glue_io, layout
from pipeline_etl.decimals import add_decimal_strings, format_decimal
from pipeline_etl.lineage import INGEST_SOURCE_ID, INGEST_SOURCE_KEY, INGEST_SOURCE_VERSION
from pipeline_etl.run_state import BatchRead, Commit, RunContext
from pipeline_etl.transforms import NEW_FLAG


class AccountingError(RuntimeError):
    """The rows of an object do not add up to the rows read (a bug: fail before any marker)."""


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _sid(snapshot: int | None) -> str | None:
    """Snapshot ids are 64-bit: written as decimal strings (JSON readers lose digits past 2^53)."""
    return None if snapshot is None else str(snapshot)


# --- the run report --------------------------------------------------------------------------


def _write_report(run: RunContext, report: dict) -> dict:
    key = layout.run_report_key(run.config, run.options.run_id)
    glue_io.put_json(run.clients.s3, run.config.control_bucket, key, report)
    return report


def _report(
    run: RunContext,
    finished: datetime,
    *,
    files_read: int,
    files_left: int,
    sources: list[dict],
    writes: list[dict],
    added: list[str],
) -> dict:
    config, options = run.config, run.options
    return {
        "schemaVersion": 2,
        "dataset": config.dataset,
        "runId": options.run_id,
        "jobName": options.job_name,
        "executionId": options.execution_id,
        "startedAt": iso(run.started),
        "finishedAt": iso(finished),
        "pushDownPredicate": options.push_down_predicate or None,
        "boundedFiles": options.bounded_files,
        "filesRead": files_read,
        "capReached": files_read >= options.bounded_files,
        "filesLeft": files_left,
        "sources": sources,
        "partitionsWritten": writes,
        "curatedTable": config.curated_table,
        "addedColumns": added,
    }


def write_nothing_read(run: RunContext, snapshot: int | None) -> dict:
    """The report of a run that found nothing to read, written; ``snapshot`` is the table's."""
    report = _report(run, run.now(), files_read=0, files_left=0, sources=[], writes=[], added=[])
    # Nothing read, nothing committed: the table stays at previousSnapshotId.
    report.update(
        snapshotId=None,
        previousSnapshotId=_sid(snapshot),
        restatements=[],
        conflicts=[],
        tableLocation=run.config.iceberg.location,
        dimensions=[],
    )
    return _write_report(run, report)


# --- per-object accounting -------------------------------------------------------------------


def _unaccounted(measures: list[str]) -> dict:
    """An object's accounting before its rows are counted: nothing read, written or displaced."""
    return {
        "rowsRead": 0,
        "rowsWritten": 0,
        "identicalRows": 0,
        "supersededRows": 0,
        "rejectedRows": 0,
        "measures": _zero(measures),
        "identicalMeasures": _zero(measures),
        "supersededMeasures": _zero(measures),
        "rejectedMeasures": _zero(measures),
        "supersededBy": {},
        "conflictsWith": {},
    }


def _zero(measures: list[str]) -> dict[str, str]:
    return {m: "0" for m in measures}


def _add(left: dict[str, str], right: dict[str, str]) -> dict[str, str]:
    return {m: add_decimal_strings(left.get(m, "0"), right.get(m, "0")) for m in {*left, *right}}


def _displaced(entries: dict, displaced: dict) -> None:
    """Adds rows displaced by (or conflicting with) one file for one reason to ``entries``, keyed by
    (source id, reason); ``displaced`` has an entry's fields: sourceId, sourceKey, reason, rows,
    measures."""
    by_id, reason = displaced["sourceId"], displaced["reason"]
    entry = entries.setdefault(
        (by_id, reason),
        {"sourceId": by_id, "sourceKey": displaced["sourceKey"], "reason": reason, "rows": 0, "measures": {}},
    )
    entry["rows"] += displaced["rows"]
    entry["measures"] = {
        m: add_decimal_strings(entry["measures"].get(m, "0"), v) for m, v in displaced["measures"].items()
    }


def _account(run: RunContext, batch: BatchRead, commit: Commit) -> dict[tuple[str, str], dict]:
    """Per normalized object of this run (partition value, source id): where each of its rows ended
    up. Raises ``AccountingError`` when an object's rows do not add up to the rows read."""
    pc = run.config.partition_column
    measures = commit.measures

    def sums(row) -> dict[str, str]:
        return {m: format_decimal(row[f"sum_{i}"]) for i, m in enumerate(measures)}

    objects: dict[tuple[str, str], dict] = {}
    for row in batch.read_stats:
        objects[(row[pc], row[INGEST_SOURCE_ID])] = {
            **_unaccounted(measures),
            "rowsRead": row["rows"],
            "sourceKey": row[INGEST_SOURCE_KEY],
            "sourceVersion": row[INGEST_SOURCE_VERSION] or None,
        }
    for row in commit.stats:
        if not row["mine"]:
            continue
        kept = row["outcome"] == "kept"
        target = objects[(row[pc], row[INGEST_SOURCE_ID])]
        amounts = sums(row)
        if kept:
            target["rowsWritten"] += row["rows"]
            target["measures"] = _add(target["measures"], amounts)
            if row[NEW_FLAG] == 0:
                target["identicalRows"] += row["rows"]
                target["identicalMeasures"] = _add(target["identicalMeasures"], amounts)
            continue
        by = {"sourceId": row["by_id"], "sourceKey": row["by_key"], "rows": row["rows"], "measures": amounts}
        if row["outcome"] == "superseded":
            target["supersededRows"] += row["rows"]
            target["supersededMeasures"] = _add(target["supersededMeasures"], amounts)
            _displaced(target["supersededBy"], {**by, "reason": row["reason"]})
        else:
            target["rejectedRows"] += row["rows"]
            target["rejectedMeasures"] = _add(target["rejectedMeasures"], amounts)
            _displaced(target["conflictsWith"], {**by, "reason": "conflict"})
    for (value, source_id), target in objects.items():
        accounted = target["rowsWritten"] + target["supersededRows"] + target["rejectedRows"]
        if accounted != target["rowsRead"]:
            raise AccountingError(
                f"{layout.normalized_object_key(run.config.dataset, pc, value, source_id)}: read"
                f" {target['rowsRead']} row(s) but accounted for {accounted}"
            )
    return objects


# --- processed markers -----------------------------------------------------------------------


def _marker(run: RunContext, commit: Commit, normalized_key: str, source_id: str, target: dict) -> dict:
    return {
        "schemaVersion": 2,
        "dataset": run.config.dataset,
        "runId": run.options.run_id,
        "normalizedKey": normalized_key,
        "sourceId": source_id,
        "snapshotId": _sid(commit.snapshot),
        "rowsRead": target["rowsRead"],
        "rowsWritten": target["rowsWritten"],
        "identicalRows": target["identicalRows"],
        "supersededRows": target["supersededRows"],
        "rejectedRows": target["rejectedRows"],
        "duplicateRows": target["supersededRows"] + target["rejectedRows"],
        "measures": target["measures"],
        "identicalMeasures": target["identicalMeasures"],
        "supersededMeasures": target["supersededMeasures"],
        "rejectedMeasures": target["rejectedMeasures"],
        "supersededBy": sorted(target["supersededBy"].values(), key=lambda d: (d["sourceId"], d["reason"])),
        "conflictsWith": sorted(target["conflictsWith"].values(), key=lambda d: (d["sourceId"], d["reason"])),
        "rejectedKey": commit.rejected_prefix if target["rejectedRows"] else None,
        **(
            {"origin": commit.origins[normalized_key]}
            if commit.origins and normalized_key in commit.origins
            else {}
        ),
    }


_SUMMED = (
    "rowsRead",
    "rowsWritten",
    "identicalRows",
    "supersededRows",
    "rejectedRows",
    "duplicateRows",
)
_SUMMED_MEASURES = ("measures", "identicalMeasures", "supersededMeasures", "rejectedMeasures")


def _add_source(sources: dict[str, dict], target: dict, marker: dict, measures: list[str]) -> None:
    """Adds one marker to the report's entry of its source (a file may span several partitions)."""
    source_id = marker["sourceId"]
    source = sources.setdefault(
        source_id,
        {
            "sourceId": source_id,
            "sourceKey": target.get("sourceKey"),
            "sourceVersion": target.get("sourceVersion"),
            "normalizedKeys": [],
            **dict.fromkeys(_SUMMED, 0),
            **{name: _zero(measures) for name in _SUMMED_MEASURES},
            "supersededBy": [],
            "conflictsWith": [],
        },
    )
    source["normalizedKeys"] = sorted([*source["normalizedKeys"], marker["normalizedKey"]])
    for name in _SUMMED:
        source[name] += marker[name]
    for name in _SUMMED_MEASURES:
        source[name] = _add(source[name], marker[name])
    for name in ("supersededBy", "conflictsWith"):
        merged: dict = {(d["sourceId"], d["reason"]): dict(d) for d in source[name]}
        for d in marker[name]:
            _displaced(merged, d)
        source[name] = sorted(merged.values(), key=lambda d: (d["sourceId"], d["reason"]))


# --- all of a committed run's documents ------------------------------------------------------


def write(run: RunContext, batch: BatchRead, commit: Commit) -> dict:
    """Checks the accounting, then writes the aggregates, the run report and the markers; returns
    the report."""
    config = run.config
    pc = config.partition_column
    measures = commit.measures
    objects = _account(run, batch, commit)
    restatements: dict[tuple, int] = defaultdict(int)
    conflicts: dict[tuple, int] = defaultdict(int)
    rows_added: dict[str, int] = defaultdict(int)
    rows_deleted: dict[str, int] = defaultdict(int)
    for row in commit.stats:
        kept = row["outcome"] == "kept"
        if row[NEW_FLAG] == 1 and kept:
            rows_added[row[pc]] += row["rows"]
        if row[NEW_FLAG] == 0 and not kept:
            rows_deleted[row[pc]] += row["rows"]
        if row["outcome"] == "superseded":
            restatements[
                (row["by_id"], row["by_key"], row[INGEST_SOURCE_ID], row[INGEST_SOURCE_KEY], row["reason"])
            ] += row["rows"]
        elif row["outcome"] == "rejected":
            conflicts[(row[INGEST_SOURCE_ID], row[INGEST_SOURCE_KEY], row["by_id"], row["by_key"])] += row[
                "rows"
            ]

    documents: dict[str, dict] = {}
    for value, entries in commit.aggregates.items():
        documents[layout.aggregates_key(config, value)] = {
            "schemaVersion": 2,
            "dataset": config.dataset,
            "partition": value,
            "runId": run.options.run_id,
            "snapshotId": _sid(commit.snapshot),
            "rules": entries,
        }
    markers: dict[str, dict] = {}
    sources: dict[str, dict] = {}
    for (value, source_id), target in objects.items():
        normalized_key = layout.normalized_object_key(config.dataset, pc, value, source_id)
        marker = _marker(run, commit, normalized_key, source_id, target)
        markers[layout.processed_marker_key(config, normalized_key)] = marker
        _add_source(sources, target, marker, measures)
    # A selected object without rows is consumed too (a marker with zero rows), or every later
    # run would select it again; the reconciliation compares it with its manifest.
    for obj in run.selection.objects:
        marker_key = layout.processed_marker_key(config, obj.key)
        if marker_key not in markers:
            source_id = obj.key.rsplit("/", 1)[-1].removesuffix(layout.NORMALIZED_EXTENSION)
            markers[marker_key] = _marker(run, commit, obj.key, source_id, _unaccounted(measures))
    glue_io.put_json_many(run.clients.s3, config.control_bucket, documents)
    requests_key = None
    if commit.requests is not None:
        requests_key = layout.requests_key(config, run.options.run_id)
        glue_io.put_json(run.clients.s3, config.control_bucket, requests_key, commit.requests)

    report = _report(
        run,
        run.now(),
        files_read=len(run.selection.objects),
        files_left=run.selection.left,
        sources=sorted(sources.values(), key=lambda s: s["sourceId"]),
        writes=[
            {"value": v, "rowsAdded": rows_added.get(v, 0), "rowsDeleted": rows_deleted.get(v, 0)}
            for v in sorted(set(batch.touched) | set(rows_added) | set(rows_deleted))
        ],
        added=batch.added,
    )
    report.update(
        snapshotId=_sid(commit.new_snapshot),
        previousSnapshotId=_sid(batch.previous),
        restatements=[
            {
                "sourceId": by_id,
                "sourceKey": by_key,
                "supersededSourceId": sid,
                "supersededSourceKey": skey,
                "reason": why,
                "rows": n,
            }
            for (by_id, by_key, sid, skey, why), n in sorted(restatements.items(), key=lambda kv: str(kv[0]))
        ],
        conflicts=[
            {
                "sourceId": sid,
                "sourceKey": skey,
                "conflictsWithSourceId": by_id,
                "conflictsWithSourceKey": by_key,
                "rows": n,
                "quarantineKey": commit.rejected_prefix,
            }
            for (sid, skey, by_id, by_key), n in sorted(conflicts.items(), key=lambda kv: str(kv[0]))
        ],
        tableLocation=config.iceberg.location,
        dimensions=batch.dimensions,
    )
    if commit.reprocess is not None:
        # One partition recomputed: every object of it read, no cap; rows added and deleted are
        # the commit's (an updated row counts as both), not "new rows kept".
        block = commit.reprocess
        report.update(
            mode="reprocess",
            capReached=False,
            filesLeft=0,
            partitionsWritten=[
                {
                    "value": block["value"],
                    "rowsAdded": block["rowsInserted"] + block["rowsUpdated"],
                    "rowsDeleted": block["rowsDeleted"] + block["rowsUpdated"],
                }
            ],
            reprocess=block,
        )
    if commit.compliance is not None:
        report["compliance"] = commit.compliance
    if requests_key is not None:
        report["requestsKey"] = requests_key
    _write_report(run, report)
    glue_io.put_json_many(run.clients.s3, config.control_bucket, markers)
    return report
