"""End to end through nginx with a real dispatcher (kiln-dispatch --loop) and a real build
node agent (kiln-agent): builds run, fail, time out, run out of memory, are cancelled; logs
are read and followed; admins manage nodes; nodes only take the work they can run; and the
agent API authenticates nodes, fences executions and stores logs idempotently."""
import re
import sys
import time
from pathlib import Path

import pytest
import requests

from conftest import script_build

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from stack import (FINAL_STATUSES, Workers, build_events, build_log, get_build,  # noqa: E402
                   live_group_members, pid_gone, sse_events, submit_and_start,
                   wait_for, wait_status)

NODE = "e2e-amd64"


# fixtures ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def workers(stack, project):
    """One amd64 node with a running agent (concurrency 2) and one dispatcher loop."""
    w = Workers(stack)
    node, token_file = w.register_node(NODE, labels={"arch": "amd64"}, concurrency=2)
    w.node = node
    w.dispatch_proc = w.dispatcher("e2e")
    w.agent_proc = w.agent(NODE, token_file, concurrency=2,
                           extra=["--label", "arch=amd64", "--label", "os=debian-12"])
    yield w
    w.stop_all()


pytestmark = pytest.mark.usefixtures("dump_worker_logs_on_failure")


def node_json(admin, name):
    r = admin.get("/api/v1/admin/build-nodes")
    assert r.status_code == 200, r.text
    return next(n for n in r.json()["items"] if n["name"] == name)


def offered(stack, build_id):
    """The build's active execution is offered to build nodes and no node took it."""
    rows = stack.sql("select offered_at is not null, build_node_id from kiln.build_executions "
                     "where build_id = %s and status = 'dispatching'", (build_id,))
    return bool(rows) and rows[0][0] and rows[0][1] is None


def read_marker(path):
    text = path.read_text().strip() if path.exists() else ""
    return int(text) if text.isdigit() else None


# builds run on the node --------------------------------------------------------------

def test_a_script_build_succeeds_with_its_log_execution_usage_and_events(stack, admin, workers):
    build = submit_and_start(admin, script_build(
        params={"script": "echo hello-from-kiln; echo err >&2"}))
    done = wait_status(admin, build["id"], FINAL_STATUSES, timeout=60)
    assert done["status"] == "succeeded", done

    log = build_log(admin, build["id"])
    assert re.search(rf"^==> attempt 1 on build node {NODE} \(1 cpu, 1 GiB, 10 min\)$", log, re.M), log
    assert "hello-from-kiln\n" in log
    assert "err\n" in log

    assert len(done["executions"]) == 1
    ex = done["executions"][0]
    assert ex["status"] == "succeeded"
    assert ex["infrastructure_type"] == "build_nodes"
    assert isinstance(ex["infrastructure_reason"], str) and ex["infrastructure_reason"].strip()
    assert done["infrastructure_reason"] == ex["infrastructure_reason"]
    assert ex["exit_code"] == 0
    assert ex["worker"] == f"node:{NODE}"
    assert ex["lease_expires_at"]
    assert ex["started_at"] and ex["finished_at"]
    assert ex["size"]["memory_gb"] == 1 and ex["size"]["time_budget_min"] == 10

    usage = stack.sql("select success, resource_usage, infrastructure_type, cost_cents, error_message "
                      "from kiln.infrastructure_usage where build_execution_id = %s", (ex["id"],))
    assert len(usage) == 1, usage
    success, resource, infra, cost, error = usage[0]
    assert success is True and error is None
    assert infra == "build_nodes"
    assert isinstance(resource.get("cpu_seconds"), (int, float)) and resource["cpu_seconds"] >= 0
    assert isinstance(resource.get("peak_memory_bytes"), int) and resource["peak_memory_bytes"] > 0
    assert resource["node"] == NODE
    assert cost is not None

    steps = [e["to_status"] for e in build_events(admin, build["id"])]
    assert steps == ["pending", "queued", "dispatching", "running", "succeeded"], steps


def test_a_failing_script_fails_with_its_exit_code(stack, admin, workers):
    build = submit_and_start(admin, script_build(params={"script": "echo about-to-fail; exit 3"}))
    done = wait_status(admin, build["id"], FINAL_STATUSES, timeout=60)
    assert done["status"] == "failed", done
    assert len(done["executions"]) == 1
    ex = done["executions"][0]
    assert ex["status"] == "failed"
    assert ex["exit_code"] == 3
    assert done["failure_reason"] and "exit code 3" in done["failure_reason"], done["failure_reason"]
    assert "about-to-fail" in build_log(admin, build["id"])


