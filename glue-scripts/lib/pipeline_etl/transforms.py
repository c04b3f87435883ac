"""Pure DataFrame transforms of the curate job (``df -> df``; no I/O, no actions)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DataType,
    DateType,
    DecimalType,
    LongType,
    StringType,
    TimestampType,
)

from pipeline_etl.config import EtlConfig
from pipeline_etl.lineage import INGEST_LANDED_AT, INGEST_ROW_NUMBER, INGEST_TIME

#: Internal column: 1 for rows of this run's batch, 0 for rows already in curated.
NEW_FLAG = "_curate_new"

#: Lineage columns stored typed in curated (the others stay strings).
LINEAGE_TYPES: dict[str, DataType] = {
    INGEST_TIME: TimestampType(),
    INGEST_LANDED_AT: TimestampType(),
    INGEST_ROW_NUMBER: LongType(),
}

_SIMPLE_TYPES: dict[str, DataType] = {
    "string": StringType(),
    "integer": LongType(),
    "date": DateType(),
    "timestamp": TimestampType(),
    "boolean": BooleanType(),
}


def col(name: str) -> Column:
    """A column by name, quoted (names may hold dots or spaces)."""
    return F.col("`" + name.replace("`", "``") + "`")


def declared_type(kind: str, precision: int | None = None, scale: int | None = None) -> DataType:
    if kind == "decimal":
        return DecimalType(precision if precision is not None else 38, scale if scale is not None else 18)
    if kind not in _SIMPLE_TYPES:
        raise ValueError(f"unknown column type {kind!r}")
    return _SIMPLE_TYPES[kind]


def target_types(config: EtlConfig, columns: Iterable[str]) -> dict[str, DataType]:
    """Curated type of each column: measures as decimal(precision, scale), declared columns
    as declared, ingest_time/ingest_row_number typed, every other column a string."""
    declared = {c.name: declared_type(c.type, c.precision, c.scale) for c in config.columns}
    declared.update({m.name: DecimalType(m.precision, m.scale) for m in config.measures})
    types: dict[str, DataType] = {}
    for name in columns:
        if name in declared:
            types[name] = declared[name]
        elif name in LINEAGE_TYPES:
            types[name] = LINEAGE_TYPES[name]
        else:
            types[name] = StringType()
    return types


def with_columns(df: DataFrame, names: Iterable[str]) -> DataFrame:
    """Adds each missing column as null strings (a catalog column no row of this batch has)."""
    missing = [n for n in dict.fromkeys(names) if n not in df.columns]
    if not missing:
        return df
    return df.select("*", *[F.lit(None).cast(StringType()).alias(n) for n in missing])


def cast_columns(df: DataFrame, types: Mapping[str, DataType]) -> DataFrame:
    """Casts the named columns (others unchanged, order kept)."""
    return df.select(
        *[
            col(c).cast(types[c]).alias(c) if c in types and df.schema[c].dataType != types[c] else col(c)
            for c in df.columns
        ]
    )


def cast_failure_counts(df: DataFrame, types: Mapping[str, DataType]) -> Column | None:
    """Aggregate expressions counting, per column, non-null values that do not cast (to ``struct``)."""
    checks = [
        F.sum(F.when(col(c).isNotNull() & col(c).cast(t).isNull(), 1).otherwise(0)).alias(c)
        for c, t in types.items()
        if c in df.columns and df.schema[c].dataType != t
    ]
    return F.struct(*checks) if checks else None


def join_dimension(
    facts: DataFrame, dimension: DataFrame, join_keys: Mapping[str, str], columns: Iterable[str]
) -> DataFrame:
    """Left join of a (small) dimension, broadcast: fact rows without a match keep nulls.

    ``join_keys`` maps fact columns to dimension columns; dimension join values are cast to
    the fact column's type. A dimension column whose name the facts already have is not
    added (the fact column is kept).
    """
    missing = [c for c in [*join_keys.values(), *columns] if c not in dimension.columns]
    if missing:
        raise ValueError(f"dimension has no column(s) {', '.join(missing)}")
    missing_facts = [c for c in join_keys if c not in facts.columns]
    if missing_facts:
        raise ValueError(f"facts have no join column(s) {', '.join(missing_facts)}")
    added = [c for c in dict.fromkeys(columns) if c not in facts.columns]
    key_aliases = {fact: f"_curate_dim_key_{i}" for i, fact in enumerate(join_keys)}
    small = dimension.select(
        *[
            col(dim).cast(facts.schema[fact].dataType).alias(key_aliases[fact])
            for fact, dim in join_keys.items()
        ],
        *[col(c) for c in added],
    )
    condition = None
    for fact, alias in key_aliases.items():
        clause = col(fact) == F.col(alias)
        condition = clause if condition is None else condition & clause
    joined = facts.join(F.broadcast(small), on=condition, how="left")
    return joined.drop(*key_aliases.values())


def order_columns(df: DataFrame, first: Iterable[str]) -> DataFrame:
    """Puts ``first`` (those present) first, the remaining columns after in their order."""
    first = [c for c in dict.fromkeys(first) if c in df.columns]
    rest = [c for c in df.columns if c not in first]
    return df.select(*[col(c) for c in first + rest])
