#!/usr/bin/env bash
# Quick start: installs what is missing, starts a local ZooKeeper (unless ZOOKEEPER_CONNECT is set),
# builds and runs the sample app on http://localhost:${PORT:-3000}. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

zk_pid=""
cleanup() { [ -n "$zk_pid" ] && kill "$zk_pid" 2>/dev/null && wait "$zk_pid" 2>/dev/null; true; }
trap cleanup EXIT INT TERM

if [ -z "${ZOOKEEPER_CONNECT:-}" ]; then
  port="${ZOOKEEPER_PORT:-2181}"
  node scripts/zk.js start --port "$port" --dir .zk &
  zk_pid=$!
  until node -e "require('./scripts/zk.js').fourLetterWord($port,'ruok').then(a=>process.exit(a==='imok'?0:1))"; do
    kill -0 "$zk_pid" 2>/dev/null || { echo "ZooKeeper did not start; see .zk/server.log" >&2; exit 1; }
    sleep 0.2
  done
  export ZOOKEEPER_CONNECT="127.0.0.1:$port"
fi

npx nest build sample-app
node sample-app/dist/sample-app/src/main.js
