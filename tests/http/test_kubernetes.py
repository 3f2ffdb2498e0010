"""End to end through nginx with a real dispatcher (kiln-dispatch --loop) against the fake
Kubernetes API server (tests/support/fake_k8s.py): builds run as Tekton PipelineRuns to
succeeded with their step logs, fail, time out, run out of memory (one retry one size up),
are cancelled (a merge patch of spec.status), survive a dispatcher that dies between the
create and recording it (the next attempt adopts the run: 409, no second run), ride out 429
and 5xx answers, and no credential ever shows up in an API response, a log or the database."""
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from k8s_env import (TENANT_NAMESPACE, K8sEnv, assert_no_secret_in, checks_by_name,  # noqa: E402
                     log_files_text, run_of)
from stack import fresh_dir  # noqa: E402
from stack import (FINAL_STATUSES, build_events, build_log, get_build, log_tails,  # noqa: E402
                   stop_procs, submit_and_start, wait_for, wait_status)

NS = TENANT_NAMESPACE


@pytest.fixture(scope="module")
def env():
    e = K8sEnv(fresh_dir("k8s"))
    r = e.admin.post("/api/v1/projects", {"name": "web", "language": "go"})
    assert r.status_code == 201, r.text
    e.provider = e.add_provider("fake-cluster", display_name="Fake cluster")
    e.dispatch_proc = e.dispatcher("k8s-main")
    result = e.test_provider(e.provider["id"])
    assert result["ok"], result
    yield e
    e.stop()


@pytest.fixture(autouse=True)
def dump_logs_on_failure(request, env):
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        print(log_tails(env.stack, ["dispatch", "kiln-api", "nginx-error"]))


def docker_build(**spec):
    return {"project": "web", "method": "docker", "infrastructure_type": "kubernetes",
            "params": {"git_url": "https://git.example.com/team/web.git", "image": "registry.example.com/team/web:1"},
            "spec": {"cpu": 2, "memory_gb": 4, "time_budget_min": 30, **spec}}


def script_build(script="make test", **spec):
    return {"project": "web", "method": "script", "infrastructure_type": "kubernetes",
            "params": {"script": script}, "spec": {"cpu": 1, "memory_gb": 1, "time_budget_min": 20, **spec}}


def test_the_provider_test_passes_every_check(env):
    result = env.test_provider(env.provider["id"])
    assert result["status"] == "done" and result["ok"] is True
    checks = checks_by_name(result)
    assert list(checks) == ["credentials", "reachable", "authenticated", "tekton", "namespace", "permissions"]
    assert all(c["ok"] for c in checks.values()), checks
    assert "v1.31.0-fake" in checks["reachable"]["message"]
    assert "system:serviceaccount:kiln:dispatcher" in checks["authenticated"]["message"]
    r = env.admin.get(f"/api/v1/admin/providers/{env.provider['id']}")
    assert r.json()["health"]["status"] == "healthy"


