"""Black-box tests of authentication (401), permissions by role (403), tenant isolation
(row-level security seen through the API) and how tokens are stored."""
import hashlib
import re

import pytest

from conftest import REQUEST_ID_RE, assert_json, script_build  # noqa: F401
from conftest import assert_error as assert_error_shape


def assert_error(r, status, code, field, message=None):
    """These tests pin the whole message."""
    return assert_error_shape(r, status, code, field, exact=message)

UNKNOWN_TOKEN_MESSAGE = "the API token is unknown, expired or revoked"
NO_TOKEN_MESSAGE = "send an API token as Authorization: Bearer <token>"
REVOKED_TOKEN_MESSAGE = "the API token was revoked"
EXPIRED_TOKEN_MESSAGE = "the API token has expired"


# helpers -------------------------------------------------------------------------------



def assert_unauthorized(r, message, code="unauthorized"):
    assert_error(r, 401, code, None, message)
    assert r.headers["WWW-Authenticate"].startswith("Bearer"), r.headers
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="kiln"'


def sha256_hex(token):
    return hashlib.sha256(token.encode()).hexdigest()


def db_state(stack):
    return stack.sql(
        "select (select count(*) from kiln.builds),"
        "       (select count(*) from kiln.build_events),"
        "       (select count(*) from kiln.projects),"
        "       (select coalesce(string_agg(id::text || status::text || updated_at::text, ','"
        "                                   order by id), '') from kiln.builds)")[0]


def submit(client, **overrides):
    r = client.post("/api/v1/builds", script_build(**overrides))
    assert r.status_code == 201, r.text
    return r.json()


def raw_request(stack, method, path, authorization=None, body=None):
    """A request whose Authorization header is sent exactly as given (or not at all)."""
    client = stack.client()
    headers = {} if authorization is None else {"Authorization": authorization}
    return client.request(method, path, json_body=body, headers=headers)


# 401 -----------------------------------------------------------------------------------

ENDPOINTS = [("GET", "/api/v1/builds", None), ("POST", "/api/v1/builds", "build"),
             ("GET", "/api/v1/projects", None), ("POST", "/api/v1/projects", {"name": "x401"})]


