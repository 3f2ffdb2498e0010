#!/usr/bin/env bash
# Claim latency at scale: p50/p99 of kiln_api.claim_builds (one committed transaction, as
# kiln-dispatch claims) with 0, 100k and 1M finished builds in history, with a short queue
# (100 builds) and a long one (10,000), by 1 and 8 concurrent claimers at batch 1 and 50.
# Throwaway cluster, fsync on. History is generated set-based (bench/claim_latency/history.sql).
#   bench/claim_latency.sh            HISTORY="0 100000 1000000" DEPTHS="100 10000" CLAIMS=1000
set -euo pipefail
source "$(dirname "$0")/lib.sh"
HISTORY=${HISTORY:-0 100000 1000000}
DEPTHS=${DEPTHS:-100 10000}
CLAIMS=${CLAIMS:-1000}   # claims per measurement (per claimer count); the queue is topped up first
CLAIMERS=${CLAIMERS:-1 8}
BATCHES=${BATCHES:-1 50}

WORK=$(mktemp -d /tmp/kiln-bench-claim.XXXXXX)
cleanup() { "$ROOT/scripts/pg.sh" stop "$WORK/pg" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
bench_cluster "$WORK/pg"
machine_line
chmod 777 "$WORK"
echo "| finished builds in history | queued | claimers | batch | claims | p50 ms | p99 ms | claims/s |"
echo "|---|---|---|---|---|---|---|---|"
have=0
for h in $HISTORY; do
  if [ "$h" -gt "$have" ]; then
    psql "$DSN" -q -v ON_ERROR_STOP=1 -v n=$((h - have)) -f "$ROOT/bench/claim_latency/history.sql"
    have=$h
  fi
  for depth in $DEPTHS; do
    for c in $CLAIMERS; do
      for b in $BATCHES; do
        n=$CLAIMS; [ "$b" -gt 1 ] && n=$((CLAIMS / 5))
        per_client=$(( (n + c - 1) / c ))
        psql "$DSN" -q -c "delete from kiln.builds where status in ('queued', 'dispatching')"
        enqueue $((depth + per_client * c * b))
        psql "$DSN" -q -c "vacuum analyze kiln.builds"
        rm -f "$WORK"/log.*
        out=$(cd "$WORK" && pgbench -n -M prepared -c "$c" -j $((c < 2 ? c : 2)) -t "$per_client" -D batch="$b" \
              -l --log-prefix="$WORK/log" -f "$ROOT/bench/claim_latency/claim.sql" \
              "host=127.0.0.1 port=$PGPORT user=kiln_dispatch dbname=kiln" 2>&1) || { echo "$out" >&2; exit 1; }
        tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' <<<"$out")
        cat "$WORK"/log.* | /usr/bin/python3 -c "
import sys
lat = sorted(int(l.split()[2]) / 1000 for l in sys.stdin)
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print(f'| {$h:,} | {$depth:,} | $c | $b | {len(lat)} | {q(0.50):.2f} | {q(0.99):.2f} | {$tps:,.0f} |')"
      done
    done
  done
done
