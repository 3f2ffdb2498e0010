"""Infrastructure selection through nginx: the recommendation endpoint, the options view
(never an endpoint, credential or token, checked by searching every body), the 403 on a
force without infrastructure:manage, the 400 on a pick that is not available, and a build
placed by a real dispatcher and run by a real agent whose execution carries the selection
function's reason and a decision record that replays to the same decision.

Tenant `default` (the stack's admin) sees only a shared, unhealthy AKS cluster: Kubernetes
is unavailable there, so auto builds go to build nodes. Tenant `beta` also has its own
healthy GKE cluster with a general and a GPU node pool."""
import json
import sys
from pathlib import Path

import pytest

from conftest import script_build

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from stack import (FINAL_STATUSES, Workers, get_build, log_tails, submit_and_start, wait_for,  # noqa: E402
                   wait_status)

RECOMMEND = "/api/v1/builds/infrastructure-recommendation"
OPTIONS = "/api/v1/infrastructure/options"

# What the providers hold that no API answer may show.
API_SERVER = "https://k8s-api.kiln-secret.example:6443"
FINGERPRINT = "SHA256:c0ffeec0ffee-kiln-fingerprint"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.kilnsecretpayload.sig"
KEY_ID = "kiln-key-7f3a"
SECRETS = (API_SERVER, "k8s-api.kiln-secret.example", "kiln-secret", FINGERPRINT, "c0ffeec0ffee", TOKEN, "eyJhbGci",
           KEY_ID, "deadbeefcafe", "api_server", "credentials")

UNAVAILABLE = ("infrastructure_type kubernetes is not available: no enabled, healthy Kubernetes provider with a "
               "node pool; pick one of the available options (GET /api/v1/infrastructure/options) or auto")


def assert_no_secrets(text):
    leaked = [s for s in SECRETS if s.lower() in text.lower()]
    assert not leaked, f"{leaked} in {text[:2000]}"


def assert_error(r, status, code, field):
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert (err["code"], err["field"]) == (code, field), err
    assert_no_secrets(r.text)
    return err


def add_provider(stack, tenant_id, display_name, provider_type, health, capabilities):
    rows = stack.sql(
        "insert into kiln.providers (tenant_id, name, display_name, provider_type, api_server, capabilities,"
        "  credentials_ciphertext, credentials_key_id, credentials_fingerprint, health, health_detail)"
        " values (%s, %s, %s, %s, %s, %s, '\\xdeadbeefcafe', %s, %s, %s, %s) returning id",
        (tenant_id, display_name.lower().replace(" ", "-"), display_name, provider_type, API_SERVER,
         json.dumps(capabilities), KEY_ID, FINGERPRINT, health,
         json.dumps({"error": f"GET {API_SERVER}/version: 401 with bearer {TOKEN}"})))
    return rows[0][0]


def add_pool(stack, provider_id, name, capabilities):
    stack.sql("insert into kiln.node_pools (provider_id, name, capabilities, capacity) values (%s, %s, %s, %s)",
              (provider_id, name, capabilities, json.dumps({"cpu": 16, "memory_gb": 64})))


# fixtures ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def beta(stack):
    client = stack.client(stack.token("beta", "bea", "admin"))
    r = client.post("/api/v1/projects", {"name": "web", "language": "go"})
    assert r.status_code == 201, r.text
    return client


@pytest.fixture(scope="module")
def providers(stack, project, beta):
    beta_id = stack.sql("select id from kiln.tenants where name = 'beta'")[0][0]
    shared = add_provider(stack, None, "AKS Shared", "aks", "unhealthy",
                          {"gpu": True, "endpoint": API_SERVER})
    add_pool(stack, shared, "aks-general", ["amd64"])
    gke = add_provider(stack, beta_id, "Beta GKE", "gke", "healthy", {"multi_arch": True})
    add_pool(stack, gke, "general", ["amd64"])
    add_pool(stack, gke, "gpu", ["amd64", "gpu"])
    return {"shared": shared, "gke": gke}


@pytest.fixture(scope="module")
def developer(stack, project):
    return stack.client(stack.token("default", "dave", "developer"))


@pytest.fixture(scope="module")
def beta_developer(stack, beta):
    return stack.client(stack.token("beta", "bob", "developer"))


@pytest.fixture(autouse=True)
def dump_logs_on_failure(request, stack):
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        print(log_tails(stack, ["agent", "dispatch", "kiln-api", "nginx-error"]))


# the recommendation endpoint -----------------------------------------------------------

