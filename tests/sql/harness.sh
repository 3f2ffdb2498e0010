#!/usr/bin/env bash
# Runs the pgTAP suite against a throwaway cluster.
#   harness.sh setup DIR       init + start a cluster, build database kiln_template:
#                              `kiln migrate`, pgtap, dblink, tests/support/fixtures.sql
#   harness.sh run DIR FILE    clone the template into a fresh database, pg_prove FILE
#   harness.sh teardown DIR    stop the cluster, remove DIR
# Each test file gets its own database, so files may commit and run in parallel.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cmd=$1 dir=$2
KILN=${KILN_BUILD_DIR:-$ROOT/build}/cmd/kiln

dsn() { echo "host=127.0.0.1 port=$(cat "$dir/port") user=postgres dbname=$1"; }

case "$cmd" in
  setup)
    "$ROOT/scripts/pg.sh" stop "$dir" 2>/dev/null || true
    rm -rf "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$ROOT/scripts/pg.sh" init "$dir"
    echo "$port" >"$dir/port"
    "$ROOT/scripts/pg.sh" start "$dir" "$port"
    psql "$(dsn postgres)" -qc "create database kiln_template"
    "$KILN" migrate --database "$(dsn kiln_template)" --sql-dir "$ROOT/sql"
    psql "$(dsn kiln_template)" -q -v ON_ERROR_STOP=1 \
      -c "create extension pgtap" -c "create extension dblink" \
      -f "$ROOT/tests/support/fixtures.sql"
    ;;
  run)
    file=$3
    db="t_$(basename "$file" .sql | tr -c 'a-z0-9_\n' '_')_$$"
    psql "$(dsn postgres)" -qc "create database $db template kiln_template"
    set +e
    pg_prove --failures --dbname "$db" --host 127.0.0.1 --port "$(cat "$dir/port")" \
      --username postgres "$file"
    rc=$?
    set -e
    psql "$(dsn postgres)" -qc "drop database $db with (force)"
    exit $rc
    ;;
  teardown)
    "$ROOT/scripts/pg.sh" stop "$dir"
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 setup|run|teardown DIR [FILE]" >&2; exit 2 ;;
esac
