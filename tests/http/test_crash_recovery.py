"""Crash recovery with real processes: an agent killed with SIGKILL mid-build, a dispatcher
killed between claim and hand-off, a zombie agent (SIGSTOP) that wakes up after its work was
given to another node, and kiln-api restarted under a running build. The agent lease is 3 s
for the module, so the reaper acts within seconds."""
import re
import signal
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from conftest import script_build

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from stack import (FINAL_STATUSES, ActiveSampler, Workers, build_events, build_log, get_build,  # noqa: E402
                   live_group_members, log_tails, pid_gone, stop_procs, submit_and_start,
                   wait_for, wait_status)

LEASE = 3
DISPATCH_INTERVAL = 1  # Workers.dispatcher passes --interval 1


# fixtures ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def workers(stack, project):
    """Two build nodes, A and B, and the 3 s agent lease. Each test starts (and kills) its
    own dispatcher and agents; everything left is stopped at the end of the module."""
    w = Workers(stack)
    w.set_setting("agent_lease_seconds", LEASE)
    w.nodes = {}
    for name in ("node-a", "node-b"):
        w.nodes[name] = w.register_node(name, labels={"arch": "amd64"}, concurrency=2)
    yield w
    for proc in w.procs:  # a stopped process would not see SIGTERM
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
    w.stop_all()


@pytest.fixture
def crew(workers):
    """Starts processes for one test and stops (only) them when it ends."""
    started = []
    longest_poll = [0]

    class Crew:
        def dispatcher(self, name, **kw):
            proc = workers.dispatcher(name, **kw)
            started.append(proc)
            return proc

        def agent(self, node, concurrency=2, wait_seconds=1):
            # A short long-poll: a claim still waiting in kiln-api when its agent stops can
            # take the next test's build (see test_an_agent_stopped_while_long_polling_...).
            proc = workers.agent(node, workers.nodes[node][1], concurrency=concurrency,
                                 extra=["--wait-seconds", str(wait_seconds)])
            longest_poll[0] = max(longest_poll[0], wait_seconds)
            started.append(proc)
            return proc

    yield Crew()
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
    for proc in started:  # agents: a second SIGTERM kills their builds instead of waiting
        if proc.poll() is None:
            proc.terminate()
    time.sleep(0.2)
    stop_procs(started, timeout=10)
    time.sleep(longest_poll[0] + 0.5)  # claims the stopped agents left waiting in kiln-api end


@pytest.fixture(autouse=True)
def dump_logs_on_failure(request, stack):
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        print(log_tails(stack, ["agent", "dispatch", "kiln-api", "nginx-error"]))




def db_now(stack):
    return stack.sql("select clock_timestamp()")[0][0]


def read_pid(path):
    text = path.read_text().strip() if path.exists() else ""
    return int(text) if text.isdigit() else None


def log_has(proc, needle, since=0):
    return needle in proc.log_path.read_bytes()[since:].decode(errors="replace")


def snapshot(stack, build_id):
    """Everything a late call of a zombie worker could change."""
    return {
        "build": stack.sql("select status, attempt, lease_epoch, log_bytes, updated_at, finished_at, "
                           "failure_reason from kiln.builds where id = %s", (build_id,)),
        "executions": stack.sql("select id, attempt, status, epoch, exit_code, failure_reason, finished_at, "
                                "lease_expires_at, log_bytes, cpu_seconds, peak_memory_bytes "
                                "from kiln.build_executions where build_id = %s order by attempt", (build_id,)),
        "events": stack.sql("select id, to_status from kiln.build_events where build_id = %s order by id",
                            (build_id,)),
        "log_chunks": stack.sql("select build_offset, md5(data) from kiln.build_log_chunks "
                                "where build_id = %s order by build_offset", (build_id,)),
        "usage": stack.sql("select u.build_execution_id, u.success, u.resource_usage from kiln.infrastructure_usage u "
                           "join kiln.build_executions e on e.id = u.build_execution_id "
                           "where e.build_id = %s order by u.start_time", (build_id,)),
    }


# tests ---------------------------------------------------------------------------------

