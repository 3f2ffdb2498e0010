"""Isolation on every route, generated from kiln-api's own route table (--print-routes):
every route names a permission (public only from the list below), no credential gets 401
(pages: the redirect to the sign-in form), and for every route with a placeholder, tenant
B's credential on tenant A's object gets 404 with none of A's identifiers in the body and
A's rows unchanged. Tenant A holds an object of every kind a placeholder can name; a route
whose placeholder kind the fixture cannot fill fails here, so new routes cannot escape."""
import sys
import uuid
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from k8s_env import K8sEnv  # noqa: E402
from route_table import (SHARED_KINDS, PageSession, fill, load_routes, make_tenant_objects,  # noqa: E402
                         placeholder_kinds, route_id)
from stack import fresh_dir, log_tails  # noqa: E402

ROUTES = load_routes()

# Routes anyone may call, each with why.
PUBLIC = {
    "GET /healthz": "liveness probe for load balancers; says nothing but ok",
    "GET /metrics": "Prometheus scrape; nginx allows it from loopback only",
    "GET /admin/login": "the sign-in form",
    "POST /admin/login": "signing in (rate-limited by nginx)",
    "GET /api/v1/openapi.json": "the API description, no data",
}
# Routes a build node calls with its node token (the kiln_api.agent_* function checks it).
NODE_TOKEN_ROUTES = {r for r in map(route_id, ROUTES) if r.split(" ", 1)[1].startswith("/api/v1/agent/")}

BODIES = {
    "PATCH /api/v1/admin/providers/{id}": {"description": "isolation"},
    "POST /api/v1/admin/build-nodes/{id}/deprecate": {},
    "POST /api/v1/admin/pipeline-templates/{id}/render": {"build": {"project": "x", "method": "script"}},
    "PUT /api/v1/admin/scheduling/projects/{name}": {"max_running": 1},
    "POST /api/v1/agent/executions/{id}/renew": {"epoch": 1},
    "POST /api/v1/agent/executions/{id}/logs": {"epoch": 1, "offset": 0, "data": "x"},
    "POST /api/v1/agent/executions/{id}/finish": {"epoch": 1, "status": "succeeded", "exit_code": 0},
}

TENANT_TABLES = ["projects", "builds", "build_executions", "build_nodes", "providers", "build_schedules",
                 "webhooks", "api_tokens", "web_sessions"]


@pytest.fixture(scope="module")
def env():
    e = K8sEnv(fresh_dir("isolation"))
    e.dispatch_proc = e.dispatcher("isolation")
    yield e
    e.stop()


@pytest.fixture(scope="module")
def world(env):
    stack = env.stack
    a_objects, a_idents, a_page = make_tenant_objects(env, env.admin, stack.admin_token, "tenant-a")
    b_token = stack.token("tenant-b", "bob", "admin")
    b_admin = stack.client(b_token)
    b_node = b_admin.post("/api/v1/admin/build-nodes", {"name": "tenant-b-node", "labels": {"arch": "s390x"},
                                                        "concurrency": 1})
    assert b_node.status_code == 201, b_node.text
    a_tenant = stack.sql("select tenant_id from kiln.projects where name = 'tenant-a-web'")[0][0]
    # No background changes from here on (lease reaping, offers), so A's rows stay still
    # unless a request changes them.
    env.workers.stop_all()
    return {"a": a_objects, "a_idents": [str(i) for i in a_idents if i], "a_page": a_page,
            "a_tenant": a_tenant, "b_token": b_token, "b_admin": b_admin,
            "b_node_token": b_node.json()["token"], "b_page": PageSession(stack.url, b_token)}


@pytest.fixture(autouse=True)
def dump_logs_on_failure(request, env):
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        print(log_tails(env.stack, ["kiln-api", "nginx-error", "dispatch"]))


def tenant_state(stack, tenant):
    """A digest of every row of tenant A's tables (superuser, so RLS does not hide any)."""
    return {t: stack.sql(f"select coalesce(md5(string_agg(x::text, ',' order by x::text)), '') "
                         f"from kiln.{t} x where tenant_id = %s", (tenant,))[0][0] for t in TENANT_TABLES}


def is_page(route):
    return route["auth"] == "page-session"


def call(stack, route, path, *, bearer=None, page=None):
    rid = route_id(route)
    if page is not None:
        return page.request(route["method"], path, data={})
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return requests.request(route["method"], stack.url + path, json=BODIES.get(rid, {}), headers=headers,
                            timeout=40, allow_redirects=False)


# the table itself ------------------------------------------------------------------------

def test_the_route_table_is_large_and_every_route_names_a_permission():
    assert len(ROUTES) >= 60, len(ROUTES)
    assert len({route_id(r) for r in ROUTES}) == len(ROUTES), "a route is registered twice"
    for r in ROUTES:
        assert r["permission"], f"{route_id(r)} names no permission"
        assert r["auth"] in ("bearer", "page-session", "bearer-or-page-session"), r