def test_a_docker_build_runs_to_succeeded_with_its_step_logs(env):
    build = submit_and_start(env.admin, docker_build())
    run = run_of(env.cluster, build["id"])
    # What Kiln created: placement, size, time budget, labels, in the tenant's namespace.
    meta, spec = run["metadata"], run["spec"]
    assert meta["namespace"] == NS
    assert meta["labels"]["kiln.dev/build-id"] == build["id"]
    assert meta["labels"]["kiln.dev/tenant"] == "default"
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "kiln"
    assert spec["timeouts"]["pipeline"] == "30m"
    pod = spec["taskRunTemplate"]["podTemplate"]
    assert pod["nodeSelector"] == {"kiln.dev/pool": "builds", "kubernetes.io/arch": "amd64"}
    assert pod["tolerations"] == [{"key": "kiln", "operator": "Equal", "value": "builds", "effect": "NoSchedule"}]
    sizes = {s["pipelineTaskName"]: s["computeResources"] for s in spec["taskRunSpecs"]}
    assert set(sizes) == {"clone", "build", "scan", "push"}
    assert sizes["build"]["requests"]["cpu"] == "2"
    assert sizes["build"]["limits"]["memory"] == sizes["build"]["requests"]["memory"]
    assert {p["name"]: p["value"] for p in spec["params"]}["image"] == "registry.example.com/team/web:1"

    wait_status(env.admin, build["id"], "running", timeout=30)
    env.cluster.append_log(NS, meta["name"], "build", "build-and-push", "INFO kaniko: building layer 1\n")
    wait_for(lambda: "building layer 1" in build_log(env.admin, build["id"]), timeout=20,
             what="a running step's log in the build log")
    env.cluster.finish(NS, meta["name"], "succeeded", logs={"push/crane": "pushed registry.example.com/team/web:1\n"})
    done = wait_status(env.admin, build["id"], FINAL_STATUSES, timeout=30)
    assert done["status"] == "succeeded", done

    log = build_log(env.admin, build["id"])
    assert f"==> attempt 1 on kubernetes fake-cluster/{NS}, node pool builds: PipelineRun {meta['name']}" in log
    for task, step in [("clone", "clone"), ("build", "build-and-push"), ("build", "write-url"),
                       ("scan", "trivy"), ("push", "crane")]:
        assert f"--- task {task}, step {step}\n" in log, log
    assert log.count("INFO kaniko: building layer 1") == 1, log
    assert "pushed registry.example.com/team/web:1" in log
    ex = done["executions"][0]
    assert ex["infrastructure_type"] == "kubernetes" and ex["status"] == "succeeded"
    wait_for(lambda: env.cluster.run(NS, meta["name"])["metadata"]["labels"].get("kiln.dev/recorded") == "true",
             timeout=10, what="the finished run labelled recorded")


def test_status_is_synced_with_one_list_per_namespace_not_one_get_per_build(env):
    builds = [submit_and_start(env.admin, script_build(f"echo {i}")) for i in range(3)]
    runs = [run_of(env.cluster, b["id"]) for b in builds]
    for b in builds:
        wait_status(env.admin, b["id"], "running", timeout=30)
    before = len(env.cluster.calls)
    time.sleep(3)
    window = env.cluster.calls[before:]
    gets = [c for c in window if c["method"] == "GET" and "/pipelineruns/" in c["path"]]
    lists = [c for c in window if c["method"] == "GET" and c["path"].endswith("/pipelineruns")]
    assert not gets, gets
    assert lists and all(c["query"].get("labelSelector") == "app.kubernetes.io/managed-by=kiln,!kiln.dev/recorded"
                         for c in lists)
    assert all(c["path"] == f"/apis/tekton.dev/v1/namespaces/{NS}/pipelineruns" for c in lists)
    for run in runs:
        env.cluster.finish(NS, run["metadata"]["name"], "succeeded")
    for b in builds:
        assert wait_status(env.admin, b["id"], FINAL_STATUSES)["status"] == "succeeded"


def test_a_failed_task_fails_the_build_naming_task_step_and_exit_code(env):
    build = submit_and_start(env.admin, docker_build())
    run = run_of(env.cluster, build["id"])
    wait_status(env.admin, build["id"], "running")
    env.cluster.finish(NS, run["metadata"]["name"], "failed", task="build", exit_code=2,
                       logs={"build/build-and-push": "error: Dockerfile not found\n"})
    done = wait_status(env.admin, build["id"], FINAL_STATUSES)
    assert done["status"] == "failed"
    ex = done["executions"][0]
    assert ex["status"] == "failed"
    reasons = " ".join(e["message"] for e in build_events(env.admin, build["id"]))
    assert "task build step build-and-push failed with exit code 2" in reasons
    assert "Dockerfile not found" in build_log(env.admin, build["id"])


def test_a_pipeline_timeout_times_the_build_out(env):
    build = submit_and_start(env.admin, script_build("sleep 9999"))
    run = run_of(env.cluster, build["id"])
    wait_status(env.admin, build["id"], "running")
    env.cluster.finish(NS, run["metadata"]["name"], "timeout")
    done = wait_status(env.admin, build["id"], FINAL_STATUSES)
    assert done["status"] == "timed_out", done


