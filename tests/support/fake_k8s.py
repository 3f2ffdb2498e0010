"""A fake Kubernetes API server with Tekton, for the dispatcher's tests. It behaves as the
real one does for the calls Kiln makes (../shared/tekton/REFERENCE.md):

- HTTPS with a CA, server and client certificates made by the openssl CLI; bearer-token and
  client-certificate authentication (401 Unauthorized otherwise; anonymous only for /version);
  a deny list per user for RBAC (403 Forbidden naming user, verb, resource, namespace).
- Status objects for every error: 400, 401, 403, 404, 409 AlreadyExists, 415, 422 Invalid
  with details.causes, 429 with Retry-After, 5xx: injectable faults.
- PipelineRuns: create (validated against Tekton's CRD schema and catalog tasks by
  tekton_validation: 422 / 400 as the API server / webhook answer), get, list by label
  selector (=, ==, !=, exists, !exists, in, notin) with limit/continue, merge-patch
  (application/merge-patch+json only; spec changes on a finished run are refused), delete.
- TaskRuns (list by label), pods and step logs (container=, limitBytes=).
- Runs start Running with a TaskRun and pod per task; tests move them to Succeeded, Failed,
  PipelineRunTimeout or OOMKilled (three ways Tekton reports it) with finish(); cancelling
  through the API moves them to Cancelled and deletes their pods (and so their logs).
- SelfSubjectReview, SelfSubjectAccessReview, namespaces, /apis/tekton.dev/v1 discovery.
- Every request is recorded (calls) for assertions; a control endpoint over plain HTTP
  (control_url) exposes the same operations to other processes.

Use: cluster = FakeCluster(tmpdir).start(); cluster.kubeconfig(...); cluster.stop()."""
import copy
import json
import re
import ssl
import subprocess
import sys
import threading
import time
import uuid
from base64 import b64encode
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tekton_validation import CATALOG, validate_pipeline_run  # noqa: E402

TEKTON_RESOURCES = ["pipelineruns", "taskruns", "pipelines", "tasks"]


