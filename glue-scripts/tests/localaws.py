"""A local AWS world for the curate job's tests and benchmark: the emulator (moto server, in
process), buckets, the Glue database, normalized objects written as the normalizer writes them
and catalogued as the crawler would, and readers of what the job wrote."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import logging
import os
import subprocess
import uuid
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pyarrow.parquet as pq
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]
JOB_SCRIPT = REPO / "glue-scripts" / "jobs" / "curate.py"
LINEAGE = (
    "ingest_source_key",
    "ingest_source_version",
    "ingest_source_id",
    "ingest_time",
    "ingest_template",
    "ingest_template_version",
    "ingest_landed_at",
    "ingest_sequencer",
    "ingest_row_number",
)
#: Table properties as lib/glue/job-config.ts sets them (Athena-compatible Iceberg v2).
ICEBERG_PROPERTIES = {
    "format-version": "2",
    "write.format.default": "parquet",
    "write.parquet.compression-codec": "snappy",
    "write.delete.mode": "merge-on-read",
    "write.update.mode": "merge-on-read",
    "write.merge.mode": "merge-on-read",
    "write.distribution-mode": "hash",
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "100",
}
REGION = "us-east-1"


class Emulator:
    """moto's ThreadedMotoServer on a free port of 127.0.0.1; sets the AWS_* environment."""

    def __init__(self):
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self.env = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        self._saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)

    def reset(self) -> None:
        import urllib.request

        urllib.request.urlopen(
            urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        ).read()

    def stop(self) -> None:
        self._server.stop()
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def client(service: str):
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        config=Config(max_pool_connections=32, retries={"max_attempts": 5, "mode": "standard"}),
    )


