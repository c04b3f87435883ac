#!/usr/bin/env bash
# Creates the project's Python virtualenv (.venv) from requirements.txt.
# Idempotent: re-running upgrades nothing that is already pinned and installed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 10) else 1)'; then
  echo "setup: Python >= 3.10 is required (Glue 5.0 runs 3.11); found $("$PYTHON" --version 2>&1)" >&2
  exit 1
fi
if ! command -v java >/dev/null 2>&1; then
  echo "setup: Java 17 is required by local Spark (pyspark); install a JDK 17 first" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $("$PYTHON" --version 2>&1)"
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements.txt
echo "setup: .venv ready ($(.venv/bin/python -c 'import pyspark, moto; print("pyspark", pyspark.__version__, "moto", moto.__version__)'))"
