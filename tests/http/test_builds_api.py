"""Black-box tests of the builds and projects API through nginx: shapes, lifecycle,
validation (every bad input is a 400 naming the field and changes nothing), routing
errors, listing and pagination, /healthz and /metrics."""
import http.client
import json
import re
import uuid
from datetime import datetime
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import REQUEST_ID_RE, assert_error, assert_json, script_build

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

DESIGN_BODY = {"project": "web", "method": "script", "params": {"script": "make test"},
               "spec": {"cpu": 1, "memory_gb": 1, "time_budget_min": 10},
               "infrastructure_type": "auto"}

# Requirements of a build that asked for none, in a project that asks for none.
NO_REQUIREMENTS = {"gpu": False, "high_memory": False, "airgapped": False, "legacy_system": False}


# helpers -------------------------------------------------------------------------------



def db_state(stack):
    """Everything a bad request might have touched."""
    return stack.sql(
        "select (select count(*) from kiln.builds),"
        "       (select count(*) from kiln.build_configs),"
        "       (select count(*) from kiln.build_events),"
        "       (select count(*) from kiln.projects),"
        "       (select coalesce(string_agg(id::text || status::text || updated_at::text, ','"
        "                                   order by id), '') from kiln.builds)")[0]


def submit(admin, **overrides):
    r = admin.post("/api/v1/builds", script_build(**overrides))
    assert r.status_code == 201, r.text
    return r.json()


