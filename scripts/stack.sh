#!/usr/bin/env bash
# The local Kiln stack: PostgreSQL 15 (var/pg), kiln-api (FastCGI on a unix socket),
# nginx (127.0.0.1:8080), a dispatcher loop and one build-node agent registered as node
# "local", each with a pid file under var/run.
#
#   stack.sh up      start what is not running, migrate, write var/admin-token
#   stack.sh down    stop exactly what `up` started
#   stack.sh status  show what runs
#   stack.sh demo    up, then submit and start a few example builds
#
# Settings (environment): KILN_VAR (var dir), KILN_HTTP_PORT (8080), KILN_PG_PORT (55432),
# KILN_BUILD_DIR (build), KILN_API_THREADS (16: agents long-poll, so count them in),
# KILN_WITH_WORKERS (1; 0 starts neither dispatcher nor agent), KILN_AGENT_CONCURRENCY (2).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VAR=$(realpath -m "${KILN_VAR:-$ROOT/var}")
HTTP_PORT=${KILN_HTTP_PORT:-8080}
PG_PORT=${KILN_PG_PORT:-55432}
BUILD=$(realpath -m "${KILN_BUILD_DIR:-$ROOT/build}")
THREADS=${KILN_API_THREADS:-16}
WITH_WORKERS=${KILN_WITH_WORKERS:-1}
AGENT_CONCURRENCY=${KILN_AGENT_CONCURRENCY:-2}
KILN="$BUILD/cmd/kiln"
ADMIN_DB="host=127.0.0.1 port=$PG_PORT user=postgres dbname=kiln"
API_DB="host=127.0.0.1 port=$PG_PORT user=kiln_web dbname=kiln"
DISPATCH_DB="host=127.0.0.1 port=$PG_PORT user=kiln_dispatch dbname=kiln"
URL="http://127.0.0.1:$HTTP_PORT"

say() { echo "kiln: $*"; }
die() { echo "kiln: $*" >&2; exit 1; }