def memory_of(run):
    return {s["pipelineTaskName"]: s["computeResources"]["limits"]["memory"] for s in run["spec"]["taskRunSpecs"]}


def to_mib(quantity):
    return int(quantity[:-2]) * (1024 if quantity.endswith("Gi") else 1)


def test_oom_killed_is_retried_exactly_once_one_size_up(env):
    build = submit_and_start(env.admin, script_build("make huge"))
    first = run_of(env.cluster, build["id"], step=0)
    wait_status(env.admin, build["id"], "running")
    env.cluster.finish(NS, first["metadata"]["name"], "oom", task="run")
    second = run_of(env.cluster, build["id"], step=1)
    assert to_mib(memory_of(second)["run"]) > to_mib(memory_of(first)["run"]), (memory_of(first), memory_of(second))
    wait_status(env.admin, build["id"], "running")
    env.cluster.finish(NS, second["metadata"]["name"], "oom-reason", task="run")
    done = wait_status(env.admin, build["id"], FINAL_STATUSES)
    assert done["status"] == "failed", done
    assert [e["status"] for e in done["executions"]] == ["oom_killed", "oom_killed"]
    time.sleep(2)
    assert len(env.cluster.runs_of_build(build["id"])) == 2, "no third run after the one retry"
    messages = [e["message"] for e in build_events(env.admin, build["id"])]
    assert any("out of memory: retrying once, one size up" in m for m in messages), messages


def test_oom_killed_seen_only_in_the_pod_is_still_an_oom(env):
    build = submit_and_start(env.admin, script_build("make big"))
    first = run_of(env.cluster, build["id"], step=0)
    wait_status(env.admin, build["id"], "running")
    env.cluster.finish(NS, first["metadata"]["name"], "oom-pod", task="run")
    second = run_of(env.cluster, build["id"], step=1)
    wait_status(env.admin, build["id"], "running")
    env.cluster.finish(NS, second["metadata"]["name"], "succeeded")
    done = wait_status(env.admin, build["id"], FINAL_STATUSES)
    assert done["status"] == "succeeded"
    assert [e["status"] for e in done["executions"]] == ["oom_killed", "succeeded"]


def test_cancelling_a_build_cancels_its_run_with_a_merge_patch(env):
    build = submit_and_start(env.admin, script_build("sleep 9999"))
    run = run_of(env.cluster, build["id"])
    wait_status(env.admin, build["id"], "running")
    r = env.admin.post(f"/api/v1/builds/{build['id']}/cancel", {"reason": "not needed"})
    assert r.status_code == 200, r.text
    name = run["metadata"]["name"]
    wait_for(lambda: env.cluster.run(NS, name)["status"]["conditions"][0]["reason"] == "Cancelled", timeout=20,
             what="the run cancelled in the cluster")
    patches = env.cluster.calls_matching("PATCH", f"/pipelineruns/{name}$")
    cancel = [p for p in patches if p["body"] == {"spec": {"status": "Cancelled"}}]
    assert len(cancel) == 1 and cancel[0]["content_type"] == "application/merge-patch+json", patches
    assert get_build(env.admin, build["id"])["status"] == "cancelled"
    wait_for(lambda: env.cluster.run(NS, name)["metadata"]["labels"].get("kiln.dev/recorded") == "true",
             timeout=15, what="the cancelled run recorded")


def test_throttling_and_server_errors_are_retried(env):
    env.cluster.inject(429, count=2, method="POST", path="/pipelineruns", retry_after=1)
    env.cluster.inject(503, count=1, method="GET", path=f"/namespaces/{NS}/pipelineruns")
    build = submit_and_start(env.admin, script_build("echo throttled"))
    run = run_of(env.cluster, build["id"])
    posts = env.cluster.calls_matching("POST", f"/namespaces/{NS}/pipelineruns$")
    assert len([p for p in posts if p["body"] and p["body"]["metadata"]["name"] == run["metadata"]["name"]]) == 3
    wait_status(env.admin, build["id"], "running")
    env.cluster.finish(NS, run["metadata"]["name"], "succeeded")
    assert wait_status(env.admin, build["id"], FINAL_STATUSES)["status"] == "succeeded"


