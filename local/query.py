"""SQL over the local runtime's curated tables, by their catalog names.

Reads the Glue catalog the local runtime saved (``<state>/catalog.json``) and the curated
Parquet files it saved (``<state>/s3/curated/...``): each curated table becomes a DuckDB view
over the partitions the catalog points at (the current location of each partition, so a
swapped-out run location is never read), with the partition column added from the
partition value. Views exist both as ``<table>`` and ``<database>.<table>``.

Usage (JSON on stdin, JSON on stdout; ``<dir>`` is the saved state, ``<state folder>/current``):
  {"state": "<dir>", "sql": "select ..."}   -> {"columns": [...], "rows": [[...], ...]}
  {"state": "<dir>", "tables": true}        -> {"tables": [{"database", "table", "columns", "rows",
                                                 "partitionKeys"}]}
  {"state": "<dir>", "describe": "<table>"} -> {"columns": ["column", "type", "partition_key"], "rows": [...]}
Errors: {"error": "..."}. Decimals are returned as exact decimal strings with the scale of their
type (``1250.00`` for a ``decimal(18,2)``, as Athena prints it), dates and timestamps as ISO-8601.
"""

from __future__ import annotations

import datetime as dt
import decimal
import glob
import json
import os
import sys

import duckdb
import lifeline

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
        registered.append(
            {
                "database": database,
                "table": name,
                "columns": columns + keys,
                "partitionKeys": keys,
                "types": [c.get("Type", "") for c in table.get("StorageDescriptor", {}).get("Columns", [])]
                + [k.get("Type", "") for k in table.get("PartitionKeys", [])],
            }
        )
    return registered


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
            keys = set(table["partitionKeys"])
            rows = [
                [column, kind, "yes" if column in keys else ""]
                for column, kind in zip(table["columns"], table["types"], strict=True)
            ]
            return {"columns": ["column", "type", "partition_key"], "rows": rows}
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
    con = duckdb.connect()
    tables = register(con, state, catalog, request.get("buckets", {}))
    if request.get("tables"):
        for table in tables:
            count = con.execute(f"SELECT count(*) FROM {_quote(table['database'])}.{_quote(table['table'])}")
            table["rows"] = count.fetchone()[0]
            del table["types"]
        json.dump({"tables": tables}, sys.stdout)
        return 0
    if "describe" in request:
        result = describe(tables, str(request["describe"]))
        json.dump(result, sys.stdout)
        return 2 if "error" in result else 0
    try:
        cursor = con.execute(request["sql"])
    except duckdb.Error as error:
        json.dump({"error": with_hint(error, tables)}, sys.stdout)
        return 2
    columns = [d[0] for d in cursor.description or []]
    rows = [[jsonable(v) for v in row] for row in cursor.fetchall()]
    json.dump({"columns": columns, "rows": rows}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