def make_project(admin, name, **extra):
    r = admin.post("/api/v1/projects", {"name": name, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def timestamp(text):
    """An API timestamp ("2026-01-02T03:04:05.12+00:00", any number of fraction digits)."""
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?([+-]\d\d:\d\d)$", text)
    assert m, text
    return datetime.fromisoformat(f"{m[1]}.{(m[2] or '').ljust(6, '0')}{m[3]}")


def status_of(stack, build_id):
    return stack.sql("select status::text from kiln.builds where id = %s", (build_id,))[0][0]


# submit and show -----------------------------------------------------------------------

def test_the_design_example_body_creates_a_pending_build_that_echoes_its_config(admin, project, stack):
    before = stack.sql("select count(*) from kiln.builds")[0][0]
    r = admin.post("/api/v1/builds", DESIGN_BODY)
    build = assert_json(r, 201)
    assert UUID_RE.match(build["id"])
    assert build["status"] == "pending"
    assert build["project"] == "web"
    assert build["project_id"] == project["id"]
    assert build["method"] == "script"
    assert build["params"] == {"script": "make test"}
    assert build["spec"] == {"cpu": 1, "memory_gb": 1, "time_budget_min": 10}
    assert build["requirements"] == NO_REQUIREMENTS
    assert build["infrastructure_type"] == "auto"
    assert build["executions"] == []
    assert stack.sql("select count(*) from kiln.builds")[0][0] == before + 1
    assert stack.sql("select status::text, tenant_id = (select id from kiln.tenants where name = 'default')"
                     " from kiln.builds where id = %s", (build["id"],)) == [("pending", True)]


def test_get_build_returns_the_stored_build_with_config_and_no_executions(admin, project):
    created = submit(admin)
    r = admin.get(f"/api/v1/builds/{created['id']}")
    build = assert_json(r, 200)
    assert build == created  # nothing happened in between: the same representation
    stable = {k: build[k] for k in (
        "id", "project", "project_id", "status", "method", "params", "spec", "requirements",
        "infrastructure_type", "infrastructure_reason", "force_infrastructure", "priority",
        "attempt", "max_attempts", "failure_reason", "queued_at", "started_at", "finished_at",
        "executions")}
    assert stable == {
        "id": created["id"], "project": "web", "project_id": project["id"], "status": "pending",
        "method": "script", "params": {"script": "make test"},
        "spec": {"cpu": 1, "memory_gb": 1, "time_budget_min": 10},
        "requirements": NO_REQUIREMENTS, "infrastructure_type": "auto",
        "infrastructure_reason": None, "force_infrastructure": False, "priority": 0,
        "attempt": 1, "max_attempts": 3, "failure_reason": None, "queued_at": None,
        "started_at": None, "finished_at": None, "executions": []}
    assert build["created_at"] == build["updated_at"]


def test_a_build_with_priority_five_echoes_it_everywhere(admin, project):
    build = submit(admin, priority=5)
    assert build["priority"] == 5
    assert admin.get(f"/api/v1/builds/{build['id']}").json()["priority"] == 5
    listed = [b for b in admin.get("/api/v1/builds?project=web").json()["items"] if b["id"] == build["id"]]
    assert [b["priority"] for b in listed] == [5]


def test_requirements_spec_and_optional_params_are_stored_as_given(admin, project):
    # a node offering them must be registered: submit refuses what nothing could run
    assert_json(admin.post("/api/v1/admin/build-nodes", {
        "name": "fpga-1", "labels": {"arch": "arm64", "custom_hardware": "fpga"},
        "capabilities": {"high_memory": True}}), 201)
    build = submit(admin, params={"script": "make", "workdir": "src", "git_url": "https://x/y.git"},
                   spec={"cpu": 2.5, "memory_gb": 4, "disk_gb": 20, "time_budget_min": 30,
                         "cache_keys": ["go-mod", "node:18"], "oom_retry": False},
                   requirements={"arch": ["arm64", "amd64"], "high_memory": True,
                                 "custom_hardware": "fpga"})
    assert build["params"] == {"script": "make", "workdir": "src", "git_url": "https://x/y.git"}
    assert build["spec"] == {"cpu": 2.5, "memory_gb": 4, "disk_gb": 20, "time_budget_min": 30,
                             "cache_keys": ["go-mod", "node:18"], "oom_retry": False}
    assert build["requirements"] == {"gpu": False, "high_memory": True, "airgapped": False,
                                     "legacy_system": False, "arch": ["amd64", "arm64"],
                                     "custom_hardware": "fpga"}


# projects ------------------------------------------------------------------------------

def test_creating_a_project_returns_it_and_a_duplicate_name_is_a_conflict(admin, stack):
    r = admin.post("/api/v1/projects", {"name": "api-proj", "language": "rust"})
    created = assert_json(r, 201)
    assert UUID_RE.match(created["id"])
    assert {k: v for k, v in created.items() if k not in ("id", "created_at")} == {
        "name": "api-proj", "language": "rust", "requires_gpu": False, "requirements": {}}

    before = db_state(stack)
    r = admin.post("/api/v1/projects", {"name": "api-proj", "language": "go"})
    assert_error(r, 409, "conflict", "name", "project api-proj already exists")
    assert db_state(stack) == before

    listed = assert_json(admin.get("/api/v1/projects"), 200)
    assert set(listed) == {"items"}
    assert [p for p in listed["items"] if p["name"] == "api-proj"] == [created]
    names = [p["name"] for p in listed["items"]]
    assert names == sorted(names)


@pytest.mark.parametrize("body, code, field", [
    ({}, "missing_field", "name"),
    ({"name": 5}, "invalid_type", "name"),
    ({"name": "has space"}, "invalid_value", "name"),
    ({"name": "-leading-dash"}, "invalid_value", "name"),
    ({"name": "ok", "colour": "red"}, "unknown_field", "colour"),
    ({"name": "ok", "language": "Go Lang"}, "invalid_value", "language"),
    ({"name": "ok", "requires_gpu": "yes"}, "invalid_type", "requires_gpu"),
    ({"name": "ok", "requirements": {"arch": ["sparc"]}}, "invalid_value", "requirements.arch"),
], ids=["missing-name", "name-number", "name-space", "name-dash", "unknown-field",
        "bad-language", "gpu-string", "bad-arch"])
def test_a_bad_project_body_is_refused_naming_the_field(admin, stack, body, code, field):
    before = db_state(stack)
    assert_error(admin.post("/api/v1/projects", body), 400, code, field)
    assert db_state(stack) == before


# lifecycle -----------------------------------------------------------------------------

def test_start_queues_a_build_and_cancel_ends_it_with_events_in_order(admin, project, stack):
    build = submit(admin)
    bid = build["id"]

    r = admin.post(f"/api/v1/builds/{bid}/start")
    started = assert_json(r, 200)
    assert started["status"] == "queued"
    assert started["queued_at"] is not None
    assert started["finished_at"] is None

    r = admin.post(f"/api/v1/builds/{bid}/start")
    assert_error(r, 409, "illegal_transition", "status",
                 f"build {bid} is queued and cannot become queued")
    assert status_of(stack, bid) == "queued"

    r = admin.post(f"/api/v1/builds/{bid}/cancel")
    cancelled = assert_json(r, 200)
    assert cancelled["status"] == "cancelled"
    assert cancelled["failure_reason"] == "cancelled"
    assert cancelled["finished_at"] is not None
    assert cancelled["queued_at"] == started["queued_at"]

    r = admin.post(f"/api/v1/builds/{bid}/start")
    assert_error(r, 409, "illegal_transition", "status",
                 f"build {bid} is cancelled and cannot become queued")
    r = admin.post(f"/api/v1/builds/{bid}/cancel")
    assert_error(r, 409, "illegal_transition", "status",
                 f"build {bid} is cancelled and cannot become cancelled")
    assert status_of(stack, bid) == "cancelled"

    events = assert_json(admin.get(f"/api/v1/builds/{bid}/events"), 200)
    assert set(events) == {"items"}
    items = events["items"]
    assert [(e["from_status"], e["to_status"], e["message"]) for e in items] == [
        (None, "pending", "submitted"), ("pending", "queued", "started"),
        ("queued", "cancelled", "cancelled")]
    ids = [e["id"] for e in items]
    assert ids == sorted(ids) and len(set(ids)) == 3
    actor = items[0]["actor"]
    assert actor.startswith("user:") and UUID_RE.match(actor[5:])
    assert all(e["actor"] == actor and e["execution_id"] is None and e["detail"] == {} for e in items)

    after_first = assert_json(admin.get(f"/api/v1/builds/{bid}/events?after={ids[0]}"), 200)
    assert after_first == {"items": items[1:]}
    after_last = assert_json(admin.get(f"/api/v1/builds/{bid}/events?after={ids[-1]}"), 200)
    assert after_last == {"items": []}


def test_a_pending_build_can_be_cancelled_and_then_never_started(admin, project, stack):
    bid = submit(admin)["id"]
    cancelled = assert_json(admin.post(f"/api/v1/builds/{bid}/cancel"), 200)
    assert cancelled["status"] == "cancelled"
    assert cancelled["queued_at"] is None
    assert_error(admin.post(f"/api/v1/builds/{bid}/start"), 409, "illegal_transition", "status")
    assert status_of(stack, bid) == "cancelled"


def test_cancel_records_the_given_reason_as_failure_reason(admin, project, stack):
    bid = submit(admin)["id"]
    admin.post(f"/api/v1/builds/{bid}/start")
    r = admin.post(f"/api/v1/builds/{bid}/cancel", {"reason": "x"})
    assert assert_json(r, 200)["failure_reason"] == "x"
    assert admin.get(f"/api/v1/builds/{bid}").json()["failure_reason"] == "x"
    assert stack.sql("select failure_reason from kiln.builds where id = %s", (bid,)) == [("x",)]
    last = admin.get(f"/api/v1/builds/{bid}/events").json()["items"][-1]
    assert (last["from_status"], last["to_status"], last["message"]) == ("queued", "cancelled", "x")


def test_a_blank_cancel_reason_records_the_default_reason(admin, project):
    bid = submit(admin)["id"]
    r = admin.post(f"/api/v1/builds/{bid}/cancel", {"reason": "   "})
    assert assert_json(r, 200)["failure_reason"] == "cancelled"


@pytest.mark.parametrize("body, code, field", [
    ({"foo": 1}, "unknown_field", "foo"),
    # Keys after "reason" in sort order must be refused too, not skipped.
    ({"reason": "x", "zzz": 1}, "unknown_field", "zzz"),
    ({"reason": 5}, "invalid_type", "reason"),
    ({"reason": "r" * 1001}, "invalid_value", "reason"),
    ("[]", "invalid_body", "body"),
    ('{"reason":', "malformed_json", "body"),
], ids=["unknown-field", "unknown-field-after-reason", "reason-number", "reason-too-long",
        "array", "malformed"])
def test_a_bad_cancel_body_is_refused_and_the_build_stays_as_it_was(admin, project, stack, body, code, field):
    bid = submit(admin)["id"]
    before = db_state(stack)
    if isinstance(body, str):
        r = admin.post(f"/api/v1/builds/{bid}/cancel", data=body)
    else:
        r = admin.post(f"/api/v1/builds/{bid}/cancel", body)
    assert_error(r, 400, code, field)
    assert db_state(stack) == before
    assert status_of(stack, bid) == "pending"


@pytest.mark.parametrize("query, code, field", [
    ("after=abc", "invalid_value", "after"),
    ("after=", "invalid_value", "after"),
    ("since=1", "unknown_field", "since"),
    ("after=1&after=2", "invalid_query", "after"),
])
def test_bad_event_query_parameters_are_a_400_naming_the_parameter(admin, project, query, code, field):
    bid = submit(admin)["id"]
    assert_error(admin.get(f"/api/v1/builds/{bid}/events?{query}"), 400, code, field)


def test_concurrent_starts_of_one_build_queue_it_exactly_once(stack, admin, project):
    bid = submit(admin)["id"]
    clients = [stack.client(stack.admin_token) for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda c: c.post(f"/api/v1/builds/{bid}/start"), clients))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 7, [r.text for r in responses]
    for r in responses:
        if r.status_code == 409:
            assert_error(r, 409, "illegal_transition", "status")
    assert stack.sql("select count(*) from kiln.build_events where build_id = %s and to_status = 'queued'",
                     (bid,)) == [(1,)]


def test_concurrent_creates_of_one_project_name_give_one_201_and_named_409s(stack, admin):
    for attempt in range(3):
        name = f"race-{attempt}"
        clients = [stack.client(stack.admin_token) for _ in range(8)]
        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(lambda c: c.post("/api/v1/projects", {"name": name}), clients))
        assert sorted(r.status_code for r in responses) == [201] + [409] * 7, [r.text for r in responses]
        for r in responses:
            if r.status_code == 409:
                assert_error(r, 409, "conflict", "name")
        assert stack.sql("select count(*) from kiln.projects where name = %s", (name,)) == [(1,)]


