"""Credentials with a lifetime, through nginx: API tokens created, listed, revoked and
rotated by admins with clear 401s once expired or revoked; page sessions in a __Host-
cookie, rotated at sign-in, listed and revoked by admins; node tokens rotated with a grace
during which both work, picked up by a running agent without a restart; job tokens that
reach one execution only."""
import hashlib
import re
import sys
from pathlib import Path

import pytest
import requests

from conftest import assert_error, assert_json, script_build

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from stack import FINAL_STATUSES, Workers, get_build, log_tails, submit_and_start, wait_for, wait_status  # noqa: E402

SESSION = "__Host-kiln_session"
TOKEN_FIELDS = {"id", "user", "name", "created_at", "expires_at", "last_used_at", "revoked_at"}


@pytest.fixture(autouse=True)
def dump_logs_on_failure(request, stack):
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        print(log_tails(stack, ["agent", "dispatch", "kiln-api", "nginx-error"]))


def create_token(admin, **body):
    return assert_json(admin.post("/api/v1/admin/tokens", {"name": "ci", **body}), 201)


# API tokens ----------------------------------------------------------------------------

def test_an_admin_creates_a_token_shown_once_and_stored_only_as_its_hash(stack, admin):
    created = create_token(admin, name="deploy-bot", expires_in_days=7)
    assert set(created) == TOKEN_FIELDS | {"token"}, created
    assert created["user"] == "admin" and created["name"] == "deploy-bot"
    assert re.fullmatch(r"kiln_[A-Za-z0-9_-]{43}", created["token"]), created["token"]
    days = stack.sql("select extract(epoch from expires_at - created_at) / 86400 from kiln.api_tokens where id = %s",
                     (created["id"],))[0][0]
    assert round(float(days)) == 7
    assert stack.sql("select token_sha256 = sha256(%s::bytea) from kiln.api_tokens where id = %s",
                     (created["token"], created["id"])) == [(True,)]

    me = stack.client(created["token"])
    assert me.get("/api/v1/projects").status_code == 200, "the new token works at once"

    listing = assert_json(admin.get("/api/v1/admin/tokens"), 200)
    mine = [t for t in listing["items"] if t["id"] == created["id"]]
    assert mine and set(mine[0]) == TOKEN_FIELDS, mine
    assert created["token"] not in str(listing) and hashlib.sha256(created["token"].encode()).hexdigest() not in str(listing)

    default = create_token(admin, name="default-life")
    days = stack.sql("select round(extract(epoch from expires_at - created_at) / 86400) from kiln.api_tokens "
                     "where id = %s", (default["id"],))[0][0]
    assert int(days) == 90, "90 days unless asked otherwise"


def test_a_token_for_another_user_of_the_tenant(stack, admin):
    stack.token("default", "carol", "developer")
    created = create_token(admin, user="carol", name="carol-cli", expires_in_days=1)
    assert created["user"] == "carol"
    carol = stack.client(created["token"])
    assert carol.get("/api/v1/projects").status_code == 200
    assert carol.get("/api/v1/admin/tokens").status_code == 403, "carol is a developer, not an admin"


def test_bad_token_requests_are_refused_naming_the_field_and_change_nothing(stack, admin):
    before = stack.sql("select count(*) from kiln.api_tokens")[0][0]
    assert_error(admin.post("/api/v1/admin/tokens", {"name": "x", "expires_in_days": 366}), 400, "invalid_value",
                 "expires_in_days")
    assert_error(admin.post("/api/v1/admin/tokens", {"name": "x", "expires_in_days": "7"}), 400, "invalid_type",
                 "expires_in_days")
    assert_error(admin.post("/api/v1/admin/tokens", {"expires_in_days": 7}), 400, "missing_field", "name")
    assert_error(admin.post("/api/v1/admin/tokens", {"name": "x", "user": "nobody"}), 404, "not_found", "user")
    assert_error(admin.post("/api/v1/admin/tokens", {"name": "x", "role": "admin"}), 400, "unknown_field", "role")
    assert_error(admin.post("/api/v1/admin/tokens/not-a-uuid/revoke"), 400, "invalid_uuid", "id")
    assert_error(admin.post("/api/v1/admin/tokens/00000000-0000-0000-0000-000000000000/rotate", {}), 404,
                 "not_found", "id")
    assert stack.sql("select count(*) from kiln.api_tokens")[0][0] == before


