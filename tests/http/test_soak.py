"""Soak: 2000 trivial builds through two dispatchers and three agents (three nodes with four
slots each). Every build must succeed exactly once, never with two active executions. Prints
the throughput and the queued→running latency for the record."""
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from conftest import script_build

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from stack import FINAL_STATUSES, ActiveSampler, Workers  # noqa: E402

BUILDS = 2000
SUBMIT_THREADS = 8
AGENTS = 3
SLOTS = 4
FINAL_TIMEOUT = 600


@pytest.fixture(scope="module")
def workers(stack, project):
    w = Workers(stack)
    for i in range(1, AGENTS + 1):
        _, token_file = w.register_node(f"soak-{i}", labels={"arch": "amd64"}, concurrency=SLOTS)
        w.agent(f"soak-{i}", token_file, concurrency=SLOTS)
    w.dispatcher("soak-1")
    w.dispatcher("soak-2")
    yield w
    w.stop_all()


pytestmark = pytest.mark.usefixtures("dump_worker_logs_on_failure")


def percentile(values, p):
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]




def test_2000_builds_each_succeed_exactly_once(stack, workers):
    local = threading.local()
    url, token = stack.url, stack.admin_token
    body = script_build(params={"script": "true"})

    def submit_and_start(_):
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.headers["Authorization"] = f"Bearer {token}"
        r = session.post(f"{url}/api/v1/builds", json=body, timeout=60)
        assert r.status_code == 201, r.text
        build_id = r.json()["id"]
        r = session.post(f"{url}/api/v1/builds/{build_id}/start", timeout=60)
        assert r.status_code == 200, r.text
        return build_id

    def final_count():
        return stack.sql("select count(*) from kiln.builds where status::text = any(%s)", (list(FINAL_STATUSES),))[0][0]

    with ActiveSampler(stack) as sampler:
        t0 = time.monotonic()
        with ThreadPoolExecutor(SUBMIT_THREADS) as pool:
            ids = list(pool.map(submit_and_start, range(BUILDS)))
        submitted = time.monotonic() - t0
        assert len(set(ids)) == BUILDS

        deadline = time.monotonic() + FINAL_TIMEOUT
        last_report = 0.0
        while (done := final_count()) < BUILDS:
            now = time.monotonic()
            if now - last_report >= 10:
                print(f"  {now - t0:6.1f}s: {done}/{BUILDS} final", flush=True)
                last_report = now
            if now > deadline:
                statuses = stack.sql("select status, count(*) from kiln.builds group by 1")
                pytest.fail(f"only {done}/{BUILDS} builds final after {now - t0:.0f}s: {statuses}")
            time.sleep(1)
        elapsed = time.monotonic() - t0

    statuses = dict(stack.sql("select status::text, count(*) from kiln.builds where id = any(%s::uuid[]) group by 1",
                              (ids,)))
    db_span = stack.sql("select extract(epoch from max(finished_at) - min(queued_at)) from kiln.builds "
                        "where id = any(%s::uuid[])", (ids,))[0][0]
    latencies = [float(r[0]) for r in stack.sql(
        "select extract(epoch from r.at - q.at) from "
        " (select build_id, min(created_at) at from kiln.build_events where to_status = 'queued' group by 1) q"
        " join (select build_id, min(created_at) at from kiln.build_events where to_status = 'running' group by 1) r"
        "   using (build_id) where build_id = any(%s::uuid[])", (ids,))]
    retried = stack.sql("select count(*) from kiln.builds where id = any(%s::uuid[]) and attempt > 1", (ids,))[0][0]
    per_node = stack.sql("select n.name, count(*) from kiln.build_executions e join kiln.build_nodes n "
                         "on n.id = e.build_node_id where e.build_id = any(%s::uuid[]) group by 1 order by 1", (ids,))

    print(f"\nSOAK: {BUILDS} builds, {AGENTS} agents x {SLOTS} slots, 2 dispatchers; "
          f"submit+start took {submitted:.1f}s ({BUILDS / submitted:.0f} builds/s)")
    print(f"SOAK: all final after {elapsed:.1f}s wall: {BUILDS / elapsed:.1f} builds/s end to end; "
          f"first queued to last finished {float(db_span):.1f}s: {BUILDS / float(db_span):.1f} builds/s")
    print(f"SOAK: queued->running p50 {percentile(latencies, 50):.3f}s p99 {percentile(latencies, 99):.3f}s "
          f"max {max(latencies):.3f}s mean {statistics.mean(latencies):.3f}s (n={len(latencies)})")
    print(f"SOAK: statuses {statuses}; builds with more than one attempt: {retried}; per node {per_node}; "
          f"{sampler.samples} samples, max active executions per build {sampler.max_active}")

    assert statuses == {"succeeded": BUILDS}, statuses
    assert len(latencies) == BUILDS
    # Exactly one succeeded execution and exactly one `succeeded` event per build.
    bad = stack.sql(
        "select b.id, (select count(*) from kiln.build_executions e where e.build_id = b.id and e.status = 'succeeded'),"
        "       (select count(*) from kiln.build_events v where v.build_id = b.id and v.to_status = 'succeeded')"
        "  from kiln.builds b where b.id = any(%s::uuid[])", (ids,))
    assert len(bad) == BUILDS
    wrong = [row for row in bad if row[1] != 1 or row[2] != 1]
    assert wrong == [], wrong[:20]
    # No build ever ran two executions at once.
    overlapping = stack.sql(
        "select a.build_id, a.id, b.id from kiln.build_executions a join kiln.build_executions b"
        "    on a.build_id = b.build_id and a.id < b.id"
        " where a.build_id = any(%s::uuid[])"
        "   and tstzrange(coalesce(a.started_at, a.created_at), coalesce(a.finished_at, 'infinity'))"
        "    && tstzrange(coalesce(b.started_at, b.created_at), coalesce(b.finished_at, 'infinity'))", (ids,))
    assert overlapping == [], overlapping[:20]
    active = stack.sql("select count(*) from kiln.build_executions where status in ('dispatching', 'running')")[0][0]
    assert active == 0
    assert sampler.max_active <= 1
    usage = stack.sql("select count(*) from kiln.infrastructure_usage u join kiln.build_executions e "
                      "on e.id = u.build_execution_id where e.build_id = any(%s::uuid[]) and u.success", (ids,))[0][0]
    assert usage == BUILDS
    for proc in workers.procs:
        assert proc.poll() is None, f"{proc.args[0]} exited with {proc.returncode}"
