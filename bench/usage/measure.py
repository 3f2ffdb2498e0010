#!/usr/bin/python3
"""Times the monthly usage report over the loaded rows: each case runs once to warm up,
then RUNS times; prints the median, fastest and slowest, and the size of the answer.
usage: measure.py DSN BASE_URL TOKEN RUNS"""
import statistics
import sys
import time

import psycopg2
import requests

dsn, base_url, token, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
MONTH = "from=2026-10-01&to=2026-11-01"

SQL = [
    ("SQL   kiln_api.usage_report('month') for October, all 20 tenants (DBA session)",
     "select kiln_api.usage_report('month', '2026-10-01', '2026-11-01')"),
    ("SQL   kiln_api.usage_monthly for October (per tenant/project/type/provider/node)",
     "select * from kiln_api.usage_monthly where period_start = '2026-10-01'"),
    ("SQL   kiln_api.usage_report('day') for October, all tenants",
     "select kiln_api.usage_report('day', '2026-10-01', '2026-11-01')"),
    ("SQL   kiln_api.cost_per_build for October",
     "select * from kiln_api.cost_per_build where month = '2026-10-01'"),
    ("SQL   for comparison: the same month aggregated from the raw rows",
     """select tenant_id, project_id, infrastructure_type, count(*), sum(cost_cents),
               sum(extract(epoch from end_time - start_time))
          from kiln.infrastructure_usage where start_time >= '2026-10-01' and start_time < '2026-11-01'
         group by 1, 2, 3"""),
]
HTTP = [
    ("HTTP  GET /api/v1/admin/infrastructure/usage?period=month (tenant default, JSON)",
     f"/api/v1/admin/infrastructure/usage?period=month&{MONTH}", {}),
    ("HTTP  the same as CSV (Accept: text/csv)",
     f"/api/v1/admin/infrastructure/usage?period=month&{MONTH}", {"Accept": "text/csv"}),
    ("HTTP  GET …/usage?period=day for October (tenant default, JSON)",
     f"/api/v1/admin/infrastructure/usage?period=day&{MONTH}", {}),
]


def timed(fn):
    fn()  # warm-up
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        size = fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), min(samples), max(samples), size


def main():
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    print(f"{'case':<86} {'median ms':>10} {'min':>8} {'max':>8}  answer")
    for name, query in SQL:
        def run(query=query):
            with conn.cursor() as cur:
                cur.execute(query)
                rows = cur.fetchall()
                return f"{len(rows)} rows" if len(rows) != 1 else f"{len(str(rows[0][0]))} bytes"
        median, low, high, size = timed(run)
        print(f"{name:<86} {median:>10.1f} {low:>8.1f} {high:>8.1f}  {size}")
    for name, path, headers in HTTP:
        def run(path=path, headers=headers):
            r = session.get(base_url + path, headers=headers, timeout=60)
            r.raise_for_status()
            return f"{len(r.content)} bytes"
        median, low, high, size = timed(run)
        print(f"{name:<86} {median:>10.1f} {low:>8.1f} {high:>8.1f}  {size}")


main()
