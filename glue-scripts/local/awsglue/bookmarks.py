"""Job bookmarks of Amazon S3 sources as AWS Glue documents them, and where the stand-in keeps them.

What Glue documents (Developer Guide, "Tracking processed data using job bookmarks", section
"Tracking files using modification timestamps"; and the ``maxBand`` S3 connection option):

- For Amazon S3 input sources, job bookmarks check the *last modified time* of the objects.
  State is kept per job and, inside it, per ``transformation_ctx`` ("AWS Glue uses
  ``transformation_ctx`` to index the key to the bookmark state"); nothing is documented about
  partitions or predicates, so a source's state is one state whatever ``push_down_predicate``
  a run used.
- A run that starts at T1 reads the files whose modification time is greater than T0 (the
  previous run's high timestamp) and less than or equal to T1, and stores T0 and T1 as the low
  and high timestamps.
- Because a listing may miss files modified shortly before it, Glue also saves the files of
  the last ``maxBand`` milliseconds (default 900000, 15 minutes) before T1 that it read; the
  next run also lists that band again and reads the files in it that it did not save.
  Files modified before ``T1 - maxBand`` are never read again.
- State moves only at ``job.commit()``: a run that fails before it is read again in full.
- ``boundedFiles`` ("Workload partitioning with bounded execution"): a run picks at most that
  many unprocessed files; future runs process the remaining data. Which files and how the
  timestamps then move is not documented: the stand-in takes the oldest first (modification
  time, then key) and, when the cap cut the list, sets the high timestamp to the newest file
  it took (never lower than before), so the files it left are newer, or in the saved band
  without being saved, and the next run reads them.

State document, one per job (``<job name>.json``)::

    {"schemaVersion": 2, "jobName": ..., "run": n, "runId": ..., "committedAt": ...,
     "contexts": {"<transformation_ctx>": {"lowTimestamp": ms | null, "highTimestamp": ms,
                                          "maxBand": ms, "band": {"s3://...": ms, ...}}}}

``band`` holds the files read whose modification time lies in ``(high - maxBand, high]``, each
with the modification time it was read at (an object modified again is new again).

``AWSGLUE_LOCAL_BOOKMARKS`` chooses where the documents live: a directory path, or
``s3://bucket/prefix`` (kept in the emulator). Unset: ``.pipeline-local/glue-bookmarks`` below
the working directory.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Protocol

from awsglue import _aws

ENV_LOCATION = "AWSGLUE_LOCAL_BOOKMARKS"
DEFAULT_LOCATION = os.path.join(".pipeline-local", "glue-bookmarks")
SCHEMA_VERSION = 2
#: Glue's documented default of the ``maxBand`` S3 option (milliseconds).
DEFAULT_MAX_BAND_MS = 900_000


class BookmarkStateError(RuntimeError):
    """A bookmark document the stand-in cannot use (for example one an older stand-in wrote)."""


class Listed(Protocol):
    """What a source listed: an S3 object's URL, key and modification time."""

    @property
    def url(self) -> str: ...

    @property
    def key(self) -> str: ...

    @property
    def last_modified(self) -> datetime: ...


def millis(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def order_and_cap(objects: Iterable, bounded) -> list:
    """Oldest first (modification time, then key), then at most ``bounded`` (``boundedFiles``)."""
    ordered = sorted(objects, key=lambda o: (o.last_modified, o.url))
    if bounded in (None, ""):
        return ordered
    limit = int(bounded)
    if limit < 1:
        raise ValueError(f"boundedFiles must be a positive number, got {bounded!r}")
    return ordered[:limit]


def max_band(options: Mapping | None) -> int:
    """The ``maxBand`` option in milliseconds (Glue's default 900000)."""
    value = (options or {}).get("maxBand")
    if value in (None, ""):
        return DEFAULT_MAX_BAND_MS
    band = int(value)
    if band < 0:
        raise ValueError(f"maxBand must be at least 0 milliseconds, got {value!r}")
    return band


def check_context_state(job_name: str, ctx: str, state: Mapping | None) -> None:
    if state is None:
        return
    if "highTimestamp" not in state or "band" not in state:
        raise BookmarkStateError(
            f"job bookmark of {job_name!r}, source {ctx!r}, is not a modification-time bookmark "
            "(written by an older stand-in?); reset it by deleting the job's bookmark document"
        )


def unprocessed(objects: Iterable[Listed], state: Mapping | None, now_ms: int, band_ms: int) -> list:
    """The listed objects a run starting at ``now_ms`` reads, given its source's bookmark state."""
    if state is None:
        return [o for o in objects if millis(o.last_modified) <= now_ms]
    high = int(state["highTimestamp"])
    saved: Mapping[str, int] = state.get("band") or {}
    out = []
    for o in objects:
        modified = millis(o.last_modified)
        if modified <= high - band_ms or modified > now_ms:
            continue  # before the saved band: done for good; after the run started: next run
        if saved.get(o.url) == modified:
            continue  # read by an earlier run (same object, same modification time)
        out.append(o)
    return out


def advance(state: Mapping | None, candidates: list, chosen: list, now_ms: int, band_ms: int) -> dict:
    """The source's state after a run that listed ``candidates`` and read ``chosen`` (oldest first)."""
    previous_high = None if state is None else int(state["highTimestamp"])
    if len(chosen) < len(candidates):
        # The cap cut the list (it takes at least one file): only as far as the newest file
        # taken, never backwards.
        newest = millis(chosen[-1].last_modified)
        high = newest if previous_high is None else max(previous_high, newest)
    else:
        high = now_ms
    band = {url: ms for url, ms in ((state or {}).get("band") or {}).items() if high - band_ms < ms <= high}
    for o in chosen:
        modified = millis(o.last_modified)
        if high - band_ms < modified <= high:
            band[o.url] = modified
    return {"lowTimestamp": previous_high, "highTimestamp": high, "maxBand": band_ms, "band": band}


def empty_state(job_name: str) -> dict:
    return {"schemaVersion": SCHEMA_VERSION, "jobName": job_name, "run": 0, "runId": None, "contexts": {}}


def _file_name(job_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", job_name) + ".json"


class BookmarkStore:
    def __init__(self, location: str):
        self.location = location

    @classmethod
    def from_env(cls) -> BookmarkStore:
        return cls(os.environ.get(ENV_LOCATION) or DEFAULT_LOCATION)

    @property
    def _in_s3(self) -> bool:
        return self.location.startswith("s3://")

    def _s3_target(self, job_name: str) -> tuple[str, str]:
        bucket, prefix = _aws.split_s3_url(self.location)
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return bucket, prefix + _file_name(job_name)

    def load(self, job_name: str) -> dict:
        if self._in_s3:
            bucket, key = self._s3_target(job_name)
            s3 = _aws.client("s3")
            try:
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except s3.exceptions.NoSuchKey:
                return empty_state(job_name)
            return json.loads(body)
        path = Path(self.location) / _file_name(job_name)
        if not path.exists():
            return empty_state(job_name)
        return json.loads(path.read_text(encoding="utf-8"))

    def save(self, job_name: str, state: dict) -> None:
        body = json.dumps(state, sort_keys=True).encode()
        if self._in_s3:
            bucket, key = self._s3_target(job_name)
            _aws.client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
            return
        folder = Path(self.location)
        folder.mkdir(parents=True, exist_ok=True)
        # Write then rename: a crash never leaves a half-written bookmark.
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".bookmark-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
        os.replace(tmp, folder / _file_name(job_name))
