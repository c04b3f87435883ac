"""One run of the curate job: read new normalized rows, merge them into the touched curated
partitions by staged write and catalog swap, write the control documents.

Order (what makes a failed run safe to retry in full):
  1. remove superseded locations whose retention has passed (best effort);
  2. select the oldest normalized objects without a processed marker in the predicate's
     partitions (at most the cap) and read exactly those;
  3. cast, join dimensions, merge with the touched partitions' current rows, deduplicate;
  4. record the planned locations (swap record ``staged``), write each partition's Parquet
     to a new ``run=<runId>/`` location, never touching the current one;
  5. add new columns to the curated table, then point each partition at its new location
     (one catalog call per partition; readers see the old or the new data, never a mix);
  6. swap record ``swapped``, aggregates per partition, run report, processed markers;
  7. the caller calls ``job.commit()`` last (no source of this job is bookmarked).
A failure before 6 writes no marker, so the rerun selects the same objects again; the merge
(deduplication by key, latest ingest_time wins) is idempotent.
A row dropped for a kept row with the same values in every data column (the same content
delivered twice, e.g. a file uploaded again after its first execution failed) is counted in
``identicalRows``: delivered, not a key collision.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipeline_etl import glue_io, layout, transforms
from pipeline_etl.config import EtlConfig
from pipeline_etl.decimals import add_decimal_strings, format_decimal
from pipeline_etl.transforms import INGEST_SOURCE_ID, INGEST_TEMPLATE, NEW_FLAG, col

log = logging.getLogger("pipeline_etl")

ROWS_PER_FILE = 1_000_000
INGEST_SOURCE_KEY = "ingest_source_key"
INGEST_SOURCE_VERSION = "ingest_source_version"


class CastError(ValueError):
    """Values that do not fit their declared type (the normalizer should have rejected them)."""


class DimensionKeyError(ValueError):
    """A dimension has two rows for one join key (the join would duplicate fact rows)."""


class MeasureOverflowError(ArithmeticError):
    """A measure sum does not fit decimal(38, scale)."""


class SourceObjectError(ValueError):
    """Rows of a normalized object name another object than the one they were read from."""


@dataclass(frozen=True)
class RunOptions:
    job_name: str
    run_id: str
    push_down_predicate: str = ""
    bounded_files: int = 450
    execution_id: str | None = None


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _group_value(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Decimal):
        return format_decimal(value)
    return str(value)


# --- retention of superseded locations ------------------------------------------------------


def remove_expired_locations(clients: glue_io.Clients, config: EtlConfig, now: datetime) -> list[str]:
    """Deletes curated locations that no reader can reach any more, once
    ``supersededRetentionDays`` have passed since they stopped being current:

    - ``swapped`` records: each partition's previous location (superseded at ``swappedAt``);
    - ``staged`` records (a run that failed): locations that never became current are
      orphans; for partitions that were swapped before the failure, the previous location.
    A location that is current in the catalog is never deleted. Returns the locations removed.
    """
    s3, glue = clients.s3, clients.glue
    bucket = config.control_bucket
    keys = [k for k in glue_io.list_keys(s3, bucket, config.control_prefixes.swaps) if k.endswith(".json")]
    if not keys:
        return []
    records = {k: glue_io.get_json(s3, bucket, k) for k in keys}
    records = {k: r for k, r in records.items() if r}
    retention = timedelta(days=config.superseded_retention_days)
    expired = {
        k: r
        for k, r in records.items()
        if now - _parse_iso(r.get("swappedAt") or r["createdAt"]) >= retention
    }
    if not expired:
        return []
    values = {p["value"] for r in expired.values() for p in r["partitions"]}
    current = glue_io.partition_locations(glue, config, config.curated_table, values) if values else {}
    # Locations some record still remembers as superseded by it: their clock runs there.
    superseded_later = {
        p["previousLocation"]
        for k, r in records.items()
        for p in r["partitions"]
        if p.get("previousLocation")
    }
    own_root = f"s3://{config.curated_bucket}/{config.curated_prefix}"
    removed: list[str] = []

    def remove(location: str | None, value: str) -> None:
        if not location or location == current.get(value):
            return
        if not location.startswith(own_root) or "/run=" not in location:
            log.warning("not removing %s: outside %s run locations", location, own_root)
            return
        glue_io.delete_prefix(s3, location)
        removed.append(location)

    for key, record in expired.items():
        for p in record["partitions"]:
            value, location, previous = p["value"], p["location"], p.get("previousLocation")
            if record.get("state") == "swapped":
                remove(previous, value)
                continue
            became_current = location == current.get(value) or location in superseded_later
            if became_current:
                remove(previous, value)
            else:
                remove(location, value)
        s3.delete_object(Bucket=bucket, Key=key)
    if removed:
        log.info("removed %d superseded or orphaned location(s)", len(removed))
    return removed


# --- the run ---------------------------------------------------------------------------------


def _empty_report(config: EtlConfig, options: RunOptions, started: datetime, now: datetime) -> dict:
    return _report(config, options, started, now, files_read=0, files_left=0, sources=[], writes=[], added=[])


def _write_report(clients: glue_io.Clients, config: EtlConfig, options: RunOptions, report: dict) -> dict:
    glue_io.put_json(clients.s3, config.control_bucket, layout.run_report_key(config, options.run_id), report)
    return report


def _report(config, options, started, finished, *, files_read, files_left, sources, writes, added) -> dict:
    return {
        "schemaVersion": 1,
        "dataset": config.dataset,
        "runId": options.run_id,
        "jobName": options.job_name,
        "executionId": options.execution_id,
        "startedAt": iso(started),
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


def run_curate(
    glue_context,
    config: EtlConfig,
    options: RunOptions,
    clients: glue_io.Clients,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict:
    """Runs one curate pass and returns its run report (already written to the control bucket)."""
    started = now()
    pc = config.partition_column
    try:
        remove_expired_locations(clients, config, started)
    except Exception:  # retention is housekeeping: never fail a run for it
        log.exception("removing superseded locations failed; will retry next run")

    source_table = glue_io.get_table(clients.glue, config.database, config.source_table)
    if source_table is None:
        raise LookupError(f"source table {config.database}.{config.source_table} does not exist")
    selection = glue_io.select_unprocessed(
        clients, config, options.push_down_predicate, options.bounded_files
    )
    log.info(
        "%d unprocessed normalized object(s) in %d partition(s); reading %d",
        selection.unprocessed,
        selection.partitions,
        len(selection.objects),
    )
    raw = glue_io.read_normalized(glue_context, config, selection)
    if raw is None:
        return _write_report(clients, config, options, _empty_report(config, options, started, now()))
    catalog_columns = [c["Name"] for c in glue_io.table_columns(source_table)]
    # Declared columns are in curated from the first run on, even before a file carries them.
    declared = [c.name for c in config.columns] + [m.name for m in config.measures]
    raw = transforms.with_columns(raw, [*catalog_columns, *declared, pc, *config.lineage_columns])
    # The batch is scanned twice (control totals, then the merge): read the objects once.
    raw = raw.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        return _curate_batch(
            glue_context, config, options, clients, now, started, raw, catalog_columns, declared, selection
        )
    finally:
        raw.unpersist()


def _curate_batch(
    glue_context, config, options, clients, now, started, raw, catalog_columns, declared, selection
) -> dict:
    pc = config.partition_column
    data_columns = [c for c in raw.columns if c != pc]
    types = transforms.target_types(config, data_columns)

    # One pass over the batch: rows per normalized object, and values that do not cast.
    failures = transforms.cast_failure_counts(raw, types)
    group = [pc, INGEST_SOURCE_ID, INGEST_SOURCE_KEY, INGEST_SOURCE_VERSION]
    aggregates = [F.count(F.lit(1)).alias("rows")] + (
        [failures.alias("failures")] if failures is not None else []
    )
    read_stats = raw.groupBy(*[col(c) for c in group]).agg(*aggregates).collect()
    selected = {o.key for o in selection.objects}
    foreign = sorted(
        {
            layout.normalized_object_key(config.dataset, pc, row[pc], row[INGEST_SOURCE_ID])
            for row in read_stats
        }
        - selected
    )
    if foreign:
        raise SourceObjectError(
            f"rows whose partition and ingest_source_id name no object this run read: {foreign[:3]}"
        )
    bad: dict[str, int] = defaultdict(int)
    bad_objects: dict[str, set[str]] = defaultdict(set)
    for row in read_stats:
        if failures is not None and row["failures"] is not None:
            for name, count in row["failures"].asDict().items():
                if count:
                    bad[name] += count
                    bad_objects[name].add(
                        layout.normalized_object_key(config.dataset, pc, row[pc], row[INGEST_SOURCE_ID])
                    )
    if bad:
        detail = "; ".join(
            f"{name} ({types[name].simpleString()}): {count} value(s), e.g. in {sorted(bad_objects[name])[0]}"
            for name, count in sorted(bad.items())
        )
        raise CastError(f"values that do not cast to their declared type: {detail}")

    batch = transforms.cast_columns(raw, types)
    first_columns = [c for c in [*declared, *catalog_columns] if c not in config.lineage_columns and c != pc]
    for dimension in config.dimensions:
        dim = glue_io.read_dimension(glue_context, dimension)
        keys = list(dimension.join_keys.values())
        duplicated = dim.groupBy(*[col(k) for k in keys]).count().where(F.col("count") > 1).limit(5).collect()
        if duplicated:
            raise DimensionKeyError(
                f"dimension {dimension.name} has more than one row for {keys}: "
                + ", ".join(str([r[k] for k in keys]) for r in duplicated)
            )
        batch = transforms.join_dimension(batch, dim, dimension.join_keys, dimension.columns)
        first_columns += list(dimension.columns)

    touched = sorted({row[pc] for row in read_stats})
    curated_table = glue_io.get_table(clients.glue, config.database, config.curated_table)
    current: dict[str, str] = {}
    existing: DataFrame | None = None
    if curated_table is not None:
        table_types = {c["Name"]: c["Type"] for c in glue_io.table_columns(curated_table)}
        batch = batch.select(
            *[
                col(c).cast(table_types[c]).alias(c)
                if c in table_types and batch.schema[c].dataType.simpleString() != table_types[c]
                else col(c)
                for c in batch.columns
            ]
        )
        current = glue_io.partition_locations(clients.glue, config, config.curated_table, touched)
        if current:
            existing = glue_io.read_curated(glue_context, config, sorted(current))
        first_columns = [c["Name"] for c in glue_io.table_columns(curated_table)] + first_columns

    if existing is not None:
        merged = transforms.union_with_existing(existing, batch)
    else:
        merged = batch.withColumn(NEW_FLAG, F.lit(1))
    compared = [c for c in merged.columns if c not in (NEW_FLAG, *config.lineage_columns)]
    ranked = transforms.rank_duplicates(merged, [pc, *config.keys], compared)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("merge plan:\n%s", ranked._jdf.queryExecution().executedPlan().toString())
    ranked = ranked.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        identical = _identical_totals(config, ranked)
        merged = transforms.order_columns(
            transforms.kept_rows(ranked), [*first_columns, *config.lineage_columns]
        )
        return _write_and_swap(
            glue_context,
            config,
            options,
            clients,
            now,
            started,
            merged,
            read_stats,
            touched,
            current,
            curated_table,
            identical,
            selection,
        )
    finally:
        ranked.unpersist()


def _identical_totals(config: EtlConfig, ranked: DataFrame) -> dict[tuple[str, str], dict]:
    """Per (partition, source): this run's rows dropped for a kept row with the same values (the
    same data delivered twice), with their measure sums: delivered, though not written again."""
    pc = config.partition_column
    measures = [m.name for m in config.measures if m.name in ranked.columns]
    rows = (
        ranked.where(
            (F.col(transforms.DUPLICATE_RANK) > 1) & (col(NEW_FLAG) == 1) & F.col(transforms.IDENTICAL_FLAG)
        )
        .groupBy(col(pc), col(INGEST_SOURCE_ID))
        .agg(
            F.count(F.lit(1)).alias("rows"),
            *[F.sum(col(m)).alias(f"sum_{i}") for i, m in enumerate(measures)],
        )
        .collect()
    )
    return {
        (row[pc], row[INGEST_SOURCE_ID]): {
            "rows": row["rows"],
            "measures": {m: format_decimal(row[f"sum_{i}"]) for i, m in enumerate(measures)},
        }
        for row in rows
    }


def _write_and_swap(
    glue_context,
    config,
    options,
    clients,
    now,
    started,
    merged,
    read_stats,
    touched,
    current,
    curated_table,
    identical,
    selection,
) -> dict:
    pc = config.partition_column
    measures = [m.name for m in config.measures if m.name in merged.columns]
    stats = (
        merged.groupBy(col(pc), col(NEW_FLAG), col(INGEST_SOURCE_ID))
        .agg(
            F.count(F.lit(1)).alias("rows"),
            *[F.sum(col(m)).alias(f"sum_{i}") for i, m in enumerate(measures)],
            *[F.count(col(m)).alias(f"count_{i}") for i, m in enumerate(measures)],
        )
        .collect()
    )
    partition_rows: dict[str, int] = defaultdict(int)
    written: dict[tuple[str, str], dict] = {}
    for row in stats:
        partition_rows[row[pc]] += row["rows"]
        if row[NEW_FLAG] != 1:
            continue
        sums = {}
        for i, m in enumerate(measures):
            if row[f"sum_{i}"] is None and row[f"count_{i}"]:
                raise MeasureOverflowError(f"sum of {m} in partition {row[pc]} overflows its decimal type")
            sums[m] = format_decimal(row[f"sum_{i}"])
        written[(row[pc], row[INGEST_SOURCE_ID])] = {"rows": row["rows"], "measures": sums}

    aggregates = _cross_template_sums(config, merged)

    # Stage: record the plan, then write every touched partition to its new location.
    output_columns = [c for c in merged.columns if c not in (pc, NEW_FLAG)]
    catalog_columns = [{"Name": c, "Type": merged.schema[c].dataType.simpleString()} for c in output_columns]
    plan = [
        {
            "value": v,
            "location": layout.curated_partition_location(config, v, options.run_id),
            "previousLocation": current.get(v),
        }
        for v in touched
    ]
    swap_key = layout.swap_record_key(config, options.run_id)
    swap_record = {
        "schemaVersion": 1,
        "dataset": config.dataset,
        "runId": options.run_id,
        "state": "staged",
        "createdAt": iso(now()),
        "swappedAt": None,
        "partitions": plan,
    }
    glue_io.put_json(clients.s3, config.control_bucket, swap_key, swap_record)
    for entry in plan:
        rows = partition_rows[entry["value"]]
        files = max(1, math.ceil(rows / ROWS_PER_FILE))
        part = (
            merged.where(col(pc) == entry["value"]).select(*[col(c) for c in output_columns]).coalesce(files)
        )
        glue_io.write_parquet(glue_context, part, entry["location"])

    # Swap: the table learns new columns first, then each partition moves in one call.
    added = glue_io.ensure_curated_table(clients.glue, config, catalog_columns, curated_table)
    for entry in plan:
        glue_io.swap_partition(
            clients.glue,
            config,
            entry["value"],
            entry["location"],
            catalog_columns,
            exists=entry["previousLocation"] is not None,
        )
    swap_record.update(state="swapped", swappedAt=iso(now()))
    glue_io.put_json(clients.s3, config.control_bucket, swap_key, swap_record)

    # Control documents: aggregates, the run report, then the markers (only now are the rows
    # committed; a marker's run always has its report). A failure before the last marker leaves
    # the unmarked objects to the next run, which merges them again (idempotent) under its own
    # run id and report.
    documents: dict[str, dict] = {}
    markers: dict[str, dict] = {}
    for entry in plan:
        v = entry["value"]
        documents[layout.aggregates_key(config, v)] = {
            "schemaVersion": 1,
            "dataset": config.dataset,
            "partition": v,
            "runId": options.run_id,
            "location": entry["location"],
            "rules": [
                {
                    "rule": rule.name,
                    "measure": rule.measure,
                    "groupBy": list(rule.group_by),
                    "sums": aggregates.get((rule.name, v), []),
                }
                for rule in config.cross_template_rules
            ],
        }
    sources: dict[str, dict] = {}
    for row in read_stats:
        v, source_id = row[pc], row[INGEST_SOURCE_ID]
        normalized_key = layout.normalized_object_key(config.dataset, pc, v, source_id)
        out = written.get((v, source_id), {"rows": 0, "measures": {m: "0" for m in measures}})
        same = identical.get((v, source_id), {"rows": 0, "measures": {m: "0" for m in measures}})
        marker = {
            "schemaVersion": 1,
            "dataset": config.dataset,
            "runId": options.run_id,
            "normalizedKey": normalized_key,
            "sourceId": source_id,
            "rowsRead": row["rows"],
            "rowsWritten": out["rows"],
            "duplicateRows": row["rows"] - out["rows"],
            "identicalRows": same["rows"],
            "identicalMeasures": same["measures"],
            "measures": out["measures"],
        }
        markers[layout.processed_marker_key(config, normalized_key)] = marker
        source = sources.setdefault(
            source_id,
            {
                "sourceId": source_id,
                "sourceKey": row[INGEST_SOURCE_KEY],
                "sourceVersion": row[INGEST_SOURCE_VERSION] or None,
                "normalizedKeys": [],
                "rowsRead": 0,
                "rowsWritten": 0,
                "duplicateRows": 0,
                "identicalRows": 0,
                "measures": {m: "0" for m in measures},
                "identicalMeasures": {m: "0" for m in measures},
            },
        )
        source["normalizedKeys"].append(normalized_key)
        source["rowsRead"] += marker["rowsRead"]
        source["rowsWritten"] += marker["rowsWritten"]
        source["duplicateRows"] += marker["duplicateRows"]
        source["identicalRows"] += marker["identicalRows"]
        source["identicalMeasures"] = {
            m: add_decimal_strings(source["identicalMeasures"][m], marker["identicalMeasures"][m])
            for m in measures
        }
        source["measures"] = {
            m: add_decimal_strings(source["measures"][m], marker["measures"][m]) for m in measures
        }
    # A selected object without rows is consumed too (a marker with zero rows), or every later
    # run would select it again; the reconciliation compares it with its manifest.
    for obj in selection.objects:
        marker_key = layout.processed_marker_key(config, obj.key)
        if marker_key not in markers:
            markers[marker_key] = {
                "schemaVersion": 1,
                "dataset": config.dataset,
                "runId": options.run_id,
                "normalizedKey": obj.key,
                "sourceId": obj.key.rsplit("/", 1)[-1].removesuffix(layout.NORMALIZED_EXTENSION),
                "rowsRead": 0,
                "rowsWritten": 0,
                "duplicateRows": 0,
                "identicalRows": 0,
                "identicalMeasures": {m: "0" for m in measures},
                "measures": {m: "0" for m in measures},
            }
    glue_io.put_json_many(clients.s3, config.control_bucket, documents)

    report = _report(
        config,
        options,
        started,
        now(),
        files_read=len(selection.objects),
        files_left=selection.left,
        sources=sorted(
            ({**s, "normalizedKeys": sorted(s["normalizedKeys"])} for s in sources.values()),
            key=lambda s: s["sourceId"],
        ),
        writes=[
            {
                "value": e["value"],
                "location": e["location"],
                "previousLocation": e["previousLocation"],
                "rows": partition_rows[e["value"]],
            }
            for e in plan
        ],
        added=added,
    )
    _write_report(clients, config, options, report)
    glue_io.put_json_many(clients.s3, config.control_bucket, markers)
    return report


def _cross_template_sums(config: EtlConfig, merged: DataFrame) -> dict[tuple[str, str], list[dict]]:
    """Per (rule, partition): sum of the rule's measure by template and group, whole partition."""
    pc = config.partition_column
    out: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for rule in config.cross_template_rules:
        frame = transforms.with_columns(merged, [rule.measure, *rule.group_by, INGEST_TEMPLATE])
        group = list(dict.fromkeys([pc, INGEST_TEMPLATE, *rule.group_by]))
        rows = (
            frame.where(col(INGEST_TEMPLATE).isin(list(rule.templates)))
            .groupBy(*[col(c) for c in group])
            .agg(F.sum(col(rule.measure)).alias("sum"), F.count(col(rule.measure)).alias("n"))
            .collect()
        )
        for row in sorted(rows, key=lambda r: tuple(str(r[c]) for c in group)):
            if row["sum"] is None and row["n"]:
                raise MeasureOverflowError(f"sum of {rule.measure} for rule {rule.name} overflows")
            out[(rule.name, row[pc])].append(
                {
                    "template": row[INGEST_TEMPLATE],
                    "group": {g: _group_value(row[g]) for g in rule.group_by},
                    "sum": format_decimal(row["sum"]),
                }
            )
    return out
