"""docs/openapi.json against the running API: the served document is the file, and real
answers of the main routes (successes and errors) match the schemas it documents for their
method, path and status."""
import json
import sys
from pathlib import Path

import pytest
import requests
from jsonschema import Draft202012Validator

from conftest import assert_error, assert_json, script_build

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from stack import submit_and_start  # noqa: E402

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
DOC = json.loads(DOC_PATH.read_text())
MISSING = "00000000-0000-4000-8000-000000000000"


def documented(method, path, status, content_type="application/json"):
    """The documented schema of one answer; fails when the status or type is not documented."""
    op = DOC["paths"][path][method.lower()]
    responses = op["responses"]
    assert str(status) in responses, f"{method} {path} answered {status}; documented: {sorted(responses)}"
    response = responses[str(status)]
    if "$ref" in response:
        response = DOC["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    assert content_type in response.get("content", {}), (method, path, status, content_type)
    return response["content"][content_type]["schema"]


def check(r, method, path):
    """Validates a real answer against the document; returns its JSON body."""
    content_type = r.headers["Content-Type"].split(";")[0]
    schema = documented(method, path, r.status_code, content_type)
    if content_type != "application/json":
        return r.text
    body = r.json()
    root = dict(schema)
    root["components"] = DOC["components"]
    errors = sorted(Draft202012Validator(root).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, f"{method} {path} {r.status_code}: " + "; ".join(
        f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5])
    return body


def test_the_document_is_served_publicly_and_is_the_file(stack):
    r = requests.get(stack.url + "/api/v1/openapi.json", timeout=10)
    body = assert_json(r, 200)
    assert body == DOC
    assert body["openapi"].startswith("3.")
    check(r, "GET", "/api/v1/openapi.json")
    r = requests.get(stack.url + "/api/v1/openapi.json?x=1", timeout=10)
    assert_error(r, 400, "unknown_field", "x")
    check(r, "GET", "/api/v1/openapi.json")


def test_the_document_validates_as_json_schema():
    for name, schema in DOC["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)


def test_health(stack):
    r = requests.get(stack.url + "/healthz", timeout=10)
    assert check(r, "GET", "/healthz") == {"status": "ok", "database": "ok"}


def test_projects_success_and_errors(admin, project):
    check(admin.get("/api/v1/projects"), "GET", "/api/v1/projects")
    r = admin.post("/api/v1/projects", {"name": "openapi-proj", "language": "rust"})
    assert check(r, "POST", "/api/v1/projects")["name"] == "openapi-proj"
    r = admin.post("/api/v1/projects", {"name": "bad name!"})
    assert_error(r, 400, r.json()["error"]["code"], "name")
    check(r, "POST", "/api/v1/projects")
    r = admin.post("/api/v1/projects", {"name": "openapi-proj"})
    assert r.status_code == 409, r.text
    check(r, "POST", "/api/v1/projects")


def test_builds_lifecycle_answers_match(stack, admin, project):
    r = admin.post("/api/v1/builds", script_build())
    build = check(r, "POST", "/api/v1/builds")
    assert r.status_code == 201 and build["status"] == "pending"
    check(admin.get(f"/api/v1/builds/{build['id']}"), "GET", "/api/v1/builds/{id}")
    r = admin.post(f"/api/v1/builds/{build['id']}/start")
    assert check(r, "POST", "/api/v1/builds/{id}/start")["status"] == "queued"
    check(admin.post("/api/v1/builds", script_build()), "POST", "/api/v1/builds")  # a second: two pages
    page = check(admin.get("/api/v1/builds?limit=1"), "GET", "/api/v1/builds")
    assert len(page["items"]) == 1 and page["next_cursor"]
    events = check(admin.get(f"/api/v1/builds/{build['id']}/events"), "GET", "/api/v1/builds/{id}/events")
    assert [e["to_status"] for e in events["items"]][:2] == ["pending", "queued"]
    r = admin.post(f"/api/v1/builds/{build['id']}/cancel", {"reason": "schema test"})
    assert check(r, "POST", "/api/v1/builds/{id}/cancel")["status"] == "cancelled"
    r = admin.get(f"/api/v1/builds/{build['id']}/logs")
    assert r.status_code == 200 and r.headers["X-Kiln-Build-Status"] == "cancelled"
    check(r, "GET", "/api/v1/builds/{id}/logs")


def test_build_errors_match_the_error_schema(stack, admin, project):
    r = admin.post("/api/v1/builds", script_build(spec={"cpu": 1000, "memory_gb": 1, "time_budget_min": 5}))
    assert_error(r, 400, r.json()["error"]["code"], "spec.cpu")
    check(r, "POST", "/api/v1/builds")
    r = admin.post("/api/v1/builds", script_build(project="no-such-project"))
    assert_error(r, 422, "project_not_found", "project")
    check(r, "POST", "/api/v1/builds")
    for method, path, template in (("GET", f"/api/v1/builds/{MISSING}", "/api/v1/builds/{id}"),
                                   ("POST", f"/api/v1/builds/{MISSING}/start", "/api/v1/builds/{id}/start"),
                                   ("POST", f"/api/v1/builds/{MISSING}/cancel", "/api/v1/builds/{id}/cancel"),
                                   ("GET", f"/api/v1/builds/{MISSING}/logs", "/api/v1/builds/{id}/logs")):
        r = admin.request(method, path)
        assert r.status_code == 404, (path, r.text)
        check(r, method, template)
    r = admin.get("/api/v1/builds?limit=0")
    assert r.status_code == 400
    check(r, "GET", "/api/v1/builds")


def test_authentication_errors_match(stack):
    r = requests.get(stack.url + "/api/v1/builds", timeout=10)
    assert_error(r, 401, r.json()["error"]["code"], None)
    check(r, "GET", "/api/v1/builds")
    viewer = stack.client(stack.token("acme-openapi", "viewer", "viewer"))
    r = viewer.post("/api/v1/admin/build-nodes", {"name": "nope"})
    assert r.status_code == 403, r.text
    check(r, "POST", "/api/v1/admin/build-nodes")


def test_infrastructure_answers_match(admin, project):
    r = admin.post("/api/v1/builds/infrastructure-recommendation", script_build())
    body = check(r, "POST", "/api/v1/builds/infrastructure-recommendation")
    assert "confidence" in body or "error" in body
    r = admin.post("/api/v1/builds/infrastructure-recommendation", script_build(method="cobol"))
    assert r.status_code == 400, r.text
    check(r, "POST", "/api/v1/builds/infrastructure-recommendation")
    check(admin.get("/api/v1/infrastructure/options"), "GET", "/api/v1/infrastructure/options")


def test_build_node_answers_match(admin):
    r = admin.post("/api/v1/admin/build-nodes", {"name": "openapi-node", "labels": {"arch": "amd64"}, "concurrency": 2})
    node = check(r, "POST", "/api/v1/admin/build-nodes")
    assert node["token"].startswith("kiln_node_")
    check(admin.get("/api/v1/admin/build-nodes"), "GET", "/api/v1/admin/build-nodes")
    r = admin.post(f"/api/v1/admin/build-nodes/{node['id']}/drain")
    assert check(r, "POST", "/api/v1/admin/build-nodes/{id}/drain")["status"] == "draining", r.text
    r = admin.post(f"/api/v1/admin/build-nodes/{node['id']}/resume")
    check(r, "POST", "/api/v1/admin/build-nodes/{id}/resume")
    r = admin.post(f"/api/v1/admin/build-nodes/{node['id']}/rotate-token", {"grace_seconds": 0})
    rotated = check(r, "POST", "/api/v1/admin/build-nodes/{id}/rotate-token")
    assert rotated["token"] != node["token"]
    r = admin.post("/api/v1/admin/build-nodes", {"name": "openapi-node"})
    assert r.status_code == 409, r.text
    check(r, "POST", "/api/v1/admin/build-nodes")
    r = admin.post("/api/v1/agent/claim", {})
    assert r.status_code == 401, r.text  # an API token is not a node token
    check(r, "POST", "/api/v1/agent/claim")


def test_provider_answers_match(admin):
    check(admin.get("/api/v1/admin/providers"), "GET", "/api/v1/admin/providers")
    r = admin.post("/api/v1/admin/providers", {"name": "p1", "provider_type": "eks"})
    assert_error(r, 400, "missing_field", "kubeconfig")
    check(r, "POST", "/api/v1/admin/providers")
    r = admin.get(f"/api/v1/admin/providers/{MISSING}")
    assert r.status_code == 404
    check(r, "GET", "/api/v1/admin/providers/{id}")


def test_token_answers_match(admin):
    r = admin.post("/api/v1/admin/tokens", {"name": "openapi", "expires_in_days": 3})
    token = check(r, "POST", "/api/v1/admin/tokens")
    assert r.status_code == 201 and token["token"]
    listed = check(admin.get("/api/v1/admin/tokens"), "GET", "/api/v1/admin/tokens")
    assert all("token" not in t for t in listed["items"])
    r = admin.post(f"/api/v1/admin/tokens/{token['id']}/rotate", {"grace_seconds": 0})
    rotated = check(r, "POST", "/api/v1/admin/tokens/{id}/rotate")
    r = admin.post(f"/api/v1/admin/tokens/{rotated['id']}/revoke")
    assert check(r, "POST", "/api/v1/admin/tokens/{id}/revoke")["revoked_at"]
    r = admin.post("/api/v1/admin/tokens", {"name": "x", "expires_in_days": 0})
    assert_error(r, 400, "invalid_value", "expires_in_days")
    check(r, "POST", "/api/v1/admin/tokens")


def test_metrics_and_a_page_are_documented_with_their_content_types(stack):
    r = requests.get(stack.url + "/metrics", timeout=10)
    assert r.status_code == 200
    check(r, "GET", "/metrics")
    r = requests.get(stack.url + "/admin/login", timeout=10)
    assert r.status_code == 200
    check(r, "GET", "/admin/login")


@pytest.mark.parametrize("path", sorted(p for p in DOC["paths"] if p.startswith("/api/v1/") and "{" not in p
                                        and "get" in DOC["paths"][p]))
def test_every_plain_get_route_answers_as_documented(admin, project, path):
    """Each GET without placeholders, called by the admin: its real answer fits its schema."""
    r = admin.get(path)
    check(r, "GET", path)
