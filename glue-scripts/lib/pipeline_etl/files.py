"""The registry of merged files (control bucket): which landing files earlier runs merged, in
landing order, and which replacement-scope values each covered.

Restatement rules compare a batch with every file merged before it, not only with the rows
still in curated: a file all of whose rows were displaced (a correction that lost every key to
a newer file) still supersedes the older versions of its object and the older files of its
scope. Without this record the outcome would depend on which run saw which file first.

Layout (one small JSON document per file and group, written after the run's commit and before
its markers, so a marker implies its entries; rewriting one is idempotent):
  ``<files prefix>key=<h>/<sourceId>.json``    h = sha256 of the landing key
  ``<files prefix>scope=<h>/<sourceId>.json``  h = sha256 of the scope values (JSON list)
A run lists only the groups its batch has (one ListObjectsV2 per landing key and scope value).
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor

from pipeline_etl import glue_io
from pipeline_etl.config import EtlConfig

WORKERS = 16


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, separators=(",", ":")).encode()).hexdigest()[:40]


def key_prefix(config: EtlConfig, source_key: str) -> str:
    return f"{config.control_prefixes.files}key={_digest(source_key)}/"


def scope_prefix(config: EtlConfig, values: list[str | None]) -> str:
    return f"{config.control_prefixes.files}scope={_digest(values)}/"


def read(clients: glue_io.Clients, config: EtlConfig, source_keys, scope_values) -> list[dict]:
    """The entries of every group the batch has: files merged before, by landing key and by
    scope value (dicts as written by ``entries``)."""
    prefixes = [key_prefix(config, k) for k in sorted(set(source_keys))]
    prefixes += [scope_prefix(config, list(v)) for v in sorted(set(scope_values), key=str)]
    if not prefixes:
        return []
    s3, bucket = clients.s3, config.control_bucket
    with ThreadPoolExecutor(WORKERS) as pool:
        keys = [k for found in pool.map(lambda p: glue_io.list_keys(s3, bucket, p), prefixes) for k in found]
        documents = list(pool.map(lambda k: glue_io.get_json(s3, bucket, k), keys))
    return [d for d in documents if d]


def entries(config: EtlConfig, files: list[dict]) -> dict[str, dict]:
    """Registry documents for this run's files: ``files`` items carry sourceId, sourceKey,
    landedAt, sequencer, runId and ``scopes`` (lists of scope values)."""
    out: dict[str, dict] = {}
    scope_columns = list(config.restatement.replacement_scope)
    for f in files:
        base = {k: f[k] for k in ("sourceId", "sourceKey", "landedAt", "sequencer", "runId")}
        out[f"{key_prefix(config, f['sourceKey'])}{f['sourceId']}.json"] = {**base, "kind": "key"}
        for values in f.get("scopes", []):
            out[f"{scope_prefix(config, list(values))}{f['sourceId']}.json"] = {
                **base,
                "kind": "scope",
                "scope": dict(zip(scope_columns, values, strict=True)),
            }
    return out