def typescript_config(dataset: str, curated_bucket: str, control_bucket: str, **dimensions: str) -> dict:
    """The EtlJobConfig the CDK stack builds for a shipped dataset (lib/glue/job-config.ts)."""
    tsx = REPO / "node_modules" / ".bin" / "tsx"
    out = subprocess.run(
        [
            str(tsx),
            str(REPO / "glue-scripts" / "tests" / "fixtures" / "etl-config.ts"),
            dataset,
            curated_bucket,
            control_bucket,
            *[f"{k}={v}" for k, v in dimensions.items()],
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    return json.loads(out.stdout)


@dataclass
class World:
    """Buckets and database of one test, named uniquely."""

    name: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    database: str = "pipeline"

    def __post_init__(self):
        self.s3 = client("s3")
        self.glue = client("glue")
        self.normalized_bucket = f"normalized-{self.name}"
        self.curated_bucket = f"curated-{self.name}"
        self.control_bucket = f"control-{self.name}"
        self.assets_bucket = f"assets-{self.name}"
        self.quarantine_bucket = f"quarantine-{self.name}"
        for bucket in (
            self.normalized_bucket,
            self.curated_bucket,
            self.control_bucket,
            self.assets_bucket,
            self.quarantine_bucket,
        ):
            self.s3.create_bucket(Bucket=bucket)
        with contextlib.suppress(self.glue.exceptions.AlreadyExistsException):
            self.glue.create_database(DatabaseInput={"Name": self.database})

    # --- configuration ------------------------------------------------------------------

    def config(
        self,
        dataset: str = "sales",
        *,
        partition: str = "period",
        keys: Iterable[str] = ("id",),
        measures: Mapping[str, tuple[int, int]] | None = None,
        columns: Iterable[dict] = (),
        dimensions: Iterable[dict] = (),
        rules: Iterable[dict] = (),
        scope: Iterable[str] = (),
        policy: str = "latest",
        key_scope: str = "partition",
        partition_spec: Iterable[dict] | None = None,
        compliance: Iterable[dict] = (),
        approval: dict | None = None,
    ) -> dict:
        measures = {"amount": (38, 18)} if measures is None else dict(measures)
        return {
            "dataset": dataset,
            "database": self.database,
            "sourceTable": f"normalized_{dataset}",
            "curatedTable": dataset,
            "curatedBucket": self.curated_bucket,
            "curatedPrefix": f"{dataset}/",
            "controlBucket": self.control_bucket,
            "partitionColumn": partition,
            "keys": list(keys),
            "measures": [{"name": n, "precision": p, "scale": s} for n, (p, s) in measures.items()],
            "columns": [
                *[
                    {"name": n, "type": "decimal", "precision": p, "scale": s}
                    for n, (p, s) in measures.items()
                ],
                *columns,
            ],
            "lineageColumns": list(LINEAGE),
            "dimensions": list(dimensions),
            "crossTemplateRules": list(rules),
            "controlPrefixes": {
                "runs": f"etl/runs/{dataset}/",
                "processed": "etl/processed/",
                "aggregates": f"etl/aggregates/{dataset}/",
                "files": f"etl/files/{dataset}/",
                "requests": f"etl/requests/{dataset}/",
            },
            "restatement": {"replacementScope": list(scope), "conflictPolicy": policy, "keyScope": key_scope},
            "quarantineBucket": self.quarantine_bucket,
            "quarantinePrefixes": {"conflicts": f"rows/{dataset}/conflicts/"},
            "iceberg": {
                "catalog": "glue_catalog",
                "location": f"s3://{self.curated_bucket}/{dataset}",
                "partitionSpec": list(partition_spec or [{"transform": "identity", "column": partition}]),
                "tableProperties": dict(ICEBERG_PROPERTIES),
                "snapshotRetentionDays": 7,
                "retainLastSnapshots": 10,
                "compactionMinInputFiles": 10,
                "targetFileSizeBytes": 128 * 1024 * 1024,
            },
            "compliance": list(compliance),
            "approval": approval,
        }

    def put_dimension(self, name: str, csv_text: str) -> str:
        key = f"dimensions/{name}.csv"
        self.s3.put_object(Bucket=self.assets_bucket, Key=key, Body=csv_text.encode())
        return f"s3://{self.assets_bucket}/{key}"

    # --- the normalizer's output and the crawler's catalog --------------------------------

    def normalized_key(self, config: dict, value: str, source_id: str) -> str:
        from pipeline_etl.layout import normalized_object_key

        return normalized_object_key(config["dataset"], config["partitionColumn"], value, source_id)

    def write_normalized(
        self,
        config: dict,
        value: str,
        source_id: str,
        rows: list[dict],
        *,
        ingest_time: str = "2024-10-01T00:00:00.000Z",
        source_key: str | None = None,
        template: str | None = None,
        register: bool = True,
        landed_at: str | None = None,
        sequencer: str = "0",
    ) -> str:
        """One normalized object (gzip JSON Lines, values as strings, lineage columns added)."""
        key = self.normalized_key(config, value, source_id)
        self.s3.put_object(
            Bucket=self.normalized_bucket,
            Key=key,
            Body=normalized_body(
                rows,
                source_id,
                ingest_time,
                source_key or f"landing/{source_id}.csv",
                template,
                landed_at=landed_at or ingest_time,
                sequencer=sequencer,
            ),
        )
        if register:
            self.catalog(config, [value], [c for r in rows for c in r])
        return key

    def write_many(self, config: dict, objects: list[tuple[str, str, list[dict]]], **kwargs) -> list[str]:
        """Writes many normalized objects in parallel, then catalogs them once."""
        kwargs = {**kwargs, "register": False}
        with ThreadPoolExecutor(16) as pool:
            keys = list(
                pool.map(lambda o: self.write_normalized(config, o[0], o[1], o[2], **kwargs), objects)
            )
        self.catalog(config, sorted({o[0] for o in objects}), [c for o in objects for r in o[2] for c in r])
        return keys

    def catalog(self, config: dict, values: Iterable[str], columns: Iterable[str]) -> None:
        """What the crawler does: table with merged columns (strings; lineage as written), partitions."""
        from pipeline_etl.layout import encode_partition_value

        table_name = config["sourceTable"]
        pc = config["partitionColumn"]
        location = f"s3://{self.normalized_bucket}/{config['dataset']}/"
        storage = {
            "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"},
            "Compressed": True,
        }
        try:
            table = self.glue.get_table(DatabaseName=self.database, Name=table_name)["Table"]
            known = [c["Name"] for c in table["StorageDescriptor"]["Columns"]]
        except self.glue.exceptions.EntityNotFoundException:
            table, known = None, []
        wanted = list(dict.fromkeys([*known, *[c for c in columns if c not in LINEAGE], *LINEAGE]))
        wanted = [*[c for c in wanted if c not in LINEAGE], *LINEAGE]
        cols = [{"Name": c, "Type": "int" if c == "ingest_row_number" else "string"} for c in wanted]
        table_input = {
            "Name": table_name,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "json", "compressionType": "gzip"},
            "PartitionKeys": [{"Name": pc, "Type": "string"}],
            "StorageDescriptor": {**storage, "Columns": cols, "Location": location},
        }
        if table is None:
            self.glue.create_table(DatabaseName=self.database, TableInput=table_input)
        elif known != wanted:
            self.glue.update_table(DatabaseName=self.database, TableInput=table_input)
        for value in values:
            with contextlib.suppress(self.glue.exceptions.AlreadyExistsException):
                self.glue.create_partition(
                    DatabaseName=self.database,
                    TableName=table_name,
                    PartitionInput={
                        "Values": [value],
                        "StorageDescriptor": {
                            **storage,
                            "Columns": cols,
                            "Location": f"{location}{pc}={encode_partition_value(value)}/",
                        },
                    },
                )

    def set_last_modified(self, key: str, moment, bucket: str | None = None) -> None:
        """Gives an object another LastModified, as if written then (the emulator runs in process)."""
        from datetime import UTC

        from moto.s3.models import s3_backends

        bucket = bucket or self.normalized_bucket
        partition, account = s3_backends.bucket_accounts[bucket]
        stored = s3_backends[account][partition].buckets[bucket].keys[key]
        stored.last_modified = moment.astimezone(UTC).replace(tzinfo=None)  # moto keeps naive UTC

    # --- what the job wrote ---------------------------------------------------------------

    def json(self, key: str, bucket: str | None = None) -> dict | None:
        try:
            body = self.s3.get_object(Bucket=bucket or self.control_bucket, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        return json.loads(body)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        out: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            out.extend(item["Key"] for item in page.get("Contents", []))
        return out

    def partitions(self, table: str) -> dict[str, str]:
        """Catalog partitions of a table: value -> location."""
        pages = self.glue.get_paginator("get_partitions").paginate(
            DatabaseName=self.database, TableName=table
        )
        return {
            p["Values"][0]: p["StorageDescriptor"]["Location"] for page in pages for p in page["Partitions"]
        }

    def table_columns(self, table: str) -> list[tuple[str, str]]:
        t = self.glue.get_table(DatabaseName=self.database, Name=table)["Table"]
        return [(c["Name"], c["Type"]) for c in t["StorageDescriptor"]["Columns"]]

    def read_location(self, location: str) -> list[dict]:
        """Rows of every Parquet file below an S3 location, read with pyarrow (not Spark)."""
        bucket, prefix = location.split("://", 1)[1].split("/", 1)
        rows: list[dict] = []
        for key in self.keys(bucket, prefix):
            if not key.endswith(".parquet"):
                continue
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            rows.extend(pq.read_table(io.BytesIO(body)).to_pylist())
        return rows

    def curated_rows(self, config: dict, snapshot: str | None = None) -> list[dict]:
        """What a reader of the curated Iceberg table sees (its current snapshot, or ``snapshot``)."""
        from pyspark.sql import SparkSession

        from pipeline_etl import iceberg
        from pipeline_etl.config import EtlConfig

        spark = SparkSession.getActiveSession()
        parsed = EtlConfig.from_dict(config)
        iceberg.configure_catalog(spark, parsed)
        version = f" VERSION AS OF {snapshot}" if snapshot else ""
        frame = spark.sql(f"SELECT * FROM {parsed.curated_identifier}{version}")
        return [row.asDict() for row in frame.collect()]

    def rejected_rows(self, config: dict) -> list[dict]:
        """Rows the job quarantined as conflicting (gzip JSON Lines below the conflicts prefix)."""
        rows: list[dict] = []
        prefix = config["quarantinePrefixes"]["conflicts"]
        for key in self.keys(self.quarantine_bucket, prefix):
            body = self.s3.get_object(Bucket=self.quarantine_bucket, Key=key)["Body"].read()
            if key.endswith(".gz"):
                body = gzip.decompress(body)
            rows.extend(json.loads(line) for line in body.decode().splitlines() if line.strip())
        return rows


def normalized_body(
    rows: list[dict],
    source_id: str,
    ingest_time: str,
    source_key: str,
    template: str | None,
    *,
    landed_at: str | None = None,
    sequencer: str = "0",
) -> bytes:
    lines = []
    for number, row in enumerate(rows, start=2):
        record = {k: (None if v is None else str(v)) for k, v in row.items()}
        record.update(
            ingest_source_key=source_key,
            ingest_source_version=None,
            ingest_source_id=source_id,
            ingest_time=ingest_time,
            ingest_template=template,
            ingest_template_version=None,
            ingest_landed_at=landed_at or ingest_time,
            ingest_sequencer=sequencer,
            ingest_row_number=number,
        )
        lines.append(json.dumps(record))
    return gzip.compress(("\n".join(lines) + "\n").encode())


def job_argv(
    config: dict, *, job_name: str = "curate-test", bounded: int | None = None, predicate=None, **extra
):
    argv = [str(JOB_SCRIPT), "--JOB_NAME", job_name, "--dataset_config", json.dumps(config)]
    if bounded is not None:
        argv += ["--bounded_files", str(bounded)]
    if predicate is not None:
        argv += ["--push_down_predicate", predicate]
    for name, value in extra.items():
        argv += [f"--{name}", str(value)]
    return argv
