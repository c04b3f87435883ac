"""Speed-ups for the local emulator (moto), with no change of behaviour of any AWS API.

moto 5.2 does work proportional to the queue's length for every message it sends or receives:

- ``receive_message`` checks each message it returns against the queue's retention period through
  ``get_queue_attributes``, which computes every attribute of the queue, the approximate message
  counts included (three passes over all messages);
- those passes call ``moto.core.utils.unix_time_millis`` for every message, which builds datetimes
  (about 6 microseconds a call).

A burst of 2,000 files queues 2,000 events: sending and receiving them took minutes on this
machine (quadratic in the queue's length). ``apply()`` replaces the two with equivalents that give
the same answers in constant time per call: the retention check reads the one attribute it needs,
and the current time is read with ``time.time()`` (the epoch seconds both compute). Times given as
arguments are still converted by moto's own functions.

``export_objects`` is for the local runtime's own state save (no AWS API does this): it writes the
current version of every object of the given buckets to files straight from the emulator's
memory, with the LastModified and ETag a listing reports, instead of one GetObject per object.
Served by the emulator as ``POST /_pipeline_local/s3/export`` when it is wired there.

``python local/moto_speedups.py --self-test`` checks that a patched and an unpatched backend agree
on visibility, delays, retention and attributes, and prints both timings.
"""

from __future__ import annotations

import time

_applied = False


def apply() -> None:
    """Patches moto's SQS module in this process (idempotent)."""
    global _applied
    if _applied:
        return
    from moto.core import utils as core_utils
    from moto.sqs import models

    def unix_time(dt=None):
        return time.time() if dt is None else core_utils.unix_time(dt)

    def unix_time_millis(dt=None):
        return time.time() * 1000.0 if dt is None else core_utils.unix_time_millis(dt)

    def is_message_valid_based_on_retention_period(self, queue_name, message):
        retention_period = int(self.get_queue(queue_name).message_retention_period)
        return retention_period + message.sent_timestamp / 1000 > unix_time()

    models.unix_time = unix_time
    models.unix_time_millis = unix_time_millis
    models.SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period
    _applied = True


def export_objects(buckets: dict[str, str], root: str, unchanged: dict | None = None) -> dict:
    """Writes each bucket's objects (current versions, no delete markers) to ``root/<folder>/<key>``.

    ``buckets`` maps bucket names to folders. ``unchanged`` (``{folder: {key: [lastModified, etag]}}``)
    lists objects the caller already has as files: one whose LastModified and ETag are still those is
    not written. Returns ``{folder: {key: [lastModified, etag, versionId?]}}`` for every object, exactly
    as ListObjectsV2 reports them (its ISO-8601 time; the quoted ETag), with the version id of the
    current version in a versioned bucket.
    """
    import os

    from moto.s3.models import FakeKey, s3_backends

    result: dict[str, dict[str, list[str]]] = {}
    for bucket_name, folder in buckets.items():
        owner = s3_backends.bucket_accounts.get(bucket_name)
        if owner is None:
            raise KeyError(f"no bucket {bucket_name}")
        partition, account = owner
        bucket = s3_backends[account][partition].buckets[bucket_name]
        objects: dict[str, list[str]] = {}
        known = (unchanged or {}).get(folder, {})
        for key_name, key in bucket.keys.items():
            if not isinstance(key, FakeKey):
                continue
            identity = [key.last_modified_ISO8601, key.etag]
            if key._version_id:
                identity.append(key._version_id)
            objects[key_name] = identity
            if known.get(key_name) == identity:
                continue
            path = os.path.join(root, folder, *key_name.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as out:
                out.write(key.value)
        result[folder] = objects
    return result


def _exercise(count: int) -> tuple[list, float]:
    """Sends, delays, receives and deletes messages; returns what was observed and the seconds taken."""
    import boto3
    from moto import mock_aws

    observed: list = []
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="q", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
        started = time.time()
        for i in range(0, count, 10):
            sqs.send_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(j), "MessageBody": f"m{i + j}"} for j in range(10)],
            )
        sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=60)
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        observed.append({k: v for k, v in attributes.items() if k.startswith("Approximate")})
        received: list[str] = []
        handles: list[str] = []
        while True:
            page = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600)
            messages = page.get("Messages", [])
            if not messages:
                break
            received.extend(m["Body"] for m in messages)
            handles.extend(m["ReceiptHandle"] for m in messages)
        observed.append(sorted(received))
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        observed.append({k: v for k, v in attributes.items() if k.startswith("Approximate")})
        for i in range(0, len(handles), 10):
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(j), "ReceiptHandle": h} for j, h in enumerate(handles[i : i + 10])],
            )
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        observed.append({k: v for k, v in attributes.items() if k.startswith("Approximate")})
        return observed, time.time() - started


def _export_matches_listing() -> bool:
    """Exports a versioned bucket (an overwritten and a deleted key) and compares with a listing."""
    import os
    import tempfile

    import boto3
    from moto import mock_aws

    with mock_aws(), tempfile.TemporaryDirectory() as root:
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="exported")
        s3.put_bucket_versioning(Bucket="exported", VersioningConfiguration={"Status": "Enabled"})
        for key, body in [
            ("a/1.txt", b"one"),
            ("a/1.txt", b"one again"),
            ("b/2.txt", b"two"),
            ("c.txt", b"gone"),
        ]:
            s3.put_object(Bucket="exported", Key=key, Body=body)
        s3.delete_object(Bucket="exported", Key="c.txt")
        # A listing's identity, and the current version's id (what a restore sets back).
        listed = {
            o["Key"]: [
                o["LastModified"].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                o["ETag"],
                s3.head_object(Bucket="exported", Key=o["Key"])["VersionId"],
            ]
            for o in s3.list_objects_v2(Bucket="exported")["Contents"]
        }
        exported = export_objects({"exported": "folder"}, root)
        again = export_objects(
            {"exported": "folder"}, os.path.join(root, "again"), {"folder": {"b/2.txt": listed["b/2.txt"]}}
        )
        with open(os.path.join(root, "folder", "a", "1.txt"), "rb") as f:
            body = f.read()
        skipped = not os.path.exists(os.path.join(root, "again", "folder", "b", "2.txt"))
        ok = exported == {"folder": listed} and again == exported and body == b"one again" and skipped
        print(f"export: {'matches the listing' if ok else f'DIFFERS: {exported} vs {listed}'}")
        return ok


def _self_test(count: int) -> int:
    plain, plain_seconds = _exercise(count)
    apply()
    patched, patched_seconds = _exercise(count)
    same = plain == patched
    print(
        f"moto SQS, {count} messages: unpatched {plain_seconds:.2f} s, patched {patched_seconds:.2f} s; "
        f"observations {'equal' if same else 'DIFFER'}"
    )
    if not same:
        print(f"unpatched: {plain}\npatched:   {patched}")
    exported = _export_matches_listing()
    return 0 if same and patched_seconds < plain_seconds and exported else 1


if __name__ == "__main__":
    import sys

    if "--self-test" in sys.argv:
        sys.exit(_self_test(int(sys.argv[sys.argv.index("--self-test") + 1]) if len(sys.argv) > 2 else 300))
    print(__doc__)
