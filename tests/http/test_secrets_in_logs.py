"""No secret in a log, an error body or a URL. One stack does a day's work with every kind of
credential: an admin API token, a developer token, a node token and the job tokens it is
handed, a page session from POST /admin/login, a Kubernetes provider on the fake API server
with a bearer token and another with a client certificate and key (both encrypted under the
master key), builds with parameters run to completion on a real build node (kiln-dispatch +
kiln-agent) and on the fake cluster, and every error path a wrong or misplaced credential
can take. Then every file the stack wrote under its KILN_VAR whose name says log (nginx
access and error logs, kiln-api, kiln-dispatch, kiln-agent, PostgreSQL's server log) and
every response body it received are searched for each secret, as is, base64-encoded and
percent-encoded: none may appear. A last test sends a valid credential in the query string of
every route of the router's table and expects it to be ignored."""
import base64
import re
import sys
import urllib.parse
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from k8s_env import K8sEnv, run_of  # noqa: E402
from route_table import load_routes  # noqa: E402
from stack import (FINAL_STATUSES, fresh_dir, log_tails, remove_fresh_dir, submit_and_start,  # noqa: E402
                   wait_for, wait_status)

NODE = "secrets-node"


def login(stack, token):
    """Signs in on the pages with token; returns the Set-Cookie values of the answer."""
    s = requests.Session()
    form = s.get(stack.url + "/admin/login", timeout=30)
    assert form.status_code == 200, form.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    r = s.post(stack.url + "/admin/login", timeout=30, allow_redirects=False, cookies={"kiln_login_csrf": csrf},
               data={"csrf_token": csrf, "token": token, "next": ""})
    return r


def cookie_values(response):
    """{name: value} of every Set-Cookie header of a response."""
    out = {}
    for key, value in response.raw.headers.items():
        if key.lower() == "set-cookie":
            name, _, rest = value.partition("=")
            out[name.strip()] = rest.split(";", 1)[0]
    return out


class Recorder:
    """Every response body and header the test received, with what was asked. The answers
    whose job is to hand out a credential (a sign-in's Set-Cookie, a claim's job token) are
    kept apart: those may carry it, once."""

    def __init__(self):
        self.seen = []
        self.issuing = []

    def __call__(self, r, issues=False):
        text = f"{r.request.method} {r.request.url} -> {r.status_code}\n{dict(r.headers)}\n{r.text}"
        (self.issuing if issues else self.seen).append(text)
        return r


@pytest.fixture(scope="module")
def env():
    e = K8sEnv(fresh_dir("secrets"))
    e.record = Recorder()
    e.secrets = {}  # name -> value
    yield e
    e.stop()
    remove_fresh_dir(e.tmp)