@pytest.mark.parametrize("method, path, body", ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
@pytest.mark.parametrize("authorization, message", [
    (None, NO_TOKEN_MESSAGE),
    ("Basic xyz", NO_TOKEN_MESSAGE),
    ("Bearer", NO_TOKEN_MESSAGE),
    ("Bearer two words", NO_TOKEN_MESSAGE),
    ("Token kiln_abc", NO_TOKEN_MESSAGE),
    ("Bearer kiln_not-a-real-token", UNKNOWN_TOKEN_MESSAGE),
], ids=["no-header", "basic", "bearer-alone", "two-words", "other-scheme", "unknown-token"])
def test_a_request_without_a_valid_token_is_a_401_and_changes_nothing(stack, project, method, path, body,
                                                                      authorization, message):
    before = db_state(stack)
    if body == "build":
        body = script_build()
    r = raw_request(stack, method, path, authorization, body)
    assert_unauthorized(r, message)
    assert db_state(stack) == before


def test_the_bearer_scheme_is_case_insensitive(stack, project):
    r = raw_request(stack, "GET", "/api/v1/builds", f"bearer {stack.admin_token}")
    assert_json(r, 200)


def test_a_revoked_token_is_a_401(stack, project):
    token = stack.token("default", "rita", "admin")
    client = stack.client(token)
    assert client.get("/api/v1/builds").status_code == 200
    stack.sql("update kiln.api_tokens set revoked_at = now() where token_sha256 = decode(%s, 'hex')",
              (sha256_hex(token),))
    assert_unauthorized(client.get("/api/v1/builds"), REVOKED_TOKEN_MESSAGE, "token_revoked")
    before = db_state(stack)
    assert_unauthorized(client.post("/api/v1/builds", script_build()), REVOKED_TOKEN_MESSAGE, "token_revoked")
    assert db_state(stack) == before


def test_an_expired_token_is_a_401_and_one_expiring_later_still_works(stack, project):
    expired = stack.token("default", "eve", "admin")
    later = stack.token("default", "eve", "admin")
    stack.sql("update kiln.api_tokens set expires_at = now() - interval '1 second'"
              " where token_sha256 = decode(%s, 'hex')", (sha256_hex(expired),))
    stack.sql("update kiln.api_tokens set expires_at = now() + interval '1 hour'"
              " where token_sha256 = decode(%s, 'hex')", (sha256_hex(later),))
    assert_unauthorized(stack.client(expired).get("/api/v1/builds"), EXPIRED_TOKEN_MESSAGE, "token_expired")
    assert_json(stack.client(later).get("/api/v1/builds"), 200)


def test_public_endpoints_need_no_token(stack):
    assert stack.client().get("/healthz").status_code == 200
    assert stack.client().get("/metrics").status_code == 200


# 403 -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def viewer(stack):
    return stack.client(stack.token("default", "vera", "viewer"))


@pytest.fixture(scope="module")
def developer(stack):
    return stack.client(stack.token("default", "dave", "developer"))


@pytest.fixture(scope="module")
def pending_build(admin, project):
    return submit(admin)


VIEWER_WRITES = [
    ("POST", "/api/v1/builds", "build", "build:create"),
    ("POST", "/api/v1/builds/{id}/start", None, "build:create"),
    ("POST", "/api/v1/builds/{id}/cancel", None, "build:cancel"),
    ("POST", "/api/v1/builds/{id}/cancel", {"reason": "viewer"}, "build:cancel"),
    ("POST", "/api/v1/projects", {"name": "viewer-project"}, "build:create"),
]


@pytest.mark.parametrize("method, path, body, permission", VIEWER_WRITES,
                         ids=["submit", "start", "cancel", "cancel-with-reason", "create-project"])
def test_a_viewer_cannot_write_and_nothing_changes(stack, viewer, pending_build, method, path, body,
                                                   permission):
    before = db_state(stack)
    if body == "build":
        body = script_build()
    r = viewer.request(method, path.format(id=pending_build["id"]), json_body=body)
    assert_error(r, 403, "forbidden", None, f"this needs the {permission} permission")
    assert db_state(stack) == before
    assert stack.sql("select status::text from kiln.builds where id = %s",
                     (pending_build["id"],)) == [("pending",)]


def test_a_viewer_can_read_builds_events_and_projects(viewer, admin, pending_build):
    bid = pending_build["id"]
    assert assert_json(viewer.get(f"/api/v1/builds/{bid}"), 200) == admin.get(f"/api/v1/builds/{bid}").json()
    listed = assert_json(viewer.get("/api/v1/builds?limit=200"), 200)
    assert bid in [b["id"] for b in listed["items"]]
    events = assert_json(viewer.get(f"/api/v1/builds/{bid}/events"), 200)
    assert [e["to_status"] for e in events["items"]] == ["pending"]
    projects = assert_json(viewer.get("/api/v1/projects"), 200)
    assert "web" in [p["name"] for p in projects["items"]]


def test_a_developer_can_submit_start_and_cancel(developer, project):
    build = submit(developer)
    assert build["status"] == "pending"
    assert assert_json(developer.post(f"/api/v1/builds/{build['id']}/start"), 200)["status"] == "queued"
    assert assert_json(developer.post(f"/api/v1/builds/{build['id']}/cancel"), 200)["status"] == "cancelled"


def test_a_developer_cannot_force_an_infrastructure(stack, developer, project):
    before = db_state(stack)
    r = developer.post("/api/v1/builds", script_build(infrastructure_type="kubernetes",
                                                      force_infrastructure=True))
    assert_error(r, 403, "forbidden", "force_infrastructure",
                 "force_infrastructure needs the infrastructure:manage permission")
    assert db_state(stack) == before


def test_a_developer_may_pick_build_nodes(developer, project):
    build = submit(developer, infrastructure_type="build_nodes")
    assert (build["infrastructure_type"], build["force_infrastructure"], build["infrastructure_reason"]) == (
        "build_nodes", False, None)


def test_a_viewer_choosing_an_infrastructure_is_refused_before_anything_else(stack, viewer, project):
    before = db_state(stack)
    r = viewer.post("/api/v1/builds", script_build(infrastructure_type="build_nodes"))
    assert_error(r, 403, "forbidden", None, "this needs the build:create permission")
    assert db_state(stack) == before


def test_an_admin_may_force_an_infrastructure(admin, project, stack):
    build = submit(admin, infrastructure_type="kubernetes", force_infrastructure=True)
    assert (build["infrastructure_type"], build["force_infrastructure"], build["infrastructure_reason"]) == (
        "kubernetes", True, "Admin override")
    assert stack.sql("select infrastructure_type::text, force_infrastructure, infrastructure_reason"
                     " from kiln.build_configs where build_id = %s", (build["id"],)) == [
        ("kubernetes", True, "Admin override")]


# tenant isolation ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def beta(stack):
    return stack.client(stack.token("beta", "bob", "admin"))


@pytest.fixture(scope="module")
def beta_project(beta, project):
    r = beta.post("/api/v1/projects", {"name": "web", "language": "python"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["name"] == "web" and created["id"] != project["id"]
    return created


@pytest.fixture(scope="module")
def default_builds(admin, project):
    pending = submit(admin)
    queued = submit(admin)
    assert admin.post(f"/api/v1/builds/{queued['id']}/start").status_code == 200
    return {"pending": pending["id"], "queued": queued["id"]}


@pytest.fixture(scope="module")
def beta_builds(beta, beta_project):
    return [submit(beta)["id"] for _ in range(2)]


def default_rows(stack, ids):
    return stack.sql(
        "select b.id::text, b.status::text, b.updated_at::text, b.failure_reason,"
        "       (select count(*) from kiln.build_events e where e.build_id = b.id)"
        "  from kiln.builds b where b.id = any(%s::uuid[]) order by b.id", (list(ids),))


@pytest.mark.parametrize("method, suffix", [
    ("GET", ""), ("POST", "/start"), ("POST", "/cancel"), ("GET", "/events")])
def test_another_tenants_build_is_a_404_and_is_left_untouched(stack, beta, beta_project, default_builds,
                                                              method, suffix):
    ids = list(default_builds.values())
    before = default_rows(stack, ids)
    for bid in ids:
        r = beta.request(method, f"/api/v1/builds/{bid}{suffix}")
        assert_error(r, 404, "not_found", "id", f"build {bid} not found")
    r = beta.request(method, f"/api/v1/builds/{default_builds['pending']}{suffix}")
    assert_error(r, 404, "not_found", "id")
    assert default_rows(stack, ids) == before
    assert {row[1] for row in before} == {"pending", "queued"}


def test_a_cancel_with_a_reason_by_another_tenant_changes_nothing(stack, beta, default_builds):
    ids = list(default_builds.values())
    before = default_rows(stack, ids)
    r = beta.post(f"/api/v1/builds/{default_builds['queued']}/cancel", {"reason": "hostile"})
    assert_error(r, 404, "not_found", "id")
    assert default_rows(stack, ids) == before
    assert stack.sql("select count(*) from kiln.builds where failure_reason = 'hostile'") == [(0,)]


def test_lists_show_each_tenant_only_its_own_builds(admin, beta, default_builds, beta_builds):
    beta_items = assert_json(beta.get("/api/v1/builds?limit=200"), 200)["items"]
    assert sorted(b["id"] for b in beta_items) == sorted(beta_builds)
    assert {b["project"] for b in beta_items} == {"web"}
    default_ids = {b["id"] for b in admin.get("/api/v1/builds?limit=200").json()["items"]}
    assert set(default_builds.values()) <= default_ids
    assert not default_ids & set(beta_builds)
    # Same project name in both tenants: the filter resolves to the caller's own project.
    beta_web = assert_json(beta.get("/api/v1/builds?project=web&limit=200"), 200)["items"]
    assert sorted(b["id"] for b in beta_web) == sorted(beta_builds)
    default_web = {b["id"] for b in admin.get("/api/v1/builds?project=web&limit=200").json()["items"]}
    assert not default_web & set(beta_builds)
    # Status filters cannot reach across either.
    beta_queued = assert_json(beta.get("/api/v1/builds?status=queued"), 200)["items"]
    assert default_builds["queued"] not in [b["id"] for b in beta_queued]


def test_another_tenants_builds_are_a_404_for_the_default_tenant_too(admin, beta_builds):
    for bid in beta_builds:
        assert_error(admin.get(f"/api/v1/builds/{bid}"), 404, "not_found", "id")
        assert_error(admin.get(f"/api/v1/builds/{bid}/events"), 404, "not_found", "id")


def test_a_tenants_project_list_holds_only_its_projects(beta, admin, beta_project):
    items = assert_json(beta.get("/api/v1/projects"), 200)["items"]
    assert items == [beta_project]
    default_ids = {p["id"] for p in admin.get("/api/v1/projects").json()["items"]}
    assert beta_project["id"] not in default_ids


def test_a_tenant_cannot_submit_to_a_project_only_another_tenant_has(stack, admin, beta, beta_project):
    r = admin.post("/api/v1/projects", {"name": "default-only"})
    assert r.status_code == 201, r.text
    before = db_state(stack)
    r = beta.post("/api/v1/builds", script_build(project="default-only"))
    assert_error(r, 422, "project_not_found", "project",
                 "project default-only does not exist; create it with POST /api/v1/projects")
    assert db_state(stack) == before


def test_a_build_submitted_by_beta_lands_in_betas_project_and_tenant(stack, beta, beta_project):
    build = submit(beta)
    assert build["project_id"] == beta_project["id"]
    assert stack.sql("select t.name, b.project_id::text from kiln.builds b join kiln.tenants t"
                     " on t.id = b.tenant_id where b.id = %s", (build["id"],)) == [("beta", beta_project["id"])]


def test_a_tenant_may_reuse_a_project_name_but_not_twice_in_itself(beta, beta_project):
    assert_error(beta.post("/api/v1/projects", {"name": "web"}), 409, "conflict", "name",
                 "project web already exists")


# token storage -------------------------------------------------------------------------

def test_tokens_are_stored_only_as_their_sha256(stack):
    token = stack.token("default", "hash-check", "viewer")
    assert stack.client(token).get("/api/v1/builds").status_code == 200
    rows = stack.sql("select encode(token_sha256, 'hex') from kiln.api_tokens"
                     " where token_sha256 = decode(%s, 'hex')", (sha256_hex(token),))
    assert rows == [(sha256_hex(token),)]
    # No row of any table in the kiln schema holds the token text.
    tables = [r[0] for r in stack.sql(
        "select table_name from information_schema.tables"
        " where table_schema = 'kiln' and table_type = 'BASE TABLE'")]
    assert "api_tokens" in tables
    for table in tables:
        hits = stack.sql(f"select count(*) from kiln.{table} t where t::text like %s", (f"%{token}%",))
        assert hits == [(0,)], table
    # Nor do the logs.
    for log in (stack.var / "log").iterdir():
        assert token not in log.read_text(errors="replace"), log


def test_last_used_at_is_set_by_a_request(stack):
    token = stack.token("default", "last-used", "viewer")
    where = "where token_sha256 = decode(%s, 'hex')"
    assert stack.sql(f"select last_used_at from kiln.api_tokens {where}", (sha256_hex(token),)) == [(None,)]
    assert stack.client(token).get("/api/v1/builds").status_code == 200
    (used, fresh), = stack.sql(
        f"select last_used_at, last_used_at > now() - interval '1 minute' from kiln.api_tokens {where}",
        (sha256_hex(token),))
    assert used is not None and fresh
