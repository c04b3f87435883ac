#!/usr/bin/env bash
# Checks the test tiers (README, "Testing") against the test files, in `npm run lint`:
# - every vitest file (test/**/*.test.ts) is in exactly one tier (vitest project), and every
#   file the tier lists in vitest.config.mts name exists;
# - no file of the unit tier calls a helper that starts the emulator, Spark or the pipeline;
# - the Python tiers (scripts/pytest.sh --tier) together select every Python test, each once.
# Fails with one line per problem. Takes a few seconds: nothing here runs a test.
set -euo pipefail
cd "$(dirname "$0")/.."

problems=0
problem() {
  echo "test tiers: $*" >&2
  problems=$((problems + 1))
}

# vitest: the files of each project, as vitest itself resolves them.
listing=$(node_modules/.bin/vitest list --filesOnly --json)
tiers=$(node -e '
  const root = process.cwd() + "/";
  for (const { file, projectName } of JSON.parse(process.argv[1]))
    console.log(`${projectName} ${file.startsWith(root) ? file.slice(root.length) : file}`);
' "$listing" | sort -k2)

while read -r file; do
  count=$(awk -v f="$file" '$2 == f' <<<"$tiers" | wc -l)
  [ "$count" -eq 1 ] || problem "$file is in $count tiers (vitest.config.mts), not 1"
done < <(find test -name '*.test.ts' | sort)
while read -r _ file; do
  [ -f "$file" ] || problem "vitest lists $file, which is not a test file under test/"
done <<<"$tiers"
while read -r file; do
  [ -f "$file" ] || problem "vitest.config.mts lists $file, which does not exist"
done < <(grep -oE "'test/[^'*]+\.test\.ts'" vitest.config.mts | tr -d "'")

# A unit test that starts the emulator, Spark or the pipeline would hang or fail without them.
starts='\b(startEmulator|startTestAws|startS3|startIamHarness|startHarness|runPipeline|runDemo)\(|new JobServer\(|ThreadedMotoServer|mock_aws|moto_speedups\.py|iceberg_state\.py'
while read -r tier file; do
  [ "$tier" = unit ] || continue
  if grep -qE "$starts" "$file"; then
    problem "$file is a unit test but starts the emulator, Spark or the pipeline ($(grep -oE "$starts" "$file" | sort -u | paste -sd, -)): list it in vitest.config.mts"
  fi
done <<<"$tiers"

# pytest: the tiers' marker selections add up to the whole suite.
collected() {
  local out status=0
  out=$(bash scripts/pytest.sh "$@" --collect-only -q 2>&1) || status=$?
  # 5: no test selected.
  if [ "$status" -ne 0 ] && [ "$status" -ne 5 ]; then
    echo "$out" >&2
    problem "pytest $* --collect-only failed (exit $status)"
    echo 0
    return
  fi
  tail -1 <<<"$out" | grep -oE '^[0-9]+' || echo 0
}
all=$(collected)
unit=$(collected --tier unit)
emulator=$(collected --tier emulator)
if [ "$((unit + emulator))" -ne "$all" ]; then
  problem "pytest tiers select $unit (unit) + $emulator (emulator) tests of $all"
fi

if [ "$problems" -gt 0 ]; then
  exit 1
fi
echo "test tiers: $(grep -c '^unit ' <<<"$tiers") unit, $(grep -c '^emulator ' <<<"$tiers") emulator, $(grep -c '^e2e ' <<<"$tiers") e2e vitest files of $(find test -name '*.test.ts' | wc -l); pytest $unit unit + $emulator emulator of $all"
