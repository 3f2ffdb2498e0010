"""kiln-api's route table (kiln-api --print-routes) and a tenant holding one object of every
kind a route placeholder can name, for the tests generated from the table (route isolation,
audit coverage, edge headers). A placeholder whose kind is not listed in KIND_OF here fails
those tests: a new route cannot escape them silently."""
import json
import os
import re
import subprocess
from pathlib import Path

import requests

from stack import wait_for

ROOT = Path(__file__).resolve().parents[2]

PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")

# The path segment before a placeholder (and the placeholder's name) -> the object kind.
KIND_OF = {
    ("builds", "id"): "build",
    ("build-nodes", "id"): "build_node",
    ("providers", "id"): "provider",
    ("pipeline-templates", "id"): "pipeline_template",
    ("schedules", "id"): "schedule",
    ("webhooks", "id"): "webhook",
    ("tokens", "id"): "token",
    ("sessions", "id"): "session",
    ("executions", "id"): "execution",
    ("projects", "name"): "project",
}

# Kinds that are not a tenant's: one set per installation, readable by every tenant.
# Pipeline templates are platform-wide (migration 0004, docs/kubernetes.md).
SHARED_KINDS = {"pipeline_template": "pipeline templates are platform-wide, one set per installation"}


def load_routes():
    build_dir = Path(os.environ.get("KILN_BUILD_DIR", ROOT / "build"))
    out = subprocess.run([str(build_dir / "cmd" / "kiln-api"), "--print-routes"], check=True,
                         capture_output=True, text=True, timeout=30).stdout
    routes = json.loads(out)
    assert routes, "kiln-api --print-routes printed no route"
    return routes


def route_id(route):
    return f"{route['method']} {route['pattern']}"


def placeholder_kinds(pattern):
    """[(name, kind or None)] for each placeholder of a pattern."""
    parts = pattern.strip("/").split("/")
    kinds = []
    for i, part in enumerate(parts):
        m = PLACEHOLDER.fullmatch(part)
        if m:
            before = parts[i - 1] if i else ""
            kinds.append((m.group(1), KIND_OF.get((before, m.group(1)))))
    return kinds


def fill(pattern, objects):
    """The pattern with each placeholder replaced by the object of its kind."""
    out = pattern
    for name, kind in placeholder_kinds(pattern):
        assert kind is not None, f"{pattern}: no fixture kind for placeholder {{{name}}}; add it to KIND_OF"
        assert kind in objects, f"{pattern}: the fixture has no {kind}"
        out = out.replace("{" + name + "}", str(objects[kind]), 1)
    return out


def csrf_of(html):
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, html[:2000]
    return m.group(1)


class PageSession:
    """A page session signed in with an API token. Cookies are sent by hand: they are
    Secure, and requests keeps Secure cookies from plain HTTP."""

    def __init__(self, url, token):
        self.url = url
        form = requests.get(url + "/admin/login", timeout=30)
        assert form.status_code == 200, form.text
        csrf = csrf_of(form.text)
        cookies = {k: v for k, v in form.cookies.items()}
        r = requests.post(url + "/admin/login", timeout=30, allow_redirects=False,
                          headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())},
                          data={"csrf_token": csrf, "token": token, "next": ""})
        assert r.status_code == 303, r.text
        self.cookies = {k: v for k, v in r.cookies.items()}
        assert self.cookies, r.headers
        page = self.request("GET", "/admin/builds")
        assert page.status_code == 200, page.text
        self.csrf = csrf_of(page.text)

    def request(self, method, path, data=None):
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if method != "GET":
            data = dict(data or {}, csrf_token=self.csrf)
        return requests.request(method, self.url + path, headers=headers, data=data, timeout=30,
                                allow_redirects=False)


SCRIPT_BUILD = {"method": "script", "params": {"script": "echo isolation"},
                "spec": {"cpu": 1, "memory_gb": 1, "time_budget_min": 10}, "infrastructure_type": "auto"}


def make_tenant_objects(env, admin, token, prefix, node_token_out=None, arch="riscv64"):
    """One object of every kind for the tenant of `admin` (a client with an admin token).
    Returns (objects: kind -> placeholder value, identifiers: every id and name created).
    Needs env: a K8sEnv (providers need the master key and a cluster) with a dispatcher."""
    objects, idents = {}, []

    def created(r):
        assert r.status_code in (200, 201), r.text
        return r.json()

    project = created(admin.post("/api/v1/projects", {"name": f"{prefix}-web", "language": "go"}))
    objects["project"] = project["name"]
    idents += [project["id"], project["name"]]

    labels = {"arch": arch}
    node = created(admin.post("/api/v1/admin/build-nodes",
                              {"name": f"{prefix}-node", "labels": labels, "concurrency": 1}))
    objects["build_node"] = node["id"]
    idents += [node["id"], node["name"], node["token"]]
    if node_token_out is not None:
        node_token_out.append(node["token"])

    provider = env.add_provider(f"{prefix}-cluster")
    objects["provider"] = provider["id"]
    idents += [provider["id"], provider["name"]]

    templates = created(admin.get("/api/v1/admin/pipeline-templates"))["items"]
    assert templates, "no pipeline template is seeded"
    objects["pipeline_template"] = templates[0]["id"]

    schedule = created(admin.post("/api/v1/schedules", {
        "name": f"{prefix}-nightly", "cron": "0 3 * * *",
        "template": dict(SCRIPT_BUILD, project=project["name"])}))
    objects["schedule"] = schedule["id"]
    idents += [schedule["id"], schedule["name"]]

    webhook = created(admin.post("/api/v1/admin/webhooks", {
        "name": f"{prefix}-hook", "url": "http://127.0.0.1:9/hook", "events": ["build.failed"]}))
    objects["webhook"] = webhook["id"]
    idents += [webhook["id"], webhook["name"]]

    tokens = created(admin.get("/api/v1/admin/tokens"))["items"]
    assert tokens, "the tenant lists no token"
    objects["token"] = tokens[0]["id"]
    idents += [t["id"] for t in tokens]

    page = PageSession(env.stack.url, token)
    sessions = created(admin.get("/api/v1/admin/sessions"))["items"]
    assert sessions, "the tenant lists no session after a sign-in"
    objects["session"] = sessions[0]["id"]
    idents += [s["id"] for s in sessions]

    # A build claimed by the tenant's node: the execution placeholder's target.
    build = created(admin.post("/api/v1/builds", dict(SCRIPT_BUILD, project=project["name"],
                                                      requirements={"arch": [labels["arch"]]})))
    created(admin.post(f"/api/v1/builds/{build['id']}/start"))
    objects["build"] = build["id"]
    idents.append(build["id"])
    declared = {"labels": labels, "concurrency": 1, "running": 0, "wait_seconds": 0, "version": "isolation-test"}

    def claim():
        r = requests.post(f"{env.stack.url}/api/v1/agent/claim", json=declared, timeout=40,
                          headers={"Authorization": f"Bearer {node['token']}"})
        assert r.status_code == 200, r.text
        return r.json()["executions"]

    executions = wait_for(claim, timeout=60, interval=0.5, what=f"{prefix}'s build to be offered to its node")
    objects["execution"] = executions[0]["execution_id"]
    idents.append(executions[0]["execution_id"])
    for key in ("job_token", "token"):
        if isinstance(executions[0].get(key), str):
            idents.append(executions[0][key])
    return objects, idents, page
