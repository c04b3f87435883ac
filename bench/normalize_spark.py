"""Spark read + aggregate of the same normalized rows as gzip JSON Lines and as Parquet.

The ETL reads normalized objects with a schema (from the catalog): every column a string,
measures cast to DECIMAL(38,18) and summed per partition and sub-account. The Parquet copy
is written by Spark from the same rows with the same string schema. Each read is run three
times after one warm-up; the median counts. Prints JSON.
"""

import glob
import json
import statistics
import sys
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

MEASURES = [
    "billed_cost",
    "effective_cost",
    "list_cost",
    "contracted_cost",
    "consumed_quantity",
    "pricing_quantity",
]


def main() -> None:
    jsonl_dir, parquet_dir = sys.argv[1], sys.argv[2]
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("normalize-format-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    files = sorted(glob.glob(f"{jsonl_dir}/**/*.jsonl.gz", recursive=True))
    first = spark.read.json(files[0]).columns
    schema = StructType([StructField(c, StringType()) for c in first])

    def aggregate(frame):
        sums = [F.sum(F.col(m).cast("decimal(38,18)")).alias(m) for m in MEASURES]
        return frame.groupBy("sub_account_id").agg(F.count(F.lit(1)).alias("rows"), *sums).collect()

    started = time.perf_counter()
    spark.read.schema(schema).json(files).write.mode("overwrite").parquet(parquet_dir)
    parquet_write = time.perf_counter() - started

    def timed(reader):
        aggregate(reader())  # warm-up
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            result = aggregate(reader())
            runs.append(time.perf_counter() - t)
        return statistics.median(runs), result

    jsonl_seconds, jsonl_result = timed(lambda: spark.read.schema(schema).json(files))
    parquet_seconds, parquet_result = timed(lambda: spark.read.parquet(parquet_dir))
    same = sorted(map(tuple, jsonl_result)) == sorted(map(tuple, parquet_result))
    t = time.perf_counter()
    inferred = spark.read.json(files).count()
    jsonl_infer_seconds = time.perf_counter() - t
    print(
        json.dumps(
            {
                "jsonl_gzip_read_aggregate_s": jsonl_seconds,
                "parquet_read_aggregate_s": parquet_seconds,
                "parquet_write_by_spark_s": parquet_write,
                "jsonl_schema_inference_scan_s": jsonl_infer_seconds,
                "rows_inferred": inferred,
                "results_equal": same,
            }
        )
    )
    spark.stop()


if __name__ == "__main__":
    main()
