"""What happens when parts of the stack die: PostgreSQL restarts, kiln-api is stopped."""
import threading
import time

import psycopg2
import pytest

from conftest import script_build
from test_stack_scripts import alive


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_requests_get_503_with_retry_after_while_postgresql_is_down_then_recover(stack, admin, project):
    created = admin.post("/api/v1/builds", script_build())
    assert created.status_code == 201
    build_id = created.json()["id"]

    stack.pg("stop", str(stack.var / "pg"))
    try:
        # Every thread's connection is broken now; each request must fail cleanly.
        for _ in range(6):
            r = admin.get(f"/api/v1/builds/{build_id}")
            assert r.status_code == 503
            assert r.headers["Retry-After"] == "1"
            assert r.json()["error"]["code"] == "unavailable"
        health = stack.client().get("/healthz")
        assert health.status_code == 503
    finally:
        stack.pg("start", str(stack.var / "pg"), str(stack.pg_port))

    # The server reconnects by itself: every thread serves again, no restart needed.
    assert wait_until(lambda: stack.client().get("/healthz").status_code == 200)
    for _ in range(12):
        r = admin.get(f"/api/v1/builds/{build_id}")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "pending"
    assert admin.post(f"/api/v1/builds/{build_id}/start").json()["status"] == "queued"


def test_a_write_refused_during_the_outage_changed_nothing(stack, admin, project):
    before = stack.sql("select count(*) from kiln.builds")[0][0]
    stack.pg("stop", str(stack.var / "pg"))
    try:
        assert admin.post("/api/v1/builds", script_build()).status_code == 503
    finally:
        stack.pg("start", str(stack.var / "pg"), str(stack.pg_port))
    assert wait_until(lambda: stack.client().get("/healthz").status_code == 200)
    assert stack.sql("select count(*) from kiln.builds")[0][0] == before


def test_sigterm_lets_the_request_in_flight_finish_then_exits(stack, admin, project):
    build_id = admin.post("/api/v1/builds", script_build()).json()["id"]
    pid = stack.api_pid()

    # Hold the build's row lock so that the start request blocks inside kiln-api.
    blocker = psycopg2.connect(stack.admin_dsn())
    cur = blocker.cursor()
    cur.execute("select id from kiln.builds where id = %s for update", (build_id,))
    result = {}
    worker = threading.Thread(
        target=lambda: result.setdefault("r", admin.post(f"/api/v1/builds/{build_id}/start")))
    worker.start()
    waiting = lambda: stack.sql(  # noqa: E731
        "select count(*) from pg_stat_activity where usename = 'kiln_web' and wait_event_type = 'Lock'")[0][0] == 1
    assert wait_until(waiting), "the start request never reached the row lock"

    stack.signal_api()
    time.sleep(0.3)
    assert stack.sql("select status from kiln.builds where id = %s", (build_id,))[0][0] == "pending"
    blocker.rollback()  # release: the drained request completes
    blocker.close()
    worker.join(timeout=15)

    assert result["r"].status_code == 200, result["r"].text
    assert result["r"].json()["status"] == "queued"

    assert wait_until(lambda: not alive(pid)), "kiln-api did not exit after SIGTERM"
    log = (stack.var / "log" / "kiln-api.log").read_text()
    assert '"msg":"draining"' in log and '"msg":"stopped"' in log


def test_nginx_answers_503_json_while_kiln_api_is_down_and_up_restarts_it(stack, admin):
    if stack.wait_healthy(timeout=1):
        stack.signal_api()
    assert wait_until(lambda: stack.client().get("/healthz").status_code == 503)
    r = admin.get("/api/v1/builds")
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "1"
    assert r.json()["error"]["code"] == "unavailable"

    stack.script("up")
    assert stack.wait_healthy()
    assert admin.get("/api/v1/builds").status_code == 200


def test_sigterm_ends_a_waiting_agent_long_poll_at_once_instead_of_after_its_wait(stack):
    from stack import Workers
    assert stack.wait_healthy() or stack.script("up")
    _, token_file = Workers(stack).register_node("drain-probe")
    node = stack.client(token_file.read_text().strip())
    pid = stack.api_pid()
    result = {}
    poll = threading.Thread(target=lambda: result.setdefault(
        "r", node.post("/api/v1/agent/claim", {"wait_seconds": 25, "running": 0})))
    poll.start()
    # The first claim found nothing (it set the heartbeat); the request now waits for offers.
    assert wait_until(lambda: stack.sql(
        "select last_heartbeat_at is not null from kiln.build_nodes where name = 'drain-probe'")[0][0])
    time.sleep(0.5)
    started = time.monotonic()
    stack.signal_api()
    poll.join(timeout=30)
    assert wait_until(lambda: not alive(pid), timeout=10)
    assert time.monotonic() - started < 5, "draining waited for the long-poll"
    assert result["r"].status_code == 200, result["r"].text
    assert result["r"].json()["executions"] == []
    stack.script("up")
    assert stack.wait_healthy()
