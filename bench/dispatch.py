#!/usr/bin/python3
"""Dispatch throughput and latency: builds per second from `queued` to a created PipelineRun
on the test suite's fake Kubernetes API (tests/support/fake_k8s.py, HTTPS, Tekton schema
validation) and to a build-node execution a real kiln-agent claimed; then queued->running
latency p50/p99 with kiln-dispatch --loop while builds arrive at a steady rate.

A real stack (tests/support/k8s_env.py: PostgreSQL with fsync on, kiln-api, nginx, a master
key, the fake cluster, a provider created through the API), removed on exit.
    bench/dispatch.py [--builds 300] [--loop-builds 100] [--rate 10] [--rounds 1]
"""
import argparse
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))
from k8s_env import K8sEnv  # noqa: E402
from stack import fresh_dir, remove_fresh_dir, wait_for  # noqa: E402


def body(infra, i):
    return {"project": "app", "method": "script", "infrastructure_type": infra,
            "params": {"script": f"echo build {i}"}, "spec": {"cpu": 1, "memory_gb": 1, "time_budget_min": 20}}


def submit_many(env, infra, n):
    """Submits and starts n builds through the API (no dispatcher running); returns ids."""
    ids = []
    for i in range(n):
        r = env.admin.post("/api/v1/builds", body(infra, i))
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    for build_id in ids:
        r = env.admin.post(f"/api/v1/builds/{build_id}/start")
        assert r.status_code == 200, r.text
    return ids


def count(env, sql, ids):
    return env.stack.sql(sql, (ids,))[0][0]