def test_the_recommendation_for_a_tenant_without_healthy_kubernetes_is_build_nodes(stack, developer, providers):
    r = developer.post(RECOMMEND, script_build())
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json"
    assert_no_secrets(r.text)
    rec = r.json()
    assert rec["infrastructure_type"] == "build_nodes"
    assert rec["reason"].startswith(
        "Kubernetes unavailable: no enabled Kubernetes provider is healthy (AKS Shared: unhealthy); "
        "build nodes are the fallback for script builds"), rec["reason"]
    assert rec["rule"] == "kubernetes_unavailable"
    assert 0 <= rec["confidence"] <= 1
    assert rec["target"]["node_requirements"] == {}
    assert rec["size"]["cpu"] == 1 and rec["size"]["memory_gb"] == 1 and rec["size"]["tier"] == "declared"
    assert {"infrastructure_type": "kubernetes", "node_pool": "aks-general",
            "why": "provider AKS Shared is unhealthy"}.items() <= rec["alternatives"][0].items(), rec["alternatives"]
    assert set(rec["inputs"]) >= {"config", "method", "providers", "pools", "nodes", "sizing"}
    stored = stack.sql("select source, infrastructure_type::text, reason from kiln.infrastructure_recommendations"
                       " where id = %s", (rec["recommendation_id"],))
    assert stored == [("api", "build_nodes", rec["reason"])]


def test_the_recommendation_picks_a_matching_node_pool(beta_developer, providers):
    docker = {"project": "web", "method": "docker", "params": {"git_url": "https://git.example/w.git", "image": "w:1"}}
    r = beta_developer.post(RECOMMEND, docker)
    assert r.status_code == 200, r.text
    assert_no_secrets(r.text)
    rec = r.json()
    assert (rec["infrastructure_type"], rec["target"]["provider"], rec["target"]["node_pool"]) == (
        "kubernetes", "Beta GKE", "general"), rec
    assert rec["reason"] == ("docker builds prefer Kubernetes (always prefer K8s, runs with Kaniko): "
                             "Beta GKE, node pool general (best of 2 matching node pools)")
    assert rec["confidence"] == 0.85

    r = beta_developer.post(RECOMMEND, {"project": "web", "method": "nix", "requirements": {"gpu": True}})
    assert r.status_code == 200, r.text
    assert_no_secrets(r.text)
    rec = r.json()
    assert (rec["target"]["node_pool"], rec["reason"], rec["rule"]) == (
        "gpu", "needs a GPU: Beta GKE, node pool gpu", "gpu_pool"), rec
    whys = {(a["infrastructure_type"], a.get("node_pool")): a["why"] for a in rec["alternatives"]}
    assert whys[("kubernetes", "general")] == "node pool general has no GPU"
    assert whys[("kubernetes", "aks-general")] == "provider AKS Shared is unhealthy"


def test_the_recommendation_checks_the_config_as_submit_does(stack, developer, providers):
    assert_error(developer.post(RECOMMEND, script_build(colour="red")), 400, "unknown_field", "colour")
    assert_error(developer.post(RECOMMEND, script_build(project="nope")), 422, "project_not_found", "project")
    assert_error(developer.post(RECOMMEND, script_build(spec={"cpu": 0})), 400, "invalid_value", "spec.cpu")
    assert_error(developer.post(RECOMMEND, script_build(requirements={"arch": ["x86"]})), 400, "invalid_value",
                 "requirements.arch")
    r = stack.client().post(RECOMMEND, script_build())
    assert r.status_code == 401, r.text
    viewer = stack.client(stack.token("default", "vera", "viewer"))
    r = viewer.post(RECOMMEND, script_build())
    assert r.status_code == 200, r.text


# the options view ----------------------------------------------------------------------

def test_options_show_what_a_user_may_pick_and_never_an_endpoint_or_credential(developer, beta_developer, providers):
    r = developer.get(OPTIONS)
    assert r.status_code == 200, r.text
    assert_no_secrets(r.text)
    opts = r.json()
    assert [(t["type"], t["available"]) for t in opts["types"]] == [
        ("auto", True), ("kubernetes", False), ("build_nodes", True)]
    assert [(p["display_name"], p["health"], p["capabilities"]) for p in opts["providers"]] == [
        ("AKS Shared", "unhealthy", {"gpu": True})]
    assert opts["providers"][0]["node_pools"] == [
        {"name": "aks-general", "capabilities": [], "arch": ["amd64"], "custom_hardware": None}]
    assert (opts["can_select"], opts["can_force"]) == (True, False)

    r = beta_developer.get(OPTIONS)
    assert r.status_code == 200, r.text
    assert_no_secrets(r.text)
    opts = r.json()
    assert [(t["type"], t["available"]) for t in opts["types"]] == [
        ("auto", True), ("kubernetes", True), ("build_nodes", True)]
    assert sorted(p["display_name"] for p in opts["providers"]) == ["AKS Shared", "Beta GKE"]
    gke = next(p for p in opts["providers"] if p["display_name"] == "Beta GKE")
    assert [(n["name"], n["capabilities"]) for n in gke["node_pools"]] == [("general", []), ("gpu", ["gpu"])]
    for provider in opts["providers"]:
        assert set(provider) == {"id", "display_name", "provider_type", "shared", "health", "health_checked_at",
                                 "capabilities", "node_pools"}, provider


