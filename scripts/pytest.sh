#!/usr/bin/env bash
# Runs the Python tests (Glue job, its library and the local awsglue stand-in) on local Spark.
#
#   scripts/pytest.sh [--tier unit|emulator] [pytest arguments]
#
# --tier selects by the markers glue-scripts/tests/conftest.py sets from the fixtures a test uses:
#   unit      tests that start neither local Spark nor the emulator: -m "not spark and not emulator"
#   emulator  tests that start either (the Glue job tests):           -m "spark or emulator"
# Without --tier every test runs (npm test).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/pytest ]; then
  echo "pytest: .venv is missing; run \"npm run setup\" first" >&2
  exit 1
fi
marks=()
if [ "${1:-}" = "--tier" ]; then
  case "${2:-}" in
    unit) marks=(-m "not spark and not emulator") ;;
    emulator) marks=(-m "spark or emulator") ;;
    *)
      echo "pytest: --tier takes unit or emulator, not \"${2:-}\"" >&2
      exit 2
      ;;
  esac
  shift 2
fi
exec .venv/bin/pytest "${marks[@]}" "$@"