def call(env, method, path, token=None, json_body=None, headers=None, cookies=None, issues=False):
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    if cookies:
        h["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    r = requests.request(method, env.stack.url + path, json=json_body, headers=h, timeout=40, allow_redirects=False)
    return env.record(r, issues=issues)


def test_a_day_of_work_with_every_kind_of_credential(env):
    stack = env.stack
    admin = stack.admin_token
    developer = stack.token("default", "secrets-dev", "developer")
    env.secrets.update({"admin token": admin, "developer token": developer,
                        "kubernetes bearer token": env.token, "exec plugin token": env.exec_token})
    key_pem = env.cluster.pem("client.key")
    key_body = "".join(line for line in key_pem.splitlines() if "-----" not in line)
    env.secrets.update({"client key (start)": key_body[:40], "client key (end)": key_body[-40:],
                        "client key (middle)": key_body[len(key_body) // 2:len(key_body) // 2 + 40]})
    master_hex = env.key.read_text().split(":", 1)[1].strip()
    env.secrets["master key (hex)"] = master_hex
    env.secrets["master key (base64)"] = base64.b64encode(bytes.fromhex(master_hex)).decode()

    # A Kubernetes provider with the bearer token (the one builds run on).
    r = env.record(env.admin.post("/api/v1/projects", {"name": "web", "language": "go"}))
    assert r.status_code == 201, r.text
    token_provider = env.add_provider("secrets-token")
    env.dispatch_proc = env.dispatcher("secrets")
    result = env.test_provider(token_provider["id"])
    assert result["ok"], result

    # A build node and its agent.
    node, token_file = env.workers.register_node(NODE, labels={"arch": "amd64"}, concurrency=2)
    env.secrets["node token"] = node["token"]
    env.workers.agent(NODE, token_file, concurrency=2, extra=["--label", "arch=amd64"])

    # A page session.
    r = env.record(login(stack, admin), issues=True)
    assert r.status_code == 303, r.text
    cookies = cookie_values(r)
    session = {k: v for k, v in cookies.items() if "session" in k and v}
    assert session, cookies
    for name, value in session.items():
        env.secrets[f"session cookie {name}"] = value
    r = call(env, "GET", "/admin/builds", cookies=session)
    assert r.status_code == 200, r.text[:500]

    # Builds with parameters, run to completion: on the node, and on the fake cluster.
    node_build = submit_and_start(env.admin, {
        "project": "web", "method": "script", "infrastructure_type": "build_nodes",
        "params": {"script": "echo building; echo done >&2"},
        "spec": {"cpu": 1, "memory_gb": 1, "time_budget_min": 10}})
    k8s_build = submit_and_start(env.admin, {
        "project": "web", "method": "docker", "infrastructure_type": "kubernetes",
        "params": {"git_url": "https://git.example.com/team/web.git", "image": "registry.example.com/team/web:1"},
        "spec": {"cpu": 1, "memory_gb": 1, "time_budget_min": 10}})
    run = run_of(env.cluster, k8s_build["id"])
    wait_status(env.admin, k8s_build["id"], "running", timeout=60)
    env.cluster.finish(run["metadata"]["namespace"], run["metadata"]["name"], "succeeded",
                       logs={"push/crane": "pushed registry.example.com/team/web:1\n"})
    for b in (node_build, k8s_build):
        done = wait_status(env.admin, b["id"], FINAL_STATUSES, timeout=90)
        assert done["status"] == "succeeded", (done, log_tails(stack, ["agent", "dispatch", "kiln-api"]))
        r = env.record(env.admin.get(f"/api/v1/builds/{b['id']}/logs"))
        assert r.status_code == 200

    # A provider with the client certificate and key, decrypted and used by its test.
    cert_provider = env.add_provider("secrets-cert", user={"cert": True})
    assert cert_provider["credentials"]["kind"] == "client_certificate", cert_provider
    result = env.test_provider(cert_provider["id"])
    checks = {c["name"]: c for c in result["checks"]}
    assert checks["credentials"]["ok"] and checks["authenticated"]["ok"], result  # the key was used

    # A job token: claimed by hand as a second node, so its value is known to the test.
    manual, manual_file = env.workers.register_node("secrets-manual", labels={"arch": "riscv64"}, concurrency=1)
    manual_token = manual["token"]
    env.secrets["second node token"] = manual_token
    build = submit_and_start(env.admin, {
        "project": "web", "method": "script", "infrastructure_type": "build_nodes",
        "requirements": {"arch": ["riscv64"]}, "params": {"script": "echo manual"},
        "spec": {"cpu": 1, "memory_gb": 1, "time_budget_min": 10}})
    declared = {"labels": {"arch": "riscv64"}, "concurrency": 1, "running": 0, "wait_seconds": 5, "version": "test"}
    claimed = wait_for(lambda: call(env, "POST", "/api/v1/agent/claim", manual_token, declared,
                                    issues=True).json().get("executions"),
                       timeout=30, what="the manual claim")
    ex = claimed[0]
    job_tokens = [v for k, v in ex.items() if "token" in k and isinstance(v, str) and v]
    for i, t in enumerate(job_tokens):
        env.secrets[f"job token {i}"] = t
    eid, epoch = ex["execution_id"], ex["epoch"]
    finish = {"epoch": epoch, "outcome": "succeeded", "exit_code": 0}
    log = {"epoch": epoch, "offset": 0, "data": "manual line\n"}
    # Whichever credential the agent protocol takes for an execution's calls: the job token
    # when there is one, the node token otherwise.
    cred = job_tokens[0] if job_tokens else manual_token
    r = call(env, "POST", f"/api/v1/agent/executions/{eid}/logs", cred, log)
    if r.status_code == 401 and job_tokens:
        cred = manual_token
        r = call(env, "POST", f"/api/v1/agent/executions/{eid}/logs", cred, log)
    assert r.status_code == 200, r.text
    r = call(env, "POST", f"/api/v1/agent/executions/{eid}/finish", cred, finish)
    assert r.status_code == 200, r.text
    assert wait_status(env.admin, build["id"], FINAL_STATUSES, timeout=30)["status"] == "succeeded"

    # Error paths: wrong, truncated, misplaced and stale credentials.
    near_miss = admin[:-4] + ("aaaa" if not admin.endswith("aaaa") else "bbbb")
    env.secrets["near-miss token"] = near_miss
    for bad in (near_miss, admin[:20], node["token"], developer + "x", "kiln_" + "0" * 40):
        r = call(env, "GET", "/api/v1/builds", bad)
        assert r.status_code == 401, r.text
        r = call(env, "POST", "/api/v1/admin/build-nodes", bad, {"name": "x"})
        assert r.status_code in (401, 403), r.text
    r = call(env, "POST", "/api/v1/admin/build-nodes", developer, {"name": "x"})
    assert r.status_code == 403, r.text
    for bad in (admin, developer, near_miss, job_tokens[0] if job_tokens else "kiln_job_x"):
        r = call(env, "POST", "/api/v1/agent/claim", bad, declared)
        assert r.status_code == 401, r.text
    r = call(env, "POST", f"/api/v1/agent/executions/{eid}/finish", cred, finish)  # after the end
    assert r.status_code in (401, 404, 409), r.text
    r = call(env, "GET", "/api/v1/builds", headers={"Authorization": f"Basic {admin}"})
    assert r.status_code == 401, r.text
    r = call(env, "GET", "/api/v1/builds", cookies=session)  # the API does not take the cookie
    assert r.status_code == 401, r.text
    r = env.record(login(stack, near_miss))  # a failed sign-in
    assert r.status_code != 303 or "session" not in "".join(cookie_values(r)), r.text
    r = call(env, "GET", "/admin/builds", cookies={k: v[:-3] + "xyz" for k, v in session.items()})
    assert r.status_code == 303, r.text
    r = call(env, "POST", "/api/v1/admin/providers", admin, {
        "name": "bad-key", "provider_type": "kubernetes",
        "kubeconfig": env.cluster.kubeconfig({"token": env.token}).replace("certificate-authority-data: ",
                                                                          "certificate-authority-data: x"),
        "capabilities": {}, "node_pools": []})
    assert r.status_code == 400, r.text
    # Sign out: the session ends and its cookie is refused afterwards.
    page = call(env, "GET", "/admin/builds", cookies=session)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf, page.text[:500]
    r = env.record(requests.post(stack.url + "/admin/logout", data={"csrf_token": csrf.group(1)}, timeout=30,
                                 allow_redirects=False,
                                 headers={"Cookie": "; ".join(f"{k}={v}" for k, v in session.items())}))
    assert r.status_code == 303, r.text
    r = call(env, "GET", "/admin/builds", cookies=session)
    assert r.status_code == 303, r.text


def log_files(var):
    """Every file under the stack's directory that is a log: *.log, and the files in a log
    directory (PostgreSQL's own, should it be switched on)."""
    out = []
    for path in sorted(Path(var).rglob("*")):
        if path.is_file() and (path.suffix == ".log" or path.parent.name in ("log", "pg_log")):
            out.append(path)
    return out


def encodings(value):
    out = {value}
    raw = value.encode()
    out.add(base64.b64encode(raw).decode().rstrip("="))
    out.add(base64.urlsafe_b64encode(raw).decode().rstrip("="))
    out.add(urllib.parse.quote(value, safe=""))
    return {e for e in out if len(e) >= 12}


def test_no_secret_in_any_log_or_response(env):
    assert len(env.secrets) >= 12, sorted(env.secrets)
    # Let the workers write what they write on the way down.
    env.workers.stop_all()
    files = log_files(env.stack.var)
    names = {p.name for p in files}
    for expected in ("nginx-access.log", "nginx-error.log", "kiln-api.log", "postgres.log",
                     f"agent-{NODE}.log", "dispatch-secrets.log"):
        assert expected in names, (expected, sorted(names))
    texts = {str(p.relative_to(env.stack.var)): p.read_bytes().decode("utf-8", "replace") for p in files}
    assert sum(len(t) for t in texts.values()) > 10000, "the stack wrote suspiciously little log"
    texts["responses"] = "\n".join(env.record.seen + env.responses)
    assert len(env.record.seen) + len(env.responses) > 30 and env.record.issuing, "too few answers recorded"
    leaks = []
    for name, secret in env.secrets.items():
        for form in encodings(secret):
            for where, text in texts.items():
                if form in text:
                    leaks.append(f"{name} in {where}")
    assert not leaks, leaks


def test_no_route_takes_a_credential_in_the_query_string(env):
    """Every route of the router's table, with a valid admin token (and the session cookie's
    value) in the query string under every usual name, and no credential elsewhere: none
    authenticates. Done with a token minted for it, kept out of the log search above."""
    url_token = env.stack.token("default", "url-probe", "admin")
    routes = load_routes()
    assert len(routes) > 20, routes
    names = ("token", "access_token", "api_key", "apikey", "key", "auth", "authorization", "bearer", "session",
             "kiln_session", "__Host-kiln_session", "job_token", "node_token")
    query = urllib.parse.urlencode({n: url_token for n in names})
    checked = 0
    for route in routes:
        path = re.sub(r"\{[a-z_]+\}", "00000000-0000-4000-8000-000000000000", route["pattern"])
        if route["pattern"].endswith("{name}"):
            path = path.rsplit("/", 1)[0] + "/web"
        r = requests.request(route["method"], f"{env.stack.url}{path}?{query}", timeout=30, allow_redirects=False,
                             data=b"{}" if route["method"] in ("POST", "PUT", "PATCH") else None)
        if route.get("permission") == "public":
            # A public route may answer, but never as the token's holder.
            assert "url-probe" not in r.text, (route, r.text[:300])
            continue
        checked += 1
        if route.get("permission") == "node-token":
            # The agent routes read their body before the SQL function checks the token.
            assert r.status_code in (400, 401), (route, r.status_code, r.text[:300])
        elif route.get("auth") == "page-session":
            # A page without a session: the redirect to the sign-in form.
            assert r.status_code == 303 and "/admin/login" in r.headers.get("Location", ""), \
                (route, r.status_code, r.text[:300])
        else:
            assert r.status_code == 401, (route, r.status_code, r.text[:300])
        assert "url-probe" not in r.text, (route, r.text[:300])
    assert checked > 20, checked