def test_a_crash_between_create_and_record_is_adopted_not_duplicated(env):
    stop_procs([env.dispatch_proc])
    crashing = env.dispatcher("k8s-crashing", extra=["--lease", "3", "--pause-after-create", "120"])
    try:
        build = submit_and_start(env.admin, script_build("echo adopted"))
        run = run_of(env.cluster, build["id"])
        env.workers.kill(crashing)  # SIGKILL after the create, before start_execution
        env.dispatch_proc = env.dispatcher("k8s-main-2")
        done_running = wait_status(env.admin, build["id"], "running", timeout=60)
        assert [e["status"] for e in done_running["executions"]] == ["lost", "running"]
        runs = env.cluster.runs_of_build(build["id"])
        assert len(runs) == 1, "the retry created a second run"
        posts = [c for c in env.cluster.calls_matching("POST", "/pipelineruns$")
                 if c["body"] and c["body"]["metadata"]["name"] == run["metadata"]["name"]]
        assert len(posts) == 2  # 201, then 409 AlreadyExists → adopted
        assert "(adopted)" in build_log(env.admin, build["id"])
        env.cluster.finish(NS, run["metadata"]["name"], "succeeded")
        assert wait_status(env.admin, build["id"], FINAL_STATUSES)["status"] == "succeeded"
    finally:
        if crashing.poll() is None:
            env.workers.kill(crashing)


def test_a_run_of_a_build_that_ended_elsewhere_is_cancelled(env):
    """A run whose build the server timed out (time budget) is cancelled in the cluster."""
    build = submit_and_start(env.admin, script_build("sleep 9999"))
    run = run_of(env.cluster, build["id"])
    wait_status(env.admin, build["id"], "running")
    env.stack.sql("update kiln.build_executions set started_at = now() - interval '1 day' where build_id = %s",
                  (build["id"],))
    assert wait_status(env.admin, build["id"], FINAL_STATUSES)["status"] == "timed_out"
    wait_for(lambda: env.cluster.run(NS, run["metadata"]["name"])["status"]["conditions"][0]["reason"] == "Cancelled",
             timeout=20, what="the timed-out build's run cancelled")


def test_no_credential_ever_appears_in_a_response_a_log_or_the_database(env):
    secret_values = env.secrets()
    for path in ["/api/v1/admin/providers", f"/api/v1/admin/providers/{env.provider['id']}"]:
        r = env.admin.get(path)
        assert r.status_code == 200
    creds = env.admin.get(f"/api/v1/admin/providers/{env.provider['id']}").json()["credentials"]
    assert creds["configured"] is True and creds["kind"] == "token"
    assert creds["fingerprint"].startswith("sha256:") and creds["key_id"] == "k1"
    # A bad token's error does not echo it either.
    bad = env.add_provider("bad-token", user={"token": "kiln-bad-" + "x" * 30}, pools=[])
    result = env.test_provider(bad["id"])
    assert checks_by_name(result)["authenticated"]["ok"] is False
    assert "401" in checks_by_name(result)["authenticated"]["message"]
    secret_values.append("kiln-bad-" + "x" * 30)
    everything = "\n".join(env.responses)
    assert_no_secret_in(everything, secret_values, "an API response")
    assert_no_secret_in(log_files_text(env.stack), secret_values, "a log file")
    rows = env.stack.sql("select encode(credentials_ciphertext, 'escape') from kiln.providers")
    assert_no_secret_in("\n".join(r[0] for r in rows), secret_values, "the stored ciphertext")
    audits = env.stack.sql("select count(*) from kiln.audit_log where action = 'provider.credentials.decrypt' "
                           "and object_id = %s", (env.provider["id"],))[0][0]
    assert audits > 0
    dumped = env.stack.sql("select coalesce(string_agg(detail::text, ' '), '') from kiln.audit_log")[0][0]
    assert_no_secret_in(dumped, secret_values, "the audit log")
