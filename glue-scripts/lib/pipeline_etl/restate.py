"""Restatement and conflict resolution (pure ``df -> df``; no I/O).

Input: this run's rows (``NEW_FLAG`` 1) and the curated rows they may displace (``NEW_FLAG`` 0).
Output: the same rows with an outcome. Rules, in this order (docs/etl.md, "Restatement and
conflicts"); "newer" is the later landing, ordered by the S3 event time, then the landing key,
then the event's sequencer (versions of one key), then the source id: never by processing
time, so the result does not depend on which Lambda or which run finished first. Files merged by
earlier runs count through the registry (``files``), even when none of their rows is left.

1. ``same_object``: rows of every older version of a landing object are replaced by its newest
   version, including rows the newer version no longer has.
2. ``scope`` (when the dataset declares ``replacementScope``): per combination of the scope
   columns, the newest file covering it replaces the other files' rows of it.
3. ``key`` policy over the remaining rows, per dataset key within a partition value (``keyScope``
   ``partition``) or across the table (``table``, the default of dimensions):
   ``latest``: the newest file's row wins (the later row of a file on a tie), the others are
   superseded; ``reject``: the first landed row wins, the others are rejected (quarantined,
   naming the file they collided with); ``keep``: no key deduplication.

A row keeps its identity (partition, source id, sheet, row number) for as long as it is in
curated; the same object read again (a retry) yields the same identities, which the caller
matches to the rows already there instead of inserting them twice.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from pipeline_etl.config import EtlConfig
from pipeline_etl.lineage import (
    INGEST_LANDED_AT,
    INGEST_ROW_NUMBER,
    INGEST_SEQUENCER,
    INGEST_SOURCE_ID,
    INGEST_SOURCE_KEY,
    SHEET_COLUMN,
)
from pipeline_etl.transforms import col

#: Outcome columns added by ``resolve``.
OUTCOME = "_curate_outcome"  # 'kept' | 'superseded' | 'rejected'
REASON = "_curate_reason"  # None | 'same_object' | 'scope' | 'key' | 'conflict'
BY_SOURCE_ID = "_curate_by_source_id"
BY_SOURCE_KEY = "_curate_by_source_key"
_FILE = "_curate_file"
_ROW = "_curate_row"
_WINNER = "_curate_winner"

#: Sequencers are hexadecimal strings of varying length; S3 says to compare them after padding
#: the shorter one with leading zeros (Amazon S3 User Guide, "Event message structure").
SEQUENCER_WIDTH = 32


def landing_order(df: DataFrame) -> Column:
    """A struct ordering files by landing: event time, landing key, sequencer, source id."""
    landed = (
        F.coalesce(col(INGEST_LANDED_AT).cast("timestamp"), F.lit("1970-01-01 00:00:00").cast("timestamp"))
        if INGEST_LANDED_AT in df.columns
        else F.lit("1970-01-01 00:00:00").cast("timestamp")
    )
    sequencer = (
        F.lpad(F.coalesce(F.upper(col(INGEST_SEQUENCER)), F.lit("")), SEQUENCER_WIDTH, "0")
        if INGEST_SEQUENCER in df.columns
        else F.lit("")
    )
    # The sequencer orders events of one key only (S3 documents no order across keys): it comes
    # after the key, so it decides between versions of one object and nothing else.
    return F.struct(
        landed.alias("landed"),
        F.coalesce(col(INGEST_SOURCE_KEY), F.lit("")).alias("key"),
        sequencer.alias("sequencer"),
        F.coalesce(col(INGEST_SOURCE_ID), F.lit("")).alias("id"),
    )


def _displace(
    df: DataFrame, names: list[str], reason: str, outcome: str, known: DataFrame | None
) -> DataFrame:
    """Among rows still kept, per group of ``names``: rows of any file other than the group's
    newest file get ``outcome`` with ``reason`` and the winner named. ``known`` (columns
    ``names`` and _FILE) adds files merged by earlier runs whose rows may all be gone (displaced
    themselves): a file covering a group still counts, so the result does not depend on which
    run saw which file first."""
    active = F.col(OUTCOME) == "kept"
    window = Window.partitionBy(*[col(n) for n in names])
    winner = F.max(F.when(active, F.col(_FILE))).over(window)
    if known is not None:
        aliases = [f"_curate_known_{i}" for i in range(len(names))]
        newest = known.groupBy(*[col(n).alias(a) for n, a in zip(names, aliases, strict=True)]).agg(
            F.max(F.col(_FILE)).alias(_KNOWN)
        )
        condition = None
        for n, a in zip(names, aliases, strict=True):
            clause = col(n).eqNullSafe(F.col(a))
            condition = clause if condition is None else condition & clause
        df = df.join(F.broadcast(newest), on=condition, how="left").drop(*aliases)
        winner = F.greatest(winner, F.col(_KNOWN))
    df = df.withColumn(_WINNER, winner)
    lost = active & (F.col(_FILE) != F.col(_WINNER))
    return df.select(
        *[c for c in df.columns if c not in (OUTCOME, REASON, BY_SOURCE_ID, BY_SOURCE_KEY, _WINNER, _KNOWN)],
        F.when(lost, F.lit(outcome)).otherwise(F.col(OUTCOME)).alias(OUTCOME),
        F.when(lost, F.lit(reason)).otherwise(F.col(REASON)).alias(REASON),
        F.when(lost, F.col(_WINNER)["id"]).otherwise(F.col(BY_SOURCE_ID)).alias(BY_SOURCE_ID),
        F.when(lost, F.col(_WINNER)["key"]).otherwise(F.col(BY_SOURCE_KEY)).alias(BY_SOURCE_KEY),
    )


_KNOWN = "_curate_known"
#: Column of ``known``: 'key' for a file's entry, 'scope' for one scope value it covered.
KNOWN_KIND = "kind"


def key_columns(config: EtlConfig) -> list[str]:
    """The columns a key collision is decided on: the dataset keys, within a partition value
    unless the dataset's keys are unique across the table (``keyScope`` ``table``)."""
    within = [config.partition_column] if config.restatement.key_scope == "partition" else []
    return [*within, *[k for k in config.keys if k not in within]]


