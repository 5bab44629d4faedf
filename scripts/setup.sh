#!/usr/bin/env bash
# Installs what a clean machine lacks for the tests, the sample app and the benchmark:
# a JRE and Debian's ZooKeeper (skipped with ZOOKEEPER_CONNECT or ZOOKEEPER_HOME), openssl, PostgreSQL
# (for bench:pg), and node_modules. Debian packages go in one apt-get run.
set -euo pipefail
cd "$(dirname "$0")/.."

need_zookeeper() {
  [ -z "${ZOOKEEPER_CONNECT:-}" ] && [ -z "${ZOOKEEPER_HOME:-}" ] && [ ! -f /usr/share/java/zookeeper.jar ]
}
# test/benchmarks.spec.ts starts bench:pg, which runs a private PostgreSQL (scripts/pg.js finds it).
have_postgres() {
  [ -n "${PG_BIN:-}" ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || [ -x "$(pg_config --bindir 2>/dev/null)/initdb" ]
}

packages=()
if need_zookeeper || ! command -v java >/dev/null 2>&1; then packages+=(zookeeper default-jre-headless); fi
# The TLS tests make their certificates with the openssl command line.
if ! command -v openssl >/dev/null 2>&1; then packages+=(openssl); fi
if ! have_postgres; then packages+=(postgresql); fi

if [ ${#packages[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing Debian packages: ${packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${packages[@]}" >/dev/null
  else
    for p in "${packages[@]}"; do
      case "$p" in
        zookeeper)
          echo "[setup] ZooKeeper and a Java runtime are needed: 'sudo apt-get install zookeeper', or set" >&2
          echo "        ZOOKEEPER_HOME to an Apache ZooKeeper release, or ZOOKEEPER_CONNECT=host:port" >&2
          exit 1 ;;
        openssl)
          echo "[setup] the TLS tests need the openssl command: 'sudo apt-get install openssl'" >&2
          exit 1 ;;
        postgresql)
          echo "[setup] bench:pg and its test need PostgreSQL: 'sudo apt-get install postgresql', or set PG_BIN" >&2
          echo "        to a directory holding initdb and postgres; until then test/benchmarks.spec.ts fails" >&2 ;;
      esac
    done
  fi
fi

# npm ci when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[setup] npm ci"
  npm ci --no-audit --no-fund
fi
