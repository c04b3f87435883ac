"""Where the stand-in keeps job bookmark state: a local directory or an S3 prefix.

``AWSGLUE_LOCAL_BOOKMARKS`` chooses: a directory path, or ``s3://bucket/prefix`` (kept in the
emulator, e.g. the control bucket, so that it lives as long as the emulator's data). Unset:
``.pipeline-local/glue-bookmarks`` below the working directory. One JSON document per job:
``<job name>.json`` with, per ``transformation_ctx``, the S3 objects already processed
(URL -> ``ETag@LastModified``).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from awsglue import _aws

ENV_LOCATION = "AWSGLUE_LOCAL_BOOKMARKS"
DEFAULT_LOCATION = os.path.join(".pipeline-local", "glue-bookmarks")


def empty_state(job_name: str) -> dict:
    return {"schemaVersion": 1, "jobName": job_name, "run": 0, "runId": None, "contexts": {}}


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