def test_a_revoked_token_gets_401_token_revoked(stack, admin):
    created = create_token(admin, name="to-revoke")
    user = stack.client(created["token"])
    assert user.get("/api/v1/projects").status_code == 200
    revoked = assert_json(admin.post(f"/api/v1/admin/tokens/{created['id']}/revoke"), 200)
    assert set(revoked) == TOKEN_FIELDS and revoked["revoked_at"], revoked
    r = user.get("/api/v1/projects")
    assert_error(r, 401, "token_revoked", None)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert stack.sql("select count(*) from kiln.audit_log where action = 'token.revoke' and object_id = %s",
                     (created["id"],)) == [(1,)]


def test_an_expired_token_gets_401_token_expired(stack, admin):
    created = create_token(admin, name="to-expire", expires_in_days=1)
    user = stack.client(created["token"])
    assert user.get("/api/v1/projects").status_code == 200
    stack.sql("update kiln.api_tokens set expires_at = now() - interval '1 second' where id = %s", (created["id"],))
    assert_error(user.get("/api/v1/projects"), 401, "token_expired", None)
    assert_error(stack.client("kiln_" + "A" * 43).get("/api/v1/projects"), 401, "unauthorized", None)


def test_rotation_gives_a_new_token_and_the_old_one_works_for_the_grace_only(stack, admin):
    old = create_token(admin, name="rotating", expires_in_days=30)
    rotated = assert_json(admin.post(f"/api/v1/admin/tokens/{old['id']}/rotate", {"grace_seconds": 600}), 201)
    assert set(rotated) == TOKEN_FIELDS | {"token"}, rotated
    assert rotated["id"] != old["id"] and rotated["token"] != old["token"] and rotated["name"] == "rotating"
    old_client, new_client = stack.client(old["token"]), stack.client(rotated["token"])
    assert old_client.get("/api/v1/projects").status_code == 200, "the old token works during the grace"
    assert new_client.get("/api/v1/projects").status_code == 200
    left = stack.sql("select extract(epoch from expires_at - now()) from kiln.api_tokens where id = %s", (old["id"],))
    assert 0 < float(left[0][0]) <= 600
    # the grace ends
    stack.sql("update kiln.api_tokens set expires_at = now() - interval '1 second' where id = %s", (old["id"],))
    assert_error(old_client.get("/api/v1/projects"), 401, "token_expired", None)
    assert new_client.get("/api/v1/projects").status_code == 200
    assert_error(admin.post(f"/api/v1/admin/tokens/{old['id']}/rotate", {"grace_seconds": 90000}), 400,
                 "invalid_value", "grace_seconds")


def test_last_used_at_is_recorded_at_most_once_a_minute(stack, admin):
    created = create_token(admin, name="used")
    user = stack.client(created["token"])
    user.get("/api/v1/projects")
    first = stack.sql("select last_used_at, xmin::text from kiln.api_tokens where id = %s", (created["id"],))[0]
    assert first[0] is not None
    for _ in range(3):
        user.get("/api/v1/projects")
    again = stack.sql("select last_used_at, xmin::text from kiln.api_tokens where id = %s", (created["id"],))[0]
    assert again == first, "uses within the minute write nothing"
    listed = [t for t in admin.get("/api/v1/admin/tokens").json()["items"] if t["id"] == created["id"]][0]
    assert listed["last_used_at"]


def test_tokens_of_another_tenant_are_invisible(stack, admin):
    mine = create_token(admin, name="tenant-a")
    other = stack.client(stack.token("beta", "bea", "admin"))
    assert mine["id"] not in str(other.get("/api/v1/admin/tokens").json())
    assert_error(other.post(f"/api/v1/admin/tokens/{mine['id']}/revoke"), 404, "not_found", "id")
    assert_error(other.post(f"/api/v1/admin/tokens/{mine['id']}/rotate", {}), 404, "not_found", "id")
    assert stack.client(mine["token"]).get("/api/v1/projects").status_code == 200