def test_an_agent_killed_mid_build_loses_its_lease_and_another_node_finishes_it(stack, admin, workers,
                                                                                crew, tmp_path):
    crew.dispatcher("crash")
    agent_a = crew.agent("node-a", concurrency=1)  # busy: no claim of its own waits in kiln-api
    script = f"echo $$ > {tmp_path}/attempt-$KILN_ATTEMPT.pid; echo begin; sleep 8; echo end"
    with ActiveSampler(stack) as sampler:
        build = submit_and_start(admin, script_build(params={"script": script}))
        bid = build["id"]
        running = wait_status(admin, bid, ("running",) + FINAL_STATUSES, timeout=30)
        assert running["status"] == "running", running
        assert running["executions"][0]["worker"] == "node:node-a"
        wait_for(lambda: "begin" in build_log(admin, bid), timeout=10, what="the build's first output")
        first_pid = read_pid(tmp_path / "attempt-1.pid")

        workers.kill(agent_a, signal.SIGKILL)
        killed_at = db_now(stack)
        agent_b = crew.agent("node-b")

        # The killed agent's shepherd sees the control socket close and kills the build.
        wait_for(lambda: pid_gone(first_pid) and not live_group_members(first_pid), timeout=10,
                 what="attempt 1's processes to die with their agent")
        done = wait_status(admin, bid, FINAL_STATUSES, timeout=60)
    assert done["status"] == "succeeded", done
    assert done["attempt"] == 2
    exs = done["executions"]
    assert [(e["attempt"], e["status"], e["worker"]) for e in exs] == [
        (1, "lost", "node:node-a"), (2, "succeeded", "node:node-b")], exs
    assert "expired" in exs[0]["failure_reason"], exs[0]

    requeue = [e for e in build_events(admin, bid) if e["to_status"] == "queued" and e["actor"] == "reaper"]
    assert len(requeue) == 1, requeue
    requeued_at = datetime.fromisoformat(requeue[0]["created_at"].replace("Z", "+00:00"))
    latency = (requeued_at - killed_at).total_seconds()
    print(f"\nREQUEUE LATENCY after SIGKILL of the agent: {latency:.2f}s "
          f"(lease {LEASE}s, dispatcher interval {DISPATCH_INTERVAL}s); "
          f"{sampler.samples} samples, at most {sampler.max_active} active execution(s) per build")
    assert 0 < latency <= LEASE + 2 * DISPATCH_INTERVAL + 5, latency

    log = build_log(admin, bid)
    assert re.search(r"^==> attempt 1 on build node node-a ", log, re.M), log
    assert re.search(r"^==> attempt 2 on build node node-b ", log, re.M), log
    assert log.rstrip().endswith("end"), log
    assert sampler.samples > 20
    assert sampler.violations == [], sampler.violations
    assert sampler.max_active == 1
    assert agent_b.poll() is None


def test_a_dispatcher_killed_between_claim_and_hand_off_loses_nothing(stack, admin, workers, crew):
    # Queued first: the --once pass must find it.
    build = submit_and_start(admin, script_build(params={"script": "echo handed-over"}))
    bid = build["id"]
    paused = crew.dispatcher("paused", mode="--once", extra=["--pause-after-claim", "30", "--lease", "3"])

    def claimed_not_offered():
        rows = stack.sql("select b.status, e.offered_at from kiln.builds b join kiln.build_executions e "
                         "on e.build_id = b.id and e.status = 'dispatching' where b.id = %s", (bid,))
        return rows and rows[0][0] == "dispatching" and rows[0][1] is None

    wait_for(claimed_not_offered, timeout=15, what="the paused dispatcher's claim")
    wait_for(lambda: log_has(paused, "pausing after claim"), timeout=5, what="the pause")
    workers.kill(paused, signal.SIGKILL)
    assert claimed_not_offered()

    with ActiveSampler(stack) as sampler:
        crew.dispatcher("after-crash")
        crew.agent("node-a")
        done = wait_status(admin, bid, FINAL_STATUSES, timeout=60)
    assert done["status"] == "succeeded", done
    assert done["attempt"] == 2
    assert [(e["attempt"], e["status"]) for e in done["executions"]] == [(1, "lost"), (2, "succeeded")]
    assert done["executions"][0]["worker"] == "paused"
    steps = [(e["to_status"], e["actor"]) for e in build_events(admin, bid)]
    assert ("queued", "reaper") in steps, steps
    assert "handed-over" in build_log(admin, bid)
    assert sampler.violations == []


def test_a_zombie_agent_that_wakes_up_changes_nothing_and_kills_its_stale_work(stack, admin, workers,
                                                                              crew, tmp_path):
    crew.dispatcher("zombie")
    agent_a = crew.agent("node-a", concurrency=1)  # busy: no claim of its own waits in kiln-api
    # Attempt 1 outlives the whole test unless its agent kills it; attempt 2 is short.
    script = (f"echo $$ > {tmp_path}/attempt-$KILN_ATTEMPT.pid; echo begin $KILN_ATTEMPT; "
              f"if [ $KILN_ATTEMPT = 1 ]; then sleep 120; else sleep 2; fi; echo end $KILN_ATTEMPT")
    with ActiveSampler(stack) as sampler:
        build = submit_and_start(admin, script_build(params={"script": script}))
        bid = build["id"]
        running = wait_status(admin, bid, ("running",) + FINAL_STATUSES, timeout=30)
        assert running["executions"][0]["worker"] == "node:node-a", running
        first_pid = wait_for(lambda: read_pid(tmp_path / "attempt-1.pid"), timeout=10, what="attempt 1's pid")
        wait_for(lambda: "begin 1" in build_log(admin, bid), timeout=10, what="attempt 1's output")

        agent_a.send_signal(signal.SIGSTOP)
        try:
            crew.agent("node-b")
            done = wait_status(admin, bid, FINAL_STATUSES, timeout=60)
            assert done["status"] == "succeeded", done
            assert [(e["status"], e["worker"]) for e in done["executions"]] == [
                ("lost", "node:node-a"), ("succeeded", "node:node-b")], done["executions"]
            assert not pid_gone(first_pid), "attempt 1 should still run: its agent is frozen"
            before = snapshot(stack, bid)
            log_mark = agent_a.log_path.stat().st_size
        finally:
            agent_a.send_signal(signal.SIGCONT)

        # The zombie renews or reports, is refused (stale_lease), and kills attempt 1.
        wait_for(lambda: pid_gone(first_pid) and not live_group_members(first_pid), timeout=20,
                 what="the woken agent to kill its stale build")
        wait_for(lambda: log_has(agent_a, "lease lost", log_mark), timeout=10, what="the agent to log the lost lease")
        time.sleep(2)  # room for any late log chunk or finish
        after = snapshot(stack, bid)
    assert after == before
    final = get_build(admin, bid)
    assert final["status"] == "succeeded" and final["attempt"] == 2
    log = build_log(admin, bid)
    assert "end 2" in log and "end 1" not in log, log
    assert sampler.violations == []
    assert agent_a.poll() is None, "the woken agent should keep running"


