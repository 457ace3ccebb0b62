#!/usr/bin/env bash
# `make test`: starts the local stack, runs typecheck, lint, unit and integration tests,
# stops the stack, and ends with one line `N passed, N failed` from vitest's JSON reports.
# Exits non-zero when any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."

export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
reports=.reports
rm -rf "$reports" && mkdir -p "$reports"
status=0

step() {
  local name=$1
  shift
  local started=$SECONDS
  echo "== $name"
  if "$@"; then
    echo "== $name: ok ($((SECONDS - started)) s)"
  else
    echo "== $name: FAILED ($((SECONDS - started)) s)"
    status=1
  fi
}

trap 'npm run --silent stack:down >/dev/null 2>&1' INT TERM

step "stack up" npm run --silent stack:up
step "typecheck" npm run --silent typecheck
step "lint" npm run --silent lint
step "unit tests" npx vitest run --project unit --reporter=default --reporter=json --outputFile.json="$reports/unit.json"
step "integration tests" npx vitest run --project integration --project outage --reporter=default --reporter=json --outputFile.json="$reports/integration.json"
step "stack down" npm run --silent stack:down

npx tsx infra/test-report.ts "$reports/unit.json" "$reports/integration.json" || status=1
exit $status