# bad submit bodies ---------------------------------------------------------------------

def without(key):
    body = script_build()
    del body[key]
    return body


def with_spec(**spec):
    return script_build(spec={"cpu": 1, "memory_gb": 1, "time_budget_min": 10, **spec})


BAD_BODIES = [
    # raw bodies
    ("malformed-json", '{"project": "web",', "malformed_json", "body"),
    ("array", "[]", "invalid_body", "body"),
    ("array-of-build", json.dumps([script_build()]), "invalid_body", "body"),
    ("empty", "", "invalid_body", "body"),
    ("json-null", "null", "invalid_body", "body"),
    ("json-string", '"web"', "invalid_body", "body"),
    # shape
    ("unknown-top-level", script_build(colour="red"), "unknown_field", "colour"),
    ("missing-project", without("project"), "missing_field", "project"),
    ("missing-method", without("method"), "missing_field", "method"),
    ("project-number", script_build(project=5), "invalid_type", "project"),
    ("method-number", script_build(method=5), "invalid_type", "method"),
    ("unknown-method", script_build(method="make"), "invalid_value", "method"),
    ("spec-array", script_build(spec=[1]), "invalid_type", "spec"),
    ("spec-cpu-string", with_spec(cpu="2"), "invalid_type", "spec.cpu"),
    ("spec-time-fraction", with_spec(time_budget_min=1.5), "invalid_type", "spec.time_budget_min"),
    ("spec-oom-string", with_spec(oom_retry="yes"), "invalid_type", "spec.oom_retry"),
    ("spec-cache-keys-string", with_spec(cache_keys="go"), "invalid_type", "spec.cache_keys"),
    ("requirements-gpu-string", script_build(requirements={"gpu": "true"}), "invalid_type",
     "requirements.gpu"),
    ("requirements-arch-string", script_build(requirements={"arch": "amd64"}), "invalid_type",
     "requirements.arch"),
    ("params-string", script_build(params="make test"), "invalid_type", "params"),
    ("params-script-object", script_build(params={"script": {"run": "make"}}), "invalid_type",
     "params.script"),
    ("params-script-null", script_build(params={"script": None}), "invalid_type", "params.script"),
    ("infra-number", script_build(infrastructure_type=1), "invalid_type", "infrastructure_type"),
    ("force-string", script_build(force_infrastructure="yes"), "invalid_type", "force_infrastructure"),
    ("priority-fraction", script_build(priority=1.5), "invalid_type", "priority"),
    ("priority-string", script_build(priority="5"), "invalid_type", "priority"),
    # values
    ("spec-cpu-0", with_spec(cpu=0), "invalid_value", "spec.cpu"),
    ("spec-cpu-65", with_spec(cpu=65), "invalid_value", "spec.cpu"),
    ("spec-memory-0", with_spec(memory_gb=0), "invalid_value", "spec.memory_gb"),
    ("spec-disk-0", with_spec(disk_gb=0), "invalid_value", "spec.disk_gb"),
    ("spec-time-0", with_spec(time_budget_min=0), "invalid_value", "spec.time_budget_min"),
    ("spec-time-2000", with_spec(time_budget_min=2000), "invalid_value", "spec.time_budget_min"),
    ("spec-cache-key-space", with_spec(cache_keys=["a b"]), "invalid_value", "spec.cache_keys"),
    ("spec-unknown-key", with_spec(gpus=1), "unknown_field", "spec.gpus"),
    ("params-empty", script_build(params={}), "missing_field", "params.script"),
    ("params-missing", without("params"), "missing_field", "params.script"),
    ("params-script-blank", script_build(params={"script": "  "}), "missing_field", "params.script"),
    ("params-unknown", script_build(params={"script": "make", "foo": "bar"}), "unknown_field",
     "params.foo"),
    ("docker-without-image", script_build(method="docker", params={"git_url": "https://x/y.git"}),
     "missing_field", "params.image"),
    ("arch-sparc", script_build(requirements={"arch": ["sparc"]}), "invalid_value", "requirements.arch"),
    ("arch-empty", script_build(requirements={"arch": []}), "invalid_value", "requirements.arch"),
    ("requirements-unknown", script_build(requirements={"cpu": 2}), "unknown_field", "requirements.cpu"),
    ("infra-cloud", script_build(infrastructure_type="cloud"), "invalid_value", "infrastructure_type"),
    ("force-with-auto", script_build(force_infrastructure=True), "invalid_value",
     "force_infrastructure"),
    ("priority-1000", script_build(priority=1000), "invalid_value", "priority"),
    ("priority-minus-101", script_build(priority=-101), "invalid_value", "priority"),
]


