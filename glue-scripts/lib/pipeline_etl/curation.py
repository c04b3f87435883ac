"""One run of the curate job: read new normalized rows, resolve restatements and conflicts
against the curated Iceberg table, commit once, write the control documents (``documents``).

Order (what makes a failed run safe to retry in full):
  1. select the oldest normalized objects without a processed marker in the predicate's
     partitions (at most the cap) and read exactly those;
  2. cast, join dimensions, evaluate the compliance rules (datasets with rules:
     ``compliance``); add new columns to the table (metadata only);
  3. read the curated rows this batch may displace (same landing object, same replacement
     scope, same key, same source), resolve (``restate.resolve``);
  4. one Iceberg commit: new rows appended and displaced rows deleted together (``MERGE INTO``,
     or an append when nothing is deleted); readers see the snapshot before or after;
  5. rejected rows to the quarantine bucket, aggregates, the requests document (datasets with an
     approval workflow), the run report, then the markers;
  6. table maintenance (best effort), then the caller calls ``job.commit()``.
A failure before 4 leaves the table as it was; after 4 and before the markers, the rerun reads
the same objects again, finds their rows already in curated by identity (partition, source id,
sheet, row number) and inserts nothing twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from pipeline_etl import compliance, documents, files, glue_io, iceberg, layout, restate, transforms
from pipeline_etl.config import EtlConfig
from pipeline_etl.decimals import format_decimal
from pipeline_etl.lineage import (
    INGEST_LANDED_AT,
    INGEST_ROW_NUMBER,
    INGEST_SEQUENCER,
    INGEST_SOURCE_ID,
    INGEST_SOURCE_KEY,
    INGEST_SOURCE_VERSION,
    INGEST_TEMPLATE,
    SHEET_COLUMN,
)
from pipeline_etl.run_state import BatchRead, Commit, RunContext, RunOptions
from pipeline_etl.transforms import NEW_FLAG, col

log = logging.getLogger("pipeline_etl")


class CastError(ValueError):
    """Values that do not fit their declared type (the normalizer should have rejected them)."""


class DimensionKeyError(ValueError):
    """A dimension has two rows for one join key (the join would duplicate fact rows)."""


class MeasureOverflowError(ArithmeticError):
    """A measure sum does not fit decimal(38, scale)."""


class SourceObjectError(ValueError):
    """Rows of a normalized object name another object than the one they were read from."""


def _group_value(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return documents.iso(value)
    if isinstance(value, Decimal):
        return format_decimal(value)
    return str(value)


# --- the run ---------------------------------------------------------------------------------


def run_curate(
    glue_context,
    config: EtlConfig,
    options: RunOptions,
    clients: glue_io.Clients,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict:
    """Runs one curate pass and returns its run report (already written to the control bucket)."""
    started = now()
    spark = glue_context.spark_session
    iceberg.configure_catalog(spark, config)
    source_table = glue_io.get_table(clients.glue, config.database, config.source_table)
    if source_table is None:
        raise LookupError(f"source table {config.database}.{config.source_table} does not exist")
    if options.reprocess is not None:
        # One partition again, every normalized object of it whatever its marker says
        # (docs/etl.md, "Reprocessing one partition"): no cap, the run must see the whole partition.
        selection = glue_io.select_unprocessed(clients, config, options.push_down_predicate, None, every=True)
    else:
        selection = glue_io.select_unprocessed(
            clients, config, options.push_down_predicate, options.bounded_files
        )
    log.info(
        "%d unprocessed normalized object(s) in %d partition(s); reading %d",
        selection.unprocessed,
        selection.partitions,
        len(selection.objects),
    )
    run = RunContext(
        glue_context=glue_context,
        spark=spark,
        clients=clients,
        config=config,
        options=options,
        started=started,
        now=now,
        selection=selection,
    )
    raw = glue_io.read_normalized(glue_context, config, selection)
    if raw is None and options.reprocess is not None:
        from pipeline_etl.reprocess import EmptyPartitionError

        raise EmptyPartitionError(
            f"partition {config.partition_column}={options.reprocess} of {config.dataset} has no normalized"
            f" objects ({selection.partitions} catalog partition(s) of {config.source_table} match"
            f" {options.push_down_predicate!r}); nothing was changed"
        )
    if raw is None:
        exists = iceberg.table_exists(spark, config)
        snapshot = iceberg.current_snapshot(spark, config) if exists else None
        return documents.write_nothing_read(run, snapshot)
    catalog_columns = [c["Name"] for c in glue_io.table_columns(source_table)]
    # Declared columns are in curated from the first run on, even before a file carries them.
    declared = [c.name for c in config.columns] + [m.name for m in config.measures]
    raw = transforms.with_columns(raw, [*catalog_columns, *declared, pc_of(config), *config.lineage_columns])
    raw = raw.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        if options.reprocess is not None:
            from pipeline_etl.reprocess import reprocess_batch

            return reprocess_batch(run, raw, catalog_columns, declared)
        return _curate_batch(run, raw, catalog_columns, declared)
    finally:
        raw.unpersist()


def pc_of(config: EtlConfig) -> str:
    return config.partition_column


@dataclass(frozen=True)
class Prepared:
    """The batch read, cast, joined and evaluated, aligned with the table's schema (columns the
    table lacked are added to it), and the table as it was before the run."""

    batch: DataFrame
    read_stats: list[Row]
    touched: list[str]
    dimensions: list[dict]
    exists: bool
    previous: int | None
    added: list[str]
    table_types: dict[str, str]


def prepare_batch(
    run: RunContext, raw: DataFrame, catalog_columns: list[str], declared: list[str]
) -> Prepared:
    """Step 2 of the module doc: cast checks, casts, dimension joins, compliance, schema evolution."""
    spark, config = run.spark, run.config
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
    selected = {o.key for o in run.selection.objects}
    foreign = sorted(
        {
            layout.normalized_object_key(config.dataset, pc, row[pc], row[INGEST_SOURCE_ID])
            for row in read_stats
        }
        - selected
    )
    if foreign:
        raise SourceObjectError(
            f"rows whose partition and {INGEST_SOURCE_ID} name no object this run read: {foreign[:3]}"
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
    dimension_versions: list[dict] = []
    dimension_rows: dict[str, tuple[dict[str, str], DataFrame]] = {}
    for dimension in config.dimensions:
        dim, dim_snapshot = glue_io.read_dimension(run.glue_context, config, dimension)
        dimension_versions.append(
            {
                "name": dimension.name,
                "table": dimension.table,
                "path": dimension.path,
                "snapshotId": dim_snapshot,
            }
        )
        keys = list(dimension.join_keys.values())
        duplicated = dim.groupBy(*[col(k) for k in keys]).count().where(F.col("count") > 1).limit(5).collect()
        if duplicated:
            raise DimensionKeyError(
                f"dimension {dimension.name} has more than one row for {keys}: "
                + ", ".join(str([r[k] for k in keys]) for r in duplicated)
            )
        batch = transforms.join_dimension(batch, dim, dimension.join_keys, dimension.columns)
        first_columns += list(dimension.columns)
        dimension_rows[dimension.name] = (dimension.join_keys, dim)
    if config.compliance:
        curated = spark.table(config.curated_identifier) if iceberg.table_exists(spark, config) else None
        batch = compliance.evaluate(batch, config.compliance, dimension_rows, curated)
        first_columns += list(compliance.COMPLIANCE_COLUMNS)
    batch = transforms.order_columns(batch, [*first_columns, pc, *config.lineage_columns])

    touched = sorted({row[pc] for row in read_stats})
    exists = iceberg.table_exists(spark, config)
    previous = iceberg.current_snapshot(spark, config) if exists else None
    added: list[str] = []
    if exists:
        table_types = iceberg.table_schema(spark, config)
        batch = batch.select(
            *[
                col(c).cast(table_types[c]).alias(c)
                if c in table_types and batch.schema[c].dataType.simpleString() != table_types[c]
                else col(c)
                for c in batch.columns
            ]
        )
        new_columns = [
            (c, batch.schema[c].dataType.simpleString()) for c in batch.columns if c not in table_types
        ]
        iceberg.add_columns(spark, config, new_columns)
        added = [name for name, _ in new_columns]
    else:
        added = list(batch.columns)
        table_types = {}
    return Prepared(batch, read_stats, touched, dimension_versions, exists, previous, added, table_types)


def _curate_batch(run: RunContext, raw: DataFrame, catalog_columns: list[str], declared: list[str]) -> dict:
    spark, config = run.spark, run.config
    prepared = prepare_batch(run, raw, catalog_columns, declared)
    batch, read_stats, touched = prepared.batch, prepared.read_stats, prepared.touched
    dimension_versions, exists, previous = prepared.dimensions, prepared.exists, prepared.previous
    added, table_types = prepared.added, prepared.table_types
    pc = config.partition_column
    existing: DataFrame | None = None

    has_sheet = SHEET_COLUMN in batch.columns or SHEET_COLUMN in table_types
    identity = [pc, INGEST_SOURCE_ID, INGEST_ROW_NUMBER] + ([SHEET_COLUMN] if has_sheet else [])
    if exists:
        existing = _displaceable(run, batch, read_stats, touched, identity)
    if existing is not None:
        existing = transforms.with_columns(existing, identity).persist(StorageLevel.MEMORY_AND_DISK)
        batch = transforms.with_columns(batch, identity)
        # The same object read again (a retry after a commit whose markers were not written):
        # its rows are matched to those already in curated, never inserted twice.
        # Null-safe: a delimited file's rows have no sheet, and null = null is not true in a join.
        seen = [f"_curate_seen_{i}" for i in range(len(identity))]
        same = None
        for name, alias in zip(identity, seen, strict=True):
            clause = col(name).eqNullSafe(F.col(alias))
            same = clause if same is None else same & clause
        seen_rows = existing.select(*[col(c).alias(a) for c, a in zip(identity, seen, strict=True)])
        batch = batch.join(seen_rows, same, how="left_anti")
        union = existing.withColumn(NEW_FLAG, F.lit(0)).unionByName(
            batch.withColumn(NEW_FLAG, F.lit(1)), allowMissingColumns=True
        )
    else:
        union = batch.withColumn(NEW_FLAG, F.lit(1))
    known = _known_files(run, union)
    resolved = restate.resolve(union, config, known)
    mine = spark.createDataFrame(
        [(row[pc], row[INGEST_SOURCE_ID]) for row in read_stats],
        f"`{pc}` string, `{INGEST_SOURCE_ID}` string",
    )
    resolved = resolved.join(
        F.broadcast(mine.withColumn(_MINE, F.lit(True))), on=[pc, INGEST_SOURCE_ID], how="left"
    )
    # Materialized before the commit: Spark recomputes cached plans of a table it writes to, and
    # everything after the commit (quarantine, registry, documents) must describe what was resolved.
    if log.isEnabledFor(logging.DEBUG):
        log.debug("merge plan:\n%s", resolved._jdf.queryExecution().executedPlan().toString())
    resolved = resolved.localCheckpoint(eager=True)
    try:
        read = BatchRead(
            read_stats=read_stats,
            touched=touched,
            dimensions=dimension_versions,
            table_existed=exists,
            previous=previous,
            added=added,
            has_sheet=has_sheet,
            table_columns=batch.columns if not exists else list(iceberg.table_schema(spark, config)),
        )
        return _commit_and_account(run, read, resolved)
    finally:
        resolved.unpersist()
        if existing is not None:
            existing.unpersist()


_MINE = "_curate_mine"


def _known_files(run: RunContext, union: DataFrame) -> DataFrame | None:
    """The registry entries (``files``) of the landing keys and scope values of these rows, as a
    frame for ``restate.resolve``; None when there are none."""
    config = run.config
    scope = list(config.restatement.replacement_scope)
    groups = union.select(col(INGEST_SOURCE_KEY), *[col(c).cast("string").alias(c) for c in scope]).distinct()
    rows = groups.collect()
    source_keys = {r[INGEST_SOURCE_KEY] for r in rows if r[INGEST_SOURCE_KEY] is not None}
    scope_values = {tuple(r[c] for c in scope) for r in rows} if scope else set()
    found = files.read(run.clients, config, source_keys, scope_values)
    if not found:
        return None
    schema = ", ".join(
        [
            f"`{INGEST_SOURCE_KEY}` string",
            f"`{INGEST_SOURCE_ID}` string",
            f"`{INGEST_LANDED_AT}` string",
            f"`{INGEST_SEQUENCER}` string",
            f"`{restate.KNOWN_KIND}` string",
            *[f"`{c}` string" for c in scope],
        ]
    )
    data = [
        (
            d["sourceKey"],
            d["sourceId"],
            d.get("landedAt"),
            d.get("sequencer"),
            d["kind"],
            *[(d.get("scope") or {}).get(c) for c in scope],
        )
        for d in found
    ]
    known = run.spark.createDataFrame(data, schema)
    types = dict(union.dtypes)
    return known.select(
        *[
            col(c).cast(types[c]).alias(c) if c in scope and types.get(c, "string") != "string" else col(c)
            for c in known.columns
        ]
    )


def _displaceable(
    run: RunContext,
    batch: DataFrame,
    read_stats: list[Row],
    touched: list[str],
    identity: list[str],
) -> DataFrame | None:
    """The curated rows this batch may displace or that are its own rows already: rows of the
    same landing objects and sources (any partition: a corrected file may move rows between
    partitions), and the rows sharing a replacement-scope value or a key with the batch (in the
    touched partitions when the scope or key includes the partition column, else anywhere).
    Read from the current snapshot; None when there are none (the usual case: new files with new
    keys, then the run is a plain append).

    Two steps keep a run's cost independent of the table's size: a probe that reads only the
    identity, landing key, scope and key columns finds the matching rows; only the objects they
    belong to are then read in full (a filter on partition and source id, which Iceberg prunes by
    partition and file statistics)."""
    config = run.config
    pc = config.partition_column
    table = run.spark.table(config.curated_identifier)
    source_keys = {r[INGEST_SOURCE_KEY] for r in read_stats if r[INGEST_SOURCE_KEY] is not None}
    source_ids = {r[INGEST_SOURCE_ID] for r in read_stats}
    groups = []
    if config.restatement.replacement_scope:
        groups.append(list(config.restatement.replacement_scope))
    if config.restatement.conflict_policy != "keep":
        groups.append(restate.key_columns(config))
    groups = [names for names in groups if all(n in batch.columns and n in table.columns for n in names)]
    wanted = [*identity, INGEST_SOURCE_KEY, *[n for names in groups for n in names]]
    narrow = transforms.with_columns(table, identity).select(*[col(c) for c in dict.fromkeys(wanted)])
    # One scan of the narrow columns. The batch's landing keys and source ids are few (at most
    # one per file of the run) and known from the read: literal filters, which Iceberg also uses
    # to skip data files by their column statistics. Scope and key values may be many: each is a
    # broadcast join that flags its matches.
    hit = col(INGEST_SOURCE_KEY).isin(sorted(source_keys)) | col(INGEST_SOURCE_ID).isin(sorted(source_ids))
    for index, names in enumerate(groups):
        flag = f"_curate_probe_{index}"
        aliases = [f"{flag}_{i}" for i in range(len(names))]
        values = (
            batch.select(*[col(n).alias(a) for n, a in zip(names, aliases, strict=True)])
            .distinct()
            .withColumn(flag, F.lit(True))
        )
        condition = None
        for n, a in zip(names, aliases, strict=True):
            clause = narrow[n].eqNullSafe(values[a])
            condition = clause if condition is None else condition & clause
        narrow = narrow.join(F.broadcast(values), on=condition, how="left").drop(*aliases)
        # Rows that share the partition column with the batch are in the touched partitions (a
        # filter Iceberg prunes by); a scope or key without it spans the table.
        found = F.col(flag).isNotNull()
        hit = hit | ((found & col(pc).isin(touched)) if pc in names else found)
    matched = narrow.where(hit).select(*[col(c) for c in identity])
    objects = matched.select(col(pc), col(INGEST_SOURCE_ID)).distinct().collect()
    if not objects:
        return None
    rows = transforms.with_columns(table, identity).where(
        col(pc).isin(sorted({o[pc] for o in objects}, key=str))
        & col(INGEST_SOURCE_ID).isin(sorted({o[INGEST_SOURCE_ID] for o in objects}))
    )
    # Both sides read the table: the probe's columns are renamed so the condition cannot be
    # resolved against the same attributes (a self-join that would match everything).
    aliases = [f"_curate_match_{i}" for i in range(len(identity))]
    matched = matched.select(*[col(n).alias(a) for n, a in zip(identity, aliases, strict=True)])
    condition = None
    for name, alias in zip(identity, aliases, strict=True):  # null-safe: no sheet in delimited files
        clause = col(name).eqNullSafe(F.col(alias))
        condition = clause if condition is None else condition & clause
    return rows.join(matched, on=condition, how="left_semi")


def _commit_and_account(run: RunContext, read: BatchRead, resolved: DataFrame) -> dict:
    spark, config, options = run.spark, run.config, run.options
    table_columns = read.table_columns
    outcome, by_id, by_key = col(restate.OUTCOME), col(restate.BY_SOURCE_ID), col(restate.BY_SOURCE_KEY)
    is_new = col(NEW_FLAG) == 1
    stats, measures = outcome_stats(config, resolved)

    inserts = resolved.where(is_new & (outcome == "kept"))
    inserts = transforms.with_columns(inserts, table_columns).select(*[col(c) for c in table_columns])
    has_deletes = any(r[NEW_FLAG] == 0 and r["outcome"] != "kept" for r in stats)
    deletes = resolved.where((col(NEW_FLAG) == 0) & (outcome != "kept")) if has_deletes else None
    has_inserts = any(r[NEW_FLAG] == 1 and r["outcome"] == "kept" for r in stats)

    # The run's one commit.
    if not read.table_existed:
        iceberg.create_table(spark, config, inserts)
    elif has_inserts or has_deletes:
        iceberg.commit(spark, config, inserts, deletes, read.has_sheet, f"curate_{options.run_id[-16:]}")
    snapshot = iceberg.current_snapshot(spark, config)

    # Rejected rows (policy reject) go to the quarantine bucket, naming the file they collided with.
    rejected_prefix = None
    if any(r["outcome"] == "rejected" for r in stats):
        rejected_prefix = f"{config.conflicts_prefix}{options.run_id}/"
        rows = resolved.where(outcome == "rejected").select(
            *[col(c) for c in table_columns if c in resolved.columns],
            by_id.alias("conflicts_with_source_id"),
            by_key.alias("conflicts_with_source_key"),
            F.lit("key_conflict").alias("_reason"),
        )
        glue_io.write_json_lines(run.glue_context, rows, f"s3://{config.quarantine_bucket}/{rejected_prefix}")

    _register_files(run, resolved)
    aggregates = _cross_template_sums(run, read.touched, snapshot) if config.cross_template_rules else {}
    mine = resolved.where(F.coalesce(col(_MINE), F.lit(False)))
    summary = compliance.summary(mine, config.compliance) if config.compliance else None
    requests = (
        _requests(run, mine.where(outcome == "kept"), table_columns, snapshot) if config.approval else None
    )
    report = documents.write(
        run,
        read,
        Commit(
            stats=stats,
            measures=measures,
            snapshot=snapshot,
            new_snapshot=snapshot if snapshot != read.previous else None,
            rejected_prefix=rejected_prefix,
            aggregates=aggregates,
            compliance=summary,
            requests=requests,
        ),
    )
    try:
        report["maintenance"] = iceberg.maintain(spark, config, run.now(), read.touched)
        log.info("table maintenance: %s", report["maintenance"])
    except Exception:  # housekeeping never fails a committed run; the next run tries again
        log.exception("table maintenance failed; the next run tries again")
    return report


def outcome_stats(config: EtlConfig, resolved: DataFrame) -> tuple[list[Row], list[str]]:
    """Everything the control documents need, in one aggregation: per partition, object,
    new/existing, outcome and displacing file, the rows and measure sums; and the measures summed."""
    pc = config.partition_column
    measures = [m.name for m in config.measures if m.name in resolved.columns]
    outcome, reason = col(restate.OUTCOME), col(restate.REASON)
    by_id, by_key = col(restate.BY_SOURCE_ID), col(restate.BY_SOURCE_KEY)
    stats = (
        resolved.groupBy(
            col(pc),
            col(INGEST_SOURCE_ID),
            col(INGEST_SOURCE_KEY),
            col(NEW_FLAG),
            F.coalesce(col(_MINE), F.lit(False)).alias("mine"),
            outcome.alias("outcome"),
            reason.alias("reason"),
            by_id.alias("by_id"),
            by_key.alias("by_key"),
        )
        .agg(
            F.count(F.lit(1)).alias("rows"),
            *[F.sum(col(m)).alias(f"sum_{i}") for i, m in enumerate(measures)],
            *[F.count(col(m)).alias(f"count_{i}") for i, m in enumerate(measures)],
        )
        .collect()
    )
    for row in stats:
        for i, m in enumerate(measures):
            if row[f"sum_{i}"] is None and row[f"count_{i}"]:
                raise MeasureOverflowError(f"sum of {m} in partition {row[pc]} overflows its decimal type")
    return stats, measures


def _requests(run: RunContext, kept: DataFrame, table_columns: list[str], snapshot: int | None) -> dict:
    """The requests document: this run's request rows in curated as of the snapshot (inserted now,
    or already there from an earlier attempt; not those superseded in the same run)."""
    config = run.config
    assert config.approval is not None
    lineage = set(config.lineage_columns)
    record = [c for c in table_columns if c not in lineage]
    wanted = list(dict.fromkeys([*record, *config.lineage_columns, *compliance.COMPLIANCE_COLUMNS]))
    rows = transforms.with_columns(kept, wanted).select(*[col(c) for c in wanted]).collect()
    requests = [r for r in (compliance.curated_request(row, config.approval, record) for row in rows) if r]
    if len(requests) < len(rows):
        log.warning(
            "%d row(s) without %s left out of the requests document",
            len(rows) - len(requests),
            config.approval.id_column,
        )
    return compliance.requests_document(config.dataset, run.options.run_id, snapshot, requests)


def _register_files(run: RunContext, resolved: DataFrame) -> None:
    """Records this run's files (landing order, scope values covered) in the registry."""
    config = run.config
    scope = list(config.restatement.replacement_scope)
    rows = (
        resolved.where(F.coalesce(col(_MINE), F.lit(False)))
        .select(
            col(INGEST_SOURCE_ID),
            col(INGEST_SOURCE_KEY),
            F.date_format(col(INGEST_LANDED_AT), "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").alias("landed"),
            col(INGEST_SEQUENCER).alias("sequencer"),
            *[col(c).cast("string").alias(c) for c in scope],
        )
        .distinct()
        .collect()
    )
    by_file: dict[str, dict] = {}
    for row in rows:
        entry = by_file.setdefault(
            row[INGEST_SOURCE_ID],
            {
                "sourceId": row[INGEST_SOURCE_ID],
                "sourceKey": row[INGEST_SOURCE_KEY],
                "landedAt": row["landed"],
                "sequencer": row["sequencer"],
                "runId": run.options.run_id,
                "scopes": [],
            },
        )
        if scope:
            entry["scopes"].append([row[c] for c in scope])
    entries = files.entries(config, list(by_file.values()))
    glue_io.put_json_many(run.clients.s3, config.control_bucket, entries)


