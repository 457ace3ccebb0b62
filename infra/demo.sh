#!/usr/bin/env bash
# `make demo`: the main job on the local stack, from nothing. Brings the stack up (reusing a
# running one), then infra/demo.ts drives the operator CLI through capture, archive,
# snapshots, an accident, a dry run, an in-place restore, the checks and a rollback.
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true

echo "== 0. the local stack: PostgreSQL (wal_level=logical), Kafka (KRaft), S3Proxy"
npm run --silent stack:up
npx tsx infra/demo.ts
echo
echo "The stack keeps running; stop it with \`make stack-down\`."
