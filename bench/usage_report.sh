#!/usr/bin/env bash
# The monthly usage report over a million usage rows: loads ROWS rows of one month
# (October 2026) into a throwaway Kiln stack (PostgreSQL + kiln-api + nginx from
# scripts/stack.sh, on free ports, removed on exit) through the partitioned table and its
# roll-up triggers, then times the report RUNS times (after a warm-up) as SQL and through
# nginx, and prints the median, fastest and slowest of each. docs/performance.md has
# results and how to read them.
#   bench/usage_report.sh [ROWS] [RUNS]        defaults: 1000000 9
# Needs a build (KILN_BUILD_DIR, default build/). PostgreSQL runs with fsync off (it only
# speeds up the load; the report reads).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROWS=${1:-1000000}
RUNS=${2:-9}
CHUNK=$(( ROWS < 100000 ? ROWS : 100000 ))
(( ROWS % CHUNK == 0 )) || { echo "ROWS must be a multiple of $CHUNK" >&2; exit 2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
WORK=$(mktemp -d /tmp/kiln-bench-usage.XXXXXX)
export KILN_VAR=$WORK/var KILN_HTTP_PORT=$(free_port) KILN_PG_PORT=$(free_port) KILN_WITH_WORKERS=0
export KILN_BUILD_DIR=${KILN_BUILD_DIR:-$ROOT/build} PG_FSYNC=off PG_SYNC_COMMIT=off
cleanup() { "$ROOT/scripts/stack.sh" down >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

"$ROOT/scripts/stack.sh" up | sed 's/^/  /'
DSN="host=127.0.0.1 port=$KILN_PG_PORT user=postgres dbname=kiln"

echo "machine: $(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GiB RAM; $(psql "$DSN" -Atc 'select version()' | cut -d, -f1)"
echo "loading $ROWS usage rows (statements of $CHUNK rows, roll-ups maintained by the triggers)"
started=$(date +%s.%N)
psql "$DSN" -q -X -v rows="$ROWS" -v chunk="$CHUNK" -f "$ROOT/bench/usage/load.sql" | grep -v '^$' | sed 's/^/  /'
echo "  load took $(python3 -c "print(round($(date +%s.%N) - $started, 1))") s"
echo "report latency, $RUNS runs after a warm-up:"
/usr/bin/python3 "$ROOT/bench/usage/measure.py" "$DSN" "http://127.0.0.1:$KILN_HTTP_PORT" \
  "$(cat "$KILN_VAR/admin-token")" "$RUNS" | sed 's/^/  /'
