#!/usr/bin/env bash
# The API under wrk, through nginx, beside what the machine can do without Kiln: nginx
# serving a static file, and pgbench on the same PostgreSQL (-S for reads, -b
# simple-update for one-commit writes) at the same concurrency. A real stack from
# scripts/stack.sh (PostgreSQL with fsync on + kiln-api + nginx, free ports, temp dir,
# removed on exit), no dispatcher or agent.
#   bench/api.sh                CONNS="32 128" SECONDS_PER_RUN=10 ROUNDS=1
# Prints req/s, p50 and p99 per endpoint and concurrency, the ratios the targets name, and
# kiln-api's RSS (the largest seen after each run). docs/performance.md has results.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
CONNS=${CONNS:-32 128}
DURATION=${SECONDS_PER_RUN:-10}
ROUNDS=${ROUNDS:-1}
THREADS=2
command -v wrk >/dev/null || apt-get install -y --no-install-recommends wrk >/dev/null

WORK=$(mktemp -d /tmp/kiln-bench-api.XXXXXX)
chmod 755 "$WORK"
export KILN_VAR=$WORK/var KILN_HTTP_PORT=$(free_port) KILN_PG_PORT=$(free_port) KILN_WITH_WORKERS=0
export KILN_API_THREADS=${KILN_API_THREADS:-16}
cleanup() { "$ROOT/scripts/stack.sh" down >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
"$ROOT/scripts/stack.sh" up >"$WORK/stack.log" 2>&1 || { cat "$WORK/stack.log" >&2; exit 1; }
URL=http://127.0.0.1:$KILN_HTTP_PORT
# The per-address rate limit (nginx/kiln.conf.in) would answer 429 to wrk's single address
# above its rate: lifted in this stack's copy of the config, so the API itself is measured.
if grep -q 'limit_req_zone.*rate=' "$KILN_VAR/nginx/nginx.conf"; then
  sed -i 's/\(limit_req_zone [^;]*zone=kiln_api:[^;]*rate=\)[0-9]*r\/s/\11000000r\/s/' "$KILN_VAR/nginx/nginx.conf"
  nginx -s reload -p "$KILN_VAR/nginx" -c "$KILN_VAR/nginx/nginx.conf" 2>/dev/null
  sleep 1
  echo "nginx: API rate limit lifted for the benchmark ($(grep -o 'zone=kiln_api:[^;]*' "$KILN_VAR/nginx/nginx.conf"))"
fi
DSN="host=127.0.0.1 port=$KILN_PG_PORT user=postgres dbname=kiln"
PGPORT=$KILN_PG_PORT
export TOKEN; TOKEN=$(cat "$KILN_VAR/admin-token")
API_PID=$(cat "$KILN_VAR/run/kiln-api.pid")
machine_line
echo "kiln-api: $KILN_API_THREADS threads; nginx: 2 workers; wrk: $THREADS threads, ${DURATION}s per run"

curl -fsS -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  --data '{"name":"app","language":"c"}' "$URL/api/v1/projects" >/dev/null
# 500 builds through the API (submitted and started) for the reads.
for _ in $(seq 500); do
  curl -fsS -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    --data '{"project":"app","method":"script","params":{"script":"make test"}}' "$URL/api/v1/builds" \
    | sed -n 's/.*"id": *"\([0-9a-f-]*\)".*/\1/p' | head -1
done >"$WORK/read-ids"
while read -r id; do
  curl -fsS -X POST -H "Authorization: Bearer $TOKEN" "$URL/api/v1/builds/$id/start" >/dev/null
done <"$WORK/read-ids"
psql "$DSN" -Atc "select id from kiln.builds" >"$WORK/read-ids"
echo "$(wc -l <"$WORK/read-ids") builds to read, e.g. $(head -1 "$WORK/read-ids")"
pgbench -i -q -s 10 "host=127.0.0.1 port=$PGPORT user=postgres dbname=kiln" >/dev/null 2>&1

RESULTS=$WORK/results.tsv
: >"$RESULTS"
rss_kb() { ps -o rss= -p "$API_PID" | tr -d ' '; }
MAX_RSS=0
note_rss() { local r; r=$(rss_kb); [ "$r" -gt "$MAX_RSS" ] && MAX_RSS=$r; true; }

# wrk_run NAME CONNS LUA PATH -> records req/s p50 p99 errors
wrk_run() {
  local name=$1 c=$2 lua=$3 path=$4 out
  : >"$KILN_VAR/log/nginx-access.log"
  out=$(IDS=${IDS:-} THREADS=$THREADS wrk -t"$THREADS" -c"$c" -d"${DURATION}s" --latency --timeout 10s \
        ${lua:+-s "$ROOT/bench/api/$lua"} "$URL$path")
  note_rss
  local statuses
  statuses=$(grep -o '"status":[0-9]*' "$KILN_VAR/log/nginx-access.log" | sort | uniq -c | awk '$2 !~ /:2/ {printf "%s %s; ", $2, $1}')
  [ -n "$statuses" ] && echo "  $name c=$c: answers other than 2xx: $statuses"
  /usr/bin/python3 - "$name" "$c" "$RESULTS" <<PY
import re, sys
out = """$out"""
def ms(s):
    v, u = re.match(r'([\d.]+)(us|ms|s)', s).groups()
    return float(v) * {'us': 0.001, 'ms': 1, 's': 1000}[u]
rps = float(re.search(r'Requests/sec:\s+([\d.]+)', out).group(1))
p50 = ms(re.search(r'\s50%\s+(\S+)', out).group(1))
p99 = ms(re.search(r'\s99%\s+(\S+)', out).group(1))
m = re.search(r'Non-2xx or 3xx responses: (\d+)', out)
errors = int(m.group(1)) if m else 0
m = re.search(r'Socket errors: (.*)', out)
errors_txt = f"{errors}" + (f" ({m.group(1)})" if m else "")
open(sys.argv[3], 'a').write(f"{sys.argv[1]}\t{sys.argv[2]}\t{rps}\t{p50}\t{p99}\t{errors_txt}\n")
print(f"  {sys.argv[1]:<28} c={sys.argv[2]:<4} {rps:9.0f} req/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  non-2xx {errors_txt}")
PY
}

pgbench_run() {  # NAME CONNS ARGS...
  local name=$1 c=$2; shift 2
  local out
  out=$(cd "$WORK" && pgbench -n -M prepared -c "$c" -j "$THREADS" -T "$DURATION" -l --log-prefix="$WORK/pgb" \
        "$@" "host=127.0.0.1 port=$PGPORT user=postgres dbname=kiln" 2>&1)
  local tps; tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' <<<"$out")
  cat "$WORK"/pgb.* | /usr/bin/python3 -c "
import sys
lat = sorted(int(l.split()[2]) / 1000 for l in sys.stdin)
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
open('$RESULTS', 'a').write(f'$name\t$c\t$tps\t{q(0.5)}\t{q(0.99)}\t0\n')
print(f'  {\"$name\":<28} c={$c:<4} {$tps:9.0f} tps    p50 {q(0.5):7.2f} ms  p99 {q(0.99):7.2f} ms')"
  rm -f "$WORK"/pgb.*
}

for round in $(seq "$ROUNDS"); do
  echo "round $round"
  for c in $CONNS; do
    wrk_run "nginx static file" "$c" "" /static/kiln.css
    pgbench_run "pgbench -S" "$c" -S
    IDS=$WORK/read-ids wrk_run "GET /api/v1/builds/{id}" "$c" get_by_id.lua /
    wrk_run "GET /api/v1/builds?limit=50" "$c" list.lua /
    pgbench_run "pgbench -b simple-update" "$c" -b simple-update
    before=$(psql "$DSN" -Atc "select coalesce(max(created_at), '-infinity') from kiln.builds")
    wrk_run "POST /api/v1/builds" "$c" submit.lua /
    psql "$DSN" -Atc "select id from kiln.builds where status = 'pending' and created_at > '$before'" >"$WORK/new-ids"
    IDS=$WORK/new-ids wrk_run "POST /api/v1/builds/{id}/start" "$c" start.lua /
  done
done

/usr/bin/python3 - "$RESULTS" "$MAX_RSS" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, c, rps, p50, p99, err = line.rstrip('\n').split('\t')
    runs[(name, int(c))].append((float(rps), float(p50), float(p99), err))
med = {k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v),
           statistics.median(r[2] for r in v), ', '.join(r[3] for r in v)) for k, v in runs.items()}
