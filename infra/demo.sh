#!/usr/bin/env bash
# `make demo`: the main job on the local stack. Today it brings the stack up, migrates the
# catalog and shows where everything runs; capture → archive → restore join as they land.
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true

echo "== 1. the local stack: PostgreSQL (wal_level=logical), Kafka (KRaft), S3Proxy"
npm run --silent stack:up
echo
echo "== 2. the catalog database: schema \`backtrack\` migrated"
BACKTRACK_CONFIG_FILE=.stack/backtrack.env npx tsx services/cli/main.ts migrate
echo
echo "== 3. where everything runs"
npm run --silent stack:status
echo
echo "The stack keeps running; stop it with \`make stack-down\`."
