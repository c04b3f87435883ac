"""The peer for the normalizer benchmark: pandas read_csv -> gzip JSON Lines (the same output
format the normalizer writes), every column as text like the normalizer. Prints JSON."""

import json
import resource
import sys
import time

import pandas as pd


def main() -> None:
    source, target = sys.argv[1], sys.argv[2]
    started = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_started = usage.ru_utime + usage.ru_stime
    frame = pd.read_csv(source, dtype=str, keep_default_na=False, na_values=["NULL", ""])
    read = time.perf_counter() - started
    frame.to_json(target, orient="records", lines=True, compression={"method": "gzip", "compresslevel": 1})
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_seconds = usage.ru_utime + usage.ru_stime - cpu_started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "read_seconds": read,
                "rows": len(frame),
                "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