conns = sorted({k[1] for k in med})
names = []
for k in runs:
    if k[0] not in names: names.append(k[0])
print('\nmedians')
print('| target | ' + ' | '.join(f'c={c} req/s | p50 ms | p99 ms' for c in conns) + ' | non-2xx |')
print('|---|' + '---|---|---|' * len(conns) + '---|')
for n in names:
    cells = []
    for c in conns:
        r = med.get((n, c))
        cells.append(f'{r[0]:,.0f} | {r[1]:.2f} | {r[2]:.2f}' if r else '- | - | -')
    errs = ' / '.join(med[(n, c)][3] for c in conns if (n, c) in med)
    print(f'| {n} | ' + ' | '.join(cells) + f' | {errs} |')
print('\nratios (targets: GET by id >= 0.50 x pgbench -S; submit >= 0.60 x simple-update; p99 < 20 ms at 32)')
for c in conns:
    g, s = med.get(('GET /api/v1/builds/{id}', c)), med.get(('pgbench -S', c))
    p, u = med.get(('POST /api/v1/builds', c)), med.get(('pgbench -b simple-update', c))
    st = med.get(('POST /api/v1/builds/{id}/start', c)); st_ = med.get(('nginx static file', c))
    print(f'  c={c}: GET by id / pgbench -S = {g[0] / s[0]:.2f}; submit / simple-update = {p[0] / u[0]:.2f}; '
          f'start / simple-update = {st[0] / u[0]:.2f}; GET by id / nginx static = {g[0] / st_[0]:.2f}')
print(f'\nkiln-api RSS: {int(sys.argv[2]) / 1024:.1f} MiB at most (one process, all threads; target < 64 MiB)')
PY