# page sessions ------------------------------------------------------------------------

def csrf_of(html):
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, html[:2000]
    return m.group(1)


def sign_in(stack, token, cookies=None):
    """Signs in by hand (cookies sent explicitly); returns the answer and its session cookie."""
    form = requests.get(stack.url + "/admin/login", timeout=30)
    csrf = csrf_of(form.text)
    r = requests.post(stack.url + "/admin/login", data={"csrf_token": csrf, "token": token}, allow_redirects=False,
                      cookies={"kiln_login_csrf": csrf, **(cookies or {})}, timeout=30)
    set_cookies = [v for k, v in r.raw.headers.items() if k.lower() == "set-cookie"]
    session = [c for c in set_cookies if c.startswith(SESSION + "=")]
    return r, session[0] if session else None


def attributes(set_cookie):
    name_value, *attrs = [p.strip() for p in set_cookie.split(";")]
    parsed = {}
    for a in attrs:
        key, _, value = a.partition("=")
        parsed[key.lower()] = value
    return name_value.split("=", 1), parsed


def test_the_session_cookie_is_host_prefixed_secure_httponly_strict(stack):
    r, cookie = sign_in(stack, stack.admin_token)
    assert r.status_code == 303 and cookie, r.text
    (name, value), attrs = attributes(cookie)
    assert name == SESSION and re.fullmatch(r"[A-Za-z0-9_-]{43}", value)
    assert attrs == {"path": "/", "httponly": "", "secure": "", "samesite": "Strict"}, attrs
    assert "domain" not in attrs


def test_sign_in_rotates_the_session_id_and_ends_the_previous_session(stack):
    planted = "A" * 43
    r, cookie = sign_in(stack, stack.admin_token, cookies={SESSION: planted})
    (_, first), _ = attributes(cookie)
    assert first != planted, "a cookie sent before sign-in never becomes the session"
    assert not stack.sql("select 1 from kiln.web_sessions where session_sha256 = sha256(%s::bytea)", (planted,))
    assert requests.get(stack.url + "/admin", cookies={SESSION: planted}, allow_redirects=False,
                        timeout=30).status_code == 303
    assert requests.get(stack.url + "/admin", cookies={SESSION: first}, allow_redirects=False,
                        timeout=30).status_code == 200

    r, cookie = sign_in(stack, stack.admin_token, cookies={SESSION: first})
    (_, second), _ = attributes(cookie)
    assert second != first
    assert requests.get(stack.url + "/admin", cookies={SESSION: first}, allow_redirects=False,
                        timeout=30).status_code == 303, "signing in again ends the session of the old cookie"
    assert requests.get(stack.url + "/admin", cookies={SESSION: second}, allow_redirects=False,
                        timeout=30).status_code == 200


def test_an_admin_lists_and_revokes_sessions(stack, admin):
    _, cookie = sign_in(stack, stack.token("default", "sam", "developer"))
    (_, sam), _ = attributes(cookie)
    assert requests.get(stack.url + "/admin/builds", cookies={SESSION: sam}, allow_redirects=False,
                        timeout=30).status_code == 200
    listing = assert_json(admin.get("/api/v1/admin/sessions"), 200)
    sams = [s for s in listing["items"] if s["user"] == "sam" and s["active"]]
    assert len(sams) == 1, listing
    assert sam not in str(listing) and hashlib.sha256(sam.encode()).hexdigest() not in str(listing)
    assert "csrf" not in str(listing).lower()
    revoked = assert_json(admin.post(f"/api/v1/admin/sessions/{sams[0]['id']}/revoke"), 200)
    assert revoked["revoked_at"] and revoked["active"] is False
    r = requests.get(stack.url + "/admin/builds", cookies={SESSION: sam}, allow_redirects=False, timeout=30)
    assert r.status_code == 303 and r.headers["Location"].startswith("/admin/login")
    other = stack.client(stack.token("beta", "bob", "admin"))
    assert_error(other.post(f"/api/v1/admin/sessions/{sams[0]['id']}/revoke"), 404, "not_found", "id")
    developer = stack.client(stack.token("default", "devon", "developer"))
    assert_error(developer.get("/api/v1/admin/sessions"), 403, "forbidden", None)


