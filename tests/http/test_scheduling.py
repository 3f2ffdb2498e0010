"""Fair scheduling through nginx: the scheduling settings (an operator's for the tenant, an
admin's for projects), why a queued build waits in GET /api/v1/builds/{id} and on its page,
not_before, and 422 for a build nothing registered could run. The stack runs no workers,
so queued builds stay queued and their reasons are stable."""
from conftest import assert_error, assert_json, script_build
from test_pages import page, sign_in


def submit_and_start(client, **overrides):
    build = assert_json(client.post("/api/v1/builds", script_build(**overrides)), 201)
    assert_json(client.post(f"/api/v1/builds/{build['id']}/start", {}), 200)
    return build["id"]


def test_tenant_share_and_caps_are_an_operators(stack, admin):
    err = assert_error(admin.put("/api/v1/admin/scheduling/tenant", {"share": 5}), 403, "forbidden", None)
    assert "scheduling:tenant" in err["message"]
    operator = stack.client(stack.token("default", "ops", "operator"))
    body = assert_json(operator.put("/api/v1/admin/scheduling/tenant", {"share": 2, "max_running": 50}), 200)
    assert body["tenant"]["share"] == 2 and body["tenant"]["max_running"] == 50
    assert_error(operator.put("/api/v1/admin/scheduling/tenant", {"share": "lots"}), 400, "invalid_type", "share")
    assert_error(operator.put("/api/v1/admin/scheduling/tenant", {"max_running": -1}), 400, "invalid_value",
                 "max_running")
    assert assert_json(admin.get("/api/v1/admin/scheduling"), 200)["tenant"]["max_running"] == 50, \
        "refused changes changed nothing"
    assert_json(operator.put("/api/v1/admin/scheduling/tenant", {"share": 1}), 200)


def test_a_held_project_says_so_and_release_shows_the_next_reason(stack, admin, project):
    body = assert_json(admin.put("/api/v1/admin/scheduling/projects/web", {"max_running": 0}), 200)
    assert body["projects"][0]["project"] == "web" and body["projects"][0]["max_running"] == 0
    build_id = submit_and_start(admin)
    queue = assert_json(admin.get(f"/api/v1/builds/{build_id}"), 200)["queue"]
    assert queue["blocked_reason"]["code"] == "waiting_for_admin"
    assert queue["blocked_reason"]["detail"] == {"scope": "project"}
    assert queue["eta_seconds"] is None
    assert queue["position"]["tenant"] >= 1 and queue["position"]["overall"] >= queue["position"]["tenant"]

    assert_json(admin.put("/api/v1/admin/scheduling/projects/web", {}), 200)
    queue = assert_json(admin.get(f"/api/v1/builds/{build_id}"), 200)["queue"]
    assert queue["blocked_reason"]["code"] == "no_capable_infrastructure", queue
    assert queue["blocked_reason"]["detail"]["build_nodes"]["online"] == 0

    session, r = sign_in(stack, stack.admin_token)
    assert r.status_code == 303, r.text
    html = page(session, stack, f"/admin/builds/{build_id}").text
    assert 'data-blocked-reason="no_capable_infrastructure"' in html
    assert "Why it waits" in html and "in your tenant's queue" in html

    assert_error(admin.put("/api/v1/admin/scheduling/projects/nope", {"max_running": 1}), 404, "not_found", "project")
    assert_error(admin.put("/api/v1/admin/scheduling/projects/web", {"max_cpu": "x"}), 400, "invalid_type", "max_cpu")


def test_not_before_schedules_a_build_for_later(admin, project):
    build_id = submit_and_start(admin, not_before="2999-01-01T00:00:00Z")
    build = assert_json(admin.get(f"/api/v1/builds/{build_id}"), 200)
    assert build["not_before"].startswith("2999-01-01")
    assert build["queue"]["blocked_reason"]["code"] == "scheduled_for_later"
    assert build["queue"]["eta_seconds"] > 365 * 24 * 3600
    assert_error(admin.post("/api/v1/builds", script_build(not_before="soon")), 400, "invalid_value", "not_before")
    assert_error(admin.post("/api/v1/builds", script_build(not_before=5)), 400, "invalid_type", "not_before")


def test_a_build_nothing_could_run_is_refused_at_submit(stack, admin, project):
    before = stack.sql("select count(*) from kiln.builds")[0][0]
    err = assert_error(admin.post("/api/v1/builds", script_build(requirements={"gpu": True})),
                       422, "unsatisfiable_requirements", "requirements")
    assert "gpu" in err["message"] and "ask an admin" in err["message"]
    assert_error(admin.post("/api/v1/builds", script_build(requirements={"arch": ["s390x"]},
                                                           infrastructure_type="build_nodes")),
                 422, "unsatisfiable_requirements", "requirements", contains="no build node registered")
    assert stack.sql("select count(*) from kiln.builds")[0][0] == before, "refused submits changed nothing"
    # once a GPU node is registered (even offline) the same build is accepted and waits for it
    assert_json(admin.post("/api/v1/admin/build-nodes",
                           {"name": "gpu-1", "labels": {"arch": "amd64"}, "capabilities": {"gpu": True}}), 201)
    build_id = submit_and_start(admin, requirements={"gpu": True})
    assert assert_json(admin.get(f"/api/v1/builds/{build_id}"), 200)["queue"]["blocked_reason"]["code"] == \
        "no_capable_infrastructure"
