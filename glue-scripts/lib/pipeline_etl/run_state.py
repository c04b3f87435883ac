"""What one curate run hands from step to step: what it was given (``RunContext``), what it read
and the table before its commit (``BatchRead``), what it committed (``Commit``). Types only;
the steps are in ``curation`` (the run flow) and ``documents`` (the control documents)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pyspark.sql import Row, SparkSession

from pipeline_etl import glue_io
from pipeline_etl.config import EtlConfig


@dataclass(frozen=True)
class RunOptions:
    job_name: str
    run_id: str
    push_down_predicate: str = ""
    bounded_files: int = 450
    execution_id: str | None = None
    #: Reprocessing one partition: its value (``--reprocess_partition <column>=<value>``); None
    #: for the incremental run.
    reprocess: str | None = None


@dataclass(frozen=True)
class RunContext:
    """Fixed for the whole run once it knows which normalized objects it reads."""

    #: The GlueContext (the Glue runtime's or the local stand-in's).
    glue_context: Any
    spark: SparkSession
    clients: glue_io.Clients
    config: EtlConfig
    options: RunOptions
    started: datetime
    #: The run's clock: the report's finishedAt and the maintenance cutoff read it.
    now: Callable[[], datetime]
    selection: glue_io.Selection


@dataclass(frozen=True)
class BatchRead:
    """The batch as read, and the curated table as it was before the run's commit."""

    #: Per normalized object read: partition, source id, landing key, version, rows (and cast failures).
    read_stats: list[Row]
    #: Partition values the batch has rows in.
    touched: list[str]
    #: Per dimension joined: name, table, path and the snapshot read.
    dimensions: list[dict]
    table_existed: bool
    #: The table's snapshot before the run (None without a table).
    previous: int | None
    #: Columns this run adds to the table (all of them when it creates the table).
    added: list[str]
    has_sheet: bool
    #: The table's columns after schema evolution, in table order.
    table_columns: list[str]


@dataclass(frozen=True)
class Commit:
    """The run's commit and where every row ended (``restate`` outcomes, aggregated)."""

    #: Per partition, object, new/existing, outcome and displacing file: rows and measure sums.
    stats: list[Row]
    #: The measures summed in ``stats`` (``sum_<i>`` is the i-th), those the rows have.
    measures: list[str]
    #: The table's current snapshot after the commit.
    snapshot: int | None
    #: The snapshot this run committed (None when it committed nothing).
    new_snapshot: int | None
    #: Where the run's rejected rows went in the quarantine bucket (None when none were rejected).
    rejected_prefix: str | None
    #: Per touched partition value: the cross-template rules' sums (the aggregates document's rules).
    aggregates: dict[str, list[dict]]
    #: The compliance rules' summary over the rows read (datasets with rules; else None).
    compliance: dict | None = None
    #: The requests document (datasets with an approval workflow; else None).
    requests: dict | None = None
    #: A reprocessing run's ``reprocess`` block of the run report (``reprocess``); else None.
    reprocess: dict | None = None
    #: A reprocessing run: per normalized key, the ``origin`` its new marker carries (the counts
    #: of the run that first merged the object, as its marker said), when it had a marker.
    origins: dict[str, dict] | None = None