def test_sessions_end_when_idle_or_old(stack):
    _, cookie = sign_in(stack, stack.admin_token)
    (_, idle), _ = attributes(cookie)
    stack.sql("update kiln.web_sessions set last_seen_at = now() - interval '121 minutes' "
              "where session_sha256 = sha256(%s::bytea)", (idle,))
    assert requests.get(stack.url + "/admin", cookies={SESSION: idle}, allow_redirects=False,
                        timeout=30).status_code == 303
    _, cookie = sign_in(stack, stack.admin_token)
    (_, old), _ = attributes(cookie)
    stack.sql("update kiln.web_sessions set created_at = now() - interval '12 hours', "
              "expires_at = now() - interval '1 second' where session_sha256 = sha256(%s::bytea)", (old,))
    assert requests.get(stack.url + "/admin", cookies={SESSION: old}, allow_redirects=False,
                        timeout=30).status_code == 303


# node tokens and job tokens -------------------------------------------------------------

def agent_call(stack, token, path, body):
    return requests.post(f"{stack.url}/api/v1/agent{path}", json=body, timeout=40,
                         headers={"Authorization": f"Bearer {token}"})


CLAIM = {"labels": {"arch": "sparc"}, "concurrency": 2, "running": 0, "wait_seconds": 0}


def test_node_token_rotation_keeps_both_tokens_working_for_the_grace(stack, admin):
    node, token_file = Workers(stack).register_node("rot-node", labels={"arch": "sparc"})
    old = token_file.read_text().strip()
    assert node["credential_expires_at"]
    assert agent_call(stack, old, "/claim", CLAIM).status_code == 200
    r = admin.post(f"/api/v1/admin/build-nodes/{node['id']}/rotate-token", {"grace_seconds": 300})
    rotated = assert_json(r, 200)
    assert set(rotated) >= {"token", "expires_at", "previous_token_expires_at"}, rotated
    new = rotated["token"]
    assert new.startswith("kiln_node_") and new != old
    assert agent_call(stack, old, "/claim", CLAIM).status_code == 200, "the old token works during the grace"
    assert agent_call(stack, new, "/claim", CLAIM).status_code == 200, "and so does the new one"
    stack.sql("update kiln.build_nodes set previous_token_expires_at = now() - interval '1 second' where id = %s",
              (node["id"],))
    assert_error(agent_call(stack, old, "/claim", CLAIM), 401, "node_token_expired", None)
    assert agent_call(stack, new, "/claim", CLAIM).status_code == 200
    stack.sql("update kiln.build_nodes set token_expires_at = now() - interval '1 second' where id = %s", (node["id"],))
    assert_error(agent_call(stack, new, "/claim", CLAIM), 401, "node_token_expired", None)
    assert_error(admin.post(f"/api/v1/admin/build-nodes/{node['id']}/rotate-token", {"grace_seconds": -5}), 400,
                 "invalid_value", "grace_seconds")
    developer = stack.client(stack.token("default", "dora", "developer"))
    assert_error(developer.post(f"/api/v1/admin/build-nodes/{node['id']}/rotate-token", {}), 403, "forbidden", None)
    assert stack.sql("select count(*) from kiln.audit_log where action = 'build_node.rotate_token' and object_id = %s",
                     (node["id"],)) == [(1,)]