def test_the_time_budget_times_the_build_out_and_kills_it(stack, admin, workers, tmp_path):
    marker = tmp_path / "budget.pid"
    build = submit_and_start(admin, script_build(
        params={"script": f"echo $$ > {marker}; echo start; sleep 600"},
        spec={"cpu": 1, "memory_gb": 1, "time_budget_min": 1}))
    running = wait_status(admin, build["id"], ("running",) + FINAL_STATUSES, timeout=30)
    assert running["status"] == "running", running
    pid = wait_for(lambda: read_marker(marker), timeout=15, what="the script's pid marker")
    assert not pid_gone(pid)

    started = time.monotonic()
    done = wait_status(admin, build["id"], FINAL_STATUSES, timeout=90, interval=0.5)
    print(f"timed out after {time.monotonic() - started:.1f}s of waiting")
    assert done["status"] == "timed_out", done
    assert done["executions"][0]["status"] == "timed_out"
    assert "start\n" in build_log(admin, build["id"])
    wait_for(lambda: pid_gone(pid) and not live_group_members(pid), timeout=5,
             what=f"process group {pid} to be gone")


def test_out_of_memory_is_retried_once_one_size_up_then_fails(stack, admin, workers):
    build = submit_and_start(admin, script_build(
        params={"script": '/usr/bin/python3 -c "b = bytearray(1024*1024*1024)"'},
        spec={"cpu": 1, "memory_gb": 0.125, "time_budget_min": 5}))
    done = wait_status(admin, build["id"], FINAL_STATUSES, timeout=120)
    assert done["status"] == "failed", done
    exs = done["executions"]
    assert [e["status"] for e in exs] == ["oom_killed", "oom_killed"], exs
    assert [e["size"]["memory_gb"] for e in exs] == [0.125, 0.25], exs
    assert done["attempt"] == 2
    assert all("OOM" in (e["failure_reason"] or "") for e in exs), exs
    assert "memory" in done["failure_reason"], done["failure_reason"]
    steps = [e["to_status"] for e in build_events(admin, build["id"])]
    assert steps == ["pending", "queued", "dispatching", "running", "queued", "dispatching", "running",
                     "failed"], steps
    log = build_log(admin, build["id"])
    assert re.search(rf"^==> attempt 1 on build node {NODE} \(1 cpu, 0\.125 GiB, 5 min\)$", log, re.M), log
    assert re.search(rf"^==> attempt 2 on build node {NODE} \(1 cpu, 0\.25 GiB, 5 min\)$", log, re.M), log


def test_out_of_memory_without_oom_retry_fails_after_one_execution(stack, admin, workers):
    build = submit_and_start(admin, script_build(
        params={"script": '/usr/bin/python3 -c "b = bytearray(1024*1024*1024)"'},
        spec={"cpu": 1, "memory_gb": 0.125, "time_budget_min": 5, "oom_retry": False}))
    done = wait_status(admin, build["id"], FINAL_STATUSES, timeout=60)
    assert done["status"] == "failed", done
    assert [e["status"] for e in done["executions"]] == ["oom_killed"], done["executions"]


def test_cancel_while_running_kills_the_process_group(stack, admin, workers, tmp_path):
    marker = tmp_path / "cancel.pid"
    build = submit_and_start(admin, script_build(
        params={"script": f"echo $$ > {marker}; sleep 600"}))
    running = wait_status(admin, build["id"], ("running",) + FINAL_STATUSES, timeout=30)
    assert running["status"] == "running", running
    pid = wait_for(lambda: read_marker(marker), timeout=15, what="the script's pid marker")
    assert not pid_gone(pid)

    r = admin.post(f"/api/v1/builds/{build['id']}/cancel")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    started = time.monotonic()
    wait_for(lambda: pid_gone(pid) and not live_group_members(pid), timeout=15,
             what=f"process group {pid} to be killed after the cancel")
    print(f"process group gone {time.monotonic() - started:.1f}s after the cancel")

    time.sleep(1)  # whatever the agent reports late must change nothing
    after = get_build(admin, build["id"])
    assert after["status"] == "cancelled"
    assert [e["status"] for e in after["executions"]] == ["cancelled"]


