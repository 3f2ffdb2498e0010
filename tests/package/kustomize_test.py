"""package.kustomize: renders deploy/kubernetes/overlays/* with `kubectl kustomize` and checks
the objects: which exist, their images, probes, volumes, security and resources, and that
every Secret and ConfigMap key they read exists (ConfigMaps) or is documented (Secrets, which
the operator creates: deploy/kubernetes/README.md)."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
OVERLAYS = ["example", "example-loop"]


def render(overlay):
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is needed (Debian package kubernetes-client; any kubectl >= 1.20)"
    out = subprocess.run([kubectl, "kustomize", str(DEPLOY / "overlays" / overlay)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request):
    return request.param, render(request.param)


def by_kind(objects, kind):
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def pod_specs(objects):
    """(object name, pod spec) of every workload."""
    for o in objects:
        if o["kind"] in ("Deployment", "Job"):
            yield o["metadata"]["name"], o["spec"]["template"]["spec"]
        elif o["kind"] == "CronJob":
            yield o["metadata"]["name"], o["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def containers(spec):
    return spec.get("initContainers", []) + spec["containers"]


def configmap(objects, prefix):
    """The generated ConfigMap whose name is prefix plus kustomize's hash suffix."""
    found = [o for o in objects if o["kind"] == "ConfigMap" and re.fullmatch(prefix + r"-[a-z0-9]{10}", o["metadata"]["name"])]
    assert len(found) == 1, f"ConfigMap {prefix}-<hash>: {[o['metadata']['name'] for o in found]}"
    return found[0]


def test_the_expected_objects_are_rendered_in_namespace_kiln(rendered):
    overlay, objects = rendered
    names = sorted((o["kind"], o["metadata"]["name"]) for o in objects if o["kind"] != "ConfigMap")
    dispatcher = ("CronJob", "kiln-dispatch") if overlay == "example" else ("Deployment", "kiln-dispatch")
    assert names == sorted([("Deployment", "kiln-api"), ("Service", "kiln-api"), ("Job", "kiln-migrate"),
                            ("Job", "kiln-reporting-role"), dispatcher])
    for prefix in ("kiln-nginx", "kiln-config", "kiln-reporting-sql"):
        configmap(objects, prefix)
    assert {o["metadata"].get("namespace") for o in objects} == {"kiln"}
    assert all(o["metadata"]["labels"]["app.kubernetes.io/part-of"] == "kiln" for o in objects)


def test_every_container_uses_a_pinned_image_from_the_overlay(rendered):
    _, objects = rendered
    images = {c["image"] for _, spec in pod_specs(objects) for c in containers(spec)}
    assert images == {"registry.example.org/kiln:0.1.0", "docker.io/nginxinc/nginx-unprivileged:1.22-alpine",
                      "docker.io/library/postgres:15"}