def now_rfc3339():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_body(code, reason, message, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
    if details is not None:
        body["details"] = details
    return body


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None, headers=None, raw=None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details
        self.headers = headers or {}
        self.raw = raw  # a non-Status body (a proxy's page)


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certs(d):
    """CA, server certificate (127.0.0.1, localhost), client certificate (CN kiln-dispatcher),
    and a second CA nobody trusts; all with the openssl CLI."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    if (d / "client.crt").exists():
        return d
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=fake-kubernetes-ca", cwd=d)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other-ca.key", "-out", "other-ca.crt",
            "-days", "2", "-subj", "/CN=someone-else", cwd=d)
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.fake\n"
                                  "extendedKeyUsage=serverAuth\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=kube-apiserver", cwd=d)
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "2", "-extfile", "server.ext", cwd=d)
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    # An EC key in SEC1 form, as k3s writes it.
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "client.key", cwd=d)
    openssl("req", "-new", "-key", "client.key", "-out", "client.csr", "-subj", "/O=kiln/CN=kiln-dispatcher", cwd=d)
    openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "client.crt", "-days", "2", "-extfile", "client.ext", cwd=d)
    return d


class Selector:
    """A label selector: a=b, a==b, a!=b, a, !a, a in (x,y), a notin (x,y)."""

    def __init__(self, text):
        self.terms = []
        for part in re.findall(r"[^,(]+(?:\([^)]*\))?", text or ""):
            part = part.strip().strip(",").strip()
            if not part:
                continue
            m = re.match(r"^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$", part)
            if m:
                values = {v.strip() for v in m.group(3).split(",")}
                self.terms.append((m.group(1), m.group(2), values))
            elif "!=" in part:
                k, v = part.split("!=", 1)
                self.terms.append((k.strip(), "!=", v.strip()))
            elif "==" in part or "=" in part:
                k, v = re.split(r"==?", part, 1)
                self.terms.append((k.strip(), "=", v.strip()))
            elif part.startswith("!"):
                self.terms.append((part[1:].strip(), "!exists", None))
            else:
                self.terms.append((part, "exists", None))

    def matches(self, labels):
        for key, op, value in self.terms:
            have = labels.get(key)
            if op == "=" and have != value:
                return False
            if op == "!=" and have == value:
                return False
            if op == "exists" and key not in labels:
                return False
            if op == "!exists" and key in labels:
                return False
            if op == "in" and have not in value:
                return False
            if op == "notin" and have in value:
                return False
        return True


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


class FakeCluster:
    def __init__(self, workdir, namespaces=("default",)):
        self.dir = make_certs(Path(workdir) / "fake-k8s")
        self.lock = threading.RLock()
        self.tokens = {}            # bearer token -> user
        self.cert_users = {"kiln-dispatcher": "system:kiln-dispatcher"}
        self.denied = {}            # user -> [(verb, resource, namespace or None)]
        self.namespaces = set(namespaces)
        self.tekton_installed = True
        self.runs, self.task_runs, self.pods = {}, {}, {}   # (ns, name) -> object / pod record
        self.calls = []
        self.faults = []
        self.rv = 1000
        self.server = self.control = None

    # ---------------------------------------------------------------- lifecycle
    def start(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.dir / "server.crt", self.dir / "server.key")
        ctx.load_verify_locations(self.dir / "ca.crt")
        ctx.verify_mode = ssl.CERT_OPTIONAL
        cluster = self

        class Api(_Handler):
            pass
        Api.cluster = cluster
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
        self.server.daemon_threads = True
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

        class Control(_ControlHandler):
            pass
        Control.cluster = cluster
        self.control = ThreadingHTTPServer(("127.0.0.1", 0), Control)
        self.control.daemon_threads = True
        self.control_url = f"http://127.0.0.1:{self.control.server_address[1]}"
        threading.Thread(target=self.control.serve_forever, daemon=True).start()
        return self

    def stop(self):
        for s in (self.server, self.control):
            if s:
                s.shutdown()
                s.server_close()

    # ---------------------------------------------------------------- credentials
    def add_token(self, token, user="system:serviceaccount:kiln:dispatcher"):
        with self.lock:
            self.tokens[token] = user

    def deny(self, user, verb, resource, namespace=None):
        with self.lock:
            self.denied.setdefault(user, []).append((verb, resource, namespace))

    def pem(self, name):
        return (self.dir / name).read_text()

    def kubeconfig(self, user, namespace=None, ca="ca.crt", server=None, context="fake"):
        """A kubeconfig for user: {"token": t} | {"cert": True} | {"exec": {...}} with inline data."""
        b64 = lambda text: b64encode(text.encode()).decode()  # noqa: E731
        u = {}
        if "token" in user:
            u["token"] = user["token"]
        if user.get("cert"):
            u["client-certificate-data"] = b64(self.pem("client.crt"))
            u["client-key-data"] = b64(self.pem("client.key"))
        if "exec" in user:
            u["exec"] = user["exec"]
        ctx = {"cluster": "fake-cluster", "user": "fake-user"}
        if namespace:
            ctx["namespace"] = namespace
        cfg = {"apiVersion": "v1", "kind": "Config", "current-context": context,
               "clusters": [{"name": "fake-cluster", "cluster": {"server": server or self.url,
                                                                 "certificate-authority-data": b64(self.pem(ca))}}],
               "users": [{"name": "fake-user", "user": u}],
               "contexts": [{"name": context, "context": ctx}]}
        return yaml.safe_dump(cfg, sort_keys=False)

    # ---------------------------------------------------------------- test controls
    def add_namespace(self, name):
        with self.lock:
            self.namespaces.add(name)

    def inject(self, status, count=1, method=None, path=None, retry_after=None, reason=None, raw=None):
        """The next count requests matching method/path (substring) answer status."""
        with self.lock:
            self.faults.append({"status": status, "count": count, "method": method, "path": path,
                                "retry_after": retry_after, "reason": reason, "raw": raw})

    def calls_matching(self, method=None, path=None, user=None):
        with self.lock:
            return [c for c in self.calls if (method is None or c["method"] == method)
                    and (path is None or re.search(path, c["path"])) and (user is None or c["user"] == user)]

    def run(self, ns, name):
        with self.lock:
            obj = self.runs.get((ns, name))
            return copy.deepcopy(obj) if obj else None

    def runs_of_build(self, build_id):
        with self.lock:
            return [copy.deepcopy(r) for r in self.runs.values()
                    if r["metadata"].get("labels", {}).get("kiln.dev/build-id") == build_id]

    def append_log(self, ns, run_name, task, step, text):
        with self.lock:
            tr = self._task_run_of(ns, run_name, task)
            self.pods[(ns, tr["status"]["podName"])]["logs"]["step-" + step] += text

    def finish(self, ns, name, outcome, task=None, exit_code=1, logs=None):
        """Moves a running PipelineRun to an end: succeeded, failed, timeout, oom (the step
        terminated OOMKilled), oom-reason (TaskRun reason StepOOM), oom-pod (only the pod's
        container status says OOMKilled), cancelled-externally. logs: {"task/step": text}
        appended first."""
        with self.lock:
            run = self.runs[(ns, name)]
            for key, text in (logs or {}).items():
                t, s = key.split("/", 1)
                self.append_log(ns, name, t, s, text)
            trs = self._task_runs_of(ns, name)
            target = task or ("build" if any(_task_name(t) == "build" for t in trs) else _task_name(trs[-1]))
            failed_seen = False
            for tr in trs:
                tname = _task_name(tr)
                if outcome == "succeeded" or (tname != target and not failed_seen):
                    self._end_task(ns, tr, "True", "Succeeded", 0)
                elif tname == target:
                    failed_seen = True
                    if outcome == "failed":
                        self._end_task(ns, tr, "False", "Failed", exit_code, step_reason="Error")
                    elif outcome == "oom":
                        self._end_task(ns, tr, "False", "Failed", 137, step_reason="OOMKilled")
                    elif outcome == "oom-reason":
                        self._end_task(ns, tr, "False", "StepOOM", 137, step_reason="Error")
                    elif outcome == "oom-pod":
                        self._end_task(ns, tr, "False", "Failed", 137, step_reason="Error", pod_reason="OOMKilled")
                    elif outcome in ("timeout", "cancelled-externally"):
                        self._end_task(ns, tr, "False", "TaskRunCancelled", None)
                else:
                    self._drop_task(ns, tr, run)
            reason = {"succeeded": "Succeeded", "failed": "Failed", "oom": "Failed", "oom-reason": "Failed",
                      "oom-pod": "Failed", "timeout": "PipelineRunTimeout",
                      "cancelled-externally": "Cancelled"}[outcome]
            self._set_condition(run, "True" if outcome == "succeeded" else "False", reason,
                                f"Tasks Completed: {len(trs)}" if outcome != "timeout" else
                                f"PipelineRun \"{name}\" failed to finish within \"{run['spec'].get('timeouts', {}).get('pipeline', '1h')}\"")
            run["status"]["completionTime"] = now_rfc3339()
            self._bump(run)

    # ---------------------------------------------------------------- internals
    def _bump(self, obj):
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)

    def _set_condition(self, obj, status, reason, message=""):
        obj.setdefault("status", {})["conditions"] = [{
            "type": "Succeeded", "status": status, "reason": reason, "message": message,
            "lastTransitionTime": now_rfc3339()}]

    def _task_runs_of(self, ns, run_name):
        return sorted((t for (n, _), t in self.task_runs.items()
                       if n == ns and t["metadata"]["labels"].get("tekton.dev/pipelineRun") == run_name),
                      key=lambda t: t["metadata"]["creationTimestamp"] + t["metadata"]["name"])

    def _task_run_of(self, ns, run_name, task):
        for tr in self._task_runs_of(ns, run_name):
            if _task_name(tr) == task:
                return tr
        raise KeyError(f"no task {task} in {run_name}")

    def _end_task(self, ns, tr, status, reason, exit_code, step_reason="Completed", pod_reason=None):
        """Ends a TaskRun. On failure its first step ends with exit_code and step_reason (the
        later ones never ran); exit_code None means it was cancelled or timed out."""
        pod = self.pods.get((ns, tr["status"]["podName"]))
        steps = tr["status"]["steps"]
        for i, step in enumerate(steps):
            step.pop("running", None)
            if status == "True":
                term = {"exitCode": 0, "reason": "Completed"}
            elif i == 0:
                term = ({"exitCode": exit_code, "reason": step_reason} if exit_code is not None
                        else {"exitCode": 1, "reason": "TaskRunCancelled"})
            else:
                term = {"exitCode": 1, "reason": "Skipped"}
            step["terminated"] = dict(term, finishedAt=now_rfc3339())
            if pod:
                cs = {"name": step["container"],
                      "state": {"terminated": dict(term, reason=pod_reason if (pod_reason and i == 0) else term["reason"])}}
                pod["obj"]["status"]["containerStatuses"] = [
                    c for c in pod["obj"]["status"]["containerStatuses"] if c["name"] != cs["name"]] + [cs]
        if status == "True":
            message = "All Steps have completed executing"
        elif step_reason == "OOMKilled" and reason == "Failed":
            message = "OOMKilled"  # what older controllers leave
        else:
            message = f"\"step-{steps[0]['name']}\" exited with code {exit_code}"
        self._set_condition(tr, status, reason, message)
        tr["status"]["completionTime"] = now_rfc3339()
        if pod:
            pod["obj"]["status"]["phase"] = "Succeeded" if status == "True" else "Failed"
        self._bump(tr)

    def _drop_task(self, ns, tr, run):
        """A task that never ran (after a failure): skipped, its TaskRun and pod removed."""
        self.task_runs.pop((ns, tr["metadata"]["name"]), None)
        self.pods.pop((ns, tr["status"]["podName"]), None)
        run["status"].setdefault("skippedTasks", []).append({"name": _task_name(tr), "reason": "PipelineRun Failed"})

    def _start(self, ns, run):
        """As the Tekton controller would: Running, a TaskRun and a pod per task."""
        name = run["metadata"]["name"]
        run["status"] = {"startTime": now_rfc3339(), "childReferences": []}
        self._set_condition(run, "Unknown", "Running", "Tasks Completed: 0 (Failed: 0, Cancelled 0), Incomplete: 1")
        params = {p["name"]: p["value"] for p in run["spec"].get("params", [])}
        for task in run["spec"]["pipelineSpec"].get("tasks", []):
            skip = False
            for w in task.get("when", []) or []:
                value = re.sub(r"\$\(params\.([A-Za-z0-9_-]+)\)", lambda m: str(params.get(m.group(1), "")),
                               w.get("input", ""))
                if (w.get("operator") == "in") != (value in w.get("values", [])):
                    skip = True
            if skip:
                run["status"].setdefault("skippedTasks", []).append({"name": task["name"], "reason": "When Expressions evaluated to false"})
                continue
            tr_name = f"{name}-{task['name']}"[:63]
            if "taskSpec" in task:
                steps = [s["name"] for s in task["taskSpec"].get("steps", [])]
            else:
                steps = [s["name"] for s in CATALOG[task["taskRef"]["name"]]["spec"].get("steps", [])]
            pod_name = f"{tr_name}-pod"[:63]
            labels = dict(run["metadata"].get("labels", {}))
            labels.update({"tekton.dev/pipelineRun": name, "tekton.dev/pipelineTask": task["name"],
                           "tekton.dev/pipeline": name, "tekton.dev/memberOf": "tasks"})
            tr = {"apiVersion": "tekton.dev/v1", "kind": "TaskRun",
                  "metadata": {"name": tr_name, "namespace": ns, "labels": labels, "uid": str(uuid.uuid4()),
                               "creationTimestamp": now_rfc3339() + f"{len(self.task_runs):05d}"},
                  "spec": {}, "status": {"podName": pod_name, "startTime": now_rfc3339(),
                                         "steps": [{"name": s, "container": f"step-{s}", "running": {"startedAt": now_rfc3339()}}
                                                   for s in steps]}}
            self._set_condition(tr, "Unknown", "Running", "Not all Steps in the Task have finished executing")
            self._bump(tr)
            self.task_runs[(ns, tr_name)] = tr
            self.pods[(ns, pod_name)] = {
                "obj": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod_name, "namespace": ns, "labels": labels},
                        "status": {"phase": "Running", "containerStatuses": [
                            {"name": f"step-{s}", "state": {"running": {}}} for s in steps]}},
                "logs": {f"step-{s}": f"[{task['name']}/{s}] starting\n" for s in steps}}
            run["status"]["childReferences"].append({"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "name": tr_name,
                                                     "pipelineTaskName": task["name"]})

    def _cancel(self, ns, run):
        name = run["metadata"]["name"]
        for tr in self._task_runs_of(ns, name):
            if not _done(tr):
                self._set_condition(tr, "False", "TaskRunCancelled",
                                    f"TaskRun \"{tr['metadata']['name']}\" was cancelled. PipelineRun \"{name}\" was cancelled")
                for step in tr["status"]["steps"]:
                    step.pop("running", None)
                    step["terminated"] = {"exitCode": 1, "reason": "TaskRunCancelled"}
                self.pods.pop((ns, tr["status"]["podName"]), None)  # Tekton deletes them; their logs go too
        self._set_condition(run, "False", "Cancelled", f"PipelineRun \"{name}\" was cancelled")
        run["status"]["completionTime"] = now_rfc3339()

    # ---------------------------------------------------------------- the API
    def handle(self, method, raw_path, headers, body, peer_cn):
        url = urlparse(raw_path)
        path, query = unquote(url.path), {k: v[-1] for k, v in parse_qs(url.query).items()}
        auth = headers.get("Authorization", "")
        with self.lock:
            user, how = None, "anonymous"
            if auth.startswith("Bearer "):
                user, how = self.tokens.get(auth[7:]), "token"
                if user is None:
                    self._record(method, path, query, None, "bad-token", headers, body)
                    raise ApiError(401, "Unauthorized", "Unauthorized")
            elif peer_cn:
                user, how = self.cert_users.get(peer_cn), "cert"
            self._record(method, path, query, user, how, headers, body)
            for f in self.faults:
                if f["count"] > 0 and (f["method"] in (None, method)) and (f["path"] is None or f["path"] in path):
                    f["count"] -= 1
                    hdrs = {"Retry-After": str(f["retry_after"])} if f["retry_after"] is not None else {}
                    reason = f["reason"] or {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
                                             504: "Timeout"}.get(f["status"], "InternalError")
                    details = {"retryAfterSeconds": f["retry_after"]} if f["retry_after"] is not None else None
                    raise ApiError(f["status"], reason, f"injected {reason}", details, hdrs, raw=f["raw"])
            if path == "/version":
                return 200, {"major": "1", "minor": "31", "gitVersion": "v1.31.0-fake", "platform": "linux/amd64"}
            if user is None:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            return self._route(method, path, query, headers, body, user)

    def _record(self, method, path, query, user, how, headers, body):
        self.calls.append({"method": method, "path": path, "query": query, "user": user, "auth": how,
                           "content_type": headers.get("Content-Type", ""), "body": body, "at": time.time()})

    def _authorize(self, user, verb, resource, ns, group=""):
        for v, r, n in self.denied.get(user, []):
            if v in (verb, "*") and r in (resource, "*") and (n is None or n == ns):
                res = f"{resource}.{group}" if group else resource
                where = f" in the namespace \"{ns}\"" if ns else " at the cluster scope"
                raise ApiError(403, "Forbidden",
                               f"{res} is forbidden: User \"{user}\" cannot {verb} resource \"{resource}\" in API "
                               f"group \"{group}\"{where}", {"kind": resource, "group": group})

    def _allowed(self, user, verb, resource, ns):
        try:
            self._authorize(user, verb, resource, ns)
            return True
        except ApiError:
            return False

    def _route(self, method, path, query, headers, body, user):
        not_found = ApiError(404, "NotFound", "the server could not find the requested resource", {})
        if method == "POST" and path == "/apis/authentication.k8s.io/v1/selfsubjectreviews":
            return 201, {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview",
                         "status": {"userInfo": {"username": user, "groups": ["system:authenticated"]}}}
        if method == "POST" and path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews":
            attrs = (body or {}).get("spec", {}).get("resourceAttributes", {})
            allowed = self._allowed(user, attrs.get("verb"), attrs.get("resource"), attrs.get("namespace"))
            return 201, {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                         "spec": body.get("spec"), "status": {"allowed": allowed}}
        m = re.match(r"^/api/v1/namespaces/([^/]+)$", path)
        if m and method == "GET":
            self._authorize(user, "get", "namespaces", None)
            if m.group(1) not in self.namespaces:
                raise ApiError(404, "NotFound", f"namespaces \"{m.group(1)}\" not found",
                               {"name": m.group(1), "kind": "namespaces"})
            return 200, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": m.group(1)},
                         "status": {"phase": "Active"}}
        m = re.match(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)(/log)?$", path)
        if m and method == "GET":
            ns, pod_name, log = m.groups()
            self._authorize(user, "get", "pods/log" if log else "pods", ns)
            pod = self.pods.get((ns, pod_name))
            if not pod:
                raise ApiError(404, "NotFound", f"pods \"{pod_name}\" not found", {"name": pod_name, "kind": "pods"})
            if not log:
                return 200, copy.deepcopy(pod["obj"])
            container = query.get("container")
            if container is None and len(pod["logs"]) > 1:
                raise ApiError(400, "BadRequest", f"a container name must be specified for pod {pod_name}, "
                                                  f"choose one of: [{' '.join(pod['logs'])}]")
            container = container or next(iter(pod["logs"]))
            if container not in pod["logs"]:
                raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {pod_name}")
            text = pod["logs"][container].encode()
            if "limitBytes" in query:
                text = text[:int(query["limitBytes"])]
            return 200, text
        if path == "/apis/tekton.dev/v1" and method == "GET":
            if not self.tekton_installed:
                raise not_found
            return 200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "tekton.dev/v1",
                         "resources": [{"name": r, "namespaced": True, "kind": r[:-1].title()} for r in TEKTON_RESOURCES]}
        m = re.match(r"^/apis/tekton\.dev/v1/namespaces/([^/]+)/(pipelineruns|taskruns)(?:/([^/]+))?$", path)
        if not m:
            raise not_found
        if not self.tekton_installed:
            raise not_found
        ns, resource, name = m.groups()
        verb = {"GET": "get" if name else "list", "POST": "create", "PATCH": "patch", "DELETE": "delete"}.get(method)
        if verb is None or (resource == "taskruns" and method != "GET") or (method == "POST" and name):
            raise ApiError(405, "MethodNotAllowed", f"the server does not allow this method on the requested resource")
        self._authorize(user, verb, resource, ns, "tekton.dev")
        store = self.runs if resource == "pipelineruns" else self.task_runs
        if verb == "list":
            sel = Selector(query.get("labelSelector", ""))
            items = sorted((copy.deepcopy(o) for (n, _), o in store.items()
                            if n == ns and sel.matches(o["metadata"].get("labels", {}))),
                           key=lambda o: o["metadata"]["name"])
            start = int(query.get("continue") or 0)
            limit = int(query.get("limit") or 0) or len(items) or 1
            page = items[start:start + limit]
            meta = {"resourceVersion": str(self.rv)}
            if start + limit < len(items):
                meta["continue"] = str(start + limit)
            kind = "PipelineRunList" if resource == "pipelineruns" else "TaskRunList"
            return 200, {"apiVersion": "tekton.dev/v1", "kind": kind, "metadata": meta, "items": page}
        if verb == "create":
            return self._create(ns, headers, body)
        obj = store.get((ns, name))
        if obj is None:
            raise ApiError(404, "NotFound", f"{resource}.tekton.dev \"{name}\" not found",
                           {"name": name, "group": "tekton.dev", "kind": resource})
        if verb == "get":
            return 200, copy.deepcopy(obj)
        if verb == "delete":
            del store[(ns, name)]
            return 200, status_body(200, "", "") | {"status": "Success"}
        return self._patch(ns, obj, headers, body)

    def _create(self, ns, headers, body):
        if headers.get("Content-Type", "").split(";")[0] != "application/json":
            raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format")
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of the request could not be decoded as JSON")
        name = body.get("metadata", {}).get("name", "")
        if body.get("metadata", {}).get("namespace", ns) != ns:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
        if ns not in self.namespaces:
            raise ApiError(404, "NotFound", f"namespaces \"{ns}\" not found", {"name": ns, "kind": "namespaces"})
        verdict = validate_pipeline_run(body)
        if verdict:
            code, message, causes = verdict
            reason = "Invalid" if code == 422 else "BadRequest"
            raise ApiError(code, reason, message, {"name": name, "group": "tekton.dev", "kind": "PipelineRun",
                                                   "causes": causes} if code == 422 else None)
        if (ns, name) in self.runs:
            raise ApiError(409, "AlreadyExists", f"pipelineruns.tekton.dev \"{name}\" already exists",
                           {"name": name, "group": "tekton.dev", "kind": "pipelineruns"})
        run = copy.deepcopy(body)
        run["metadata"].update({"namespace": ns, "uid": str(uuid.uuid4()), "generation": 1,
                                "creationTimestamp": now_rfc3339()})
        run["spec"].setdefault("timeouts", {"pipeline": "1h0m0s"})
        run["spec"].setdefault("taskRunTemplate", {}).setdefault("serviceAccountName", "default")
        self._bump(run)
        self._start(ns, run)
        self.runs[(ns, name)] = run
        return 201, copy.deepcopy(run)

    def _patch(self, ns, obj, headers, body):
        ctype = headers.get("Content-Type", "").split(";")[0]
        if ctype == "application/strategic-merge-patch+json":
            raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                                                        "accepted media types include: application/json-patch+json, "
                                                        "application/merge-patch+json, application/apply-patch+yaml")
        if ctype != "application/merge-patch+json":
            raise ApiError(415, "UnsupportedMediaType", f"unsupported patch type {ctype}")
        updated = merge_patch(obj, body)
        if updated.get("spec") != obj.get("spec"):
            if _done(obj):
                raise ApiError(400, "BadRequest", 'admission webhook "validation.webhook.pipeline.tekton.dev" denied '
                                                  'the request: validation failed: invalid value: Once the PipelineRun '
                                                  'is complete, no updates are allowed: spec')
            changed = {k for k in set(updated["spec"]) | set(obj["spec"]) if updated["spec"].get(k) != obj["spec"].get(k)}
            if changed - {"status"}:
                raise ApiError(400, "BadRequest", 'admission webhook "validation.webhook.pipeline.tekton.dev" denied '
                                                  f'the request: validation failed: spec fields {sorted(changed)} cannot change')
        obj.clear()
        obj.update(updated)
        obj["metadata"]["generation"] = obj["metadata"].get("generation", 1) + 1
        self._bump(obj)
        if obj["spec"].get("status") in ("Cancelled", "CancelledRunFinally") and not _done(obj):
            self._cancel(ns, obj)
        return 200, copy.deepcopy(obj)


def _task_name(tr):
    return tr["metadata"]["labels"].get("tekton.dev/pipelineTask")


def _done(obj):
    for c in obj.get("status", {}).get("conditions", []):
        if c.get("type") == "Succeeded":
            return c.get("status") in ("True", "False")
    return False


class _Handler(BaseHTTPRequestHandler):
    cluster = None
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _serve(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        peer_cn = None
        cert = self.connection.getpeercert() if hasattr(self.connection, "getpeercert") else None
        if cert:
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        peer_cn = v
        extra = {}
        try:
            code, payload = self.cluster.handle(method, self.path, dict(self.headers), body, peer_cn)
        except ApiError as e:
            code, extra = e.code, e.headers
            payload = e.raw.encode() if e.raw else status_body(e.code, e.reason, e.message, e.details)
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain" if isinstance(payload, bytes) else "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_PATCH(self):
        self._serve("PATCH")

    def do_DELETE(self):
        self._serve("DELETE")

    def do_PUT(self):
        self._serve("PUT")


class _ControlHandler(BaseHTTPRequestHandler):
    """POST /runs/<ns>/<name>/finish {"outcome", "task", "exit_code", "logs"}; POST /runs/<ns>/<name>/log
    {"task", "step", "text"}; GET /runs; GET /calls; POST /faults {…inject()}; POST /namespaces {"name"};
    POST /tekton {"installed"}; POST /tokens {"token", "user"}; POST /deny {"user", "verb", "resource", "namespace"}."""
    cluster = None

    def log_message(self, *args):
        pass

    def _reply(self, code, payload):
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        c = self.cluster
        if self.path == "/runs":
            with c.lock:
                return self._reply(200, [copy.deepcopy(r) for r in c.runs.values()])
        if self.path == "/calls":
            with c.lock:
                return self._reply(200, c.calls)
        self._reply(404, {"error": "unknown"})

    def do_POST(self):
        c = self.cluster
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        parts = self.path.strip("/").split("/")
        try:
            if parts[0] == "runs" and parts[-1] == "finish":
                c.finish(parts[1], parts[2], body["outcome"], body.get("task"), body.get("exit_code", 1), body.get("logs"))
            elif parts[0] == "runs" and parts[-1] == "log":
                c.append_log(parts[1], parts[2], body["task"], body["step"], body["text"])
            elif parts == ["faults"]:
                c.inject(**body)
            elif parts == ["namespaces"]:
                c.add_namespace(body["name"])
            elif parts == ["tekton"]:
                c.tekton_installed = bool(body["installed"])
            elif parts == ["tokens"]:
                c.add_token(body["token"], body.get("user", "system:serviceaccount:kiln:dispatcher"))
            elif parts == ["deny"]:
                c.deny(body["user"], body["verb"], body["resource"], body.get("namespace"))
            else:
                return self._reply(404, {"error": "unknown"})
        except (KeyError, ValueError) as e:
            return self._reply(400, {"error": str(e)})
        self._reply(200, {"ok": True})


if __name__ == "__main__":  # a standalone fake for trying things by hand
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--namespace", action="append", default=["default"])
    parser.add_argument("--token", default="fake-token")
    args = parser.parse_args()
    fake = FakeCluster(args.dir, args.namespace).start()
    fake.add_token(args.token)
    Path(args.dir, "kubeconfig").write_text(fake.kubeconfig({"token": args.token}))
    print(json.dumps({"url": fake.url, "control": fake.control_url, "kubeconfig": str(Path(args.dir, "kubeconfig"))}),
          flush=True)
    threading.Event().wait()