# logs --------------------------------------------------------------------------------

def follow(stack, token, build_id, headers=None, timeout=60):
    """Reads a ?follow=1 stream to its end event (or the timeout); returns the events."""
    events = []
    deadline = time.monotonic() + timeout
    with requests.get(f"{stack.url}/api/v1/builds/{build_id}/logs?follow=1", stream=True, timeout=(5, 30),
                      headers={"Authorization": f"Bearer {token}", **(headers or {})}) as r:
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"].startswith("text/event-stream")
        for event in sse_events(r):
            events.append(event)
            if event["event"] in ("end", "error") or time.monotonic() > deadline:
                break
    return events


def check_contiguous(events, start):
    logs = [e for e in events if e["event"] == "log"]
    offset = start
    for e in logs:
        assert e["data"]["offset"] == offset, (e, events)
        offset = int(e["id"])
        assert offset == e["data"]["offset"] + len(e["data"]["text"].encode()), e
    return logs


def test_following_a_log_streams_events_in_order_until_the_end(stack, admin, workers):
    build = submit_and_start(admin, script_build(
        params={"script": "for i in 1 2 3; do echo tick $i; sleep 1; done"}))
    events = follow(stack, stack.admin_token, build["id"])
    assert events and events[-1]["event"] == "end", events
    assert events[-1]["data"] == {"status": "succeeded"}
    assert all(e["event"] == "log" for e in events[:-1]), events
    logs = check_contiguous(events, 0)
    text = "".join(e["data"]["text"] for e in logs)
    assert re.search(r"tick 1\n(.|\n)*tick 2\n(.|\n)*tick 3\n", text), text
    assert len(logs) >= 2, f"the output should arrive while the build runs, got {logs}"
    assert text == build_log(admin, build["id"])

    # Resume from an event id, as a reconnecting EventSource does.
    resume_at = int(logs[0]["id"])
    again = follow(stack, stack.admin_token, build["id"], headers={"Last-Event-ID": str(resume_at)})
    assert again[-1] == {"event": "end", "data": {"status": "succeeded"}}, again
    resumed = check_contiguous(again, resume_at)
    assert "".join(e["data"]["text"] for e in resumed).encode() == text.encode()[resume_at:]


def test_a_log_over_log_max_bytes_keeps_its_beginning_and_ends_with_the_notice(stack, admin, workers):
    limit = 1000
    notice = f"\n[kiln: log truncated at {limit} bytes; the rest of the output was dropped]\n"
    # ~4.4 KB at once, then more output in later chunks (the agent sends every 500 ms).
    script = ("for i in $(seq 1 500); do echo line $i; done; sleep 1.5; echo tail-after-truncation; "
              "sleep 1.5; echo more-after-truncation")
    workers.set_setting("log_max_bytes", limit)
    try:
        build = submit_and_start(admin, script_build(params={"script": script}))
        done = wait_status(admin, build["id"], FINAL_STATUSES, timeout=60)
    finally:
        workers.set_setting("log_max_bytes", 67108864)
    assert done["status"] == "succeeded", done
    log = build_log(admin, build["id"])
    # "the rest of the output was dropped": nothing may follow the notice.
    assert "after-truncation" not in log, log
    assert log.endswith(notice), log
    assert len(log.encode()) <= limit + len(notice.encode()), log
    # What is kept is the beginning of the output, up to the limit.
    kept = log[:-len(notice)]
    assert re.search(r"^line 1$", kept, re.M), f"the first output line fits in {limit} bytes but was dropped: {log!r}"


def test_log_follow_refuses_a_bad_flag_and_hides_other_tenants_builds(stack, admin, workers):
    build = submit_and_start(admin, script_build(params={"script": "echo private"}))
    wait_status(admin, build["id"], FINAL_STATUSES, timeout=60)
    r = admin.get(f"/api/v1/builds/{build['id']}/logs?follow=2")
    assert r.status_code == 400, r.text
    assert r.json()["error"]["field"] == "follow"

    other = stack.client(stack.token("beta", "bea", "admin"))
    for query in ("", "?follow=1"):
        r = other.get(f"/api/v1/builds/{build['id']}/logs{query}")
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "not_found"
        assert "private" not in r.text


# admins and nodes --------------------------------------------------------------------

