"""Reprocessing one partition (``--reprocess_partition <column>=<value>``; docs/etl.md,
"Reprocessing one partition"): for a correction of the job's own logic (a cast, a dimension, a
compliance rule), the partition's curated rows are recomputed from every normalized object of
the partition with the job's current code, and replace the partition's rows in one commit.

What it guarantees:

- **The result is a fresh load's.** Every normalized object of the partition is read again,
  processed markers ignored (they stand in for job bookmarks: "without bookmarks"), without the
  file cap. The rows go through the same casts, dimension joins and compliance rules as an
  incremental run, then the same restatement rules (``restate.resolve``), all of them as new
  rows: landing order decides, never processing order, so the outcome is what loading every file
  of the partition in landing order gives. Files merged earlier count through the registry of
  merged files as in any run (a newer version of an object whose rows are all in another
  partition still supersedes the older version's rows here); under a table-wide key scope the
  curated rows of other partitions with the same keys take part too, as rows that can win but
  are never changed.
- **Other partitions are untouched.** The commit changes rows of this partition only.
- **One commit, and only what changed.** The partition's curated rows (read at the snapshot the
  run started from) are compared with the result by row identity and value: rows no longer kept
  are deleted, changed rows updated, new rows inserted, in one ``MERGE INTO`` (one snapshot;
  readers see the partition before or after, never a mix). When nothing differs, nothing is
  committed: a second reprocessing of the same partition changes no row and adds no snapshot.
- **The control documents stay consistent.** Every object of the partition gets a new processed
  marker naming this run (its accounting as of the run's snapshot), the run report lists them
  (``mode: reprocess`` and a ``reprocess`` block: rows before and after, inserted, updated,
  deleted, unchanged), the partition's aggregates and the registry entries are rewritten. A new
  marker keeps, as ``origin``, the counts of the run that first merged its object (from the
  marker it replaces), so that run's report can still be checked against its markers by the
  reconciliation (a file's objects in other partitions keep naming that run).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipeline_etl import compliance, documents, glue_io, iceberg, layout, restate, transforms
from pipeline_etl.config import EtlConfig
from pipeline_etl.curation import (
    _MINE,
    _cross_template_sums,
    _known_files,
    _register_files,
    outcome_stats,
    prepare_batch,
)
from pipeline_etl.lineage import INGEST_ROW_NUMBER, INGEST_SOURCE_ID, SHEET_COLUMN
from pipeline_etl.run_state import BatchRead, Commit, RunContext
from pipeline_etl.transforms import NEW_FLAG, col

log = logging.getLogger("pipeline_etl")


class ReprocessArgumentError(ValueError):
    """``--reprocess_partition`` does not name exactly one partition of the dataset."""


class EmptyPartitionError(LookupError):
    """The partition to reprocess has no normalized objects (nothing is changed)."""


class CuratedTableMissingError(LookupError):
    """There is no curated table to correct yet."""


class ReprocessCheckError(RuntimeError):
    """The partition does not hold, after the commit, the rows the run computed (nothing marked)."""


#: The fields of a processed marker an ``origin`` keeps: what the run that merged the object
#: first said of it, as its run report lists it.
ORIGIN_FIELDS = (
    "runId",
    "snapshotId",
    "rowsRead",
    "rowsWritten",
    "identicalRows",
    "supersededRows",
    "rejectedRows",
    "duplicateRows",
    "measures",
    "identicalMeasures",
    "supersededMeasures",
    "rejectedMeasures",
)

_SAME = "_reprocess_same"
_BEFORE = "_reprocess_before"
_OP = "_curate_op"


def reprocess_predicate(config: EtlConfig, argument: str, predicate: str) -> tuple[str | None, str]:
    """Reads ``--reprocess_partition``: (the partition value, the push-down predicate of the run).

    '' is the incremental run: (None, ``predicate`` unchanged). Otherwise exactly one
    ``<partition column>=<value>``; the run's predicate is that partition's, and a
    ``--push_down_predicate`` passed with it must be empty or that same predicate."""
    text = argument.strip()
    if not text:
        return None, predicate
    pc = config.partition_column
    column, sep, value = text.partition("=")
    if not sep or not value:
        raise ReprocessArgumentError(
            f"--reprocess_partition must be <partition column>=<value>, e.g. {pc}=<value>; got {argument!r}"
        )
    if column.strip() != pc:
        raise ReprocessArgumentError(
            f"--reprocess_partition names column {column.strip()!r}, but {config.dataset} is partitioned by"
            f" {pc!r}: pass {pc}=<value>"
        )
    if value != value.strip():
        raise ReprocessArgumentError(f"--reprocess_partition value {value!r} has leading or trailing spaces")
    own = layout.partition_predicate(pc, [value])
    if predicate and predicate != own:
        raise ReprocessArgumentError(
            f"--push_down_predicate {predicate!r} does not select exactly the partition to reprocess"
            f" ({own!r}): pass it empty or equal"
        )
    return value, own


def _same_identity(left_names: list[str], right: DataFrame, aliases: list[str]):
    """Null-safe equality of ``left_names`` with ``aliases`` of ``right`` (a delimited file's rows
    have no sheet, and null = null is not true in a join)."""
    condition = None
    for name, alias in zip(left_names, aliases, strict=True):
        clause = col(name).eqNullSafe(right[alias])
        condition = clause if condition is None else condition & clause
    return condition


def _flag(df: DataFrame, keys: DataFrame, names: list[str], flag: str) -> DataFrame:
    """``df`` with a boolean ``flag``: whether its ``names`` values are among ``keys``' rows
    (null-safe)."""
    aliases = [f"{flag}_{i}" for i in range(len(names))]
    marked = keys.select(*[col(n).alias(a) for n, a in zip(names, aliases, strict=True)]).distinct()
    marked = marked.withColumn(flag, F.lit(True))
    joined = df.join(marked, on=_same_identity(names, marked, aliases), how="left").drop(*aliases)
    return joined.withColumn(flag, F.coalesce(F.col(flag), F.lit(False)))


def _origins(run: RunContext) -> dict[str, dict]:
    """Per normalized key of the partition: the ``origin`` its new marker carries. A marker that
    already has one passes it on (the first run's counts stay); a marker without one is the first
    run's own."""
    config = run.config
    s3, bucket = run.clients.s3, config.control_bucket

    def origin(key: str) -> tuple[str, dict | None]:
        marker = glue_io.get_json(s3, bucket, layout.processed_marker_key(config, key))
        if not marker:
            return key, None
        kept = marker.get("origin") or {f: marker.get(f) for f in ORIGIN_FIELDS}
        return key, kept

    with ThreadPoolExecutor(glue_io.CONTROL_WRITERS) as pool:
        found = list(pool.map(origin, [o.key for o in run.selection.objects]))
    return {key: value for key, value in found if value is not None}


def reprocess_batch(run: RunContext, raw: DataFrame, catalog_columns: list[str], declared: list[str]) -> dict:
    """Recomputes partition ``run.options.reprocess`` from ``raw`` (every object of it) and commits
    the difference; returns the run report (written, with the markers)."""
    spark, config, options = run.spark, run.config, run.options
    value = options.reprocess
    assert value is not None
    pc = config.partition_column
    prepared = prepare_batch(run, raw, catalog_columns, declared)
    if not prepared.exists:
        raise CuratedTableMissingError(
            f"the curated table {config.database}.{config.curated_table} does not exist yet: there is nothing"
            " to reprocess (the first incremental run creates it)"
        )
    foreign = sorted({r[pc] for r in prepared.read_stats} - {value})
    if foreign:  # the catalog's partition values name the objects' rows; never another partition's
        raise ReprocessArgumentError(
            f"the predicate {options.push_down_predicate!r} read partitions {foreign}"
        )
    table_types = iceberg.table_schema(spark, config)
    table_columns = list(table_types)
    has_sheet = SHEET_COLUMN in table_types
    identity = [pc, INGEST_SOURCE_ID, INGEST_ROW_NUMBER] + ([SHEET_COLUMN] if has_sheet else [])
    previous = prepared.previous
    # The table as the run found it, pinned: the comparison and the commit see the same rows.
    current = (
        spark.sql(f"SELECT * FROM {config.curated_identifier} VERSION AS OF {previous}")
        if previous is not None
        else spark.table(config.curated_identifier)
    )

    def aligned(df: DataFrame) -> DataFrame:
        df = transforms.with_columns(df, table_columns)
        return df.select(
            *[
                col(c).cast(table_types[c]).alias(c)
                if df.schema[c].dataType.simpleString() != table_types[c]
                else col(c)
                for c in table_columns
            ]
        )

    existing = aligned(current.where(col(pc) == F.lit(value))).persist(StorageLevel.MEMORY_AND_DISK)
    batch = aligned(prepared.batch)
    union = batch.withColumn(NEW_FLAG, F.lit(1)).withColumn(_MINE, F.lit(True))
    policy, keys = config.restatement.conflict_policy, restate.key_columns(config)
    if config.restatement.key_scope == "table" and policy != "keep" and all(k in table_types for k in keys):
        # Keys unique across the table: rows of other partitions with the batch's keys decide
        # collisions too (they can win; this run never changes them).
        aliases = [f"_reprocess_key_{i}" for i in range(len(keys))]
        batch_keys = batch.select(*[col(k).alias(a) for k, a in zip(keys, aliases, strict=True)]).distinct()
        context = aligned(current.where(col(pc) != F.lit(value))).join(
            F.broadcast(batch_keys), on=_same_identity(keys, batch_keys, aliases), how="left_semi"
        )
        union = union.unionByName(context.withColumn(NEW_FLAG, F.lit(0)).withColumn(_MINE, F.lit(False)))
    resolved = restate.resolve(union, config, _known_files(run, union))
    resolved = resolved.localCheckpoint(eager=True)
    try:
        outcome = col(restate.OUTCOME)
        mine = col(_MINE)
        # Rows of other partitions a row of this one would displace: a fresh load would have
        # displaced them too, but they are not this run's to change (reported, not committed).
        outside = resolved.where(~mine & (outcome != "kept")).count()
        if outside:
            log.warning(
                "%d row(s) of other partitions lose to rows of %s=%s (table-wide key); left unchanged",
                outside,
                pc,
                value,
            )
        resolved = resolved.where(mine)
        kept = resolved.where(outcome == "kept").select(*[col(c) for c in table_columns])
        # Unchanged: the same identity and every value equal (intersect compares nulls as equal).
        unchanged = kept.intersect(existing)
        resolved = _flag(resolved, unchanged, identity, _SAME)
        resolved = _flag(resolved, existing, identity, _BEFORE)
        # Kept and unchanged rows are "identical" (NEW_FLAG 0) in the accounting, as in a rerun.
        resolved = resolved.withColumn(
            NEW_FLAG, F.when((outcome == "kept") & F.col(_SAME), F.lit(0)).otherwise(F.lit(1))
        ).localCheckpoint(eager=True)
        changed = resolved.where((outcome == "kept") & ~F.col(_SAME))
        updates = changed.where(F.col(_BEFORE))
        inserts = changed.where(~F.col(_BEFORE))
        deletes = _flag(existing, kept, identity, _SAME).where(~F.col(_SAME)).drop(_SAME)
        counts = {
            "rowsBefore": existing.count(),
            "rowsAfter": kept.count(),
            "rowsInserted": inserts.count(),
            "rowsUpdated": updates.count(),
            "rowsDeleted": deletes.count(),
        }
        counts["rowsUnchanged"] = counts["rowsAfter"] - counts["rowsInserted"] - counts["rowsUpdated"]
        committed = bool(counts["rowsInserted"] or counts["rowsUpdated"] or counts["rowsDeleted"])
        if committed:
            source = (
                inserts.select(*[col(c) for c in table_columns])
                .withColumn(_OP, F.lit("insert"))
                .unionByName(
                    updates.select(*[col(c) for c in table_columns]).withColumn(_OP, F.lit("update"))
                )
                .unionByName(deletes.withColumn(_OP, F.lit("delete")))
            )
            iceberg.replace_partition_rows(
                spark, config, source, value, has_sheet, f"reprocess_{options.run_id[-16:]}"
            )
        snapshot = iceberg.current_snapshot(spark, config)
        after = spark.table(config.curated_identifier).where(col(pc) == F.lit(value)).count()
        if after != counts["rowsAfter"]:
            raise ReprocessCheckError(
                f"partition {pc}={value} holds {after} row(s) after the commit of snapshot {snapshot},"
                f" but the run computed {counts['rowsAfter']}; no marker was written (rerun the reprocessing)"
            )
        stats, measures = outcome_stats(config, resolved)
        rejected_prefix = None
        if any(r["outcome"] == "rejected" for r in stats):
            # A copy per reprocessing run: the new markers name this run's prefix.
            rejected_prefix = f"{config.conflicts_prefix}{options.run_id}/"
            rows = resolved.where(outcome == "rejected").select(
                *[col(c) for c in table_columns],
                col(restate.BY_SOURCE_ID).alias("conflicts_with_source_id"),
                col(restate.BY_SOURCE_KEY).alias("conflicts_with_source_key"),
                F.lit("key_conflict").alias("_reason"),
            )
            glue_io.write_json_lines(
                run.glue_context, rows, f"s3://{config.quarantine_bucket}/{rejected_prefix}"
            )
        _register_files(run, resolved)
        aggregates = _cross_template_sums(run, [value], snapshot) if config.cross_template_rules else {}
        summary = compliance.summary(resolved, config.compliance) if config.compliance else None
        block = {
            "partition": f"{pc}={value}",
            "column": pc,
            "value": value,
            "objects": len(run.selection.objects),
            **counts,
            "committed": committed,
            "otherPartitionRowsDisplaced": outside,
        }
        report = documents.write(
            run,
            BatchRead(
                read_stats=prepared.read_stats,
                touched=[value],
                dimensions=prepared.dimensions,
                table_existed=True,
                previous=previous,
                added=prepared.added,
                has_sheet=has_sheet,
                table_columns=table_columns,
            ),
            Commit(
                stats=stats,
                measures=measures,
                snapshot=snapshot,
                new_snapshot=snapshot if committed else None,
                rejected_prefix=rejected_prefix,
                aggregates=aggregates,
                compliance=summary,
                reprocess=block,
                origins=_origins(run),
            ),
        )
    finally:
        existing.unpersist()
    log.info("reprocessed %s=%s: %s", pc, value, block)
    if committed:
        try:
            report["maintenance"] = iceberg.maintain(spark, config, run.now(), [value])
            log.info("table maintenance: %s", report["maintenance"])
        except Exception:  # housekeeping never fails a committed run; the next run tries again
            log.exception("table maintenance failed; the next run tries again")
    return report
