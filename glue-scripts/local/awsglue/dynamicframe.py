"""A DynamicFrame that wraps a Spark DataFrame (the stand-in has no schema-on-read records)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


class DynamicFrame:
    """``toDF``/``fromDF``/``count``; ``source_files`` lists the S3 objects a source read."""

    def __init__(self, df: DataFrame, glue_ctx, name: str = "", source_files: list[str] | None = None):
        self._df = df
        self.glue_ctx = glue_ctx
        self.name = name
        self.source_files: list[str] = list(source_files or [])

    @classmethod
    def fromDF(cls, dataframe: DataFrame, glue_ctx, name: str) -> DynamicFrame:
        return cls(dataframe, glue_ctx, name)

    def toDF(self) -> DataFrame:
        return self._df

    def count(self) -> int:
        return self._df.count()

    def __repr__(self) -> str:
        return f"DynamicFrame(name={self.name!r}, files={len(self.source_files)})"
