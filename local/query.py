"""SQL over the local runtime's curated tables, by their catalog names.

Reads the Glue catalog the local runtime saved (``<state>/catalog.json``) and the objects it saved
(``<state>/s3/<bucket folder>/...``); no emulator runs. Each curated table becomes a DuckDB view,
both as ``<table>`` and ``<database>.<table>``:

- an Iceberg table (``Parameters.table_type = ICEBERG``, as the curate job's GlueCatalog writes
  it): pyiceberg reads the table metadata the catalog's ``metadata_location`` names, plans the scan
  of the current snapshot (or of ``snapshot``: time travel) with its delete files applied, and the
  rows (Arrow) are registered in DuckDB. Only the tables the SQL names are read. The S3 URLs in
  Iceberg's metadata are resolved to the saved objects (``StateFileIO``);
- any other table: a view over the Parquet files of the partitions the catalog points at, with the
  partition column added from the partition value.

Usage (JSON on stdin, JSON on stdout; ``<dir>`` is the saved state, ``<state folder>/current``):
  {"state": "<dir>", "sql": "select ...", "snapshot": "<id>"?}
                                            -> {"columns": [...], "rows": [[...], ...]}
  {"state": "<dir>", "tables": true}        -> {"tables": [{"database", "table", "columns", "rows",
                                                 "partitionKeys", "format", "currentSnapshotId"}]}
  {"state": "<dir>", "describe": "<table>"} -> {"columns": ["column", "type", "partition_key"], "rows": [...],
                                                 "format", "currentSnapshotId", "snapshots": [...]}
``snapshot``: the Iceberg table whose history has that snapshot id is read as of it (snapshot ids
are unique per table; the other tables of the query are read as of now); an id no table has is an
error. Snapshot ids are decimal strings (64-bit integers do not fit a JSON number in JavaScript).
Errors: {"error": "..."}. Decimals are returned as exact decimal strings with the scale of their
type (``1250.00`` for a ``decimal(18,2)``, as Athena prints it), dates and timestamps as ISO-8601.
"""

from __future__ import annotations

import datetime as dt
import decimal
import glob
import json
import os
import re
import sys

import duckdb
import lifeline

NORMALIZED_PREFIX = "normalized_"


class QueryInputError(Exception):
    """An error in the request (unknown snapshot): answered as ``{"error": ...}``."""


def _local_path(state: str, location: str, bucket_dirs: dict[str, str]) -> str | None:
    if not location.startswith("s3://"):
        return None
    bucket, _, key = location[len("s3://") :].partition("/")
    folder = bucket_dirs.get(bucket)
    return os.path.join(state, "s3", folder, *key.split("/")) if folder else None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def curated_tables(catalog: dict) -> list[dict]:
    """The newest version of every table that is not a crawled ``normalized_*`` table."""
    tables = []
    for entry in catalog.get("tables", []):
        table = entry["versions"][-1]
        if table["Name"].startswith(NORMALIZED_PREFIX):
            continue
        tables.append(
            {"database": entry["database"], "table": table, "partitions": entry.get("partitions", [])}
        )
    return tables


def register(
    con: duckdb.DuckDBPyConnection, state: str, catalog: dict, bucket_dirs: dict[str, str]
) -> list[dict]:
    registered = []
    for item in curated_tables(catalog):
        table = item["table"]
        name = table["Name"]
        if is_iceberg(table):
            continue
        keys = [k["Name"] for k in table.get("PartitionKeys", [])]
        columns = [c["Name"] for c in table.get("StorageDescriptor", {}).get("Columns", [])]
        selects = []
        for partition in item["partitions"]:
            folder = _local_path(
                state, partition.get("StorageDescriptor", {}).get("Location", ""), bucket_dirs
            )
            files = (
                sorted(glob.glob(os.path.join(folder, "**", "*.parquet"), recursive=True)) if folder else []
            )
            if not files:
                continue
            values = ", ".join(
                f"{_literal(v)} AS {_quote(k)}"
                for k, v in zip(keys, partition.get("Values", []), strict=False)
            )
            file_list = "[" + ", ".join(_literal(f) for f in files) + "]"
            reader = f"read_parquet({file_list}, union_by_name = true, hive_partitioning = false)"
            selects.append(f"SELECT *, {values} FROM {reader}")
        if selects:
            body = " UNION ALL BY NAME ".join(selects)
            wanted = [c for c in columns if c not in keys] + keys
            projection = ", ".join(_quote(c) for c in wanted) if wanted else "*"
            sql = f"SELECT {projection} FROM ({body})"
        else:
            sql = (
                "SELECT "
                + ", ".join(f"CAST(NULL AS VARCHAR) AS {_quote(c)}" for c in columns + keys)
                + " WHERE false"
            )
        database = item["database"]
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(database)}")
        con.execute(f"CREATE OR REPLACE VIEW {_quote(database)}.{_quote(name)} AS {sql}")
        con.execute(
            f"CREATE OR REPLACE VIEW {_quote(name)} AS SELECT * FROM {_quote(database)}.{_quote(name)}"
        )
        registered.append(
            {
                "database": database,
                "table": name,
                "columns": columns + keys,
                "partitionKeys": keys,
                "types": [c.get("Type", "") for c in table.get("StorageDescriptor", {}).get("Columns", [])]
                + [k.get("Type", "") for k in table.get("PartitionKeys", [])],
                "format": "hive",
            }
        )
    return registered


