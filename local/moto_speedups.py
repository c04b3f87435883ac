"""Speed-ups for moto's SQS backend (the local emulator), with no change of behaviour.

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
    return 0 if same and patched_seconds < plain_seconds else 1


if __name__ == "__main__":
    import sys

    if "--self-test" in sys.argv:
        sys.exit(_self_test(int(sys.argv[sys.argv.index("--self-test") + 1]) if len(sys.argv) > 2 else 300))
    print(__doc__)
