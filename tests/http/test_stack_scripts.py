"""scripts/stack.sh, which `make up`, `make down` and `make demo` run."""
import os
import subprocess
import time

from conftest import Stack  # noqa: F401  (re-exported by conftest's import)


def alive(pid):
    """Running, not a zombie left for an init that does not reap (containers)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def pids(stack):
    run = stack.var
    found = {
        "kiln-api": int((run / "run" / "kiln-api.pid").read_text()),
        "nginx": int((run / "nginx" / "nginx.pid").read_text()),
        "postgres": int((run / "pg" / "data" / "postmaster.pid").read_text().split()[0]),
    }
    for worker in ("kiln-dispatch", "kiln-agent"):
        if (run / "run" / f"{worker}.pid").exists():
            found[worker] = int((run / "run" / f"{worker}.pid").read_text())
    return found


def test_up_twice_starts_nothing_new_and_keeps_the_admin_token(stack):
    first = pids(stack)
    token = stack.admin_token
    out = stack.script("up").stdout
    assert "still valid" in out
    assert pids(stack) == first
    assert (stack.var / "admin-token").read_text().strip() == token
    assert oct((stack.var / "admin-token").stat().st_mode & 0o777) == "0o600"


def test_status_reports_every_process(stack):
    out = stack.script("status").stdout
    for name in ("kiln-api", "nginx", "postgresql"):
        assert f"{name}: running" in out


def test_demo_runs_example_builds_to_succeeded_on_a_local_agent(stack):
    stack.env["KILN_WITH_WORKERS"] = "1"
    try:
        out = stack.script("demo").stdout
    finally:
        stack.env["KILN_WITH_WORKERS"] = "0"
    assert stack.url in out
    assert out.count(" succeeded") == 3, out
    assert "tests passed" in out  # the compiled C program's own test, from the build log
    admin = stack.client(stack.admin_token)
    builds = admin.get("/api/v1/builds?project=hello-c").json()["items"]
    assert [b["status"] for b in builds] == ["succeeded"] * 3
    nodes = admin.get("/api/v1/admin/build-nodes").json()["items"]
    assert [(n["name"], n["online"]) for n in nodes] == [("local", True)]
    assert "kiln-dispatch: running" in stack.script("status").stdout


def test_down_stops_exactly_what_up_started(stack):
    started = pids(stack)
    # An unrelated process that must survive.
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        out = stack.script("down").stdout
        assert "stopped nginx" in out and "stopped kiln-api" in out and "stopped postgresql" in out
        assert "stopped kiln-agent" in out and "stopped kiln-dispatch" in out
        # pg_ctl stop -w returns once the pid file is gone; the process may take a moment more.
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in started.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        for name, pid in started.items():
            assert not alive(pid), name
        assert alive(bystander.pid)
        assert not (stack.var / "run" / "kiln-api.pid").exists()
        assert "stopped" in stack.script("status").stdout
    finally:
        bystander.kill()
    stack.up()  # leave it running for the fixture's teardown
