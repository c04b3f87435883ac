"""``Job.init``/``Job.commit`` with bookmark state that moves only at commit."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from awsglue.bookmarks import BookmarkStore
from awsglue.utils import BOOKMARK_CHOICES

ENV_OPTION = "AWSGLUE_LOCAL_BOOKMARK_OPTION"
DEFAULT_OPTION = "job-bookmark-enable"


class JobError(RuntimeError):
    pass


class Job:
    """Bookmarks per job name and ``transformation_ctx``.

    ``job-bookmark-enable``: sources skip objects committed by earlier runs and the objects
    read are committed by ``commit()``; ``job-bookmark-pause``: skip, never commit;
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
        self._pending: dict[str, dict[str, str]] = {}
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

    def processed_objects(self, transformation_ctx: str) -> dict[str, str]:
        """Committed objects (S3 URL -> ETag@LastModified) of one source; empty when bookmarks are off."""
        if not self.bookmarks_skip:
            return {}
        return self._state.get("contexts", {}).get(transformation_ctx, {}).get("files", {})

    def record_read(self, transformation_ctx: str, objects: dict[str, str]) -> None:
        """Remembers what a source read in this run; it becomes bookmark state at ``commit``."""
        if self._initialized and self.bookmark_option == "job-bookmark-enable":
            self._pending.setdefault(transformation_ctx, {}).update(objects)

    def commit(self) -> None:
        if not self._initialized:
            raise JobError("Job.commit() called before Job.init()")
        if self._committed:
            return
        if self.bookmark_option == "job-bookmark-enable":
            state = dict(self._state)
            contexts = {k: {"files": dict(v.get("files", {}))} for k, v in state.get("contexts", {}).items()}
            for ctx, objects in self._pending.items():
                contexts.setdefault(ctx, {"files": {}})["files"].update(objects)
            state.update(
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