# --- Iceberg tables -------------------------------------------------------------------------------


def is_iceberg(table: dict) -> bool:
    return str((table.get("Parameters") or {}).get("table_type", "")).upper() == "ICEBERG"


def _state_file_io(state: str, bucket_dirs: dict[str, str]):
    """A pyiceberg FileIO that reads ``s3://bucket/key`` from the saved state's bucket folders."""
    from pyiceberg.io.pyarrow import PyArrowFileIO

    class StateFileIO(PyArrowFileIO):
        def _local(self, location: str) -> str:
            if location.startswith(("s3://", "s3a://", "s3n://")):
                local = _local_path(state, "s3://" + location.split("://", 1)[1], bucket_dirs)
                if local is None:
                    raise FileNotFoundError(f"{location}: its bucket is not in the saved state")
                return local
            return location

        def new_input(self, location: str):
            return super().new_input(self._local(location))

        def new_output(self, location: str):
            raise PermissionError(f"the local query engine does not write ({location})")

        def delete(self, location) -> None:
            raise PermissionError(f"the local query engine does not delete ({location})")

    return StateFileIO()


#: Iceberg type -> the name Athena (and the Glue catalog columns Iceberg writes) give it.
def _type_name(field_type) -> str:
    from pyiceberg import types as t

    if isinstance(field_type, t.DecimalType):
        return f"decimal({field_type.precision},{field_type.scale})"
    simple = {
        t.StringType: "string",
        t.LongType: "bigint",
        t.IntegerType: "int",
        t.DoubleType: "double",
        t.FloatType: "float",
        t.BooleanType: "boolean",
        t.DateType: "date",
        t.TimestampType: "timestamp",
        t.TimestamptzType: "timestamp",
        t.BinaryType: "binary",
    }
    for kind, name in simple.items():
        if isinstance(field_type, kind):
            return name
    return str(field_type)


class IcebergTables:
    """The Iceberg tables of the saved catalog, loaded (metadata only) on first use."""

    def __init__(self, state: str, catalog: dict, bucket_dirs: dict[str, str]):
        self._io = _state_file_io(state, bucket_dirs)
        self.entries = [item for item in curated_tables(catalog) if is_iceberg(item["table"])]
        self._loaded: dict[str, object] = {}

    def load(self, item: dict):
        from pyiceberg.serializers import FromInputFile
        from pyiceberg.table import StaticTable

        name = item["table"]["Name"]
        if name not in self._loaded:
            location = item["table"]["Parameters"]["metadata_location"]
            metadata = FromInputFile.table_metadata(self._io.new_input(location))
            self._loaded[name] = StaticTable(
                identifier=(item["database"], name),
                metadata=metadata,
                metadata_location=location,
                io=self._io,
                catalog=None,
            )
        return self._loaded[name]

    def info(self, item: dict) -> dict:
        table = self.load(item)
        schema = table.schema()
        spec = table.spec()
        keys: dict[str, str] = {}
        for part in spec.fields:
            source = schema.find_field(part.source_id).name
            transform = str(part.transform)
            keys[source] = "yes" if transform == "identity" else transform
        snapshot = table.current_snapshot()
        return {
            "database": item["database"],
            "table": item["table"]["Name"],
            "columns": [f.name for f in schema.fields],
            "types": [_type_name(f.field_type) for f in schema.fields],
            "partitionKeys": list(keys),
            "partitionTransforms": keys,
            "format": "iceberg",
            "currentSnapshotId": str(snapshot.snapshot_id) if snapshot else None,
        }

    def history(self, item: dict) -> list[dict]:
        """Every snapshot still in the table's metadata, oldest first."""
        table = self.load(item)
        rows = []
        for snap in sorted(table.metadata.snapshots, key=lambda s: (s.timestamp_ms, s.sequence_number or 0)):
            summary = snap.summary
            extra = summary.additional_properties if summary else {}
            committed = dt.datetime.fromtimestamp(snap.timestamp_ms / 1000, tz=dt.UTC)
            rows.append(
                {
                    "snapshotId": str(snap.snapshot_id),
                    "committedAt": committed.isoformat().replace("+00:00", "Z"),
                    "operation": summary.operation.value if summary else None,
                    "addedRecords": int(extra.get("added-records", 0)),
                    "deletedRecords": int(extra.get("deleted-records", 0))
                    + int(extra.get("added-position-deletes", 0))
                    + int(extra.get("added-equality-deletes", 0)),
                    "totalRecords": int(extra["total-records"]) if "total-records" in extra else None,
                }
            )
        return rows

    def owner_of(self, snapshot_id: str) -> dict:
        for item in self.entries:
            if self.load(item).snapshot_by_id(int(snapshot_id)) is not None:
                return item
        raise QueryInputError(
            f'no Iceberg table has snapshot {snapshot_id} (snapshot ids: "describe <table>" lists them)'
        )

    def register(self, con: duckdb.DuckDBPyConnection, item: dict, snapshot_id: str | None = None) -> None:
        table = self.load(item)
        scan = table.scan(snapshot_id=int(snapshot_id)) if snapshot_id else table.scan()
        rows = scan.to_arrow()
        database, name = item["database"], item["table"]["Name"]
        hidden = f"__iceberg_{database}_{name}"
        con.register(hidden, rows)
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(database)}")
        qualified = f"{_quote(database)}.{_quote(name)}"
        con.execute(f"CREATE OR REPLACE VIEW {qualified} AS SELECT * FROM {_quote(hidden)}")
        con.execute(f"CREATE OR REPLACE VIEW {_quote(name)} AS SELECT * FROM {qualified}")


