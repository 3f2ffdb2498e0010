#!/usr/bin/env bash
# Throwaway PostgreSQL 15 clusters for the local stack and the tests.
#   pg.sh init  DIR PORT   create a cluster in DIR (initdb as the postgres user)
#   pg.sh start DIR PORT   start it on 127.0.0.1:PORT, sockets in DIR/run
#   pg.sh stop  DIR        fast shutdown
# initdb refuses to run as root, so every server command runs as `postgres`.
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cmd=${1:?usage: pg.sh init|start|stop DIR [PORT]}
dir=${2:?data directory}
dir=$(realpath -m "$dir")

case "$cmd" in
  init)
    if [ -f "$dir/data/PG_VERSION" ]; then exit 0; fi
    mkdir -p "$dir/data" "$dir/run"
    [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir"
    # The parent folders must be traversable by the postgres user.
    p=$dir; while [ "$p" != / ]; do p=$(dirname "$p"); chmod o+x "$p" 2>/dev/null || true; done
    as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync \
      --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    ;;
  start)
    port=${3:?port}
    if as_pg "$PGBIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then exit 0; fi
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
      -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir/run \
          -c max_connections=200 -c shared_buffers=128MB -c fsync=${PG_FSYNC:-on} \
          -c synchronous_commit=${PG_SYNC_COMMIT:-on} -c track_functions=pl" \
      start >/dev/null || { tail -20 "$dir/postgres.log" >&2; exit 1; }
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null || true
    fi
    ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