def test_a_public_route_is_on_the_public_list_and_only_those_are_public():
    public = {route_id(r) for r in ROUTES if r["permission"] == "public"}
    unlisted = public - set(PUBLIC)
    assert not unlisted, f"public routes not on the justified public list: {sorted(unlisted)}"


def test_node_token_routes_are_the_agent_protocol_and_nothing_else():
    node = {route_id(r) for r in ROUTES if r["permission"] == "node-token"}
    assert node == NODE_TOKEN_ROUTES, node ^ NODE_TOKEN_ROUTES


def test_every_other_permission_is_a_real_permission(env):
    known = {row[0] for row in env.stack.sql("select name from kiln.permissions")}
    known |= {"public", "node-token", "signed-in"}
    unknown = {route_id(r): r["permission"] for r in ROUTES if r["permission"] not in known}
    assert not unknown, unknown


def test_every_placeholder_has_a_fixture_kind():
    missing = {route_id(r): [n for n, k in placeholder_kinds(r["pattern"]) if k is None] for r in ROUTES}
    missing = {k: v for k, v in missing.items() if v}
    assert not missing, f"routes whose placeholder the isolation fixture cannot fill: {missing}"


# no credential -------------------------------------------------------------------------

PROTECTED = [r for r in ROUTES if route_id(r) not in PUBLIC]


@pytest.mark.parametrize("route", [r for r in ROUTES if route_id(r) in PUBLIC], ids=route_id)
def test_public_routes_answer_without_a_credential(env, route):
    r = requests.request(route["method"], env.stack.url + route["pattern"], timeout=30, allow_redirects=False,
                         data={} if route["method"] == "POST" else None)
    assert r.status_code not in (401, 404, 405) and r.status_code < 500, (route_id(route), r.status_code)


@pytest.mark.parametrize("route", PROTECTED, ids=route_id)
def test_no_credential_is_refused(env, world, route):
    stack = env.stack
    rid = route_id(route)
    before = tenant_state(stack, world["a_tenant"])
    path = fill(route["pattern"], world["a"])
    r = call(stack, route, path)
    if is_page(route):
        if route["method"] == "GET":
            assert r.status_code == 303, (rid, r.status_code, r.text[:300])
            assert r.headers["Location"].startswith("/admin/login"), r.headers
        else:
            assert r.status_code in (303, 401, 403), (rid, r.status_code, r.text[:300])
    else:
        assert r.status_code == 401, (rid, r.status_code, r.text[:300])
        assert r.json()["error"]["code"] == "unauthorized", r.text
    for ident in world["a_idents"]:
        assert ident in path or ident not in r.text, (rid, ident)
    assert tenant_state(stack, world["a_tenant"]) == before, f"{rid} without a credential changed tenant A's rows"


# tenant B on tenant A's objects --------------------------------------------------------

CROSS = [r for r in ROUTES if placeholder_kinds(r["pattern"])]


def test_the_cross_tenant_cases_cover_every_kind():
    kinds = {k for r in CROSS for _, k in placeholder_kinds(r["pattern"])}
    assert kinds >= {"build", "build_node", "provider", "schedule", "webhook", "token", "session", "execution",
                     "project"}, kinds


@pytest.mark.parametrize("route", CROSS, ids=route_id)
def test_tenant_b_gets_404_on_tenant_a_objects(env, world, route):
    stack = env.stack
    rid = route_id(route)
    kinds = [k for _, k in placeholder_kinds(route["pattern"])]
    shared = [k for k in kinds if k in SHARED_KINDS]
    path = fill(route["pattern"], world["a"])
    before = tenant_state(stack, world["a_tenant"])
    if route["permission"] == "node-token":
        r = call(stack, route, path, bearer=world["b_node_token"])
    elif is_page(route):
        r = call(stack, route, path, page=world["b_page"])
    else:
        r = call(stack, route, path, bearer=world["b_token"])
    if shared:
        # Shared objects are visible to every tenant by design; B still must not see A's data.
        assert r.status_code < 500, (rid, r.status_code, r.text[:300])
    elif route["permission"] == "node-token":
        # The execution routes take the execution's own job token: another node's credential
        # is refused before any lookup (401), or the execution is not found (404).
        assert r.status_code in (401, 404), (rid, r.status_code, r.text[:500])
    else:
        assert r.status_code == 404, (rid, r.status_code, r.text[:500])
    # The answer may echo the id B sent, nothing else of A's.
    for ident in world["a_idents"]:
        assert ident in path or ident not in r.text, (rid, ident)
    assert tenant_state(stack, world["a_tenant"]) == before, f"{rid} by tenant B changed tenant A's rows"


def test_a_random_id_is_404_too_and_tenant_a_still_reaches_its_objects(env, world):
    b = world["b_admin"]
    assert b.get(f"/api/v1/builds/{uuid.uuid4()}").status_code == 404
    a = env.admin
    assert a.get(f"/api/v1/builds/{world['a']['build']}").status_code == 200
    assert a.get(f"/api/v1/admin/providers/{world['a']['provider']}").status_code == 200
    assert a.get(f"/api/v1/schedules/{world['a']['schedule']}").status_code == 200
