#!/usr/bin/env bash
# Runs the Python tests (Glue job, its library and the local awsglue stand-in) on local Spark.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/pytest ]; then
  echo "pytest: .venv is missing; run \"npm run setup\" first" >&2
  exit 1
fi
exec .venv/bin/pytest "$@"
