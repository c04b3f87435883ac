"""The local awsglue stand-in: each behaviour docs/etl.md documents, including where it
differs from AWS Glue."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from awsglue import _aws
from awsglue.bookmarks import BookmarkStateError
from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame
from awsglue.job import Job
from awsglue.utils import ArgumentError, getResolvedOptions


def _rows(n: int, start: int = 0) -> list[dict]:
    return [{"id": str(i), "amount": "1"} for i in range(start, start + n)]


def _read(
    spark, config, *, job_name="standin", ctx="src", predicate="", options=None, commit=True, args=None
):
    """One 'run': Job.init, one catalog read, optionally Job.commit; returns (rows, frame)."""
    glue_context = GlueContext(spark.sparkContext)
    job = Job(glue_context)
    job.init(job_name, args or {})
    frame = glue_context.create_dynamic_frame.from_catalog(
        database=config["database"],
        table_name=config["sourceTable"],
        push_down_predicate=predicate,
        additional_options=options or {},
        transformation_ctx=ctx,
    )
    rows = frame.toDF().collect()
    if commit:
        job.commit()
    return rows, frame


# --- getResolvedOptions -------------------------------------------------------------------


def test_get_resolved_options_requires_the_named_options_and_ignores_others():
    args = getResolvedOptions(
        ["job.py", "--JOB_NAME", "j", "--x", "1", "--other", "ignored", "--JOB_RUN_ID", "jr_given"],
        ["JOB_NAME", "x"],
    )
    assert args["JOB_NAME"] == "j" and args["x"] == "1"
    assert args["JOB_RUN_ID"] == "jr_given"
    assert "other" not in args
    with pytest.raises(ArgumentError, match="--x"):
        getResolvedOptions(["job.py", "--JOB_NAME", "j"], ["JOB_NAME", "x"])


def test_get_resolved_options_refuses_reserved_names_and_makes_a_run_id():
    with pytest.raises(ArgumentError, match="reserved"):
        getResolvedOptions(["job.py"], ["JOB_RUN_ID"])
    with pytest.raises(ArgumentError, match="reserved"):
        getResolvedOptions(["job.py"], ["job-bookmark-option"])
    first = getResolvedOptions(["job.py", "--JOB_NAME", "j"], ["JOB_NAME"])
    second = getResolvedOptions(["job.py", "--JOB_NAME", "j"], ["JOB_NAME"])
    assert first["JOB_RUN_ID"].startswith("jr_") and len(first["JOB_RUN_ID"]) == 67
    assert first["JOB_RUN_ID"] != second["JOB_RUN_ID"]
    assert first["job_bookmark_option"] is None
    paused = getResolvedOptions(["job.py", "--job-bookmark-option", "job-bookmark-pause"], [])
    assert paused["job_bookmark_option"] == "job-bookmark-pause"


# --- bookmarks ------------------------------------------------------------------------------


def test_a_bookmarked_source_skips_objects_committed_by_earlier_runs(world, spark, bookmarks):
    config = world.config()
    world.write_normalized(config, "2024-09", "a", _rows(2))
    rows, _ = _read(spark, config)
    assert len(rows) == 2
    world.write_normalized(config, "2024-09", "b", _rows(3, 10))
    rows, frame = _read(spark, config)
    assert sorted(r["id"] for r in rows) == ["10", "11", "12"]
    assert frame.source_files == [f"s3://{world.normalized_bucket}/sales/period=2024-09/b.jsonl.gz"]
    rows, frame = _read(spark, config)
    assert rows == [] and frame.source_files == []
    state = json.loads((bookmarks / "standin.json").read_text())
    assert state["run"] == 3 and state["schemaVersion"] == 2
    source = state["contexts"]["src"]
    # Modification-time high-water marks; both objects are younger than the band, so saved in it.
    assert source["maxBand"] == 900_000 and source["lowTimestamp"] < source["highTimestamp"]
    assert sorted(source["band"]) == [
        f"s3://{world.normalized_bucket}/sales/period=2024-09/a.jsonl.gz",
        f"s3://{world.normalized_bucket}/sales/period=2024-09/b.jsonl.gz",
    ]


def test_bookmark_state_moves_only_at_commit(world, spark):
    config = world.config()
    world.write_normalized(config, "2024-09", "a", _rows(2))
    rows, _ = _read(spark, config, commit=False)  # a run that fails before job.commit()
    assert len(rows) == 2
    rows, _ = _read(spark, config)  # the retry reads the same objects again
    assert len(rows) == 2
    rows, _ = _read(spark, config)
    assert rows == []


def test_bookmarks_are_kept_per_job_and_per_transformation_ctx(world, spark):
    config = world.config()
    world.write_normalized(config, "2024-09", "a", _rows(1))
    assert len(_read(spark, config, job_name="one")[0]) == 1
    assert len(_read(spark, config, job_name="two")[0]) == 1
    assert len(_read(spark, config, job_name="one", ctx="other")[0]) == 1
    assert _read(spark, config, job_name="one")[0] == []


def test_bookmark_state_can_live_in_s3(world, spark, monkeypatch):
    monkeypatch.setenv("AWSGLUE_LOCAL_BOOKMARKS", f"s3://{world.control_bucket}/glue-bookmarks")
    config = world.config()
    world.write_normalized(config, "2024-09", "a", _rows(1))
    assert len(_read(spark, config)[0]) == 1
    assert _read(spark, config)[0] == []
    state = world.json("glue-bookmarks/standin.json")
    assert state["jobName"] == "standin" and len(state["contexts"]["src"]["band"]) == 1


def test_without_transformation_ctx_nothing_is_bookmarked(world, spark):
    config = world.config()
    world.write_normalized(config, "2024-09", "a", _rows(1))
    assert len(_read(spark, config, ctx="")[0]) == 1
    assert len(_read(spark, config, ctx="")[0]) == 1


def test_disable_reads_everything_and_pause_reads_new_objects_without_committing(world, spark):
    config = world.config()
    world.write_normalized(config, "2024-09", "a", _rows(1))
    assert len(_read(spark, config)[0]) == 1
    world.write_normalized(config, "2024-09", "b", _rows(1, 5))
    disabled = {"job_bookmark_option": "job-bookmark-disable"}
    assert len(_read(spark, config, args=disabled)[0]) == 2
    paused = {"job_bookmark_option": "job-bookmark-pause"}
    assert [r["id"] for r in _read(spark, config, args=paused)[0]] == ["5"]
    assert [r["id"] for r in _read(spark, config, args=paused)[0]] == ["5"]
    assert [r["id"] for r in _read(spark, config)[0]] == ["5"]
    assert _read(spark, config)[0] == []


def test_the_default_bookmark_option_comes_from_the_environment(world, spark, monkeypatch):
    config = world.config()
    world.write_normalized(config, "2024-09", "a", _rows(1))
    monkeypatch.setenv("AWSGLUE_LOCAL_BOOKMARK_OPTION", "job-bookmark-disable")
    assert len(_read(spark, config)[0]) == 1
    assert len(_read(spark, config)[0]) == 1
    monkeypatch.delenv("AWSGLUE_LOCAL_BOOKMARK_OPTION")
    assert len(_read(spark, config)[0]) == 1
    assert _read(spark, config)[0] == []


def test_an_object_rewritten_is_read_again(world, spark):
    config = world.config()
    world.write_normalized(config, "2024-09", "a", _rows(1))
    assert len(_read(spark, config)[0]) == 1
    time.sleep(1.1)  # S3 lists LastModified to the second: a rewrite is new once its second is
    world.write_normalized(config, "2024-09", "a", _rows(2, 7))
    assert sorted(r["id"] for r in _read(spark, config)[0]) == ["7", "8"]


# --- Glue's modification-time semantics -------------------------------------------------------

MINUTE = timedelta(minutes=1)


def test_an_object_older_than_the_band_below_the_high_timestamp_is_never_read(world, spark):
    """Glue: files modified before (high timestamp - maxBand) are not listed again."""
    config = world.config()
    world.write_normalized(config, "2024-09", "a", _rows(1))
    assert len(_read(spark, config)[0]) == 1
    late = world.write_normalized(config, "2024-09", "late", _rows(1, 5))
    world.set_last_modified(late, datetime.now(UTC) - 20 * MINUTE)  # listed late, modified long ago
    near = world.write_normalized(config, "2024-09", "near", _rows(1, 6))
    world.set_last_modified(near, datetime.now(UTC) - 5 * MINUTE)  # inside the 15-minute band

    rows, frame = _read(spark, config)

    assert [r["id"] for r in rows] == ["6"]
    assert frame.source_files == [f"s3://{world.normalized_bucket}/{near}"]
    # With a band wider than the delay, the late object is read.
    assert [r["id"] for r in _read(spark, config, options={"maxBand": str(30 * 60_000)})[0]] == ["5"]


def test_interleaved_batches_in_different_partitions_skip_the_older_batch(world, spark):
    """The hazard of finding 6, pinned: batch A lands in P1, batch B later in P2; B's run (its
    predicate P2) goes first and moves the source's high timestamp past A's files (one state
    per transformation_ctx, whatever the predicate); A's run (predicate P1) then reads nothing
    once A's files are older than the band. The curate job therefore does not select its input
    by bookmark (test_job.py: the same interleaving, nothing skipped)."""
    config = world.config()
    a = world.write_normalized(config, "2024-08", "batch-a", _rows(2))
    world.set_last_modified(a, datetime.now(UTC) - 20 * MINUTE)  # A waited 20 minutes for its run
    b = world.write_normalized(config, "2024-09", "batch-b", _rows(1, 10))

    b_rows, b_frame = _read(spark, config, predicate="period = '2024-09'")
    a_rows, a_frame = _read(spark, config, predicate="period = '2024-08'")

    assert [r["id"] for r in b_rows] == ["10"] and b_frame.source_files == [
        f"s3://{world.normalized_bucket}/{b}"
    ]
    assert a_rows == [] and a_frame.source_files == []  # A's files are skipped for good
    assert _read(spark, config)[0] == []


def test_an_object_modified_after_the_run_started_is_left_for_the_next_run(world, spark, monkeypatch):
    from awsglue import job as job_module

    config = world.config()
    early = world.write_normalized(config, "2024-09", "early", _rows(1))
    ahead = world.write_normalized(config, "2024-09", "ahead", _rows(1, 3))
    now = datetime.now(UTC)
    world.set_last_modified(early, now - MINUTE)
    world.set_last_modified(ahead, now + 2 * MINUTE)  # after T1 of the first run
    monkeypatch.setattr(job_module, "now_ms", lambda: int(now.timestamp() * 1000))
    assert [r["id"] for r in _read(spark, config)[0]] == ["0"]
    monkeypatch.setattr(job_module, "now_ms", lambda: int((now + 3 * MINUTE).timestamp() * 1000))
    assert [r["id"] for r in _read(spark, config)[0]] == ["3"]
    assert _read(spark, config)[0] == []


def test_a_capped_run_moves_the_high_timestamp_only_as_far_as_the_files_it_took(world, spark):
    config = world.config()
    keys = [world.write_normalized(config, "2024-09", f"s{i}", _rows(1, i)) for i in range(5)]
    now = datetime.now(UTC)
    for i, key in enumerate(keys):  # an hour-long backlog: far older than the band
        world.set_last_modified(key, now - timedelta(minutes=60 - 10 * i))
    seen = []
    for _ in range(4):
        seen.append(sorted(r["id"] for r in _read(spark, config, options={"boundedFiles": "2"})[0]))
    assert seen == [["0", "1"], ["2", "3"], ["4"], []]


def test_a_bookmark_in_the_older_exact_file_format_is_refused_with_what_to_do(world, spark, bookmarks):
    config = world.config()
    world.write_normalized(config, "2024-09", "a", _rows(1))
    bookmarks.mkdir(parents=True)
    (bookmarks / "standin.json").write_text(
        json.dumps({"schemaVersion": 1, "jobName": "standin", "run": 1, "contexts": {"src": {"files": {}}}})
    )
    with pytest.raises(BookmarkStateError, match="reset it"):
        _read(spark, config)


def test_bounded_files_takes_the_oldest_objects_first(world, spark):
    config = world.config()
    world.write_normalized(config, "2024-10", "zzz", _rows(1, 1))
    time.sleep(1.1)  # the emulator's LastModified has one-second resolution
    world.write_normalized(config, "2024-09", "bbb", _rows(1, 2))
    world.write_normalized(config, "2024-09", "aaa", _rows(1, 3))
    listed = world.s3.list_objects_v2(Bucket=world.normalized_bucket)["Contents"]
    # Oldest first, the key breaking ties: aaa before bbb when both landed in the same second.
    expected = [
        o["Key"].rsplit("/", 1)[-1] for o in sorted(listed, key=lambda o: (o["LastModified"], o["Key"]))
    ]
    assert expected[0] == "zzz.jsonl.gz"
    order = []
    for _ in range(4):
        _, frame = _read(spark, config, options={"boundedFiles": "1"})
        order.extend(f.rsplit("/", 1)[-1] for f in frame.source_files)
    assert order == expected


# --- predicates -----------------------------------------------------------------------------


def _three_partitions(world):
    config = world.config()
    for value in ("2024-08", "2024-09", "2024-10"):
        world.write_normalized(config, value, f"s-{value}", _rows(1))
    return config


def test_push_down_predicate_is_spark_sql_over_the_partition_values(world, spark):
    config = _three_partitions(world)
    glue_context = GlueContext(spark.sparkContext)
    frame = glue_context.create_dynamic_frame.from_catalog(
        database=config["database"],
        table_name=config["sourceTable"],
        push_down_predicate="period >= '2024-09' and substr(period, 6, 2) != '10'",
    )
    assert [r["period"] for r in frame.toDF().collect()] == ["2024-09"]
    assert glue_context.reads[-1].locations == [f"s3://{world.normalized_bucket}/sales/period=2024-09/"]


def test_catalog_partition_predicate_is_a_catalog_expression(world, spark):
    config = _three_partitions(world)
    glue_context = GlueContext(spark.sparkContext)
    frame = glue_context.create_dynamic_frame.from_catalog(
        database=config["database"],
        table_name=config["sourceTable"],
        additional_options={"catalogPartitionPredicate": "period in ('2024-08', '2024-10')"},
    )
    assert sorted(r["period"] for r in frame.toDF().collect()) == ["2024-08", "2024-10"]
    assert len(glue_context.reads[-1].locations) == 2


def test_an_empty_read_has_the_catalog_schema(world, spark):
    config = world.config()
    world.write_normalized(config, "2024-09", "a", [{"id": "1", "amount": "2", "note": "x"}])
    rows, frame = _read(spark, config, predicate="period = '1999-01'")
    assert rows == []
    assert frame.toDF().columns[:3] == ["id", "amount", "note"]
    assert frame.toDF().columns[-1] == "period"


# --- S3 options sources and sinks -----------------------------------------------------------


def test_from_options_reads_a_csv_with_header_as_strings(world, spark):
    path = world.put_dimension("accounts", "account,org\n007,Data\n8,Platform\n")
    glue_context = GlueContext(spark.sparkContext)
    frame = glue_context.create_dynamic_frame.from_options(
        connection_type="s3",
        connection_options={"paths": [path]},
        format="csv",
        format_options={"withHeader": True},
    )
    assert sorted(tuple(r) for r in frame.toDF().collect()) == [("007", "Data"), ("8", "Platform")]


def test_write_uploads_part_files_only(world, spark):
    glue_context = GlueContext(spark.sparkContext)
    df = spark.range(10).repartition(2)
    location = f"s3://{world.curated_bucket}/t/run=1/"
    glue_context.write_dynamic_frame.from_options(
        frame=DynamicFrame.fromDF(df, glue_context, "t"),
        connection_type="s3",
        connection_options={"path": location},
        format="parquet",
    )
    keys = world.keys(world.curated_bucket, "t/run=1/")
    assert len(keys) == 2 and all(k.rsplit("/", 1)[-1].startswith("part-") for k in keys)
    assert sorted(r["id"] for r in world.read_location(location)) == list(range(10))


def test_an_interrupted_write_leaves_some_part_files_behind(world, spark, monkeypatch):
    glue_context = GlueContext(spark.sparkContext)
    uploads = []

    def flaky(s3, path, bucket, key):
        if uploads:
            raise ConnectionError("injected: connection lost")
        uploads.append(key)
        s3.upload_file(path, bucket, key)

    monkeypatch.setattr(_aws, "upload_file", flaky)
    with pytest.raises(ConnectionError):
        glue_context.write_dynamic_frame.from_options(
            frame=DynamicFrame.fromDF(spark.range(10).repartition(3), glue_context, "t"),
            connection_type="s3",
            connection_options={"path": f"s3://{world.curated_bucket}/t/"},
            format="parquet",
        )
    assert world.keys(world.curated_bucket, "t/") == uploads


def test_staged_files_are_released_at_commit(world, spark, tmp_path):
    config = world.config()
    world.write_normalized(config, "2024-09", "a", _rows(1))
    glue_context = GlueContext(spark.sparkContext)
    job = Job(glue_context)
    job.init("standin", {})
    glue_context.create_dynamic_frame.from_catalog(
        database=config["database"], table_name=config["sourceTable"], transformation_ctx="src"
    )
    staging = tmp_path / "staging"
    assert any(p.is_file() for p in staging.rglob("*"))
    job.commit()
    assert not any(p.is_file() for p in staging.rglob("*"))


# --- Iceberg through the local JVM ----------------------------------------------------------


class _RecordingProxy:
    """An HTTP proxy in front of the emulator that records, per request, the access key id that
    signed it (``Authorization: AWS4-HMAC-SHA256 Credential=<key>/...``): what the local IAM
    authorizer decides on."""

    def __init__(self, upstream: str):
        import http.client
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlsplit

        target = urlsplit(upstream)
        self.calls: list[dict] = []
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        chunk = self.rfile.read(size + 2)[:size]
                        if size == 0:
                            break
                        body += chunk
                else:
                    body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                authorization = self.headers.get("Authorization", "")
                key = (
                    authorization.split("Credential=", 1)[1].split("/", 1)[0]
                    if "Credential=" in authorization
                    else None
                )
                calls.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "target": self.headers.get("X-Amz-Target"),
                        "key": key,
                        "sha256": self.headers.get("x-amz-content-sha256"),
                    }
                )
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("transfer-encoding", "connection", "content-length")
                }
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                self.send_response(response.status)
                for k, v in response.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                # (A HEAD response carries the object's length, without a body.)
                length = response.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length or str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
                connection.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def recording_proxy(emulator):
    proxy = _RecordingProxy(emulator.endpoint)
    yield proxy
    proxy.stop()


def _iceberg_catalog(spark, name: str, endpoint: str, warehouse: str) -> None:
    """The catalog settings the curate job makes (pipeline_etl.iceberg.configure_catalog)."""
    prefix = f"spark.sql.catalog.{name}"
    for key, value in {
        prefix: "org.apache.iceberg.spark.SparkCatalog",
        f"{prefix}.catalog-impl": "org.apache.iceberg.aws.glue.GlueCatalog",
        f"{prefix}.io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
        f"{prefix}.warehouse": warehouse,
        f"{prefix}.cache-enabled": "false",
        f"{prefix}.glue.endpoint": endpoint,
        f"{prefix}.s3.endpoint": endpoint,
        f"{prefix}.s3.path-style-access": "true",
        f"{prefix}.client.region": "us-east-1",
    }.items():
        spark.conf.set(key, value)


def test_an_iceberg_table_is_written_merged_and_read_with_the_credentials_of_each_run(
    world, spark, recording_proxy, monkeypatch
):
    # Prepare: the catalog (a name of this test's own: a Spark catalog is configured once per
    # session) in the emulated Glue Data Catalog, every call through a recorder.
    catalog = f"standin_{world.name}"
    _iceberg_catalog(spark, catalog, recording_proxy.endpoint, f"s3://{world.curated_bucket}/t")
    table = f"{catalog}.{world.database}.costs"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "LOCALJOBROLEFIRSTRUN")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "first-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "first-token")

    # Act: one run creates and fills the table, a later run (another role) merges into it.
    first = GlueContext(spark.sparkContext)
    first.spark_session.sql(
        f"CREATE TABLE {table} (id string, amount decimal(38,18)) USING iceberg "
        "TBLPROPERTIES ('format-version'='2', 'write.merge.mode'='merge-on-read')"
    )
    first.spark_session.sql(f"INSERT INTO {table} VALUES ('a', 1.000000000000000001), ('b', 2)")
    first_calls = list(recording_proxy.calls)
    recording_proxy.calls.clear()

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "LOCALJOBROLESECONDRUN")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "second-secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    second = GlueContext(spark.sparkContext)
    second.spark_session.createDataFrame([("b", "5"), ("c", "3.25")], "id string, amount string").selectExpr(
        "id", "cast(amount as decimal(38,18)) amount"
    ).createOrReplaceTempView("changes")
    second.spark_session.sql(
        f"MERGE INTO {table} t USING changes s ON t.id = s.id "
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    )
    rows = {r["id"]: str(r["amount"]) for r in second.spark_session.sql(f"SELECT * FROM {table}").collect()}
    snapshots = second.spark_session.sql(f"SELECT operation FROM {table}.snapshots").collect()
    second_calls = list(recording_proxy.calls)

    # Assess: the table is in the catalog as an Iceberg table, with exact decimals, two commits ...
    stored = world.glue.get_table(DatabaseName=world.database, Name="costs")["Table"]
    assert stored["Parameters"]["table_type"].upper() == "ICEBERG"
    assert stored["Parameters"]["metadata_location"].startswith(f"s3://{world.curated_bucket}/t/")
    assert rows == {"a": "1.000000000000000001", "b": "5.000000000000000000", "c": "3.250000000000000000"}
    assert [s["operation"] for s in snapshots] == ["append", "overwrite"]
    # ... and the JVM's Glue and S3 calls of each run were signed with that run's credentials.
    for calls, key in ((first_calls, "LOCALJOBROLEFIRSTRUN"), (second_calls, "LOCALJOBROLESECONDRUN")):
        assert {c["key"] for c in calls} == {key}
        assert any(c["target"] and c["target"].startswith("AWSGlue.") for c in calls)
        assert any(c["method"] == "PUT" for c in calls)  # S3 PutObject of data or metadata files
    assert any(c["target"] == "AWSGlue.CreateTable" for c in first_calls)
    assert any(c["target"] == "AWSGlue.UpdateTable" for c in second_calls)


def test_the_jvm_credentials_follow_the_environment_and_are_cleared_when_absent(spark, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "LOCALONE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "one")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token-one")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    GlueContext(spark.sparkContext)
    system = spark.sparkContext._jvm.java.lang.System
    assert [system.getProperty(p) for p in ("aws.accessKeyId", "aws.sessionToken", "aws.region")] == [
        "LOCALONE",
        "token-one",
        "eu-west-1",
    ]

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "LOCALTWO")
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    GlueContext(spark.sparkContext)

    assert system.getProperty("aws.accessKeyId") == "LOCALTWO"
    assert system.getProperty("aws.sessionToken") is None


def test_without_the_iceberg_jars_the_error_says_to_run_setup(tmp_path, monkeypatch):
    import awsglue

    monkeypatch.setenv(awsglue.ENV_ICEBERG_JARS, str(tmp_path))

    with pytest.raises(awsglue.IcebergJarsMissingError, match="run `npm run setup`"):
        awsglue.iceberg_jars()
