"""Scheduled builds and alert webhooks through nginx, with real dispatchers (kiln-dispatch)
and a real build-node agent: the schedules API and its 400s; a due tick fires exactly once
with two dispatchers passing at once; webhooks reach a receiver on 127.0.0.1 signed with
HMAC-SHA256, are retried with backoff and logged; a dead receiver does not slow
dispatching; the dispatcher serves Prometheus metrics and writes them as a textfile."""
import hashlib
import hmac
import json
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from conftest import script_build

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from stack import FINAL_STATUSES, ROOT, Workers, free_port, submit_and_start, wait_for, wait_status  # noqa: E402

TEMPLATE = {"project": "web", "method": "script", "params": {"script": "echo scheduled"},
            "spec": {"cpu": 1, "memory_gb": 1, "time_budget_min": 5}}


# a webhook receiver ----------------------------------------------------------------------

class Receiver:
    """An HTTP server on 127.0.0.1 recording every request; it answers 500 to the first
    fail_first attempts of each delivery, then 200."""

    def __init__(self, fail_first=0):
        self.requests = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body, "at": time.monotonic()})
                seen = sum(1 for r in receiver.requests
                           if r["headers"].get("X-Kiln-Delivery") == self.headers.get("X-Kiln-Delivery"))
                self.send_response(500 if seen <= receiver.fail_first else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/kiln"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of_event(self, event):
        return [r for r in self.requests if r["headers"].get("X-Kiln-Event") == event]

    def close(self):
        self.server.shutdown()


def signature_ok(secret, request):
    """The receiver's check: HMAC-SHA256 of "<timestamp>.<body>" keyed by the secret."""
    headers = request["headers"]
    expected = "sha256=" + hmac.new(secret.encode(), headers["X-Kiln-Timestamp"].encode() + b"." + request["body"],
                                    hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Kiln-Signature"])


# fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def workers(stack, project):
    """One dispatcher loop serving metrics, one build node with its agent; fast retries."""
    stack.sql("update kiln.settings set value = 0.3 where key = 'webhook_backoff_base_seconds'")
    stack.sql("update kiln.settings set value = 2 where key = 'webhook_timeout_seconds'")
    w = Workers(stack)
    _, token_file = w.register_node("alerts-node", concurrency=4)
    w.metrics_port = free_port()
    w.dispatch_proc = w.dispatcher("alerts", extra=["--metrics-listen", f"127.0.0.1:{w.metrics_port}"])
    w.agent_proc = w.agent("alerts-node", token_file, concurrency=4)
    wait_for(lambda: metrics_text(w), timeout=20, what="the dispatcher's metrics listener")
    yield w
    w.stop_all()


pytestmark = pytest.mark.usefixtures("dump_worker_logs_on_failure")


def metrics_text(w):
    try:
        r = requests.get(f"http://127.0.0.1:{w.metrics_port}/metrics", timeout=5)
        return r.text if r.status_code == 200 else None
    except requests.RequestException:
        return None


def create_webhook(admin, **fields):
    r = admin.post("/api/v1/admin/webhooks", {"name": "ops", "events": ["build.failed"], **fields})
    assert r.status_code == 201, r.text
    return r.json()


def deliveries(admin, webhook_id):
    r = admin.get(f"/api/v1/admin/webhooks/{webhook_id}/deliveries")
    assert r.status_code == 200, r.text
    return r.json()["items"]


def dispatch_once(stack, name, extra=()):
    dsn = f"host=127.0.0.1 port={stack.pg_port} user=kiln_dispatch dbname=kiln"
    return subprocess.Popen(
        [str(Path(stack.env["KILN_BUILD_DIR"]) / "cmd" / "kiln-dispatch"), "--once", "--database", dsn,
         "--worker", name, "--pipelines", str(ROOT / "pipelines" / "build-node"), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=stack.env, text=True)


# schedules --------------------------------------------------------------------------------

def test_the_schedules_api_creates_lists_disables_enables_and_deletes(stack, admin, project):
    r = admin.post("/api/v1/schedules", {"name": "nightly", "cron": "0 3 * * *", "timezone": "Europe/Berlin",
                                         "template": TEMPLATE, "missed_policy": "catch_up_one"})
    assert r.status_code == 201, r.text
    s = r.json()
    assert {k: s[k] for k in ("name", "cron", "timezone", "template", "enabled", "missed_policy", "last_build_id")} == {
        "name": "nightly", "cron": "0 3 * * *", "timezone": "Europe/Berlin", "template": TEMPLATE, "enabled": True,
        "missed_policy": "catch_up_one", "last_build_id": None}
    assert s["next_run_at"].endswith(("T02:00:00+00:00", "T01:00:00+00:00")), "03:00 in Berlin"
    assert admin.post("/api/v1/schedules", {"name": "nightly", "cron": "@daily", "template": TEMPLATE}).status_code == 409

    assert [x["name"] for x in admin.get("/api/v1/schedules").json()["items"]] == ["nightly"]
    r = admin.post(f"/api/v1/schedules/{s['id']}/disable")
    assert r.status_code == 200 and r.json()["enabled"] is False and r.json()["next_run_at"] is None, r.text
    r = admin.post(f"/api/v1/schedules/{s['id']}/enable")
    assert r.status_code == 200 and r.json()["next_run_at"] == s["next_run_at"], r.text
    assert admin.get(f"/api/v1/schedules/{s['id']}").json()["runs"] == []

    other = stack.client(stack.token("elsewhere", "eve", "admin"))
    assert other.get(f"/api/v1/schedules/{s['id']}").status_code == 404
    viewer = stack.client(stack.token("default", "vera", "viewer"))
    assert viewer.get("/api/v1/schedules").status_code == 200
    r = viewer.post("/api/v1/schedules", {"name": "x", "cron": "@daily", "template": TEMPLATE})
    assert r.status_code == 403 and "build:create" in r.json()["error"]["message"], r.text
    assert admin.request("DELETE", f"/api/v1/schedules/{s['id']}").json() == {"id": s["id"], "deleted": True}
    assert admin.get(f"/api/v1/schedules/{s['id']}").status_code == 404


@pytest.mark.parametrize("change,status,field", [
    ({"cron": "0 3 * *"}, 400, "cron"),
    ({"cron": "0 0 31 2 *"}, 400, "cron"),
    ({"timezone": "Mars/Olympus"}, 400, "timezone"),
    ({"missed_policy": "catch_up_all"}, 400, "missed_policy"),
    ({"enabled": "yes"}, 400, "enabled"),
    ({"template": {**TEMPLATE, "spec": {"cpu": 0}}}, 400, "template.spec.cpu"),
    ({"template": {**TEMPLATE, "method": "make"}}, 400, "template.method"),
    ({"template": {**TEMPLATE, "project": "nope"}}, 422, "template.project"),
    ({"every": "day"}, 400, "every"),
])
def test_a_bad_schedule_is_refused_naming_the_field(admin, project, change, status, field):
    r = admin.post("/api/v1/schedules", {"name": "bad", "cron": "@daily", "template": TEMPLATE, **change})
    assert r.status_code == status, r.text
    assert r.json()["error"]["field"] == field, r.json()


def test_a_due_tick_fires_exactly_once_with_two_dispatchers_passing_at_once(stack, admin, project):
    r = admin.post("/api/v1/schedules", {"name": "every-minute", "cron": "* * * * *", "template": TEMPLATE})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    # the tick came a second ago
    stack.sql("update kiln.build_schedules set next_run_at = date_trunc('minute', now()) where id = %s", (sid,))
    tick = stack.sql("select next_run_at from kiln.build_schedules where id = %s", (sid,))[0][0]
    procs = [dispatch_once(stack, f"cron-{i}") for i in range(2)]
    outputs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs

    runs = stack.sql("select tick_at, kind, build_id, worker from kiln.build_schedule_runs where schedule_id = %s", (sid,))
    assert len(runs) == 1 and runs[0][0] == tick and runs[0][1] == "on_time" and runs[0][2], runs
    build = admin.get(f"/api/v1/builds/{runs[0][2]}").json()
    assert build["params"] == TEMPLATE["params"] and build["status"] != "pending", build
    s = admin.get(f"/api/v1/schedules/{sid}").json()
    assert s["last_build_id"] == runs[0][2] and len(s["runs"]) == 1, s
    assert s["next_run_at"] > tick.isoformat()

    again = dispatch_once(stack, "cron-3")
    again.communicate(timeout=60)
    assert stack.sql("select count(*) from kiln.build_schedule_runs where schedule_id = %s", (sid,))[0][0] == 1
    admin.request("DELETE", f"/api/v1/schedules/{sid}")


# webhooks ---------------------------------------------------------------------------------

def test_webhooks_are_configured_by_admins_and_their_secret_is_shown_once(stack, admin):
    hook = create_webhook(admin, name="shown-once", url="http://127.0.0.1:9/x")
    assert hook["secret"].startswith("whsec_") and len(hook["secret"]) > 30
    listed = [w for w in admin.get("/api/v1/admin/webhooks").json()["items"] if w["id"] == hook["id"]]
    assert listed and "secret" not in listed[0]
    assert all(hook["secret"] not in json.dumps(w) for w in admin.get("/api/v1/admin/webhooks").json()["items"])
    r = admin.post("/api/v1/admin/webhooks", {"name": "bad", "url": "gopher://x", "events": ["build.failed"]})
    assert r.status_code == 400 and r.json()["error"]["field"] == "url", r.text
    developer = stack.client(stack.token("default", "dora", "developer"))
    assert developer.post("/api/v1/admin/webhooks", {"name": "x", "url": "http://x.example",
                                                      "events": ["build.failed"]}).status_code == 403
    assert developer.get("/api/v1/admin/webhooks").status_code == 403
    assert admin.request("DELETE", f"/api/v1/admin/webhooks/{hook['id']}").status_code == 200


def test_a_delivery_is_signed_and_retried_with_backoff_until_it_succeeds(admin, workers):
    receiver = Receiver(fail_first=2)
    try:
        hook = create_webhook(admin, name="retried", url=receiver.url)
        r = admin.post(f"/api/v1/admin/webhooks/{hook['id']}/test")
        assert r.status_code == 201, r.text
        delivery_id = r.json()["id"]
        wait_for(lambda: len(receiver.requests) >= 3, timeout=20, what="three attempts")
        attempts = receiver.requests
        assert [a["headers"]["X-Kiln-Attempt"] for a in attempts] == ["1", "2", "3"]
        assert {a["headers"]["X-Kiln-Delivery"] for a in attempts} == {str(delivery_id)}
        assert all(a["headers"]["X-Kiln-Event"] == "webhook.test" for a in attempts)
        assert all(a["headers"]["Content-Type"] == "application/json" for a in attempts)
        assert all(signature_ok(hook["secret"], a) for a in attempts), "every attempt is signed with the secret"
        assert not signature_ok("whsec_not-the-secret", attempts[0]), "a wrong secret does not verify"
        tampered = dict(attempts[0], body=attempts[0]["body"].replace(b"webhook.test", b"webhook.tesT"))
        assert not signature_ok(hook["secret"], tampered), "a changed body does not verify"
        assert json.loads(attempts[0]["body"])["event"] == "webhook.test"
        gaps = [b["at"] - a["at"] for a, b in zip(attempts, attempts[1:])]
        assert gaps[0] >= 0.25 and gaps[1] >= 0.55, f"backoff 0.3 s then 0.6 s: {gaps}"

        delivery = wait_for(lambda: next((d for d in deliveries(admin, hook["id"])
                                          if d["id"] == delivery_id and d["status"] == "delivered"), None),
                            timeout=10, what="the delivery to be recorded as delivered")
        assert delivery["attempts"] == 3
        assert [(e["attempt"], e["status_code"]) for e in delivery["log"]] == [(1, 500), (2, 500), (3, 200)]
    finally:
        receiver.close()


def test_a_failed_build_is_alerted(admin, workers):
    receiver = Receiver()
    try:
        hook = create_webhook(admin, name="failures", url=receiver.url)
        build = submit_and_start(admin, script_build(params={"script": "echo failing; exit 3"}))
        assert wait_status(admin, build["id"], FINAL_STATUSES, timeout=60)["status"] == "failed"
        wait_for(lambda: receiver.of_event("build.failed"), timeout=20, what="the build.failed alert")
        alert = receiver.of_event("build.failed")[0]
        payload = json.loads(alert["body"])
        assert payload["event"] == "build.failed" and payload["tenant"] == "default"
        assert payload["data"]["build_id"] == build["id"] and payload["data"]["project"] == "web"
        assert signature_ok(hook["secret"], alert)
        time.sleep(2.5)  # more passes: the failure is alerted once
        assert len([r for r in receiver.of_event("build.failed")
                    if json.loads(r["body"])["data"]["build_id"] == build["id"]]) == 1
        admin.request("DELETE", f"/api/v1/admin/webhooks/{hook['id']}")
    finally:
        receiver.close()


def queue_to_running_seconds(stack, build_ids):
    rows = stack.sql("""
        select extract(epoch from max(e.created_at) filter (where e.to_status = 'running')
                                  - min(e.created_at) filter (where e.to_status = 'queued'))
          from kiln.build_events e where e.build_id = any(%s::uuid[]) group by e.build_id""", (build_ids,))
    return [float(r[0]) for r in rows]


def run_builds(stack, admin, n):
    ids = []
    for _ in range(n):
        ids.append(submit_and_start(admin, script_build(params={"script": "true"}))["id"])
        time.sleep(0.2)
    for build_id in ids:
        assert wait_status(admin, build_id, FINAL_STATUSES, timeout=60)["status"] == "succeeded"
    return ids


def test_a_dead_receiver_does_not_slow_dispatching(stack, admin, workers):
    baseline = queue_to_running_seconds(stack, run_builds(stack, admin, 5))

    # A receiver that accepts connections and never answers: every attempt waits out the
    # 2-second timeout, 20 of them at once.
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead.listen(200)
    try:
        hook = create_webhook(admin, name="dead", url=f"http://127.0.0.1:{dead.getsockname()[1]}/hook")
        for _ in range(20):
            assert admin.post(f"/api/v1/admin/webhooks/{hook['id']}/test").status_code == 201
        wait_for(lambda: stack.sql("select count(*) from kiln.webhook_deliveries where webhook_id = %s and attempts > 0",
                                   (hook["id"],))[0][0] > 0, timeout=10, what="the sender to be stuck on the receiver")
        with_dead = queue_to_running_seconds(stack, ids := run_builds(stack, admin, 5))

        wait_for(lambda: stack.sql("select count(*) from kiln.webhook_delivery_attempts a join kiln.webhook_deliveries d "
                                   "on d.id = a.delivery_id where d.webhook_id = %s", (hook["id"],))[0][0] >= 20,
                 timeout=15, what="the stuck attempts to time out and be logged")
        overlap = stack.sql("""
            select count(*) from kiln.webhook_delivery_attempts a join kiln.webhook_deliveries d on d.id = a.delivery_id
             where d.webhook_id = %s and a.error like 'Timeout%%'
               and a.started_at < (select min(created_at) from kiln.build_events
                                    where build_id = any(%s::uuid[]) and to_status = 'running')
               and a.started_at + make_interval(secs => a.duration_ms / 1000.0)
                   > (select min(created_at) from kiln.build_events
                       where build_id = any(%s::uuid[]) and to_status = 'running')""", (hook["id"], ids, ids))[0][0]
        assert max(with_dead) < max(baseline) + 0.75 and max(with_dead) < 1.5, \
            f"queued→running with a dead receiver {with_dead} vs without {baseline}"
        assert overlap > 0, "a delivery attempt to the dead receiver was in flight while the builds were dispatched"
        metrics = metrics_text(workers)
        last_pass = float(next(line.split()[1] for line in metrics.splitlines()
                               if line.startswith("kiln_dispatch_last_pass_seconds ")))
        assert last_pass < 1.0, metrics
        admin.request("DELETE", f"/api/v1/admin/webhooks/{hook['id']}")
    finally:
        dead.close()


# metrics ----------------------------------------------------------------------------------

def test_the_dispatcher_serves_prometheus_metrics(workers):
    text = metrics_text(workers)
    for expected in ('kiln_dispatch_passes_total{result="ok"} ', "# TYPE kiln_dispatch_pass_duration_seconds histogram",
                     'kiln_builds{status="queued"} ', "kiln_queue_oldest_wait_seconds ",
                     'kiln_claim_latency_seconds{quantile="0.5"} ', 'kiln_dispatch_latency_seconds{infrastructure_type="build_nodes",quantile="0.95"} ',
                     'kiln_node_heartbeat_age_seconds{node="alerts-node",status="active"} ',
                     'kiln_db_connections{role="kiln_dispatch",state=', "kiln_db_max_connections ",
                     'kiln_dispatch_db_connection_open{use="pass"} 1', 'kiln_dispatch_db_connection_open{use="webhooks"} 1',
                     'kiln_execution_outcomes_total{infrastructure_type="build_nodes",outcome="succeeded"} ',
                     'kiln_dispatch_webhook_deliveries_total{result="delivered"} ', "kiln_dispatch_metrics_database_up 1"):
        assert expected in text, f"{expected!r} missing from\n{text}"
    assert requests.get(f"http://127.0.0.1:{workers.metrics_port}/other", timeout=5).status_code == 404


def test_a_once_dispatcher_writes_its_metrics_as_a_textfile(stack, workers, tmp_path):
    path = tmp_path / "kiln_dispatch.prom"
    p = dispatch_once(stack, "textfile", extra=["--metrics-textfile", str(path), "--webhook-budget", "1"])
    out = p.communicate(timeout=60)[0]
    assert p.returncode == 0, out
    text = path.read_text()
    assert 'kiln_dispatch_passes_total{result="ok"} 1\n' in text
    assert "kiln_dispatch_metrics_database_up 1\n" in text
    assert not (tmp_path / "kiln_dispatch.prom.tmp").exists()