def resolve(df: DataFrame, config: EtlConfig, known: DataFrame | None = None) -> DataFrame:
    """Adds OUTCOME, REASON, BY_SOURCE_ID, BY_SOURCE_KEY to every row (see the module doc).

    ``known``: the files earlier runs merged (``files.registry_frame``): landing key, source id,
    landing time, sequencer and, per replacement-scope value they covered, the scope columns."""
    df = df.select(
        "*",
        landing_order(df).alias(_FILE),
        F.lit("kept").alias(OUTCOME),
        F.lit(None).cast("string").alias(REASON),
        F.lit(None).cast("string").alias(BY_SOURCE_ID),
        F.lit(None).cast("string").alias(BY_SOURCE_KEY),
    )
    known_files = None
    if known is not None:
        known_files = known.select("*", landing_order(known).alias(_FILE))
    by_key = known_files.select(col(INGEST_SOURCE_KEY), F.col(_FILE)) if known_files is not None else None
    df = _displace(df, [INGEST_SOURCE_KEY], "same_object", "superseded", by_key)
    scope = list(config.restatement.replacement_scope)
    if scope:
        by_scope = None
        if known_files is not None and by_key is not None:
            # A version replaced by a newer one of its object covers nothing any more.
            newest = (
                df.select(col(INGEST_SOURCE_KEY), F.col(_FILE))
                .unionByName(by_key)
                .groupBy(col(INGEST_SOURCE_KEY))
                .agg(F.max(F.col(_FILE)).alias(_KNOWN))
            )
            by_scope = (
                known_files.where(F.col(KNOWN_KIND) == "scope")
                .join(newest, on=[INGEST_SOURCE_KEY])
                .where(F.col(_FILE) == F.col(_KNOWN))
                .select(*[col(c) for c in scope], F.col(_FILE))
            )
        df = _displace(df, scope, "scope", "superseded", by_scope)
    policy = config.restatement.conflict_policy
    if policy != "keep":
        keys = [col(k) for k in key_columns(config)]
        # The row (not only the file) decides: within one file the later row wins for
        # `latest`; for `reject` the first row of the first file stays, later ones collide.
        row_fields = [F.col(_FILE).alias("file"), col(INGEST_ROW_NUMBER).alias("row")]
        if SHEET_COLUMN in df.columns:
            row_fields.append(F.coalesce(col(SHEET_COLUMN), F.lit("")).alias("sheet"))
        # Constant within a partition-scoped key; across the table it orders one file's rows of
        # two partitions that share a row number (each normalized object numbers its own rows).
        row_fields.append(col(config.partition_column).cast("string").alias("partition"))
        df = df.withColumn(_ROW, F.struct(*row_fields))
        active = F.col(OUTCOME) == "kept"
        window = Window.partitionBy(*keys)
        candidate = F.when(active, F.col(_ROW))
        latest = policy == "latest"
        winner = (F.max if latest else F.min)(candidate).over(window)
        df = df.withColumn(_WINNER, winner)
        lost = active & (F.col(_ROW) != F.col(_WINNER))
        outcome, reason = ("superseded", "key") if latest else ("rejected", "conflict")
        df = df.select(
            *[
                c
                for c in df.columns
                if c not in (OUTCOME, REASON, BY_SOURCE_ID, BY_SOURCE_KEY, _WINNER, _ROW)
            ],
            F.when(lost, F.lit(outcome)).otherwise(F.col(OUTCOME)).alias(OUTCOME),
            F.when(lost, F.lit(reason)).otherwise(F.col(REASON)).alias(REASON),
            F.when(lost, F.col(_WINNER)["file"]["id"]).otherwise(F.col(BY_SOURCE_ID)).alias(BY_SOURCE_ID),
            F.when(lost, F.col(_WINNER)["file"]["key"]).otherwise(F.col(BY_SOURCE_KEY)).alias(BY_SOURCE_KEY),
        )
    return df.drop(_FILE)
