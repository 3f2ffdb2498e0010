#!/usr/bin/env bash
# The local Kiln stack: PostgreSQL 15 (var/pg), kiln-api (FastCGI on a unix socket) and
# nginx (127.0.0.1:8080), each with a pid file under var/run.
#
#   stack.sh up      start what is not running, migrate, write var/admin-token
#   stack.sh down    stop exactly what `up` started
#   stack.sh status  show what runs
#   stack.sh demo    up, then submit and start a few example builds
#
# Settings (environment): KILN_VAR (var dir), KILN_HTTP_PORT (8080), KILN_PG_PORT (55432),
# KILN_BUILD_DIR (build), KILN_API_THREADS (8).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VAR=$(realpath -m "${KILN_VAR:-$ROOT/var}")
HTTP_PORT=${KILN_HTTP_PORT:-8080}
PG_PORT=${KILN_PG_PORT:-55432}
BUILD=$(realpath -m "${KILN_BUILD_DIR:-$ROOT/build}")
THREADS=${KILN_API_THREADS:-8}
KILN="$BUILD/cmd/kiln"
ADMIN_DB="host=127.0.0.1 port=$PG_PORT user=postgres dbname=kiln"
API_DB="host=127.0.0.1 port=$PG_PORT user=kiln_web dbname=kiln"
URL="http://127.0.0.1:$HTTP_PORT"

say() { echo "kiln: $*"; }
die() { echo "kiln: $*" >&2; exit 1; }

# Running and not a zombie (an init that never reaps, as in some containers).
pid_alive() {
  [ -f "$1" ] || return 1
  local state; state=$(ps -o stat= -p "$(head -1 "$1")" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "${state#Z}" = "$state" ]
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds=$1 what=$2; shift 2
  for _ in $(seq $((seconds * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "$what did not come up within ${seconds}s; see $VAR/log/"
}

start_postgres() {
  "$ROOT/scripts/pg.sh" init "$VAR/pg"
  "$ROOT/scripts/pg.sh" start "$VAR/pg" "$PG_PORT"
  if ! psql "host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres" -Atqc \
       "select 1 from pg_database where datname = 'kiln'" | grep -q 1; then
    psql "host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres" -qc "create database kiln" >/dev/null
  fi
  "$KILN" migrate --database "$ADMIN_DB" --sql-dir "$ROOT/sql" | sed 's/^/  /'
  "$KILN" bootstrap --database "$ADMIN_DB" --tenant default --user admin --role admin \
    --token-file "$VAR/admin-token" | sed 's/^/  /'
}

start_api() {
  if pid_alive "$VAR/run/kiln-api.pid"; then return; fi
  "$BUILD/cmd/kiln-api" --listen "$VAR/run/kiln-api.sock" --database "$API_DB" \
    --threads "$THREADS" >>"$VAR/log/kiln-api.log" 2>&1 &
  echo $! >"$VAR/run/kiln-api.pid"
  wait_for 10 kiln-api test -S "$VAR/run/kiln-api.sock"
}

start_nginx() {
  if pid_alive "$VAR/nginx/nginx.pid"; then return; fi
  mkdir -p "$VAR/nginx/tmp"
  sed -e "s|@PREFIX@|$VAR/nginx|g" -e "s|@LOGS@|$VAR/log|g" \
      -e "s|@LISTEN@|127.0.0.1:$HTTP_PORT|g" -e "s|@SOCKET@|$VAR/run/kiln-api.sock|g" \
      "$ROOT/nginx/kiln.conf.in" >"$VAR/nginx/nginx.conf"
  nginx -t -q -p "$VAR/nginx" -e "$VAR/log/nginx-error.log" -c "$VAR/nginx/nginx.conf" \
    || die "nginx rejected $VAR/nginx/nginx.conf"
  nginx -p "$VAR/nginx" -e "$VAR/log/nginx-error.log" -c "$VAR/nginx/nginx.conf"
  wait_for 10 nginx curl -fsS "$URL/healthz"
}

stop_pid() {  # stop_pid NAME PIDFILE
  local pidfile=$2
  if pid_alive "$pidfile"; then
    local pid; pid=$(cat "$pidfile")
    kill -TERM "$pid"
    for _ in $(seq 100); do pid_alive "$pidfile" || break; sleep 0.1; done
    if pid_alive "$pidfile"; then say "$1 did not stop in 10s; killing"; kill -KILL "$pid"; fi
    say "stopped $1"
  fi
  rm -f "$pidfile"
}

up() {
  [ -x "$KILN" ] || die "build first: make build"
  mkdir -p "$VAR/run" "$VAR/log"
  chmod 755 "$VAR" "$VAR/run"
  start_postgres
  start_api
  start_nginx
  say "stack is up: $URL (API $URL/api/v1/, admin token in $VAR/admin-token)"
}

down() {
  stop_pid nginx "$VAR/nginx/nginx.pid"
  stop_pid kiln-api "$VAR/run/kiln-api.pid"
  if [ -f "$VAR/pg/data/postmaster.pid" ]; then
    "$ROOT/scripts/pg.sh" stop "$VAR/pg"
    say "stopped postgresql"
  fi
}

status() {
  for p in "kiln-api:$VAR/run/kiln-api.pid" "nginx:$VAR/nginx/nginx.pid" "postgresql:$VAR/pg/data/postmaster.pid"; do
    local name=${p%%:*} file=${p#*:}
    if pid_alive "$file"; then
      echo "$name: running (pid $(head -1 "$file"))"
    else
      echo "$name: stopped"
    fi
  done
}

api() {  # api METHOD PATH [JSON]
  curl -sS -X "$1" -H "Authorization: Bearer $(cat "$VAR/admin-token")" \
    -H 'Content-Type: application/json' ${3:+--data "$3"} "$URL$2"
}

demo() {
  up
  say "submitting example builds"
  api POST /api/v1/projects '{"name":"hello-c","language":"c"}' >/dev/null
  for script in 'cc -O2 -o hello hello.c && ./hello' 'make test' 'echo building docs && sleep 2'; do
    local body id
    body=$(printf '{"project":"hello-c","method":"script","params":{"script":"%s"},"spec":{"cpu":1,"memory_gb":1,"time_budget_min":10}}' "$script")
    id=$(api POST /api/v1/builds "$body" | sed -n 's/.*"id": *"\([0-9a-f-]*\)".*/\1/p' | head -1)
    [ -n "$id" ] || die "submitting an example build failed"
    api POST "/api/v1/builds/$id/start" >/dev/null
    say "  build $id queued"
  done
  say "open $URL/api/v1/builds with: curl -H \"Authorization: Bearer \$(cat $VAR/admin-token)\" $URL/api/v1/builds"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  demo) demo ;;
  *) echo "usage: $0 up|down|status|demo" >&2; exit 2 ;;
esac
