#!/usr/bin/env bash
# The cost of fair scheduling: Kiln's claim (kiln_api.claim_builds: caps, fair share by
# tenant, aging order) against the plain single-statement SKIP LOCKED claim it replaced
# (bench/fairness/plain_claim.sql), on the same throwaway cluster in the same run.
# W pgbench clients claim BUILDS queued builds, one claim per transaction, at batch 1 and
# 50, with the queue held by 1 tenant and by 10 tenants; ROUNDS rounds, runs interleaved;
# prints builds/s medians and fair/plain ratios (target: fair >= 0.8 × plain).
#   bench/fairness.sh            BUILDS=10000 CLIENTS=8 ROUNDS=3
set -euo pipefail
source "$(dirname "$0")/lib.sh"
BUILDS=${BUILDS:-10000}
CLIENTS=${CLIENTS:-8}
ROUNDS=${ROUNDS:-3}
work=$(mktemp -d /tmp/kiln-bench-fairness.XXXXXX)
trap '"$ROOT/scripts/pg.sh" stop "$work/pg"; rm -rf "$work"' EXIT

echo "fairness: setting up a throwaway cluster in $work" >&2
bench_cluster "$work/pg"
psql "$DSN" -q -v ON_ERROR_STOP=1 -f "$ROOT/bench/fairness/plain_claim.sql"
psql "$DSN" -q -v ON_ERROR_STOP=1 <<'SQL'
insert into kiln.tenants (name) select 'bench-' || g from generate_series(2, 10) g;
insert into kiln.projects (tenant_id, name, language) select id, 'app', 'c' from kiln.tenants where name like 'bench-%';
SQL

# enqueue_tenants N T: N queued builds spread round-robin over T tenants' `app` projects.
enqueue_tenants() {
  psql "$DSN" -q -v ON_ERROR_STOP=1 -v n="$1" -v t="$2" <<'SQL'
with p as (select p.tenant_id, p.id project_id, row_number() over (order by t.name) - 1 as k
             from kiln.projects p join kiln.tenants t on t.id = p.tenant_id
            where p.name = 'app' and (t.name = 'bench' or t.name like 'bench-%')),
b as (
  insert into kiln.builds (tenant_id, project_id, status, queued_at)
  select p.tenant_id, p.project_id, 'queued', now() + g * interval '1 microsecond'
    from generate_series(0, :n - 1) g join p on p.k = g % :t
  returning id, tenant_id)
insert into kiln.build_configs (build_id, tenant_id, method, params)
  select id, tenant_id, 'script', '{"script": "true"}' from b;
SQL
}

# run VARIANT BATCH TENANTS: builds/s of one pgbench run claiming the whole queue.
run() {
  local variant=$1 batch=$2 tenants=$3 fn
  reset_kiln
  psql "$DSN" -qc "update kiln.tenant_fair_state set vtime = 0"
  enqueue_tenants "$BUILDS" "$tenants"
  psql "$DSN" -qc "vacuum analyze kiln.builds"
  fn=$([ "$variant" = fair ] && echo "kiln_api.claim_builds" || echo "bench.claim_plain")
  echo "select count(*) from $fn('bench-' || :client_id, $batch, 600);" >"$work/claim.sql"
  # a claim may take fewer than its batch (rows other claims hold are skipped): some slack,
  # the surplus claims at the end find the queue empty
  local tx=$(( (BUILDS / batch + CLIENTS - 1) / CLIENTS * 5 / 4 + 2 ))
  local t0 t1 claimed
  t0=$(date +%s.%N)
  pgbench -n -c "$CLIENTS" -j 2 -t "$tx" -f "$work/claim.sql" "$DSN" >"$work/pgbench.out" 2>&1 \
    || { cat "$work/pgbench.out" >&2; exit 1; }
  t1=$(date +%s.%N)
  claimed=$(psql "$DSN" -Atc "select count(*) from kiln.build_executions")
  [ "$claimed" -eq "$BUILDS" ] || { echo "fairness: $variant claimed $claimed of $BUILDS builds" >&2; exit 1; }
  echo "$claimed $t0 $t1" | awk '{printf "%.0f\n", $1 / ($3 - $2)}'
}

declare -A results
for round in $(seq 1 "$ROUNDS"); do
  for tenants in 1 10; do
    for batch in 1 50; do
      for variant in plain fair; do
        v=$(run "$variant" "$batch" "$tenants")
        results[$variant-$batch-$tenants]+="$v "
        echo "fairness: round $round/$ROUNDS $variant batch $batch tenants $tenants: $v builds/s" >&2
      done
    done
  done
done

echo "# bench/fairness.sh: $BUILDS builds claimed by $CLIENTS clients, median of $ROUNDS rounds"
machine_line
printf '%-8s %-6s %14s %14s %12s\n' tenants batch "plain b/s" "fair b/s" "fair/plain"
for tenants in 1 10; do
  for batch in 1 50; do
    p=$(echo "${results[plain-$batch-$tenants]}" | tr ' ' '\n' | grep . | median)
    f=$(echo "${results[fair-$batch-$tenants]}" | tr ' ' '\n' | grep . | median)
    printf '%-8s %-6s %14s %14s %12s\n' "$tenants" "$batch" "$p" "$f" "$(awk -v f="$f" -v p="$p" 'BEGIN {printf "%.2f", f / p}')"
  done
done
