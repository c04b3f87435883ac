"""``Job.init``/``Job.commit`` with bookmark state that moves only at commit (S3 sources:
modification-time high-water marks, as Glue documents them; see ``awsglue.bookmarks``)."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from awsglue import bookmarks
from awsglue.bookmarks import BookmarkStore
from awsglue.utils import BOOKMARK_CHOICES

ENV_OPTION = "AWSGLUE_LOCAL_BOOKMARK_OPTION"
DEFAULT_OPTION = "job-bookmark-enable"


class JobError(RuntimeError):
    pass


def now_ms() -> int:
    """The time a source lists its objects (Glue's T1 of that run), in milliseconds."""
    return int(time.time() * 1000)


class Job:
    """Bookmarks per job name and ``transformation_ctx``.

    ``job-bookmark-enable``: a source reads the objects modified after its high timestamp (or
    in its saved band and not read) up to the time it lists them, and ``commit()`` stores its
    new timestamps; ``job-bookmark-pause``: the same selection, never committed;
    ``job-bookmark-disable``: read everything, commit nothing. When the arguments carry no
    ``job_bookmark_option``, ``AWSGLUE_LOCAL_BOOKMARK_OPTION`` or ``job-bookmark-enable``
    applies (Glue's default is disable; the deployed job passes enable).
    """

    def __init__(self, glue_context):
        self._glue_context = glue_context
        self._initialized = False
        self._committed = False
        self.name: str | None = None
        self.run_id: str | None = None
        self.bookmark_option = DEFAULT_OPTION
        self._state: dict = {}
        self._pending: dict[str, dict] = {}
        self._store: BookmarkStore | None = None

    @classmethod
    def continuation_options(cls):
        return [
            "--continuation-option",
            "continuation-enabled",
            "continuation-readonly",
            "continuation-ignore",
        ]

    @classmethod
    def job_bookmark_options(cls):
        return ["--job-bookmark-option", *BOOKMARK_CHOICES]

    def init(self, job_name: str, args: dict | None = None) -> None:
        args = dict(args or {})
        option = args.get("job_bookmark_option") or os.environ.get(ENV_OPTION) or DEFAULT_OPTION
        if option not in BOOKMARK_CHOICES:
            raise JobError(f"job bookmark option {option!r} is not one of {', '.join(BOOKMARK_CHOICES)}")
        self.name = job_name
        self.run_id = args.get("JOB_RUN_ID")
        self.bookmark_option = option
        self._store = BookmarkStore.from_env()
        self._state = self._store.load(job_name)
        self._pending = {}
        self._initialized = True
        self._committed = False
        self._glue_context._attach_job(self)

    def isInitialized(self) -> bool:
        return self._initialized

    @property
    def bookmarks_skip(self) -> bool:
        """Whether sources skip objects earlier runs committed."""
        return self._initialized and self.bookmark_option != "job-bookmark-disable"

    def select(self, transformation_ctx: str, objects: list, bounded, options: Mapping | None = None) -> list:
        """The objects a bookmarked source reads in this run, oldest first, at most ``bounded``.

        The selection is made at the time of the call (the source's listing, Glue's T1); with
        ``job-bookmark-enable`` the source's next state is kept for ``commit``.
        """
        if not self.bookmarks_skip:
            return bookmarks.order_and_cap(objects, bounded)
        if "maxFilesInBand" in (options or {}):
            raise NotImplementedError("the local stand-in does not implement the maxFilesInBand option")
        band = bookmarks.max_band(options)
        state = self._state.get("contexts", {}).get(transformation_ctx)
        bookmarks.check_context_state(self.name or "", transformation_ctx, state)
        now = now_ms()
        candidates = bookmarks.order_and_cap(bookmarks.unprocessed(objects, state, now, band), None)
        chosen = bookmarks.order_and_cap(candidates, bounded)
        if self.bookmark_option == "job-bookmark-enable":
            # A source read twice in one run keeps the state of its last read.
            self._pending[transformation_ctx] = bookmarks.advance(state, candidates, chosen, now, band)
        return chosen

    def commit(self) -> None:
        if not self._initialized:
            raise JobError("Job.commit() called before Job.init()")
        if self._committed:
            return
        if self.bookmark_option == "job-bookmark-enable":
            state = dict(self._state)
            contexts = {**state.get("contexts", {}), **self._pending}
            state.update(
                schemaVersion=bookmarks.SCHEMA_VERSION,
                contexts=contexts,
                run=int(state.get("run", 0)) + 1,
                runId=self.run_id,
                committedAt=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            )
            assert self._store is not None
            self._store.save(self.name or "", state)
            self._state = state
        self._pending = {}
        self._committed = True
        self._glue_context._release_staging()