# Running and not a zombie (an init that never reaps, as in some containers).
pid_alive() {
  [ -f "$1" ] || return 1
  local pid state; pid=$(head -1 "$1" 2>/dev/null) || return 1
  state=$(ps -o stat= -p "$pid" 2>/dev/null) || return 1
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

# The key that encrypts provider credentials at rest (docs/kubernetes.md): the one named by
# KILN_MASTER_KEY_FILE, else var/master.key, made once.
ensure_master_key() {
  if [ -z "${KILN_MASTER_KEY_FILE:-}" ]; then
    export KILN_MASTER_KEY_FILE="$VAR/master.key"
    if [ ! -s "$KILN_MASTER_KEY_FILE" ]; then
      (umask 077; printf 'k1:%s\n' "$(openssl rand -hex 32)" >"$KILN_MASTER_KEY_FILE")
    fi
  fi
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
      -e "s|@LISTEN@|127.0.0.1:$HTTP_PORT|g" -e "s|@SOCKET@|$VAR/run/kiln-api.sock|g" -e "s|@STATIC@|$ROOT/static|g" \
      "$ROOT/nginx/kiln.conf.in" >"$VAR/nginx/nginx.conf"
  nginx -t -q -p "$VAR/nginx" -e "$VAR/log/nginx-error.log" -c "$VAR/nginx/nginx.conf" \
    || die "nginx rejected $VAR/nginx/nginx.conf"
  nginx -p "$VAR/nginx" -e "$VAR/log/nginx-error.log" -c "$VAR/nginx/nginx.conf" 2>>"$VAR/log/nginx-error.log" \
    || die "nginx did not start: is port $HTTP_PORT taken? (set KILN_HTTP_PORT; details in $VAR/log/nginx-error.log)"
  wait_for 10 nginx curl -fsS "$URL/healthz"
}

start_dispatcher() {
  if pid_alive "$VAR/run/kiln-dispatch.pid"; then return; fi
  "$BUILD/cmd/kiln-dispatch" --loop --database "$DISPATCH_DB" --interval 2 \
    --pipelines "$ROOT/pipelines/build-node" >>"$VAR/log/kiln-dispatch.log" 2>&1 &
  echo $! >"$VAR/run/kiln-dispatch.pid"
}

# The machine itself as build node "local": registered once through the API, its token
# kept in var/node-token.
start_agent() {
  if pid_alive "$VAR/run/kiln-agent.pid"; then return; fi
  if [ ! -s "$VAR/node-token" ]; then
    local answer
    answer=$(api POST /api/v1/admin/build-nodes \
      "{\"name\":\"local\",\"labels\":{\"arch\":\"$(dpkg --print-architecture)\"},\"concurrency\":$AGENT_CONCURRENCY}")
    (umask 077; printf '%s\n' "$answer" | sed -n 's/.*"token": *"\([^"]*\)".*/\1/p' >"$VAR/node-token")
    [ -s "$VAR/node-token" ] || die "registering build node local failed: $answer"
  fi
  mkdir -p "$VAR/agent"
  "$BUILD/cmd/kiln-agent" --url "$URL" --token-file "$VAR/node-token" --work-dir "$VAR/agent" \
    --concurrency "$AGENT_CONCURRENCY" --label "arch=$(dpkg --print-architecture)" \
    >>"$VAR/log/kiln-agent.log" 2>&1 &
  echo $! >"$VAR/run/kiln-agent.pid"
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
  ensure_master_key
  start_api
  start_nginx
  if [ "$WITH_WORKERS" = 1 ]; then
    start_dispatcher
    start_agent
  fi
  say "stack is up: $URL (API $URL/api/v1/, admin token in $VAR/admin-token)"
}

down() {
  stop_pid kiln-agent "$VAR/run/kiln-agent.pid"
  stop_pid kiln-dispatch "$VAR/run/kiln-dispatch.pid"
  stop_pid nginx "$VAR/nginx/nginx.pid"
  stop_pid kiln-api "$VAR/run/kiln-api.pid"
  if [ -f "$VAR/pg/data/postmaster.pid" ]; then
    "$ROOT/scripts/pg.sh" stop "$VAR/pg"
    say "stopped postgresql"
  fi
}

status() {
  for p in "kiln-api:$VAR/run/kiln-api.pid" "nginx:$VAR/nginx/nginx.pid" \
           "kiln-dispatch:$VAR/run/kiln-dispatch.pid" "kiln-agent:$VAR/run/kiln-agent.pid" \
           "postgresql:$VAR/pg/data/postmaster.pid"; do
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

# A small C program, compiled and tested by a custom-script build.
DEMO_SCRIPT='cat > hello.c <<EOF
#include <stdio.h>
int main(int argc, char **argv) { printf("hello, %s\n", argc > 1 ? argv[1] : "kiln"); return 0; }
EOF
cc -O2 -Wall -o hello hello.c
test "$(./hello)" = "hello, kiln"
test "$(./hello demo)" = "hello, demo"
echo "tests passed"'

demo() {
  up
  say "submitting example builds"
  api POST /api/v1/projects '{"name":"hello-c","language":"c"}' >/dev/null
  local ids=() script body id status
  for script in "$DEMO_SCRIPT" 'echo "building docs"; sleep 2; echo done' 'uname -sm; nproc'; do
    body=$(printf '%s' "$script" | /usr/bin/python3 -c 'import json, sys; print(json.dumps({"project": "hello-c", "method": "script", "params": {"script": sys.stdin.read()}, "spec": {"cpu": 1, "memory_gb": 1, "time_budget_min": 10}}))')
    id=$(api POST /api/v1/builds "$body" | sed -n 's/.*"id": *"\([0-9a-f-]*\)".*/\1/p' | head -1)
    [ -n "$id" ] || die "submitting an example build failed"
    api POST "/api/v1/builds/$id/start" >/dev/null
    say "  build $id queued"
    ids+=("$id")
  done
  if [ "$WITH_WORKERS" = 1 ]; then
    for id in "${ids[@]}"; do
      for _ in $(seq 600); do
        status=$(api GET "/api/v1/builds/$id" | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])')
        case "$status" in succeeded|failed|cancelled|timed_out) break ;; esac
        sleep 0.1
      done
      say "  build $id $status"
    done
    say "log of build ${ids[0]}:"
    api GET "/api/v1/builds/${ids[0]}/logs" | sed 's/^/    /'
  fi
  say "list builds: curl -H \"Authorization: Bearer \$(cat $VAR/admin-token)\" $URL/api/v1/builds"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  demo) demo ;;
  *) echo "usage: $0 up|down|status|demo" >&2; exit 2 ;;
esac
