"""SQL over the local runtime's curated tables, by their catalog names.

Reads the Glue catalog the local runtime saved (``<state>/catalog.json``) and the curated
Parquet files it saved (``<state>/s3/curated/...``): each curated table becomes a DuckDB view
over the partitions the catalog points at (the current location of each partition, so a
swapped-out run location is never read), with the partition column added from the
partition value. Views exist both as ``<table>`` and ``<database>.<table>``.

Usage (JSON on stdin, JSON on stdout):
  {"state": "<dir>", "sql": "select ..."}  -> {"columns": [...], "rows": [[...], ...]}
  {"state": "<dir>", "tables": true}       -> {"tables": [{"database", "table", "columns", "rows"}]}
Decimals are returned as exact decimal strings, dates and timestamps as ISO-8601 strings.
"""

from __future__ import annotations

import datetime as dt
import decimal
import glob
import json
import os
import sys

import duckdb

NORMALIZED_PREFIX = "normalized_"


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
        registered.append({"database": database, "table": name, "columns": columns + keys})
    return registered


def jsonable(value):
    if isinstance(value, decimal.Decimal):
        text = format(value, "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return "0" if text in ("", "-0") else text
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def main() -> int:
    request = json.load(sys.stdin)
    state = request["state"]
    catalog_file = os.path.join(state, "catalog.json")
    catalog = {"tables": []}
    if os.path.exists(catalog_file):
        with open(catalog_file, encoding="utf-8") as f:
            catalog = json.load(f)
    con = duckdb.connect()
    tables = register(con, state, catalog, request.get("buckets", {}))
    if request.get("tables"):
        for table in tables:
            count = con.execute(f"SELECT count(*) FROM {_quote(table['database'])}.{_quote(table['table'])}")
            table["rows"] = count.fetchone()[0]
        json.dump({"tables": tables}, sys.stdout)
        return 0
    try:
        cursor = con.execute(request["sql"])
    except duckdb.Error as error:
        known = ", ".join(t["table"] for t in tables) or "none yet"
        json.dump({"error": f"{error} (curated tables: {known})"}, sys.stdout)
        return 2
    columns = [d[0] for d in cursor.description or []]
    rows = [[jsonable(v) for v in row] for row in cursor.fetchall()]
    json.dump({"columns": columns, "rows": rows}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
