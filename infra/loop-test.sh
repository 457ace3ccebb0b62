#!/usr/bin/env bash
# Runs one vitest selection N times in a row on the running local stack and stops at the
# first failure, so a test that fails once in twenty is caught, not rerun to green.
#   bash infra/loop-test.sh 20 --project outage test/integration/capture/capture.slot-safety.int.test.ts
# Each run's output goes to .reports/loop/run-K.log; the last line says how many passed.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:?usage: loop-test.sh RUNS VITEST-ARGS...}
shift
mkdir -p .reports/loop
passed=0
for ((k = 1; k <= runs; k++)); do
  started=$SECONDS
  if npx vitest run "$@" >".reports/loop/run-$k.log" 2>&1; then
    passed=$((passed + 1))
    echo "run $k: passed ($((SECONDS - started)) s)"
  else
    echo "run $k: FAILED ($((SECONDS - started)) s), see .reports/loop/run-$k.log"
    echo "$passed of $k runs passed before a failure"
    exit 1
  fi
done
echo "$passed of $runs runs passed in a row"
