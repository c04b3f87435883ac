"""Keys and locations, exactly as lib/contracts/layout.ts formats them."""

from __future__ import annotations

from pipeline_etl.config import EtlConfig

NORMALIZED_EXTENSION = ".jsonl.gz"
_ESCAPED = set("%/=#?\\")


def encode_partition_value(value: str) -> str:
    """Hive-style escaping of a partition value in a path (``/``, ``=``, ``%``, control characters)."""
    out = []
    for char in value:
        code = ord(char)
        out.append(f"%{code:02X}" if code < 0x20 or code == 0x7F or char in _ESCAPED else char)
    return "".join(out)


def normalized_object_key(dataset: str, partition_column: str, value: str, source_id: str) -> str:
    return f"{dataset}/{partition_column}={encode_partition_value(value)}/{source_id}{NORMALIZED_EXTENSION}"


def run_report_key(config: EtlConfig, run_id: str) -> str:
    return f"{config.control_prefixes.runs}{run_id}.json"


def requests_key(config: EtlConfig, run_id: str) -> str:
    """``etlRequestsKey``: ``etl/requests/<dataset>/<runId>.json``."""
    return f"{config.control_prefixes.requests}{run_id}.json"


def processed_marker_key(config: EtlConfig, normalized_key: str) -> str:
    return f"{config.control_prefixes.processed}{normalized_key}.json"


def aggregates_key(config: EtlConfig, partition_value: str) -> str:
    return f"{config.control_prefixes.aggregates}{encode_partition_value(partition_value)}.json"


def partition_predicate(column: str, values: list[str]) -> str:
    """Spark SQL (and catalog expression) ``col in ('a', 'b')``; '' for no values."""
    if not values:
        return ""
    literals = ", ".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values)
    return f"{column} in ({literals})"
