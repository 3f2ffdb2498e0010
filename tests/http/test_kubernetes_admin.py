"""The admin API for Kubernetes through nginx: providers from kubeconfigs (token, client
certificate, exec plugin; credentials encrypted, never returned), validation naming the field,
permissions, PATCH and DELETE, the provider test with each check's result (run by a real
dispatcher against the fake cluster: TLS, 401, missing Tekton, RBAC, the exec plugin's token
cached), and pipeline templates: list, add a version, pick the default, preview a render."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from k8s_env import TENANT_NAMESPACE, K8sEnv, assert_no_secret_in, checks_by_name, log_files_text  # noqa: E402
from stack import fresh_dir  # noqa: E402
from stack import log_tails  # noqa: E402
from tekton_validation import validate_pipeline_run  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def env():
    e = K8sEnv(fresh_dir("k8s-admin"))
    e.dispatch_proc = e.dispatcher("k8s-admin")
    yield e
    e.stop()


@pytest.fixture(autouse=True)
def dump_logs_on_failure(request, env):
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        print(log_tails(env.stack, ["dispatch", "kiln-api"]))


def error_of(r, status):
    assert r.status_code == status, r.text
    return r.json()["error"]


# providers ---------------------------------------------------------------------------------

def test_a_provider_is_created_from_a_kubeconfig_and_never_shows_its_credentials(env):
    p = env.add_provider("token-cluster", display_name="Token cluster", provider_type="eks",
                         capabilities={"gpu": True, "arm64": True, "airgapped": False})
    assert p["provider_type"] == "eks" and p["display_name"] == "Token cluster"
    assert p["api_server"] == env.cluster.url
    assert p["credentials"]["configured"] is True and p["credentials"]["kind"] == "token"
    assert p["credentials"]["fingerprint"].startswith("sha256:") and p["credentials"]["key_id"] == "k1"
    assert p["health"]["status"] == "unknown"
    assert p["capabilities"] == {"gpu": True, "arm64": True, "airgapped": False}
    pool = p["node_pools"][0]
    assert pool["name"] == "builds" and pool["taints"] == ["kiln=builds:NoSchedule"]
    assert pool["capacity"] == {"cpu": 16, "memory_gb": 64}
    assert "kubeconfig" not in p
    assert set(p["credentials"]) == {"configured", "kind", "fingerprint", "key_id", "updated_at"}
    listed = env.admin.get("/api/v1/admin/providers").json()["items"]
    assert [x["name"] for x in listed if x["name"] == "token-cluster"] == ["token-cluster"]
    assert_no_secret_in("\n".join(env.responses), env.secrets(), "an API response")


def test_client_certificate_and_exec_plugin_kubeconfigs_are_accepted(env):
    cert = env.add_provider("cert-cluster", user={"cert": True}, provider_type="kubernetes")
    assert cert["credentials"]["kind"] == "client_certificate"
    exec_user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(env.plugin),
                          "args": ["token"], "interactiveMode": "Never"}}
    ex = env.add_provider("exec-cluster", user=exec_user, provider_type="aks")
    assert ex["credentials"]["kind"] == "exec"


@pytest.mark.parametrize("body, status, field", [
    ({"name": "x", "provider_type": "kubernetes"}, 400, "kubeconfig"),
    ({"name": "x", "provider_type": "kubernetes", "kubeconfig": "not: [valid"}, 400, "kubeconfig"),
    ({"name": "x", "provider_type": "rke", "kubeconfig": None}, 400, "provider_type"),
    ({"name": "Bad_Name", "provider_type": "kubernetes", "kubeconfig": None}, 400, "name"),
    ({"name": "x", "provider_type": "kubernetes", "kubeconfig": None, "capabilities": {"gpu": "yes"}}, 400,
     "capabilities.gpu"),
    ({"name": "x", "provider_type": "kubernetes", "kubeconfig": None, "capabilities": {"quantum": True}}, 400,
     "capabilities.quantum"),
    ({"name": "x", "provider_type": "kubernetes", "kubeconfig": None,
      "node_pools": [{"name": "p", "labels": {"bad key!": "v"}}]}, 400, "node_pools[0].labels.bad key!"),
    ({"name": "x", "provider_type": "kubernetes", "kubeconfig": None,
      "node_pools": [{"name": "p", "taints": ["no-effect"]}]}, 400, "node_pools[0].taints[0]"),
    ({"name": "x", "provider_type": "kubernetes", "kubeconfig": None,
      "node_pools": [{"name": "p", "capabilities": ["teleport"]}]}, 400, "node_pools[0].capabilities"),
    ({"name": "x", "provider_type": "kubernetes", "kubeconfig": None, "secret": 1}, 400, "secret"),
])
def test_bad_provider_bodies_are_refused_naming_the_field(env, body, status, field):
    body = dict(body)
    if "kubeconfig" in body and body["kubeconfig"] is None:
        body["kubeconfig"] = env.cluster.kubeconfig({"token": env.token})
    err = error_of(env.admin.post("/api/v1/admin/providers", body), status)
    assert err["field"] == field, err


def test_a_kubeconfig_naming_files_is_refused_with_what_to_do(env):
    text = env.cluster.kubeconfig({"token": env.token}).replace("certificate-authority-data:", "certificate-authority: /etc/x.pem\n    x-was:")
    err = error_of(env.admin.post("/api/v1/admin/providers",
                                  {"name": "files", "provider_type": "kubernetes", "kubeconfig": text}), 400)
    assert err["field"] == "kubeconfig" and "--flatten" in err["message"], err
    legacy = env.cluster.kubeconfig({"token": env.token}).replace(f"token: {env.token}", "auth-provider: {name: gcp}")
    err = error_of(env.admin.post("/api/v1/admin/providers",
                                  {"name": "legacy", "provider_type": "gke", "kubeconfig": legacy}), 400)
    assert "gke-gcloud-auth-plugin" in err["message"]


def test_a_taken_name_is_a_conflict(env):
    env.add_provider("taken-name", pools=[])
    err = error_of(env.admin.post("/api/v1/admin/providers", {
        "name": "taken-name", "provider_type": "kubernetes",
        "kubeconfig": env.cluster.kubeconfig({"token": env.token})}), 409)
    assert err["field"] == "name"


def test_patch_changes_fields_pools_and_credentials(env):
    p = env.add_provider("patch-me")
    r = env.admin.patch(f"/api/v1/admin/providers/{p['id']}", {
        "display_name": "Patched", "enabled": False,
        "node_pools": [{"name": "gpu", "capabilities": ["gpu"], "taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]}]})
    assert r.status_code == 200, r.text
    q = r.json()
    assert q["display_name"] == "Patched" and q["enabled"] is False
    assert [x["name"] for x in q["node_pools"]] == ["gpu"]
    assert q["credentials"]["fingerprint"] == p["credentials"]["fingerprint"]
    r = env.admin.patch(f"/api/v1/admin/providers/{p['id']}", {"kubeconfig": env.cluster.kubeconfig({"cert": True})})
    assert r.status_code == 200, r.text
    assert r.json()["credentials"]["kind"] == "client_certificate"
    assert r.json()["credentials"]["fingerprint"] != p["credentials"]["fingerprint"]
    err = error_of(env.admin.patch(f"/api/v1/admin/providers/{p['id']}", {"name": "renamed"}), 400)
    assert err["field"] == "name"


def test_delete_removes_the_provider(env):
    p = env.add_provider("delete-me", pools=[])
    r = env.admin.delete(f"/api/v1/admin/providers/{p['id']}")
    assert r.status_code == 200 and r.json() == {"id": p["id"], "deleted": True}
    assert error_of(env.admin.get(f"/api/v1/admin/providers/{p['id']}"), 404)["code"] == "not_found"


def test_permissions_are_the_seeds(env):
    dev = env.stack.client(env.stack.token("default", "dev", "developer"))
    p = env.add_provider("perm-check", pools=[])
    assert error_of(dev.get("/api/v1/admin/providers"), 403)["code"] == "forbidden"
    assert error_of(dev.post("/api/v1/admin/providers", {"name": "x"}), 403)["code"] == "forbidden"
    assert error_of(dev.request("PATCH", f"/api/v1/admin/providers/{p['id']}", json_body={}), 403)["code"] == "forbidden"
    assert error_of(dev.request("DELETE", f"/api/v1/admin/providers/{p['id']}"), 403)["code"] == "forbidden"
    other = env.stack.client(env.stack.token("other-tenant", "boss", "admin"))
    assert error_of(other.get(f"/api/v1/admin/providers/{p['id']}"), 404)["code"] == "not_found"
    assert error_of(other.request("DELETE", f"/api/v1/admin/providers/{p['id']}"), 404)["code"] == "not_found"


# provider tests ----------------------------------------------------------------------------

def test_the_test_reports_each_check_for_token_cert_and_exec(env):
    for name, user in [("t-token", {"token": env.token}), ("t-cert", {"cert": True}),
                       ("t-exec", {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                            "command": str(env.plugin), "interactiveMode": "Never"}})]:
        p = env.add_provider(name, user=user, pools=[])
        result = env.test_provider(p["id"])
        assert result["ok"] is True, (name, result)
        assert all(c["ok"] for c in result["checks"])
    assert env.plugin_runs() == 1
    env.test_provider(p["id"])  # the exec token is cached until it expires
    assert env.plugin_runs() == 1


def test_the_test_explains_what_is_wrong(env):
    cases = {
        "bad-ca": ({"token": env.token}, {"ca": "other-ca.crt"}, "reachable", "not trusted"),
        "bad-token": ({"token": "kiln-wrong-token-0123456789"}, {}, "authenticated", "401"),
        "no-plugin": ({"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "kiln-no-such-plugin",
                                "interactiveMode": "Never"}}, {}, "credentials", "--exec-allow"),
    }
    for name, (user, kw, failing, words) in cases.items():
        text = env.cluster.kubeconfig(user, **kw)
        r = env.admin.post("/api/v1/admin/providers", {"name": name, "provider_type": "kubernetes", "kubeconfig": text})
        assert r.status_code == 201, r.text
        result = env.test_provider(r.json()["id"])
        checks = checks_by_name(result)
        assert result["ok"] is False and checks[failing]["ok"] is False, (name, result)
        assert words in checks[failing]["message"], (name, checks[failing])
        later = list(checks)[list(checks).index(failing) + 1:]
        assert all(checks[c].get("skipped") for c in later), checks
        assert env.admin.get(f"/api/v1/admin/providers/{r.json()['id']}").json()["health"]["status"] == "unhealthy"


def test_the_test_finds_missing_tekton_and_rbac(env):
    p = env.add_provider("t-tekton", pools=[])
    env.cluster.tekton_installed = False
    try:
        checks = checks_by_name(env.test_provider(p["id"]))
    finally:
        env.cluster.tekton_installed = True
    assert checks["tekton"]["ok"] is False and "not installed" in checks["tekton"]["message"]
    env.cluster.add_token("kiln-limited-token-0123456789", "limited")
    env.cluster.deny("limited", "create", "pipelineruns", TENANT_NAMESPACE)
    q = env.add_provider("t-rbac", user={"token": "kiln-limited-token-0123456789"}, pools=[])
    checks = checks_by_name(env.test_provider(q["id"]))
    assert checks["permissions"]["ok"] is False and "may not create" in checks["permissions"]["message"], checks
    r = env.add_provider("t-ns", pools=[], namespace="missing-ns")
    checks = checks_by_name(env.test_provider(r["id"]))
    assert checks["namespace"]["ok"] is False and "does not exist" in checks["namespace"]["message"]


def test_no_secret_reached_a_response_or_a_log(env):
    assert_no_secret_in("\n".join(env.responses), env.secrets(), "an API response")
    assert_no_secret_in(log_files_text(env.stack), env.secrets(), "a log file")


# pipeline templates ------------------------------------------------------------------------

def templates(env, method=None):
    r = env.admin.get("/api/v1/admin/pipeline-templates" + (f"?method={method}" if method else ""))
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_kiln_migrate_seeded_one_default_template_per_method(env):
    items = templates(env)
    defaults = {t["method"]: t for t in items if t["is_default"]}
    assert set(defaults) == {"docker", "buildx", "packer", "nix", "paketo", "script"}
    assert all(t["source"] == "seed" and t["version"] == "1.0.0" for t in defaults.values())
    docker = env.admin.get(f"/api/v1/admin/pipeline-templates/{defaults['docker']['id']}").json()
    assert "{{GIT_URL:x-yaml}}" in docker["template_yaml"]
    assert [p["name"] for p in docker["parameters"]] == ["git_url", "git_revision", "image", "dockerfile", "context"]
    assert docker["parameters"][0] == {"name": "git_url", "type": "string", "required": True, "default": None,
                                       "description": "Git repository to clone"}


HOSTILE = ['a"b\nkind: Secret', "---\n...\n", "{{NAME}}", "$(params.image)", "x: y # z", "\u2028\x00"]


def test_a_render_preview_carries_hostile_values_verbatim_and_validates(env):
    for t in [t for t in templates(env) if t["is_default"]]:
        params = {"docker": {"git_url": None, "image": None}, "buildx": {"git_url": None, "image": None},
                  "packer": {"git_url": None, "template": None}, "nix": {"flake_uri": None},
                  "paketo": {"git_url": None, "image": None}, "script": {"script": None}}[t["method"]]
        for value in HOSTILE:
            body = {"params": {k: value for k in params}, "spec": {"cpu": 2, "memory_gb": 3, "time_budget_min": 15},
                    "node_pool": {"labels": {"pool": "x"}, "taints": ["a=b:NoSchedule"]}}
            r = env.admin.post(f"/api/v1/admin/pipeline-templates/{t['id']}/render", body)
            assert r.status_code == 200, r.text
            run = r.json()["pipeline_run"]
            given = {p["name"]: p["value"] for p in run["spec"]["params"]}
            expected = value.replace("\x00", "\x00")
            for k in params:
                assert given[k] == expected, (t["method"], k, given[k])
            assert validate_pipeline_run(run) is None, (t["method"], validate_pipeline_run(run))
            assert run["metadata"]["namespace"] == "kiln-default"
            assert run["spec"]["timeouts"] == {"pipeline": "15m"}


def test_a_render_names_a_missing_or_unknown_parameter(env):
    docker = next(t for t in templates(env, "docker") if t["is_default"])
    err = error_of(env.admin.post(f"/api/v1/admin/pipeline-templates/{docker['id']}/render",
                                  {"params": {"image": "x"}}), 400)
    assert err["field"] == "params.git_url"
    err = error_of(env.admin.post(f"/api/v1/admin/pipeline-templates/{docker['id']}/render",
                                  {"params": {"image": "x", "git_url": "y", "nope": "z"}}), 400)
    assert err["field"] == "params.nope"
    # and at submit, before anything runs
    env.admin.post("/api/v1/projects", {"name": "tpl", "language": "go"})
    err = error_of(env.admin.post("/api/v1/builds", {"project": "tpl", "method": "docker",
                                                     "params": {"image": "x", "git_url": "y", "nope": "z"}}), 400)
    assert err["field"] == "params.nope"


def test_a_new_version_is_added_checked_and_made_default(env):
    text = (ROOT / "pipelines" / "tekton" / "docker.yaml").read_text().replace("version: 1.0.0", "version: 1.1.0")
    r = env.admin.post("/api/v1/admin/pipeline-templates", {"template_yaml": text, "description": "kaniko, newer"})
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["version"] == "1.1.0" and new["is_default"] is False and new["source"] == "api"
    err = error_of(env.admin.post("/api/v1/admin/pipeline-templates", {"template_yaml": text}), 409)
    assert err["field"] == "version"
    r = env.admin.post(f"/api/v1/admin/pipeline-templates/{new['id']}/default")
    assert r.status_code == 200 and r.json()["is_default"] is True
    defaults = [t for t in templates(env, "docker") if t["is_default"]]
    assert [t["id"] for t in defaults] == [new["id"]]
    audit = env.stack.sql("select action from kiln.audit_log where object_id = %s order by id", (new["id"],))
    assert [a[0] for a in audit] == ["pipeline_template.create", "pipeline_template.set_default"]


@pytest.mark.parametrize("change, field, words", [
    (("{{IMAGE:x-yaml}}", "{{IMAGE}}"), "template_yaml", "{{IMAGE}}"),
    (("{{IMAGE:x-yaml}}", "{{IMAGE:none}}"), "template_yaml", "not escaped"),
    (("{{IMAGE:x-yaml}}", "{{SECRET:x-yaml}}"), "template_yaml", "SECRET"),
    (("kind: PipelineRun", "kind: Pod"), "template_yaml", "PipelineRun"),
    (("    - {name: context, type: string, required: false, default: ./, description: build context in the repository}\n",
      ""), "parameters", "context"),
])
def test_unsafe_or_inconsistent_templates_are_refused(env, change, field, words):
    text = (ROOT / "pipelines" / "tekton" / "docker.yaml").read_text().replace("version: 1.0.0", "version: 9.0.0")
    text = text.replace(*change)
    if field == "parameters":
        text = text.replace("    - name: context\n      value: {{CONTEXT:x-yaml}}\n", "").replace(
            "      - {name: context, type: string}\n", "").replace(
            "          - {name: CONTEXT, value: $(params.context)}\n", "").replace(", CONTEXT,", ",")
    err = error_of(env.admin.post("/api/v1/admin/pipeline-templates", {"template_yaml": text}), 400)
    assert err["field"] == field and words in err["message"], err


def test_template_admin_needs_the_right_permissions(env):
    viewer = env.stack.client(env.stack.token("default", "viewer", "viewer"))
    assert error_of(viewer.get("/api/v1/admin/pipeline-templates"), 403)["code"] == "forbidden"
    dev = env.stack.client(env.stack.token("default", "dev2", "developer"))
    t = templates(env)[0]
    assert error_of(dev.post(f"/api/v1/admin/pipeline-templates/{t['id']}/default"), 403)["code"] == "forbidden"
    assert error_of(dev.post(f"/api/v1/admin/pipeline-templates/{t['id']}/render", {"params": {}}), 403)["code"] == "forbidden"
