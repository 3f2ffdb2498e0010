"""The audit log through the API: every mutating API route in kiln-api's route table
(--print-routes) writes an audit row in its transaction, or is on the justified exemption
list below; page forms that change state call the same SQL function as an API route (their
twin) or are exempt. GET /api/v1/admin/audit/verify checks the tenant's hash chain: valid
as written, and a row changed behind the API's back (superuser, triggers off) is named."""
import sys
import uuid
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from conftest import assert_error, assert_json  # noqa: E402
from k8s_env import K8sEnv  # noqa: E402
from route_table import (SCRIPT_BUILD, PageSession, fill, load_routes, make_tenant_objects,  # noqa: E402
                         placeholder_kinds, route_id)
from stack import fresh_dir, log_tails  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ROUTES = load_routes()
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}

# Mutating API routes that write no audit row, each with why.
EXEMPT = {
    "POST /api/v1/builds": "build submission is the hot path; kiln.builds and the append-only "
                           "kiln.build_events record who submitted what and when",
    "POST /api/v1/agent/claim": "agent protocol: recorded by build_executions and build_events",
    "POST /api/v1/agent/executions/{id}/renew": "agent protocol: a lease renewal",
    "POST /api/v1/agent/executions/{id}/logs": "agent protocol: log chunks are the record",
    "POST /api/v1/agent/executions/{id}/finish": "agent protocol: recorded by build_events",
    "POST /api/v1/builds/infrastructure-recommendation": "a computation; changes no configuration",
    "POST /api/v1/admin/pipeline-templates/{id}/render": "a preview; changes nothing",
    "POST /api/v1/admin/webhooks/{id}/test": "sends a sample delivery, recorded in webhook_deliveries; "
                                             "changes no configuration",
}
# State-changing page forms and the API route whose SQL function they call (or an exemption).
PAGE_TWINS = {
    "POST /admin/build-nodes": "POST /api/v1/admin/build-nodes",
    "POST /admin/build-nodes/{id}/deprecate": "POST /api/v1/admin/build-nodes/{id}/deprecate",
    "POST /admin/build-nodes/{id}/drain": "POST /api/v1/admin/build-nodes/{id}/drain",
    "POST /admin/build-nodes/{id}/resume": "POST /api/v1/admin/build-nodes/{id}/resume",
    "POST /admin/builds/{id}/cancel": "POST /api/v1/builds/{id}/cancel",
    "POST /admin/builds/{id}/start": "POST /api/v1/builds/{id}/start",
    "POST /admin/pipeline-templates": "POST /api/v1/admin/pipeline-templates",
    "POST /admin/pipeline-templates/{id}/default": "POST /api/v1/admin/pipeline-templates/{id}/default",
    "POST /admin/pipeline-templates/{id}/render": "POST /api/v1/admin/pipeline-templates/{id}/render",
    "POST /admin/providers": "POST /api/v1/admin/providers",
    "POST /admin/providers/{id}": "PATCH /api/v1/admin/providers/{id}",
    "POST /admin/providers/{id}/delete": "DELETE /api/v1/admin/providers/{id}",
    "POST /admin/providers/{id}/test": "POST /api/v1/admin/providers/{id}/test",
    "POST /builds/new": "POST /api/v1/builds",
}
PAGE_EXEMPT = {
    "POST /admin/login": "sign-in: kiln_api.session_start audits session.start",
    "POST /admin/logout": "sign-out: kiln_api.session_end audits session.end",
}

API_MUTATING = [r for r in ROUTES if r["method"] in MUTATING and r["auth"] != "page-session"]
AUDITED = [r for r in API_MUTATING if route_id(r) not in EXEMPT]


@pytest.fixture(scope="module")
def env():
    e = K8sEnv(fresh_dir("audit"))
    e.dispatch_proc = e.dispatcher("audit")
    # The tenant's admin may also use the operator's permissions (scheduling:tenant...), so
    # every route can be called with one token.
    e.stack.sql("insert into kiln.role_permissions (role_name, permission) "
                "select 'admin', name from kiln.permissions on conflict do nothing")
    yield e
    e.stop()