def test_options_need_a_token(stack, providers):
    r = stack.client().get(OPTIONS)
    assert r.status_code == 401, r.text


# overrides and picks -------------------------------------------------------------------

def test_forcing_without_infrastructure_manage_is_403(stack, developer, providers):
    before = stack.sql("select count(*) from kiln.builds")
    err = assert_error(developer.post("/api/v1/builds", script_build(infrastructure_type="build_nodes",
                                                                     force_infrastructure=True)),
                       403, "forbidden", "force_infrastructure")
    assert err["message"] == "force_infrastructure needs the infrastructure:manage permission"
    assert_error(developer.post(RECOMMEND, script_build(infrastructure_type="kubernetes", force_infrastructure=True)),
                 403, "forbidden", "force_infrastructure")
    assert stack.sql("select count(*) from kiln.builds") == before


def test_an_admin_override_is_honoured_with_its_reason(admin, providers):
    r = admin.post(RECOMMEND, script_build(infrastructure_type="build_nodes", force_infrastructure=True))
    assert r.status_code == 200, r.text
    assert (r.json()["infrastructure_type"], r.json()["reason"], r.json()["rule"]) == (
        "build_nodes", "Admin override", "admin_override")


def test_picking_an_unavailable_infrastructure_is_400_naming_the_field(stack, developer, beta_developer, providers):
    before = stack.sql("select count(*) from kiln.builds")
    err = assert_error(developer.post("/api/v1/builds", script_build(infrastructure_type="kubernetes")),
                       400, "invalid_value", "infrastructure_type")
    assert err["message"] == UNAVAILABLE
    assert_error(developer.post(RECOMMEND, script_build(infrastructure_type="kubernetes")),
                 400, "invalid_value", "infrastructure_type")
    assert stack.sql("select count(*) from kiln.builds") == before

    r = beta_developer.post("/api/v1/builds", script_build(infrastructure_type="kubernetes"))
    assert r.status_code == 201, r.text
    r = developer.post("/api/v1/builds", script_build(infrastructure_type="build_nodes"))
    assert r.status_code == 201, r.text


# a dispatched build --------------------------------------------------------------------

@pytest.fixture(scope="module")
def workers(stack, project, providers):
    w = Workers(stack)
    _, token_file = w.register_node("infra-amd64", labels={"arch": "amd64"}, concurrency=2)
    w.dispatcher("infra")
    w.agent("infra-amd64", token_file, concurrency=2, extra=["--label", "arch=amd64"])
    yield w
    w.stop_all()


def test_a_dispatched_build_carries_the_selection_reason_and_a_replayable_record(stack, admin, workers):
    config = script_build(params={"script": "echo placed-by-kiln"})
    online = lambda: stack.sql("select count(*) from kiln.build_nodes where name = 'infra-amd64'"  # noqa: E731
                               " and last_heartbeat_at > now() - interval '30 seconds'")[0][0]
    wait_for(online, timeout=30, what="the agent's first heartbeat")
    r = admin.post(RECOMMEND, config)
    assert r.status_code == 200, r.text
    rec = r.json()
    expected = ("Kubernetes unavailable: no enabled Kubernetes provider is healthy (AKS Shared: unhealthy); "
                "build nodes are the fallback for script builds")
    assert rec["reason"] == expected

    build = submit_and_start(admin, config)
    done = wait_status(admin, build["id"], FINAL_STATUSES, timeout=60)
    assert done["status"] == "succeeded", done
    assert_no_secrets(json.dumps(done))
    ex = done["executions"][0]
    assert (ex["infrastructure_type"], ex["infrastructure_reason"]) == ("build_nodes", expected)
    assert done["infrastructure_reason"] == expected
    assert ex["selected_at"]
    meta = ex["infrastructure_metadata"]
    assert meta["planner"] == "select_infrastructure"
    assert meta["decision"]["reason"] == expected and meta["decision"]["rule"] == "kubernetes_unavailable"
    assert 0 <= meta["confidence"] <= 1
    assert meta["decision"]["size"] == ex["size"]
    assert [p["provider"] for p in meta["inputs"]["providers"]] == ["AKS Shared"]

    replayed = stack.sql("select kiln_api.replay_infrastructure_decision(infrastructure_metadata)"
                         " = infrastructure_metadata -> 'decision' from kiln.build_executions where id = %s",
                         (ex["id"],))
    assert replayed == [(True,)]
    linked = stack.sql("select o.source, o.settled, o.followed, o.succeeded from kiln_api.recommendation_outcomes o"
                       " where o.id in (%s, %s) order by o.source",
                       (rec["recommendation_id"], meta["recommendation_id"]))
    assert linked == [("api", True, True, True), ("dispatch", True, True, True)], linked
    assert get_build(admin, build["id"])["executions"][0]["infrastructure_reason"] == expected