@pytest.mark.parametrize("body, code, field", [b[1:] for b in BAD_BODIES], ids=[b[0] for b in BAD_BODIES])
def test_a_bad_build_body_is_a_400_naming_the_field_and_changes_nothing(admin, project, stack, body, code,
                                                                        field):
    before = db_state(stack)
    if isinstance(body, str):
        r = admin.post("/api/v1/builds", data=body, headers={"Content-Type": "application/json"})
    else:
        r = admin.post("/api/v1/builds", body)
    assert_error(r, 400, code, field)
    assert db_state(stack) == before


def test_malformed_json_says_where_parsing_stopped(admin, project):
    r = admin.post("/api/v1/builds", data='{"project": "web",', headers={"Content-Type": "application/json"})
    assert_error(r, 400, "malformed_json", "body", "the body is not valid JSON (at byte ")


def test_type_errors_say_what_was_expected_and_what_was_sent(admin, project):
    assert_error(admin.post("/api/v1/builds", script_build(project=5)), 400, "invalid_type", "project",
                 "project must be a string, not number")
    assert_error(admin.post("/api/v1/builds", with_spec(cpu="2")), 400, "invalid_type", "spec.cpu",
                 "spec.cpu must be a number, not string")
    assert_error(admin.post("/api/v1/builds", with_spec(cpu=65)), 400, "invalid_value", "spec.cpu",
                 "spec.cpu must be between 0.1 and 64 cores, got 65")
    assert_error(admin.post("/api/v1/builds", script_build(method="make")), 400, "invalid_value", "method",
                 "method make is not one of docker, buildx, packer, nix, paketo, script")