@pytest.fixture(scope="module")
def world(env):
    objects, _, page = make_tenant_objects(env, env.admin, env.stack.admin_token, "audit")
    user_id, tenant_id = env.stack.sql("select user_id, tenant_id from kiln.api_tokens where token_sha256 = "
                                       "sha256(convert_to(%s, 'UTF8'))", (env.stack.admin_token,))[0]
    return {"objects": objects, "page": page, "user_id": user_id, "tenant_id": tenant_id}


@pytest.fixture(autouse=True)
def dump_logs_on_failure(request, env):
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        print(log_tails(env.stack, ["kiln-api", "nginx-error", "dispatch"]))


def uniq(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def created(r):
    assert r.status_code in (200, 201), r.text
    return r.json()


def fresh(env, world, kind):
    """A new object of a kind, for routes that change or remove their target."""
    admin = env.admin
    project = world["objects"]["project"]
    if kind == "build":
        return created(admin.post("/api/v1/builds", dict(SCRIPT_BUILD, project=project)))["id"]
    if kind == "build_node":
        return created(admin.post("/api/v1/admin/build-nodes", {"name": uniq("node"), "labels": {},
                                                                "concurrency": 1}))["id"]
    if kind == "provider":
        return env.add_provider(uniq("cluster"))["id"]
    if kind == "schedule":
        return created(admin.post("/api/v1/schedules", {"name": uniq("sched"), "cron": "0 3 * * *",
                                                        "template": dict(SCRIPT_BUILD, project=project)}))["id"]
    if kind == "webhook":
        return created(admin.post("/api/v1/admin/webhooks", {"name": uniq("hook"), "url": "http://127.0.0.1:9/h",
                                                             "events": ["build.failed"]}))["id"]
    if kind == "token":
        return created(admin.post("/api/v1/admin/tokens", {"name": uniq("token")}))["id"]
    if kind == "session":
        PageSession(env.stack.url, env.stack.admin_token)
        items = created(admin.get("/api/v1/admin/sessions"))["items"]
        return items[0]["id"]
    return world["objects"][kind]


def body_for(env, rid):
    if rid == "POST /api/v1/admin/build-nodes":
        return {"name": uniq("node"), "labels": {}, "concurrency": 1}
    if rid == "POST /api/v1/admin/providers":
        return {"name": uniq("cluster"), "provider_type": "kubernetes",
                "kubeconfig": env.cluster.kubeconfig({"token": env.token})}
    if rid == "PATCH /api/v1/admin/providers/{id}":
        return {"description": "changed by the audit test"}
    if rid == "POST /api/v1/admin/pipeline-templates":
        text = (ROOT / "pipelines" / "tekton" / "docker.yaml").read_text()
        return {"template_yaml": text.replace("version: 1.0.0", f"version: 1.{uuid.uuid4().int % 1000}.0")}
    if rid == "POST /api/v1/projects":
        return {"name": uniq("proj")}
    if rid == "POST /api/v1/schedules":
        return {"name": uniq("sched"), "cron": "@daily", "template": dict(SCRIPT_BUILD, project="audit-web")}
    if rid == "POST /api/v1/admin/webhooks":
        return {"name": uniq("hook"), "url": "http://127.0.0.1:9/h", "events": ["build.failed"]}
    if rid == "POST /api/v1/admin/tokens":
        return {"name": uniq("token")}
    if rid.startswith("PUT /api/v1/admin/scheduling/"):
        return {"max_running": 5}
    return {}


def audit_count(env, world):
    return env.stack.sql("select count(*) from kiln.audit_log where actor_user_id = %s", (world["user_id"],))[0][0]


def test_every_mutating_route_is_audited_or_exempt_and_every_exemption_exists():
    ids = {route_id(r) for r in API_MUTATING}
    assert len(AUDITED) >= 25, len(AUDITED)
    stale = set(EXEMPT) - ids
    assert not stale, f"exemptions for routes that no longer exist: {stale}"


def test_every_state_changing_page_form_has_an_audited_twin_or_is_exempt():
    api = {route_id(r) for r in ROUTES}
    for r in ROUTES:
        rid = route_id(r)
        if r["auth"] != "page-session" or r["method"] not in MUTATING:
            continue
        assert rid in PAGE_TWINS or rid in PAGE_EXEMPT, f"{rid}: name the API route it shares its SQL with"
        if rid in PAGE_TWINS:
            assert PAGE_TWINS[rid] in api, (rid, PAGE_TWINS[rid])


@pytest.mark.parametrize("route", AUDITED, ids=route_id)
def test_a_mutating_route_writes_an_audit_row(env, world, route):
    rid = route_id(route)
    objects = dict(world["objects"])
    for _, kind in placeholder_kinds(route["pattern"]):
        objects[kind] = fresh(env, world, kind)
    path = fill(route["pattern"], objects)
    before = audit_count(env, world)
    r = env.admin.request(route["method"], path, json_body=body_for(env, rid))
    assert r.status_code in (200, 201, 202), (rid, r.status_code, r.text[:500])
    assert audit_count(env, world) > before, f"{rid} changed state without an audit row"


def test_the_chain_verifies_names_a_tampered_row_and_is_per_tenant(env, world):
    r = env.admin.get("/api/v1/admin/audit/verify")
    body = assert_json(r, 200)
    assert body["valid"] is True, body
    assert [c["tenant_id"] for c in body["chains"]] == [str(world["tenant_id"])], body
    assert body["chains"][0]["rows"] >= 5

    row_id = env.stack.sql("select id from kiln.audit_log where tenant_id = %s order by chain_seq limit 1 offset 2",
                           (world["tenant_id"],))[0][0]
    tamper = ("set local session_replication_role = replica; "
              "update kiln.audit_log set detail = detail || '{\"tampered\": true}' where id = %s")
    env.stack.sql(tamper, (row_id,))
    body = assert_json(env.admin.get("/api/v1/admin/audit/verify"), 200)
    assert body["valid"] is False
    assert body["chains"][0]["first_broken_id"] == row_id, body
    assert "changed" in body["chains"][0]["reason"]

    # Another tenant's admin sees only its own chain, which is intact.
    other = env.stack.client(env.stack.token("audit-other", "olga", "admin"))
    body = assert_json(other.get("/api/v1/admin/audit/verify"), 200)
    assert body["valid"] is True and len(body["chains"]) == 1, body
    assert body["chains"][0]["tenant_id"] != str(world["tenant_id"])
    listed = assert_json(other.get("/api/v1/admin/audit"), 200)
    assert all(str(world["tenant_id"]) not in str(i) for i in listed["items"])

    env.stack.sql("set local session_replication_role = replica; "
                  "update kiln.audit_log set detail = detail - 'tampered' where id = %s", (row_id,))
    assert assert_json(env.admin.get("/api/v1/admin/audit/verify"), 200)["valid"] is True


def test_the_audit_api_needs_admin(env):
    viewer = env.stack.client(env.stack.token("default", "vera", "viewer"))
    assert_error(viewer.get("/api/v1/admin/audit/verify"), 403, "forbidden", None)
    assert_error(viewer.get("/api/v1/admin/audit"), 403, "forbidden", None)
    assert requests.get(env.stack.url + "/api/v1/admin/audit/verify", timeout=30).status_code == 401


def test_the_audit_list_shows_the_newest_rows_first(env, world):
    items = assert_json(env.admin.get("/api/v1/admin/audit?limit=5"), 200)["items"]
    assert len(items) == 5
    assert [i["id"] for i in items] == sorted((i["id"] for i in items), reverse=True)