def test_kiln_api_restarted_under_a_running_build_the_agent_retries_and_it_succeeds(stack, admin, workers,
                                                                                   crew):
    # A lease longer than the restart: the same attempt must ride through it.
    workers.set_setting("agent_lease_seconds", 20)
    try:
        crew.dispatcher("restart")
        agent = crew.agent("node-a")
        script = "for i in $(seq 1 16); do echo tick $i; sleep 0.5; done"
        build = submit_and_start(admin, script_build(params={"script": script}))
        bid = build["id"]
        wait_for(lambda: "tick 2" in build_log(admin, bid), timeout=30, what="the build's output")

        old_pid = stack.api_pid()
        log_mark = agent.log_path.stat().st_size
        stopped = time.monotonic()
        stack.signal_api(signal.SIGTERM)
        wait_for(lambda: pid_gone(old_pid), timeout=30, what="kiln-api to exit")
        down_for = time.monotonic() - stopped
        # Stay down long enough that the agent's output, renewals and claims hit the outage.
        wait_for(lambda: log_has(agent, "API unreachable", log_mark), timeout=10,
                 what="the agent to notice the outage")
        time.sleep(2)
        result = stack.script("up", check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert stack.api_pid() != old_pid
        assert stack.wait_healthy()
        print(f"\nkiln-api took {down_for:.1f}s to stop and {time.monotonic() - stopped:.1f}s to be back")
    finally:
        workers.set_setting("agent_lease_seconds", LEASE)

    done = wait_status(admin, bid, FINAL_STATUSES, timeout=60)
    assert done["status"] == "succeeded", done
    assert [(e["attempt"], e["status"]) for e in done["executions"]] == [(1, "succeeded")], done["executions"]
    log = build_log(admin, bid)
    ticks = re.findall(r"^tick (\d+)$", log, re.M)
    assert ticks == [str(i) for i in range(1, 17)], log
    assert agent.poll() is None


def test_an_agent_stopped_while_long_polling_is_not_handed_work_afterwards(stack, admin, workers, crew):
    """An agent stopped with SIGTERM (nothing running) had a claim long-polling in kiln-api.
    Once it has exited, no build may be assigned to it: the next build runs on the node
    whose agent is alive, as attempt 1, without waiting for a lease to expire."""
    crew.dispatcher("orphan")
    log_path = workers.logs / "agent-node-a.log"
    mark = log_path.stat().st_size if log_path.exists() else 0
    agent_a = crew.agent("node-a", wait_seconds=8)
    wait_for(lambda: log_has(agent_a, "kiln-agent started", mark), timeout=10, what="agent A to start")
    time.sleep(1.5)  # its first claim is now waiting in kiln-api (no work is offered)
    agent_a.terminate()
    assert agent_a.wait(timeout=15) == 0
    assert log_has(agent_a, "kiln-agent stopped", mark)

    build = submit_and_start(admin, script_build(params={"script": "echo after-the-stop"}))
    wait_for(lambda: stack.sql("select count(*) from kiln.build_executions where build_id = %s "
                               "and offered_at is not null", (build["id"],))[0][0], timeout=30, what="the offer")
    time.sleep(2)  # no agent is alive: the offer must still be waiting for one
    waiting = get_build(admin, build["id"])
    assert waiting["status"] == "dispatching" and waiting["executions"][0]["status"] == "dispatching", (
        "the build was handed to a node whose agent had exited: "
        f"{[(e['attempt'], e['status'], e['worker'], e['started_at']) for e in waiting['executions']]}")

    crew.agent("node-b")
    done = wait_status(admin, build["id"], FINAL_STATUSES, timeout=60)
    assert done["status"] == "succeeded", done
    assert [(e["attempt"], e["status"], e["worker"]) for e in done["executions"]] == [
        (1, "succeeded", "node:node-b")], done["executions"]