def test_a_job_token_reaches_its_own_execution_only(stack, admin, project):
    workers = Workers(stack)
    _, token_file = workers.register_node("job-node", labels={"arch": "ppc64le"}, concurrency=2)
    token = token_file.read_text().strip()
    workers.dispatcher("creds-jobs")
    try:
        builds = [submit_and_start(admin, script_build(params={"script": f"echo {n}"},
                                                       requirements={"arch": ["ppc64le"]})) for n in ("a", "b")]
        claimed = []

        def claim_both():
            r = agent_call(stack, token, "/claim", {**CLAIM, "labels": {"arch": "ppc64le"}, "running": len(claimed)})
            assert r.status_code == 200, r.text
            claimed.extend(r.json()["executions"])
            return len(claimed) == 2
        wait_for(claim_both, timeout=30, what="both executions to be claimed")
    finally:
        workers.stop_all()
    a, b = claimed
    assert a["job_token"] != b["job_token"]
    before = stack.sql("select status, log_bytes, lease_expires_at from kiln.build_executions where id = %s",
                       (b["execution_id"],))
    for path, body in (("renew", {"epoch": b["epoch"]}), ("logs", {"epoch": b["epoch"], "offset": 0, "data": "x\n"}),
                       ("finish", {"epoch": b["epoch"], "outcome": "succeeded", "exit_code": 0})):
        r = agent_call(stack, a["job_token"], f"/executions/{b['execution_id']}/{path}", body)
        assert_error(r, 404, "not_found", "id")
        assert b["build_id"] not in r.text
    assert stack.sql("select status, log_bytes, lease_expires_at from kiln.build_executions where id = %s",
                     (b["execution_id"],)) == before, "B is unchanged"
    for ex in (a, b):
        r = agent_call(stack, ex["job_token"], f"/executions/{ex['execution_id']}/finish",
                       {"epoch": ex["epoch"], "outcome": "succeeded", "exit_code": 0})
        assert r.status_code == 200, r.text
    assert_error(agent_call(stack, a["job_token"], f"/executions/{a['execution_id']}/renew", {"epoch": a["epoch"]}),
                 401, "job_token_expired", None)
    assert {get_build(admin, x["id"])["status"] for x in builds} == {"succeeded"}


def test_a_running_agent_picks_up_a_rotated_token_and_still_builds(stack, admin, project):
    workers = Workers(stack)
    node, token_file = workers.register_node("hup-node", labels={"arch": "arm64"}, concurrency=1)
    workers.dispatcher("creds-hup")
    agent = workers.agent("hup-node", token_file, concurrency=1, extra=["--label", "arch=arm64"])
    try:
        build = submit_and_start(admin, script_build(params={"script": "echo before-rotation"},
                                                     requirements={"arch": ["arm64"]}))
        assert wait_status(admin, build["id"], FINAL_STATUSES, timeout=60)["status"] == "succeeded"

        # Rotate without grace, then hand the agent the new token by its file: the next
        # claim is refused (401), the agent re-reads the file and carries on.
        rotated = assert_json(admin.post(f"/api/v1/admin/build-nodes/{node['id']}/rotate-token",
                                         {"grace_seconds": 0}), 200)
        token_file.write_text(rotated["token"] + "\n")
        wait_for(lambda: "node token reloaded" in agent.log_path.read_text(), timeout=30,
                 what="the agent to reload its token")
        build = submit_and_start(admin, script_build(params={"script": "echo after-rotation"},
                                                     requirements={"arch": ["arm64"]}))
        assert wait_status(admin, build["id"], FINAL_STATUSES, timeout=60)["status"] == "succeeded"

        # SIGHUP reloads too, before any refusal: rotate with a grace, write, signal.
        rotated = assert_json(admin.post(f"/api/v1/admin/build-nodes/{node['id']}/rotate-token",
                                         {"grace_seconds": 600}), 200)
        token_file.write_text(rotated["token"] + "\n")
        reloads = agent.log_path.read_text().count("node token reloaded")
        agent.send_signal(1)  # SIGHUP
        wait_for(lambda: agent.log_path.read_text().count("node token reloaded") > reloads, timeout=30,
                 what="the agent to reload on SIGHUP")
        assert agent.poll() is None, "SIGHUP does not stop the agent"
        stack.sql("update kiln.build_nodes set previous_token_expires_at = now() where id = %s", (node["id"],))
        build = submit_and_start(admin, script_build(params={"script": "echo after-hup"},
                                                     requirements={"arch": ["arm64"]}))
        assert wait_status(admin, build["id"], FINAL_STATUSES, timeout=60)["status"] == "succeeded"
        assert rotated["token"] not in agent.log_path.read_text(), "the token never reaches the log"
    finally:
        workers.stop_all()
