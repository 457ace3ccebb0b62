#!/usr/bin/env bash
# Installs what the local stack and `npm ci` need when it is missing: PostgreSQL 15+ server
# binaries, Java 17+ and Maven, and the tools and headers that build the native Kafka client
# (@confluentinc/kafka-javascript, compiled with CKJS_LINKING=dynamic against the system's
# OpenSSL and zlib), from the Debian/Ubuntu packages. Node.js 20.19+ must be there already.
set -euo pipefail

need=()

node_ok() {
  command -v node >/dev/null || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'
}
if ! node_ok; then
  echo "prerequisites: Node.js 20.19 or newer is required (found: $(node --version 2>/dev/null || echo none)); install it first" >&2
  exit 1
fi

postgres_ok() {
  for dir in /usr/lib/postgresql/*/bin; do
    major=$(basename "$(dirname "$dir")")
    [[ "$major" =~ ^[0-9]+$ ]] && (( major >= 15 )) && [[ -x "$dir/initdb" ]] && return 0
  done
  command -v initdb >/dev/null
}
postgres_ok || need+=(postgresql)

java_ok() {
  command -v java >/dev/null || return 1
  local version
  version=$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
  [[ -n "$version" ]] && (( ${version%%.*} >= 17 ))
}
java_ok || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need+=(maven)

# node-gyp's toolchain, and the headers librdkafka is linked against.
{ command -v g++ >/dev/null && command -v make >/dev/null; } || need+=(build-essential)
command -v python3 >/dev/null || need+=(python3)
command -v pkg-config >/dev/null || need+=(pkg-config)
[[ -f /usr/include/openssl/ssl.h ]] || need+=(libssl-dev)
[[ -f /usr/include/zlib.h ]] || need+=(zlib1g-dev)

if (( ${#need[@]} == 0 )); then
  exit 0
fi

echo "prerequisites: installing ${need[*]}"
if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null; then
  SUDO=(sudo)
else
  echo "prerequisites: ${need[*]} missing and not running as root; install them and retry" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "prerequisites: ${need[*]} missing and apt-get is not available; install them and retry" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