def test_admins_register_list_drain_resume_and_deprecate_build_nodes(stack, admin, workers):
    r = admin.post("/api/v1/admin/build-nodes", {"name": "e2e-spare", "labels": {"arch": "arm64"},
                                                 "concurrency": 3})
    assert r.status_code == 201, r.text
    spare = r.json()
    token = spare["token"]
    assert token.startswith("kiln_node_") and len(token) > len("kiln_node_") + 16
    again = admin.post("/api/v1/admin/build-nodes", {"name": "e2e-spare"})
    assert again.status_code == 409, again.text
    assert "kiln_node_" not in again.text

    listing = admin.get("/api/v1/admin/build-nodes")
    assert listing.status_code == 200
    assert token not in listing.text
    for item in listing.json()["items"]:
        assert not [k for k in item if "token" in k or "hash" in k], item

    developer = stack.client(stack.token("default", "dave", "developer"))
    r = developer.post("/api/v1/admin/build-nodes", {"name": "e2e-by-developer"})
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "forbidden"

    main = wait_for(lambda: (lambda n: n if n["online"] and n["agent_version"] else None)(node_json(admin, NODE)),
                    timeout=30, what="the agent's node to show online")
    assert main["labels"] == {"arch": "amd64", "os": "debian-12"}, main
    assert main["status"] == "active"

    # Drain: a new build is offered but nobody takes it.
    r = admin.post(f"/api/v1/admin/build-nodes/{main['id']}/drain")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "draining"
    try:
        wait_for(lambda: node_json(admin, NODE)["running"] == 0, timeout=60, what="the node to be idle")
        build = submit_and_start(admin, script_build(params={"script": "echo after-resume"}))
        wait_for(lambda: offered(stack, build["id"]), timeout=20, what="the offer")
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            assert get_build(admin, build["id"])["status"] == "dispatching"
            assert node_json(admin, NODE)["running"] == 0
            time.sleep(0.5)
    finally:
        r = admin.post(f"/api/v1/admin/build-nodes/{main['id']}/resume")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "active"
    done = wait_status(admin, build["id"], FINAL_STATUSES, timeout=60)
    assert done["status"] == "succeeded", done
    assert "after-resume" in build_log(admin, build["id"])

    r = admin.post(f"/api/v1/admin/build-nodes/{spare['id']}/deprecate", {"deprecated_at": "2027-03-31"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "deprecated"
    assert r.json()["deprecated_at"].startswith("2027-03-31"), r.json()
    r = admin.post(f"/api/v1/admin/build-nodes/{spare['id']}/deprecate", {"deprecated_at": "next tuesday"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["field"] == "deprecated_at"
    assert node_json(admin, "e2e-spare")["deprecated_at"].startswith("2027-03-31")


def test_a_node_takes_only_builds_whose_arch_it_has(stack, admin, workers):
    workers.register_node("e2e-s390x", labels={"arch": "s390x"}, concurrency=1)  # registered, never online
    s390x = submit_and_start(admin, script_build(params={"script": "echo mainframe"},
                                                 requirements={"arch": ["s390x"]}))
    either = submit_and_start(admin, script_build(params={"script": "echo portable"},
                                                  requirements={"arch": ["arm64", "amd64"]}))
    try:
        done = wait_status(admin, either["id"], FINAL_STATUSES, timeout=60)
        assert done["status"] == "succeeded", done
        assert offered(stack, s390x["id"])
        time.sleep(3)
        still = get_build(admin, s390x["id"])
        assert still["status"] == "dispatching", still
        assert still["executions"][0]["worker"] != f"node:{NODE}"
    finally:
        admin.post(f"/api/v1/builds/{s390x['id']}/cancel")


# the agent API, called directly -------------------------------------------------------

def agent_call(stack, token, path, body):
    return requests.post(f"{stack.url}/api/v1/agent{path}", json=body, timeout=40,
                         headers={"Authorization": f"Bearer {token}"} if token else {})


def test_the_agent_api_authenticates_nodes_fences_executions_and_stores_logs_once(stack, admin, workers):
    node, token_file = workers.register_node("e2e-manual", labels={"arch": "riscv64"}, concurrency=1)
    token = token_file.read_text().strip()
    _, other_file = workers.register_node("e2e-other", labels={"arch": "riscv64"}, concurrency=1)
    other = other_file.read_text().strip()
    declared = {"labels": {"arch": "riscv64"}, "concurrency": 1, "running": 0, "wait_seconds": 0,
                "version": "e2e-test"}

    for bad in (stack.admin_token, "kiln_node_" + "0" * 40, "garbage", None):
        r = agent_call(stack, bad, "/claim", declared)
        assert r.status_code == 401, (bad, r.text)
        assert r.json()["error"]["code"] == "unauthorized"

    build = submit_and_start(admin, script_build(params={"script": "echo manual"},
                                                 requirements={"arch": ["riscv64"]}))
    wait_for(lambda: offered(stack, build["id"]), timeout=20, what="the offer")
    r = agent_call(stack, token, "/claim", declared)
    assert r.status_code == 200, r.text
    claimed = r.json()["executions"]
    assert [c["build_id"] for c in claimed] == [build["id"]], claimed
    ex = claimed[0]
    eid, epoch, job = ex["execution_id"], ex["epoch"], ex["job_token"]
    assert ex["attempt"] == 1 and ex["method"] == "script" and "echo manual" in ex["script"]
    assert job.startswith("kiln_job_") and len(job) == len("kiln_job_") + 43, job
    assert get_build(admin, build["id"])["status"] == "running"
    assert stack.sql("select job_token_sha256 = sha256(%s::bytea) from kiln.build_executions where id = %s",
                     (job, eid)) == [(True,)], "only the job token's hash is stored"

    # Neither the node's own token nor another node's reaches the execution: only its job
    # token does. Another execution's job token gets 404 (below, test_credentials.py).
    for path, body in (("renew", {"epoch": epoch}), ("logs", {"epoch": epoch, "offset": 0, "data": "x\n"}),
                       ("finish", {"epoch": epoch, "outcome": "succeeded", "exit_code": 0})):
        for wrong in (token, other):
            r = agent_call(stack, wrong, f"/executions/{eid}/{path}", body)
            assert r.status_code == 401, (path, r.text)
            assert r.json()["error"]["code"] == "unauthorized"

    r = agent_call(stack, job, f"/executions/{eid}/renew", {"epoch": epoch})
    assert r.status_code == 200 and r.json()["lease_expires_at"], r.text
    r = agent_call(stack, job, f"/executions/{eid}/renew", {"epoch": epoch - 1})
    assert r.status_code == 409 and r.json()["error"]["code"] == "stale_lease", r.text

    log_path = f"/executions/{eid}/logs"
    r = agent_call(stack, job, log_path, {"epoch": epoch, "offset": 0, "data": "line one\n"})
    assert r.status_code == 200 and r.json() == {"next_offset": 9}, r.text
    r = agent_call(stack, job, log_path, {"epoch": epoch, "offset": 0, "data": "line one\n"})  # a resend
    assert r.status_code == 200 and r.json() == {"next_offset": 9}, r.text
    r = agent_call(stack, job, log_path, {"epoch": epoch, "offset": 5, "data": "one\nline two\n"})  # overlap
    assert r.status_code == 200 and r.json() == {"next_offset": 18}, r.text
    r = agent_call(stack, job, log_path, {"epoch": epoch, "offset": 100, "data": "after a gap\n"})
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "log_gap"

    r = agent_call(stack, job, f"/executions/{eid}/finish",
                   {"epoch": epoch, "outcome": "succeeded", "exit_code": 0, "cpu_seconds": 0.5,
                    "peak_memory_bytes": 1048576, "duration_seconds": 1.0})
    assert r.status_code == 200 and r.json() == {"build_status": "succeeded"}, r.text
    # The execution has ended: its job token is dead and changes nothing.
    r = agent_call(stack, job, f"/executions/{eid}/finish", {"epoch": epoch, "outcome": "failed", "exit_code": 1})
    assert r.status_code == 401 and r.json()["error"]["code"] == "job_token_expired", r.text
    r = agent_call(stack, job, log_path, {"epoch": epoch, "offset": 18, "data": "too late\n"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "job_token_expired", r.text

    log = build_log(admin, build["id"])
    header, _, rest = log.partition("\n")
    assert header.startswith("==> attempt 1 on build node e2e-manual ("), log
    assert rest == "line one\nline two\n", log
    done = get_build(admin, build["id"])
    assert done["status"] == "succeeded"
    assert [(e["status"], e["exit_code"]) for e in done["executions"]] == [("succeeded", 0)]
    assert node_json(admin, "e2e-manual")["agent_version"] == "e2e-test"