def named_in(sql: str, name: str) -> bool:
    """Whether the SQL mentions the table name as a word (quoted or not; any case)."""
    return re.search(rf"(?<![\w$]){re.escape(name)}(?![\w$])", sql, re.IGNORECASE) is not None


def jsonable(value):
    if isinstance(value, decimal.Decimal):
        # The value's own exponent is its type's scale: 1250 in a decimal(18,2) is "1250.00".
        text = format(value, "f")
        return text[1:] if value == 0 and text.startswith("-") else text
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def hint(tables: list[dict]) -> str:
    known = ", ".join(t["table"] for t in tables) or "none yet"
    return f'curated tables: {known} (list them with "tables", their columns with "describe <table>")'


def with_hint(error: Exception, tables: list[dict]) -> str:
    """DuckDB's first line, then the curated tables, then the rest (its "Did you mean", the SQL)."""
    first, _, rest = str(error).partition("\n")
    return "\n".join(part for part in (first, hint(tables), rest.strip("\n")) if part)


def describe(tables: list[dict], name: str) -> dict:
    wanted = name.strip().strip('"').lower()
    for table in tables:
        if wanted in (table["table"].lower(), f"{table['database']}.{table['table']}".lower()):
            keys = table.get("partitionTransforms") or {k: "yes" for k in table["partitionKeys"]}
            rows = [
                [column, kind, keys.get(column, "")]
                for column, kind in zip(table["columns"], table["types"], strict=True)
            ]
            return {"columns": ["column", "type", "partition_key"], "rows": rows, "table": table}
    return {"error": f"no curated table {name!r}; {hint(tables)}"}


def main() -> int:
    lifeline.tie_to_parent()
    request = json.load(sys.stdin)
    state = request["state"]
    catalog_file = os.path.join(state, "catalog.json")
    catalog = {"tables": []}
    if os.path.exists(catalog_file):
        with open(catalog_file, encoding="utf-8") as f:
            catalog = json.load(f)
    buckets = request.get("buckets", {})
    con = duckdb.connect()
    iceberg = IcebergTables(state, catalog, buckets)
    tables = register(con, state, catalog, buckets) + [iceberg.info(item) for item in iceberg.entries]
    tables.sort(key=lambda t: (t["database"], t["table"]))
    if request.get("tables"):
        for item in iceberg.entries:
            iceberg.register(con, item)
        for table in tables:
            count = con.execute(f"SELECT count(*) FROM {_quote(table['database'])}.{_quote(table['table'])}")
            table["rows"] = count.fetchone()[0]
            for internal in ("types", "partitionTransforms"):
                table.pop(internal, None)
        json.dump({"tables": tables}, sys.stdout)
        return 0
    if "describe" in request:
        result = describe(tables, str(request["describe"]))
        if "error" in result:
            json.dump(result, sys.stdout)
            return 2
        table = result.pop("table")
        result["format"] = table.get("format")
        result["currentSnapshotId"] = table.get("currentSnapshotId")
        entry = next((i for i in iceberg.entries if i["table"]["Name"] == table["table"]), None)
        result["snapshots"] = iceberg.history(entry) if entry else []
        json.dump(result, sys.stdout)
        return 0
    sql = request["sql"]
    try:
        snapshot = request.get("snapshot")
        if snapshot is not None and not re.fullmatch(r"-?\d+", str(snapshot)):
            raise QueryInputError(f"--snapshot must be a snapshot id (an integer), not {snapshot!r}")
        owner = iceberg.owner_of(str(snapshot)) if snapshot is not None else None
        for item in iceberg.entries:
            if item is owner or named_in(sql, item["table"]["Name"]):
                iceberg.register(con, item, str(snapshot) if item is owner else None)
        cursor = con.execute(sql)
    except (duckdb.Error, QueryInputError) as error:
        json.dump({"error": with_hint(error, tables)}, sys.stdout)
        return 2
    columns = [d[0] for d in cursor.description or []]
    rows = [[jsonable(v) for v in row] for row in cursor.fetchall()]
    json.dump({"columns": columns, "rows": rows}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