def _cross_template_sums(run: RunContext, touched: list[str], snapshot: int | None) -> dict[str, list[dict]]:
    """Per touched partition: per cross-template rule, the sum of its measure by template and
    group over the whole partition as committed (the run's snapshot)."""
    config = run.config
    pc = config.partition_column
    if snapshot is None:
        return {}
    table = run.spark.sql(f"SELECT * FROM {config.curated_identifier} VERSION AS OF {snapshot}").where(
        col(pc).isin(touched)
    )
    out: dict[str, list[dict]] = {v: [] for v in touched}
    for rule in config.cross_template_rules:
        frame = transforms.with_columns(table, [rule.measure, *rule.group_by, INGEST_TEMPLATE])
        group = list(dict.fromkeys([pc, INGEST_TEMPLATE, *rule.group_by]))
        rows = (
            frame.where(col(INGEST_TEMPLATE).isin(list(rule.templates)))
            .groupBy(*[col(c) for c in group])
            .agg(F.sum(col(rule.measure)).alias("sum"), F.count(col(rule.measure)).alias("n"))
            .collect()
        )
        by_partition: dict[str, list[dict]] = defaultdict(list)
        for row in sorted(rows, key=lambda r: tuple(str(r[c]) for c in group)):
            if row["sum"] is None and row["n"]:
                raise MeasureOverflowError(f"sum of {rule.measure} for rule {rule.name} overflows")
            by_partition[row[pc]].append(
                {
                    "template": row[INGEST_TEMPLATE],
                    "group": {g: _group_value(row[g]) for g in rule.group_by},
                    "sum": format_decimal(row["sum"]),
                }
            )
        for v in touched:
            out[v].append(
                {
                    "rule": rule.name,
                    "measure": rule.measure,
                    "groupBy": list(rule.group_by),
                    "sums": by_partition.get(v, []),
                }
            )
    return out