def test_kiln_api_runs_beside_nginx_on_a_shared_socket_with_probes_on_healthz(rendered):
    _, objects = rendered
    api = by_kind(objects, "Deployment")["kiln-api"]
    spec = api["spec"]["template"]["spec"]
    by_name = {c["name"]: c for c in spec["containers"]}
    assert set(by_name) == {"kiln-api", "nginx"}
    kiln_api, nginx = by_name["kiln-api"], by_name["nginx"]
    assert kiln_api["command"] == ["kiln-api", "--listen", "/run/kiln/kiln-api.sock"]
    mounts = lambda c: {m["mountPath"]: m["name"] for m in c["volumeMounts"]}  # noqa: E731
    assert mounts(kiln_api)["/run/kiln"] == mounts(nginx)["/run/kiln"] == "run"
    nginx_conf = configmap(objects, "kiln-nginx")["data"]["nginx.conf"]
    assert "server unix:/run/kiln/kiln-api.sock;" in nginx_conf
    assert "listen 8080;" in nginx_conf
    assert [p["containerPort"] for p in nginx["ports"]] == [8080]
    assert nginx["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert kiln_api["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert nginx["livenessProbe"]["httpGet"]["path"] == "/static/kiln.css"
    conf_mount = next(m for m in nginx["volumeMounts"] if m["mountPath"] == "/etc/nginx/nginx.conf")
    conf_volume = next(v for v in spec["volumes"] if v["name"] == conf_mount["name"])
    assert conf_volume["configMap"]["name"] == configmap(objects, "kiln-nginx")["metadata"]["name"]
    assert conf_mount["subPath"] == "nginx.conf"
    service = by_kind(objects, "Service")["kiln-api"]
    assert service["spec"]["selector"] == api["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_the_pod_nginx_configuration_is_the_repository_one_rendered(rendered, tmp_path):
    _, objects = rendered
    subprocess.run([str(DEPLOY / "nginx-conf.sh"), str(tmp_path / "nginx.conf")], check=True)
    expected = (tmp_path / "nginx.conf").read_text()
    assert (DEPLOY / "base" / "nginx.conf").read_text() == expected, \
        "nginx/kiln.conf.in changed: run deploy/kubernetes/nginx-conf.sh"
    assert configmap(objects, "kiln-nginx")["data"]["nginx.conf"] == expected
    assert not re.search(r"^[^#]*@[A-Z]+@", expected, re.M), "a placeholder is left"


def test_the_dispatcher_runs_once_from_a_cronjob_or_as_a_loop(rendered):
    overlay, objects = rendered
    if overlay == "example":
        cron = by_kind(objects, "CronJob")["kiln-dispatch"]
        assert cron["spec"]["schedule"] == "* * * * *"
        assert cron["spec"]["concurrencyPolicy"] == "Forbid"
        spec = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        assert spec["containers"][0]["command"] == ["kiln-dispatch", "--once"]
        assert spec["restartPolicy"] == "Never"
    else:
        loop = by_kind(objects, "Deployment")["kiln-dispatch"]
        container = loop["spec"]["template"]["spec"]["containers"][0]
        assert container["command"][:2] == ["kiln-dispatch", "--loop"]
        assert container["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}
        assert loop["spec"]["replicas"] >= 2


def test_the_jobs_migrate_and_give_the_reporting_role_a_login(rendered):
    _, objects = rendered
    jobs = by_kind(objects, "Job")
    assert jobs["kiln-migrate"]["spec"]["template"]["spec"]["containers"][0]["command"] == ["kiln", "migrate"]
    sql = configmap(objects, "kiln-reporting-sql")["data"]["reporting-login.sql"]
    assert "grant kiln_reporting to :\"login\";" in sql
    psql = jobs["kiln-reporting-role"]["spec"]["template"]["spec"]["containers"][0]
    assert "-f /sql/reporting-login.sql" in psql["command"][-1]


def test_every_container_is_non_root_read_only_and_has_requests_and_limits(rendered):
    _, objects = rendered
    for name, spec in pod_specs(objects):
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] > 0, name
        assert spec["automountServiceAccountToken"] is False, name
        for c in containers(spec):
            where = f"{name}/{c['name']}"
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            for kind in ("requests", "limits"):
                assert set(c["resources"][kind]) == {"cpu", "memory"}, where


def test_every_volume_mount_has_its_volume_and_every_referenced_key_exists_or_is_documented(rendered):
    _, objects = rendered
    configmaps = {o["metadata"]["name"]: o["data"] for o in objects if o["kind"] == "ConfigMap"}
    documented = set(re.findall(r"^\| `([a-z0-9-]+)` \| `([A-Za-z0-9._-]+)` \|",
                                (DEPLOY / "README.md").read_text(), re.M))
    secrets_used = set()
    for name, spec in pod_specs(objects):
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for c in containers(spec):
            for m in c.get("volumeMounts", []):
                assert m["name"] in volumes, f"{name}/{c['name']} mounts unknown volume {m['name']}"
            for env in c.get("env", []):
                ref = env.get("valueFrom", {})
                if "configMapKeyRef" in ref:
                    r = ref["configMapKeyRef"]
                    assert r["key"] in configmaps.get(r["name"], {}), f"{name}: ConfigMap {r['name']} key {r['key']}"
                if "secretKeyRef" in ref:
                    secrets_used.add((ref["secretKeyRef"]["name"], ref["secretKeyRef"]["key"]))
        for v in volumes.values():
            if "configMap" in v:
                assert v["configMap"]["name"] in configmaps, f"{name}: volume {v['name']}"
            if "secret" in v:
                for item in v["secret"]["items"]:
                    secrets_used.add((v["secret"]["secretName"], item["key"]))
    assert secrets_used, "no Secret referenced at all"
    missing = secrets_used - documented
    assert not missing, f"Secret keys not documented in deploy/kubernetes/README.md: {sorted(missing)}"
