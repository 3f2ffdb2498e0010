"""Helpers for the Kubernetes tests: a master key, a stack whose kiln-api can encrypt with it,
a fake cluster with the tenant's namespace, providers created through the API, dispatchers
that hold the key, and a recorder of every API response (to prove no credential leaks)."""
import json
import os
import secrets
import stat
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_k8s import FakeCluster  # noqa: E402
from stack import Client, Stack, Workers, wait_for  # noqa: E402

TENANT_NAMESPACE = "kiln-default"  # namespace_prefix "kiln-" + the admin's tenant "default"


def write_master_key(directory):
    path = Path(directory) / "master.key"
    path.write_text("k1:" + secrets.token_hex(32) + "\n")
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    return path


class RecordingClient(Client):
    """A Client that keeps every response body (and headers) it saw."""

    def __init__(self, base_url, token, seen):
        super().__init__(base_url, token)
        self.seen = seen

    def request(self, method, path, json_body=None, data=None, headers=None):
        r = super().request(method, path, json_body=json_body, data=data, headers=headers)
        self.seen.append(f"{method} {path} -> {r.status_code}\n{dict(r.headers)}\n{r.text}")
        return r

    def patch(self, path, json_body=None):
        return self.request("PATCH", path, json_body=json_body)

    def delete(self, path):
        return self.request("DELETE", path)


class K8sEnv:
    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.key = write_master_key(self.tmp)
        self.cluster = FakeCluster(self.tmp, namespaces=[TENANT_NAMESPACE]).start()
        self.token = "kiln-fake-sa-" + secrets.token_hex(24)
        self.cluster.add_token(self.token)
        self.stack = Stack(self.tmp / "stack")
        self.stack.env["KILN_MASTER_KEY_FILE"] = str(self.key)
        self.stack.up()
        self.responses = []
        self.admin = RecordingClient(self.stack.url, self.stack.admin_token, self.responses)
        self.workers = Workers(self.stack)
        self.plugin = self._exec_plugin()

    def _exec_plugin(self):
        """An exec credential plugin (client.authentication.k8s.io/v1) that hands out a token
        valid for an hour and counts its runs."""
        d = self.tmp / "plugin"
        d.mkdir(exist_ok=True)
        self.exec_token = "kiln-exec-" + secrets.token_hex(24)
        self.cluster.add_token(self.exec_token, "exec-user")
        script = d / "kiln-test-credential-plugin"
        script.write_text(f"""#!/bin/sh
echo run >> '{d}/runs'
exp=$(date -u -d @$(( $(date +%s) + 3600 )) +%Y-%m-%dT%H:%M:%SZ)
printf '{{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{{"token":"%s","expirationTimestamp":"%s"}}}}' '{self.exec_token}' "$exp"
""")
        script.chmod(0o755)
        return script

    def plugin_runs(self):
        runs = self.tmp / "plugin" / "runs"
        return len(runs.read_text().splitlines()) if runs.exists() else 0

    def secrets(self):
        """Every credential value used: none may ever show up anywhere."""
        key_body = "".join(l for l in self.cluster.pem("client.key").splitlines() if "-----" not in l)
        return [self.token, self.exec_token, key_body[:40], key_body[-40:],
                self.key.read_text().split(":", 1)[1].strip()]

    def dispatcher(self, name, extra=()):
        return self.workers.dispatcher(name, extra=["--master-key-file", str(self.key),
                                                     "--exec-allow", str(self.plugin), *extra])

    def add_provider(self, name, user=None, pools=None, **fields):
        body = {"name": name, "provider_type": "kubernetes",
                "kubeconfig": self.cluster.kubeconfig(user or {"token": self.token}),
                "capabilities": {"gpu": False, "arm64": False},
                "node_pools": pools if pools is not None else [
                    {"name": "builds", "labels": {"kiln.dev/pool": "builds", "kubernetes.io/arch": "amd64"},
                     "taints": ["kiln=builds:NoSchedule"], "capacity": {"cpu": 16, "memory_gb": 64},
                     "capabilities": ["amd64"], "cost_per_cpu_hour": 0.04, "cost_per_gib_hour": 0.005}],
                **fields}
        r = self.admin.post("/api/v1/admin/providers", body)
        assert r.status_code == 201, r.text
        return r.json()

    def test_provider(self, provider_id, expect=200):
        r = self.admin.post(f"/api/v1/admin/providers/{provider_id}/test")
        assert r.status_code == expect, r.text
        return r.json()

    def stop(self):
        self.workers.stop_all()
        self.stack.down()
        self.cluster.stop()


def checks_by_name(result):
    return {c["name"]: c for c in result["checks"]}


def run_of(cluster, build_id, step=0, timeout=30):
    name = f"kiln-{build_id}-s{step}"
    return wait_for(lambda: cluster.run(TENANT_NAMESPACE, name), timeout=timeout,
                    what=f"PipelineRun {name} in the fake cluster")


def log_files_text(stack):
    return "\n".join(p.read_text(errors="replace") for p in sorted((stack.var / "log").glob("*.log")))


def assert_no_secret_in(text, secrets_list, where):
    for s in secrets_list:
        assert s not in text, f"a credential appeared in {where}"


def dumps(obj):
    return json.dumps(obj, sort_keys=True)


__all__ = ["K8sEnv", "TENANT_NAMESPACE", "checks_by_name", "run_of", "log_files_text", "assert_no_secret_in",
           "dumps", "os"]
