# Shared helpers of the benchmarks (sourced): a throwaway PostgreSQL cluster with the Kiln
# schema, free ports, medians. Nothing here touches a running stack.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export KILN_BUILD_DIR=${KILN_BUILD_DIR:-$ROOT/build}
KILN=$KILN_BUILD_DIR/cmd/kiln
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
export PATH=$PGBIN:$PATH

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# bench_cluster DIR: a cluster in DIR with fsync on (scripts/pg.sh's settings), database
# `kiln` migrated, one tenant `bench` with project `app`. Sets PGPORT and DSN.
bench_cluster() {
  local dir=$1
  [ -x "$KILN" ] || { echo "build first (no $KILN; set KILN_BUILD_DIR)" >&2; exit 1; }
  PGPORT=$(free_port)
  "$ROOT/scripts/pg.sh" init "$dir"
  PG_FSYNC=on PG_SYNC_COMMIT=on "$ROOT/scripts/pg.sh" start "$dir" "$PGPORT"
  psql "host=127.0.0.1 port=$PGPORT user=postgres dbname=postgres" -qc "create database kiln"
  DSN="host=127.0.0.1 port=$PGPORT user=postgres dbname=kiln"
  "$KILN" migrate --database "$DSN" --sql-dir "$ROOT/sql" >/dev/null
  psql "$DSN" -q -v ON_ERROR_STOP=1 <<'SQL'
insert into kiln.tenants (name) values ('bench');
insert into kiln.projects (tenant_id, name, language)
  select id, 'app', 'c' from kiln.tenants where name = 'bench';
SQL
}

# enqueue N: N queued script builds of bench/app, set-based (one statement each table).
enqueue() {
  psql "$DSN" -q -v ON_ERROR_STOP=1 -v n="$1" <<'SQL'
with t as (select p.tenant_id, p.id project_id from kiln.projects p where p.name = 'app'),
b as (
  insert into kiln.builds (tenant_id, project_id, status, queued_at)
  select t.tenant_id, t.project_id, 'queued', now() + g * interval '1 microsecond'
    from t, generate_series(1, :n) g
  returning id, tenant_id)
insert into kiln.build_configs (build_id, tenant_id, method, params)
  select id, tenant_id, 'script', '{"script": "true"}' from b;
SQL
}

# Kiln's queue tables emptied between runs (history would otherwise grow run after run).
reset_kiln() {
  psql "$DSN" -q -c "truncate kiln.builds, kiln.build_executions, kiln.build_events cascade" 2>&1 \
    | grep -v NOTICE || true
  psql "$DSN" -q -c "vacuum analyze kiln.builds, kiln.build_executions, kiln.build_events"
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

machine_line() {
  echo "machine: $(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, load $(cut -d' ' -f1-3 /proc/loadavg);" \
       "$(psql "$DSN" -Atc "select split_part(version(), ',', 1) || '; fsync=' || current_setting('fsync') || ', synchronous_commit=' || current_setting('synchronous_commit') || ', shared_buffers=' || current_setting('shared_buffers') || ', max_connections=' || current_setting('max_connections')")"
}
