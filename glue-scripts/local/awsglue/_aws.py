"""boto3 plumbing shared by the stand-in: clients, S3 URLs, listing and staged transfers."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import boto3
from botocore.config import Config

TRANSFER_WORKERS = 16
_CONFIG = Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=TRANSFER_WORKERS * 2)


def client(service: str):
    """A boto3 client for the emulator (``AWS_ENDPOINT_URL``) or, without it, for AWS.

    Credentials are read from the environment when the client is made, not from boto3's default
    session (which resolves them once per process): the local runtime's warm Spark driver runs
    each job as its own role (``AWS_ACCESS_KEY_ID`` of the job's role in the run's environment),
    and the local authorizer decides each call as that role.
    """
    key = os.environ.get("AWS_ACCESS_KEY_ID")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
    return boto3.session.Session().client(
        service,
        endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
        region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        config=_CONFIG,
        **(
            {
                "aws_access_key_id": key,
                "aws_secret_access_key": secret,
                "aws_session_token": os.environ.get("AWS_SESSION_TOKEN"),
            }
            if key and secret
            else {}
        ),
    )


def split_s3_url(url: str) -> tuple[str, str]:
    if not url.startswith(("s3://", "s3a://", "s3n://")):
        raise ValueError(f"not an S3 URL: {url!r}")
    rest = url.split("://", 1)[1]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise ValueError(f"S3 URL without a bucket: {url!r}")
    return bucket, key


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    etag: str
    last_modified: datetime
    size: int

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def version(self) -> str:
        """What the bookmark remembers: an object rewritten later (even with the same bytes) is new."""
        return f"{self.etag}@{self.last_modified.isoformat()}"


def _hidden(key: str) -> bool:
    name = key.rsplit("/", 1)[-1]
    return key.endswith("/") or name.startswith(("_", "."))


def list_objects(s3, bucket: str, prefix: str) -> Iterator[S3Object]:
    """Data objects below ``prefix`` (Hadoop-hidden names ``_*``/``.*`` and folder markers skipped)."""
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if _hidden(item["Key"]):
                continue
            yield S3Object(bucket, item["Key"], item["ETag"].strip('"'), item["LastModified"], item["Size"])


def list_location(s3, url: str) -> list[S3Object]:
    """Objects of a location: the object itself, or everything below it as a folder."""
    bucket, key = split_s3_url(url)
    if not key or key.endswith("/"):
        return list(list_objects(s3, bucket, key))
    return [o for o in list_objects(s3, bucket, key) if o.key == key or o.key.startswith(key + "/")]


def download_file(s3, bucket: str, key: str, path: str) -> None:
    s3.download_file(bucket, key, path)


def upload_file(s3, path: str, bucket: str, key: str) -> None:
    s3.upload_file(path, bucket, key)


def download_many(s3, items: Iterable[tuple[str, str, str]]) -> None:
    """Downloads ``(bucket, key, local path)`` items in parallel; the first failure is raised."""
    items = list(items)
    if not items:
        return
    with ThreadPoolExecutor(TRANSFER_WORKERS) as pool:
        for future in [pool.submit(download_file, s3, b, k, p) for b, k, p in items]:
            future.result()


def fetch_many(
    s3, objects: list[S3Object], chunk: int = TRANSFER_WORKERS * 4
) -> Iterator[tuple[S3Object, bytes]]:
    """Yields ``(object, bytes)`` in order, fetching a bounded number of objects in parallel."""
    with ThreadPoolExecutor(TRANSFER_WORKERS) as pool:
        for start in range(0, len(objects), chunk):
            part = objects[start : start + chunk]
            bodies = pool.map(lambda o: s3.get_object(Bucket=o.bucket, Key=o.key)["Body"].read(), part)
            yield from zip(part, bodies, strict=True)


def upload_many(s3, items: Iterable[tuple[str, str, str]]) -> None:
    """Uploads ``(local path, bucket, key)`` items one after another, in order.

    Sequential on purpose: a failure leaves a prefix of the files uploaded, as an interrupted
    Spark write to S3 leaves some part files behind.
    """
    for path, bucket, key in items:
        # Looked up on the module at call time so that tests can inject a failure.
        globals()["upload_file"](s3, path, bucket, key)
