"""``GlueContext`` on local Spark: catalog and S3 reads and writes staged through boto3."""

from __future__ import annotations

import atexit
import gzip
import itertools
import os
import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from pyspark import SparkContext
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from awsglue import _aws, _jvm, bookmarks
from awsglue.dynamicframe import DynamicFrame

ENV_TMPDIR = "AWSGLUE_LOCAL_TMPDIR"
HIVE_DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_SAFE = re.compile(r"[A-Za-z0-9_.\-]")


class CatalogSourceError(RuntimeError):
    pass


@dataclass
class SourceRead:
    """What one ``create_dynamic_frame`` call read (for tests and the benchmark)."""

    transformation_ctx: str
    files: list[str]
    locations: list[str] = field(default_factory=list)


def _escape_path_value(value: str | None) -> str:
    if value is None or value == "":
        return HIVE_DEFAULT_PARTITION
    return "".join(ch if _SAFE.fullmatch(ch) else "".join(f"%{b:02X}" for b in ch.encode()) for ch in value)


def _suffix(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    return "." + name.split(".", 1)[1] if "." in name else ""


def _ddl(columns: list[dict]) -> str:
    return ", ".join(f"`{c['Name'].replace('`', '``')}` {c['Type']}" for c in columns)


def table_format(table: dict) -> str:
    """``json``, ``csv`` or ``parquet`` from the table's classification, SerDe or input format."""
    sd = table.get("StorageDescriptor", {})
    hints = " ".join(
        [
            (table.get("Parameters") or {}).get("classification", ""),
            (sd.get("Parameters") or {}).get("classification", ""),
            (sd.get("SerdeInfo") or {}).get("SerializationLibrary", ""),
            sd.get("InputFormat", ""),
        ]
    ).lower()
    for fmt, words in (("parquet", ("parquet",)), ("json", ("json",)), ("csv", ("csv", "lazysimpleserde"))):
        if any(w in hints for w in words):
            return fmt
    raise CatalogSourceError(f"table {table.get('Name')}: cannot tell its format from {hints.strip()!r}")


class DynamicFrameReader:
    def __init__(self, glue_context: GlueContext):
        self._glue_context = glue_context

    def from_catalog(
        self, database=None, table_name=None, redshift_tmp_dir="", transformation_ctx="", **kwargs
    ):
        return self._glue_context.create_dynamic_frame_from_catalog(
            database, table_name, redshift_tmp_dir, transformation_ctx, **kwargs
        )

    def from_options(
        self,
        connection_type,
        connection_options=None,
        format=None,
        format_options=None,
        transformation_ctx="",
    ):
        return self._glue_context.create_dynamic_frame_from_options(
            connection_type, connection_options or {}, format, format_options or {}, transformation_ctx
        )


class DynamicFrameWriter:
    def __init__(self, glue_context: GlueContext):
        self._glue_context = glue_context

    def from_options(
        self,
        frame,
        connection_type,
        connection_options=None,
        format=None,
        format_options=None,
        transformation_ctx="",
    ):
        return self._glue_context.write_dynamic_frame_from_options(
            frame, connection_type, connection_options or {}, format, format_options or {}, transformation_ctx
        )


class GlueContext:
    """The subset of Glue's GlueContext the curate job uses, over local Spark and boto3."""

    def __init__(self, sparkContext: SparkContext, **options):
        self._sc = sparkContext
        # Local only: the Iceberg runtime is there (else: run `npm run setup`), and the JVM's AWS SDK
        # signs this run's Iceberg calls with the credentials in the environment now (the job role's).
        _jvm.require_iceberg(sparkContext)
        _jvm.use_environment_credentials(sparkContext)
        self.spark_session = SparkSession.builder.getOrCreate()
        self.create_dynamic_frame = DynamicFrameReader(self)
        self.write_dynamic_frame = DynamicFrameWriter(self)
        self.reads: list[SourceRead] = []
        self._job = None
        self._staging: str | None = None
        self._counter = itertools.count()
        self._clients: dict[str, object] = {}

    # --- plumbing -------------------------------------------------------------------------

    def _client(self, service: str):
        if service not in self._clients:
            self._clients[service] = _aws.client(service)
        return self._clients[service]

    def _attach_job(self, job) -> None:
        self._job = job

    def _staging_dir(self, kind: str) -> str:
        if self._staging is None:
            root = os.environ.get(ENV_TMPDIR) or None
            if root:
                os.makedirs(root, exist_ok=True)
            self._staging = tempfile.mkdtemp(prefix="awsglue-local-", dir=root)
            atexit.register(shutil.rmtree, self._staging, True)
        path = os.path.join(self._staging, f"{kind}-{next(self._counter):04d}")
        os.makedirs(path)
        return path

    def _release_staging(self) -> None:
        """Drops staged files (at ``Job.commit``: frames read before it must not be used after)."""
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None

    def _select(
        self, objects: list[_aws.S3Object], transformation_ctx: str, options: dict
    ) -> list[_aws.S3Object]:
        """Bookmark filter (``Job.select``), oldest first (LastModified, then key), ``boundedFiles`` cap."""
        job = self._job
        if transformation_ctx and job is not None and job.isInitialized():
            return job.select(transformation_ctx, objects, options.get("boundedFiles"), options)
        return bookmarks.order_and_cap(objects, options.get("boundedFiles"))

    def _stage(
        self, objects: list[_aws.S3Object], partition_dirs: list[str] | None = None, combine: bool = False
    ) -> str:
        """Downloads objects below one local folder (``partition_dirs[i]`` below it, if given).

        ``combine`` (JSON Lines): the objects of each folder are decompressed and appended to one
        local file, so that Spark opens a few files instead of one per object (rows are the same).
        """
        root = self._staging_dir("read")
        folders = [
            os.path.join(root, partition_dirs[i]) if partition_dirs else root for i in range(len(objects))
        ]
        for folder in set(folders):
            os.makedirs(folder, exist_ok=True)
        s3 = self._client("s3")
        if not combine:
            items = [
                (obj.bucket, obj.key, os.path.join(folder, f"f{i:06d}{_suffix(obj.key)}"))
                for i, (obj, folder) in enumerate(zip(objects, folders, strict=True))
            ]
            _aws.download_many(s3, items)
            return root
        handles: dict[str, object] = {}
        try:
            for (obj, body), folder in zip(_aws.fetch_many(s3, objects), folders, strict=True):
                if folder not in handles:
                    handles[folder] = open(os.path.join(folder, "combined.jsonl"), "wb")  # noqa: SIM115
                if obj.key.endswith(".gz"):
                    body = gzip.decompress(body)
                handles[folder].write(body)
                if body and not body.endswith(b"\n"):
                    handles[folder].write(b"\n")
        finally:
            for handle in handles.values():
                handle.close()
        return root

    def _reader(self, fmt: str, format_options: dict):
        reader = self.spark_session.read
        if fmt == "csv":
            reader = reader.option("header", str(bool(format_options.get("withHeader", False))).lower())
            reader = reader.option("sep", format_options.get("separator", ","))
            reader = reader.option("quote", format_options.get("quoteChar", '"'))
            reader = reader.option("escape", format_options.get("escaper", '"'))
        return reader

    # --- sources --------------------------------------------------------------------------

    def _catalog_partitions(self, database: str, table_name: str, expression: str | None) -> list[dict]:
        glue = self._client("glue")
        paginator = glue.get_paginator("get_partitions")
        params = {"DatabaseName": database, "TableName": table_name}
        if expression:
            params["Expression"] = expression
        return [p for page in paginator.paginate(**params) for p in page.get("Partitions", [])]

    def _filter_partitions(self, keys: list[dict], partitions: list[dict], predicate: str) -> list[dict]:
        """Evaluates ``push_down_predicate`` with Spark SQL over the partition values only."""
        if not predicate or not predicate.strip() or not partitions:
            return partitions
        names = [k["Name"] for k in keys]
        rows = [(*p["Values"], i) for i, p in enumerate(partitions)]
        schema = ", ".join(f"`{n}` string" for n in names) + ", `__index` int"
        frame = self.spark_session.createDataFrame(rows, schema)
        frame = frame.select(
            *[F.col(f"`{k['Name']}`").cast(k["Type"]).alias(k["Name"]) for k in keys], "__index"
        )
        chosen = {r["__index"] for r in frame.where(F.expr(predicate)).select("__index").collect()}
        return [p for i, p in enumerate(partitions) if i in chosen]

    def create_dynamic_frame_from_catalog(
        self,
        database=None,
        table_name=None,
        redshift_tmp_dir="",
        transformation_ctx="",
        push_down_predicate="",
        additional_options=None,
        catalog_id=None,
        **kwargs,
    ) -> DynamicFrame:
        if database is None or table_name is None:
            raise CatalogSourceError("database and table_name are required")
        options = dict(additional_options or {})
        table = self._client("glue").get_table(DatabaseName=database, Name=table_name)["Table"]
        fmt = table_format(table)
        sd = table["StorageDescriptor"]
        columns = list(sd.get("Columns", []))
        keys = list(table.get("PartitionKeys", []))
        if keys:
            partitions = self._catalog_partitions(
                database, table_name, options.get("catalogPartitionPredicate")
            )
            if push_down_predicate != options.get("catalogPartitionPredicate"):
                # (The same expression again would select the same partitions.)
                partitions = self._filter_partitions(keys, partitions, push_down_predicate)
            locations = [(p["StorageDescriptor"]["Location"], p["Values"]) for p in partitions]
        else:
            locations = [(sd["Location"], [])]
        s3 = self._client("s3")
        found: list[tuple[_aws.S3Object, list[str]]] = []
        for location, values in locations:
            prefix = location if location.endswith("/") else location + "/"
            found.extend((obj, values) for obj in _aws.list_location(s3, prefix))
        values_of = {obj.url: values for obj, values in found}
        chosen = self._select([obj for obj, _ in found], transformation_ctx, options)
        self.reads.append(
            SourceRead(transformation_ctx, [o.url for o in chosen], [loc for loc, _ in locations])
        )

        data_schema = _ddl(columns)
        full_schema = _ddl(columns + keys)
        if not chosen:
            df = self.spark_session.createDataFrame([], full_schema)
        else:
            serde = (sd.get("SerdeInfo") or {}).get("Parameters") or {}
            format_options = {
                "withHeader": (table.get("Parameters") or {}).get("skip.header.line.count") == "1",
                "separator": serde.get("field.delim", serde.get("separatorChar", ",")),
            }
            if keys:
                dirs = [
                    "/".join(
                        f"{k['Name']}={_escape_path_value(v)}"
                        for k, v in zip(keys, values_of[o.url], strict=True)
                    )
                    for o in chosen
                ]
                root = self._stage(chosen, dirs, combine=fmt == "json")
                reader = self._reader(fmt, format_options).schema(full_schema).option("basePath", root)
            else:
                root = self._stage(chosen, combine=fmt == "json")
                reader = self._reader(fmt, format_options).schema(data_schema)
            df = reader.format(fmt).load(root)
            # Column order as the catalog's: data columns, then partition keys.
            df = df.select(*[f"`{c['Name']}`" for c in columns + keys])
        return DynamicFrame(df, self, table_name, [o.url for o in chosen])

    def create_dynamic_frame_from_options(
        self,
        connection_type,
        connection_options=None,
        format=None,
        format_options=None,
        transformation_ctx="",
    ) -> DynamicFrame:
        if connection_type != "s3":
            raise NotImplementedError(
                f"the local stand-in reads connection_type 's3' only, not {connection_type!r}"
            )
        options = dict(connection_options or {})
        fmt = (format or "").lower()
        if fmt not in ("csv", "json", "parquet"):
            raise NotImplementedError(f"the local stand-in reads csv, json and parquet, not {format!r}")
        paths = options.get("paths") or ([options["path"]] if options.get("path") else [])
        s3 = self._client("s3")
        with ThreadPoolExecutor(_aws.TRANSFER_WORKERS) as pool:  # one listing per path, concurrently
            objects = [obj for found in pool.map(lambda p: _aws.list_location(s3, p), paths) for obj in found]
        chosen = self._select(objects, transformation_ctx, options)
        self.reads.append(SourceRead(transformation_ctx, [o.url for o in chosen], list(paths)))
        if not chosen:
            return DynamicFrame(self.spark_session.createDataFrame([], StructType([])), self, "")
        # JSON Lines objects are concatenated into one local file (rows are the same), as for
        # catalog reads: Spark opens one file instead of one per object.
        root = self._stage(chosen, combine=fmt == "json")
        df = self._reader(fmt, format_options or {}).format(fmt).load(root)
        return DynamicFrame(df, self, "", [o.url for o in chosen])

    # --- sinks ----------------------------------------------------------------------------

    def write_dynamic_frame_from_options(
        self,
        frame,
        connection_type,
        connection_options=None,
        format=None,
        format_options=None,
        transformation_ctx="",
    ) -> DynamicFrame:
        if connection_type != "s3":
            raise NotImplementedError(
                f"the local stand-in writes connection_type 's3' only, not {connection_type!r}"
            )
        options = dict(connection_options or {})
        fmt = (format or "").lower()
        if fmt not in ("parquet", "json", "csv"):
            raise NotImplementedError(f"the local stand-in writes parquet, json and csv, not {format!r}")
        bucket, prefix = _aws.split_s3_url(options["path"])
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        local = os.path.join(self._staging_dir("write"), "out")
        df: DataFrame = frame.toDF()
        writer = df.write.mode("errorifexists").format(fmt)
        if options.get("partitionKeys"):
            writer = writer.partitionBy(*options["partitionKeys"])
        compression = (format_options or {}).get("compression")
        if compression:
            writer = writer.option("compression", compression)
        writer.save(local)
        items = []
        for folder, _dirs, files in sorted(os.walk(local)):
            for name in sorted(files):
                if name.startswith(("_", ".")):
                    continue
                relative = os.path.relpath(os.path.join(folder, name), local).replace(os.sep, "/")
                items.append((os.path.join(folder, name), bucket, prefix + relative))
        _aws.upload_many(self._client("s3"), items)
        return frame

    # Glue's names for the same readers and writers.
    def getSource(self, *args, **kwargs):
        raise NotImplementedError("getSource is not part of the local stand-in; use create_dynamic_frame")

    def getSink(self, *args, **kwargs):
        raise NotImplementedError("getSink is not part of the local stand-in; use write_dynamic_frame")