def test_an_unknown_project_is_a_422_and_changes_nothing(admin, project, stack):
    before = db_state(stack)
    r = admin.post("/api/v1/builds", script_build(project="nope"))
    assert_error(r, 422, "project_not_found", "project", "project nope does not exist")
    assert db_state(stack) == before


def test_a_number_too_large_for_a_double_is_a_400_not_a_500(admin, project, stack):
    # Valid JSON grammar, but 1e400 overflows; the body must be refused as bad input.
    before = db_state(stack)
    body = '{"project":"web","method":"script","params":{"script":"make"},"priority":1e400}'
    r = admin.post("/api/v1/builds", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    err = assert_error(r, 400, r.json()["error"]["code"], r.json()["error"]["field"])
    assert (err["code"], err["field"]) in {("malformed_json", "body"), ("invalid_value", "priority")}
    assert db_state(stack) == before


def test_priority_written_as_50_point_0_is_accepted_or_refused_naming_priority(admin, project, stack):
    # expect_type accepts 50.0 as an integer ("a number without a fraction"); the build must
    # then either be created with priority 50 or be refused naming the field, never a
    # field-less cast error.
    body = '{"project":"web","method":"script","params":{"script":"make"},"priority":50.0}'
    r = admin.post("/api/v1/builds", data=body, headers={"Content-Type": "application/json"})
    if r.status_code == 201:
        assert r.json()["priority"] == 50
    else:
        err = assert_error(r, 400, r.json()["error"]["code"], "priority")
        assert err["code"] in {"invalid_type", "invalid_value"}, err


# paths, methods, routes, limits --------------------------------------------------------

@pytest.mark.parametrize("method, suffix", [
    ("GET", ""), ("POST", "/start"), ("POST", "/cancel"), ("GET", "/events")])
def test_a_build_id_that_is_not_a_uuid_is_a_400_naming_id(admin, stack, method, suffix):
    before = db_state(stack)
    r = admin.request(method, f"/api/v1/builds/not-a-uuid{suffix}")
    assert_error(r, 400, "invalid_uuid", "id", "id must be a UUID")
    assert db_state(stack) == before


@pytest.mark.parametrize("method, suffix", [
    ("GET", ""), ("POST", "/start"), ("POST", "/cancel"), ("GET", "/events")])
def test_an_unknown_build_id_is_a_404(admin, stack, method, suffix):
    before = db_state(stack)
    unknown = str(uuid.uuid4())
    r = admin.request(method, f"/api/v1/builds/{unknown}{suffix}")
    assert_error(r, 404, "not_found", "id", f"build {unknown} not found")
    assert db_state(stack) == before


@pytest.mark.parametrize("method, path, allowed", [
    ("DELETE", "/api/v1/builds", {"GET", "POST"}),
    ("PUT", "/api/v1/builds/00000000-0000-0000-0000-000000000000", {"GET"}),
    ("DELETE", "/api/v1/builds/00000000-0000-0000-0000-000000000000", {"GET"}),
    ("GET", "/api/v1/builds/00000000-0000-0000-0000-000000000000/start", {"POST"}),
    ("PATCH", "/api/v1/projects", {"GET", "POST"}),
    ("POST", "/healthz", {"GET"}),
])
def test_a_wrong_method_is_a_405_with_an_allow_header(admin, method, path, allowed):
    r = admin.request(method, path)
    err = assert_error(r, 405, "method_not_allowed", None)
    allow = r.headers["Allow"]
    assert set(allow.split(", ")) == allowed
    assert err["message"] == f"{method} is not allowed here; use {allow}"


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/builds/", "/api/v2/builds", "/"])
def test_an_unknown_route_is_a_404_route_not_found_even_without_a_token(stack, admin, path):
    err = assert_error(admin.get(path), 404, "route_not_found", None)
    assert err["message"] == f"no such endpoint: {path}"
    assert_error(stack.client().get(path), 404, "route_not_found", None)


def test_a_2_mb_body_is_a_413_in_the_error_shape_and_changes_nothing(admin, project, stack):
    before = db_state(stack)
    body = json.dumps(script_build(params={"script": "x" * (2 * 1024 * 1024)}))
    r = admin.post("/api/v1/builds", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.headers["Content-Type"] == "application/json"
    err = r.json()["error"]
    assert set(err) == {"code", "message", "field", "request_id"}
    assert (err["code"], err["field"]) == ("payload_too_large", "body")
    assert "1 MiB" in err["message"]
    assert REQUEST_ID_RE.match(err["request_id"])
    assert db_state(stack) == before
    # The API still answers after nginx cut the upload short.
    assert admin.get("/api/v1/builds?limit=1").status_code == 200


def test_a_413_carries_the_request_id_header_like_every_other_error(admin, project):
    body = "x" * (2 * 1024 * 1024)
    r = admin.post("/api/v1/builds", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.headers.get("X-Request-Id") == r.json()["error"]["request_id"], r.headers


# listing and pagination ----------------------------------------------------------------

def test_the_list_is_newest_first_and_filters_by_project(admin):
    make_project(admin, "order")
    make_project(admin, "order-other")
    ids = [submit(admin, project="order")["id"] for _ in range(3)]
    other = submit(admin, project="order-other")["id"]
    page = assert_json(admin.get("/api/v1/builds?project=order"), 200)
    assert set(page) == {"items", "next_cursor"}
    assert [b["id"] for b in page["items"]] == ids[::-1]
    assert page["next_cursor"] is None
    assert {b["project"] for b in page["items"]} == {"order"}
    item = page["items"][0]
    assert {k: item[k] for k in ("id", "project", "status", "method", "priority", "attempt",
                                 "infrastructure_type", "queued_at", "failure_reason")} == {
        "id": ids[-1], "project": "order", "status": "pending", "method": "script", "priority": 0,
        "attempt": 1, "infrastructure_type": "auto", "queued_at": None, "failure_reason": None}
    everything = [b["id"] for b in admin.get("/api/v1/builds?limit=200").json()["items"]]
    assert other in everything and set(ids) <= set(everything)
    created = [timestamp(b["created_at"]) for b in admin.get("/api/v1/builds?limit=200").json()["items"]]
    assert created == sorted(created, reverse=True)


def test_an_unknown_project_filter_lists_nothing(admin):
    assert assert_json(admin.get("/api/v1/builds?project=no-such-project"), 200) == {
        "items": [], "next_cursor": None}


def test_the_status_filter_takes_one_status_or_a_comma_list(admin):
    make_project(admin, "filt")
    pending = submit(admin, project="filt")["id"]
    queued = submit(admin, project="filt")["id"]
    cancelled = submit(admin, project="filt")["id"]
    assert admin.post(f"/api/v1/builds/{queued}/start").status_code == 200
    assert admin.post(f"/api/v1/builds/{cancelled}/start").status_code == 200
    assert admin.post(f"/api/v1/builds/{cancelled}/cancel").status_code == 200

    def ids(query):
        page = assert_json(admin.get(f"/api/v1/builds?project=filt&{query}"), 200)
        return [(b["id"], b["status"]) for b in page["items"]]

    assert ids("status=queued") == [(queued, "queued")]
    assert ids("status=queued,cancelled") == [(cancelled, "cancelled"), (queued, "queued")]
    assert ids("status=pending") == [(pending, "pending")]
    assert ids("status=running") == []
    # Across projects, the filter holds for every item.
    everything = assert_json(admin.get("/api/v1/builds?status=queued&limit=200"), 200)["items"]
    assert everything and {b["status"] for b in everything} == {"queued"}


@pytest.mark.parametrize("query, code, field", [
    ("status=bogus", "invalid_value", "status"),
    ("status=queued,bogus", "invalid_value", "status"),
    ("limit=0", "invalid_value", "limit"),
    ("limit=500", "invalid_value", "limit"),
    ("limit=201", "invalid_value", "limit"),
    ("limit=-1", "invalid_value", "limit"),
    ("limit=abc", "invalid_value", "limit"),
    ("limit=", "invalid_value", "limit"),
    ("limit=99999999999999999999", "invalid_value", "limit"),
    ("colour=red", "unknown_field", "colour"),
    ("limit=1&limit=2", "invalid_query", "limit"),
    ("cursor=garbage", "invalid_value", "cursor"),
    ("cursor=", "invalid_value", "cursor"),
    ("cursor=bm90LWEtY3Vyc29y", "invalid_value", "cursor"),  # base64 of "not-a-cursor"
])
def test_bad_list_query_parameters_are_a_400_naming_the_parameter(admin, query, code, field):
    assert_error(admin.get(f"/api/v1/builds?{query}"), 400, code, field)


def test_a_malformed_percent_escape_in_the_query_is_a_400(stack, admin):
    # Sent raw: requests would re-encode "%zz" as "%25zz".
    conn = http.client.HTTPConnection("127.0.0.1", stack.http_port, timeout=30)
    try:
        conn.request("GET", "/api/v1/builds?status=%zz",
                     headers={"Authorization": f"Bearer {stack.admin_token}"})
        resp = conn.getresponse()
        body = json.loads(resp.read())
    finally:
        conn.close()
    assert resp.status == 400
    assert resp.getheader("Content-Type") == "application/json"
    err = body["error"]
    assert (err["code"], err["field"], err["message"]) == (
        "invalid_query", None, "the query string has a malformed % escape")
    assert err["request_id"] == resp.getheader("X-Request-Id")


def test_list_error_messages_name_the_allowed_values(admin):
    assert_error(admin.get("/api/v1/builds?status=bogus"), 400, "invalid_value", "status",
                 "status bogus is not one of pending, queued")
    assert_error(admin.get("/api/v1/builds?limit=0"), 400, "invalid_value", "limit",
                 "limit must be between 1 and 200")
    assert_error(admin.get("/api/v1/builds?limit=abc"), 400, "invalid_value", "limit",
                 "limit must be an integer")
    assert_error(admin.get("/api/v1/builds?cursor=garbage"), 400, "invalid_value", "cursor",
                 "cursor is not a next_cursor returned by this endpoint")


def test_pagination_visits_every_build_exactly_once_newest_first(admin, stack):
    make_project(admin, "pager")
    created = [submit(admin, project="pager")["id"] for _ in range(7)]
    seen, sizes, cursor = [], [], None
    for _ in range(10):
        query = "project=pager&limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = assert_json(admin.get(f"/api/v1/builds?{query}"), 200)
        sizes.append(len(page["items"]))
        seen += [b["id"] for b in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sizes == [3, 3, 1]
    assert seen == created[::-1]
    in_db = [row[0] for row in stack.sql(
        "select b.id::text from kiln.builds b join kiln.projects p on p.id = b.project_id"
        " where p.name = 'pager' order by b.created_at desc, b.id desc")]
    assert seen == in_db


def test_pagination_is_exact_when_the_page_ends_on_the_last_build(admin):
    make_project(admin, "pager6")
    created = [submit(admin, project="pager6")["id"] for _ in range(6)]
    first = admin.get("/api/v1/builds?project=pager6&limit=3").json()
    assert first["next_cursor"] is not None
    second = admin.get(f"/api/v1/builds?project=pager6&limit=3&cursor={first['next_cursor']}").json()
    assert [b["id"] for b in first["items"] + second["items"]] == created[::-1]
    assert second["next_cursor"] is None


def test_pagination_keeps_working_with_a_status_filter(admin):
    make_project(admin, "pager-st")
    created = [submit(admin, project="pager-st")["id"] for _ in range(5)]
    for bid in created[::2]:
        assert admin.post(f"/api/v1/builds/{bid}/start").status_code == 200
    seen, cursor = [], None
    while True:
        query = "project=pager-st&status=queued&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = admin.get(f"/api/v1/builds?{query}").json()
        seen += [b["id"] for b in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == created[::2][::-1]


# health and metrics --------------------------------------------------------------------

def test_healthz_answers_ok_without_a_token(stack):
    r = stack.client().get("/healthz")
    assert assert_json(r, 200) == {"status": "ok", "database": "ok"}


def metric_lines(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def requests_total(metrics, method, route, status):
    return metrics.get(f'kiln_http_requests_total{{method="{method}",route="{route}",status="{status}"}}', 0)


def test_metrics_count_requests_by_route_and_status_and_builds_by_status(stack, admin, project):
    client = stack.client()
    before = metric_lines(client.get("/metrics").text)
    bid = submit(admin)["id"]
    admin.post(f"/api/v1/builds/{bid}/start")
    admin.post(f"/api/v1/builds/{bid}/start")  # 409
    admin.get(f"/api/v1/builds/{bid}")
    admin.get(f"/api/v1/builds/{bid}")
    admin.get("/api/v1/builds/not-a-uuid")  # 400
    admin.get(f"/api/v1/builds/{uuid.uuid4()}")  # 404
    admin.request("DELETE", "/api/v1/builds")  # 405
    admin.get("/api/v1/nope")  # 404, no route
    client.get("/api/v1/builds")  # 401

    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    assert "# TYPE kiln_http_requests_total counter" in r.text
    after = metric_lines(r.text)

    def delta(method, route, status):
        return requests_total(after, method, route, status) - requests_total(before, method, route, status)

    assert delta("POST", "/api/v1/builds", 201) == 1
    assert delta("POST", "/api/v1/builds/{id}/start", 200) == 1
    assert delta("POST", "/api/v1/builds/{id}/start", 409) == 1
    assert delta("GET", "/api/v1/builds/{id}", 200) == 2
    assert delta("GET", "/api/v1/builds/{id}", 400) == 1
    assert delta("GET", "/api/v1/builds/{id}", 404) == 1
    assert delta("DELETE", "unmatched", 405) == 1
    assert delta("GET", "unmatched", 404) == 1
    assert delta("GET", "/api/v1/builds", 401) == 1
    assert delta("GET", "/metrics", 200) == 1

    true_counts = dict(stack.sql("select status::text, count(*) from kiln.builds group by 1"))
    assert after['kiln_builds{status="queued"}'] == true_counts.get("queued", 0)
    assert true_counts.get("queued", 0) >= 1
    for status in ("pending", "queued", "dispatching", "running", "succeeded", "failed",
                   "cancelled", "timed_out"):
        assert after[f'kiln_builds{{status="{status}"}}'] == true_counts.get(status, 0), status