def run_once(env, name, n, batch):
    cmd = [str(env.workers.build_dir / "cmd" / "kiln-dispatch"), "--once",
           "--database", f"host=127.0.0.1 port={env.stack.pg_port} user=kiln_dispatch dbname=kiln",
           "--worker", name, "--pipelines", str(ROOT / "pipelines" / "build-node"),
           "--master-key-file", str(env.key), "--exec-allow", str(env.plugin),
           "--batch", str(batch), "--max-builds", str(n)]
    log = open(env.stack.var / "log" / f"dispatch-{name}.log", "ab")
    started = time.monotonic()
    rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env.stack.env, timeout=600).returncode
    seconds = time.monotonic() - started
    assert rc == 0, f"kiln-dispatch --once exited {rc}; see {log.name}"
    return seconds


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builds", type=int, default=300)
    ap.add_argument("--loop-builds", type=int, default=100)
    ap.add_argument("--rate", type=float, default=10.0, help="builds submitted per second in --loop mode")
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--agent-concurrency", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--agent-timeout", type=int, default=120, help="seconds the agent gets to claim every build")
    a = ap.parse_args()

    tmp = fresh_dir("bench-dispatch")
    env = K8sEnv(tmp)
    rows = []
    agent_ok = True
    try:
        r = env.admin.post("/api/v1/projects", {"name": "app", "language": "c"})
        assert r.status_code == 201, r.text
        provider = env.add_provider("bench-cluster")
        probe = env.dispatcher("probe")
        assert env.test_provider(provider["id"])["ok"]
        env.workers.kill(probe)
        node, token_file = env.workers.register_node("bench-node", labels={"arch": "amd64"},
                                                     concurrency=a.agent_concurrency)
        print(f"machine: {subprocess.getoutput('nproc')} CPUs; builds per --once pass: {a.builds}, "
              f"batch {a.batch}; agent concurrency {a.agent_concurrency}")

        for rnd in range(1, a.rounds + 1):
            # Kubernetes: queued -> PipelineRun created, execution running.
            ids = submit_many(env, "kubernetes", a.builds)
            secs = run_once(env, f"k8s-{rnd}", a.builds, a.batch)
            running = count(env, "select count(*) from kiln.build_executions e where e.build_id = any(%s::uuid[]) "
                                 "and e.status = 'running' and e.external_ref is not null", ids)
            created = sum(1 for i in ids if env.cluster.runs_of_build(i))
            assert running == a.builds and created == a.builds, (running, created)
            rows.append(("kubernetes: queued -> PipelineRun created (--once)", rnd, a.builds / secs, secs))
            print(f"  round {rnd}: kubernetes {a.builds} builds in {secs:.2f} s = {a.builds / secs:.1f} builds/s")

            # Build nodes: queued -> offered (--once), then -> claimed by a kiln-agent.
            ids = submit_many(env, "build_nodes", a.builds)
            secs = run_once(env, f"nodes-{rnd}", a.builds, a.batch)
            offered = count(env, "select count(*) from kiln.build_executions e where e.build_id = any(%s::uuid[]) "
                                 "and e.offered_at is not null", ids)
            assert offered == a.builds, offered
            rows.append(("build nodes: queued -> offered (--once)", rnd, a.builds / secs, secs))
            started = time.monotonic()
            agent = env.workers.agent(f"bench-{rnd}", token_file, concurrency=a.agent_concurrency)
            claimed_sql = ("select count(*) from kiln.build_executions e where e.build_id = any(%s::uuid[]) "
                           "and e.build_node_id is not null")
            try:
                wait_for(lambda: count(env, claimed_sql, ids) == a.builds, timeout=a.agent_timeout, interval=0.05,
                         what="every offered build claimed by the agent")
                claim_secs = time.monotonic() - started
                rows.append(("build nodes: offered -> claimed by kiln-agent", rnd, a.builds / claim_secs, claim_secs))
                print(f"  round {rnd}: build nodes offered in {secs:.2f} s, claimed in {claim_secs:.2f} s")
            except Exception:  # noqa: BLE001 - reported, the rest still runs
                print(f"  round {rnd}: build nodes offered in {secs:.2f} s; kiln-agent claimed only "
                      f"{count(env, claimed_sql, ids)} of {a.builds} within {a.agent_timeout} s "
                      f"(see {env.stack.var}/log/agent-bench-{rnd}.log)")
                agent_ok = False
            env.workers.kill(agent)

        # --loop: builds arrive at a steady rate; queued -> running latency.
        loop = env.dispatcher("loop", extra=["--batch", str(a.batch)])
        agent = env.workers.agent("loop", token_file, concurrency=a.agent_concurrency)
        time.sleep(1)
        latencies = {}
        for infra in ("kubernetes", "build_nodes") if agent_ok else ("kubernetes",):
            ids = []
            t0 = time.monotonic()
            for i in range(a.loop_builds):
                r = env.admin.post("/api/v1/builds", body(infra, i))
                assert r.status_code == 201, r.text
                ids.append(r.json()["id"])
                assert env.admin.post(f"/api/v1/builds/{ids[-1]}/start").status_code == 200
                time.sleep(max(0.0, t0 + (i + 1) / a.rate - time.monotonic()))
            wait_for(lambda: count(env, "select count(*) from kiln.build_executions e where e.build_id = any(%s::uuid[]) "
                                        "and e.started_at is not null", ids) == len(ids),
                     timeout=300, interval=0.1, what=f"{infra} builds running")
            lat = [r[0] for r in env.stack.sql(
                "select extract(epoch from min(e.started_at) - b.queued_at) * 1000 from kiln.builds b "
                "join kiln.build_executions e on e.build_id = b.id where b.id = any(%s::uuid[]) group by b.id, b.queued_at",
                (ids,))]
            latencies[infra] = [float(x) for x in lat]
        env.workers.kill(agent)
        env.workers.kill(loop)

        print("\n| dispatch path | builds/s (median) | seconds per pass | rounds |")
        print("|---|---|---|---|")
        for name in dict.fromkeys(r[0] for r in rows):
            vals = [r for r in rows if r[0] == name]
            print(f"| {name} | {statistics.median(v[2] for v in vals):.1f} | "
                  f"{statistics.median(v[3] for v in vals):.2f} | {len(vals)} |")
        print(f"\n--loop, {a.loop_builds} builds each submitted at {a.rate:g}/s: queued -> running latency")
        print("| back-end | p50 ms | p99 ms | max ms |")
        print("|---|---|---|---|")
        for infra, lat in latencies.items():
            print(f"| {infra} | {pct(lat, 0.5):.0f} | {pct(lat, 0.99):.0f} | {max(lat):.0f} |")
        print("\nwhere the database spent its time (pg_stat_user_functions, PL/pgSQL, whole run):")
        print("| function | calls | total ms | self ms | ms per call |")
        print("|---|---|---|---|---|")
        for f, calls, total, self_ms in env.stack.sql(
                "select funcname, calls, total_time, self_time from pg_stat_user_functions "
                "where calls > 0 order by self_time desc limit 12"):
            print(f"| {f} | {calls} | {total:.0f} | {self_ms:.0f} | {total / calls:.3f} |")
    finally:
        env.stop()
        remove_fresh_dir(tmp)


if __name__ == "__main__":
    main()
