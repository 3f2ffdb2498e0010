"""The kiln client commands, run as the real binary against the real stack (nginx, kiln-api,
PostgreSQL, a dispatcher and a build-node agent): submit and follow builds to their end,
exit statuses, JSON output, API errors with message and field, connection and configuration
failures, --help everywhere, recommendations, build nodes, providers and API tokens."""
import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import script_build

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from stack import Workers, get_build, submit_and_start, wait_for  # noqa: E402

NODE = "cli-amd64"

KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
users:
- name: lab-admin
  user: {token: not-a-real-token}
contexts:
- name: lab
  context: {cluster: lab, user: lab-admin, namespace: builds}
current-context: lab
"""


@pytest.fixture(scope="module")
def workers(stack, project):
    w = Workers(stack)
    _, token_file = w.register_node(NODE, labels={"arch": "amd64"}, concurrency=2)
    w.dispatcher("cli")
    w.agent(NODE, token_file, concurrency=2, extra=["--label", "arch=amd64"])
    yield w
    w.stop_all()


pytestmark = pytest.mark.usefixtures("dump_worker_logs_on_failure")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("cli-home")


def kiln(stack, home, *args, token=None, url=None, env=None, timeout=120):
    """Runs the kiln binary with only the given configuration (a private HOME)."""
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
                "KILN_URL": url if url is not None else stack.url,
                "KILN_TOKEN": token if token is not None else stack.admin_token}
    full_env.update(env or {})
    full_env = {k: v for k, v in full_env.items() if v is not None}
    return subprocess.run([str(stack.kiln), *args], env=full_env, capture_output=True, text=True, timeout=timeout)


def as_json(result):
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    return json.loads(result.stdout)


# builds ---------------------------------------------------------------------------------

def test_submit_follow_streams_the_log_and_exits_0_when_the_build_succeeds(stack, home, workers):
    r = kiln(stack, home, "build", "submit", "--project", "web", "--method", "script",
             "-p", "script=echo first-line; sleep 1; echo second-line", "--cpu", "1", "--memory-gb", "1",
             "--time-budget-min", "5", "--follow")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "first-line\n" in r.stdout and "second-line\n" in r.stdout, r.stdout
    assert r.stdout.index("first-line") < r.stdout.index("second-line")
    build_id = r.stderr.split()[1]
    assert r.stderr.strip().endswith(f"build {build_id} succeeded"), r.stderr
    assert get_build(stack.client(stack.admin_token), build_id)["status"] == "succeeded"


def test_submit_follow_exits_1_when_the_build_fails(stack, home, workers):
    r = kiln(stack, home, "build", "submit", "--project", "web", "--method", "script",
             "-p", "script=echo about-to-fail; exit 3", "--cpu", "1", "--memory-gb", "1",
             "--time-budget-min", "5", "--follow")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "about-to-fail" in r.stdout
    assert r.stderr.strip().endswith("failed"), r.stderr


def test_submit_follow_with_json_output_prints_the_build_then_one_event_per_line(stack, home, workers):
    r = kiln(stack, home, "build", "submit", "--project", "web", "--method", "script",
             "-p", "script=echo json-line", "--cpu", "1", "--memory-gb", "1", "--time-budget-min", "5",
             "--follow", "--output", "json")
    assert r.returncode == 0, (r.stdout, r.stderr)
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert lines[0]["status"] == "queued" and lines[0]["project"] == "web"
    events = lines[1:]
    assert events[-1] == {"event": "end", "data": {"status": "succeeded"}}
    text = "".join(e["data"]["text"] for e in events if e["event"] == "log")
    assert "json-line\n" in text
    assert all("id" in e for e in events if e["event"] == "log")


def test_logs_of_a_finished_build_print_at_once_and_follow_ends_at_once(stack, home, workers):
    admin = stack.client(stack.admin_token)
    build = submit_and_start(admin, script_build(params={"script": "echo logged-once"}))
    wait_for(lambda: get_build(admin, build["id"])["status"] == "succeeded", timeout=60, what="build to succeed")
    r = kiln(stack, home, "build", "logs", build["id"])
    assert r.returncode == 0 and "logged-once\n" in r.stdout, (r.stdout, r.stderr)
    r = kiln(stack, home, "build", "logs", build["id"], "--follow")
    assert r.returncode == 0 and "logged-once\n" in r.stdout, (r.stdout, r.stderr)
    body = as_json(kiln(stack, home, "build", "logs", build["id"], "-o", "json"))
    assert body["status"] == "succeeded" and body["complete"] is True and "logged-once" in body["text"]
    assert body["next_offset"] == len(body["text"].encode())


def test_following_shows_a_status_line_on_a_terminal_while_it_waits(stack, home, project):
    """A build nobody starts: the status line names its phase and the time elapsed."""
    admin = stack.client(stack.admin_token)
    r = admin.post("/api/v1/builds", script_build(params={"script": "true"}))  # never started
    assert r.status_code == 201, r.text
    build_id = r.json()["id"]
    master, slave = pty.openpty()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "KILN_URL": stack.url, "KILN_TOKEN": stack.admin_token}
    proc = subprocess.Popen([str(stack.kiln), "build", "logs", build_id, "--follow"], env=env,
                            stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and b"elapsed" not in seen:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                seen += os.read(master, 4096)
        assert f"build {build_id[:8]}: pending, ".encode() in seen, seen
        assert b"s elapsed" in seen, seen
        assert admin.post(f"/api/v1/builds/{build_id}/cancel").status_code == 200
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 1, (proc.returncode, out, seen)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_list_show_and_cancel(stack, home, project):
    r = kiln(stack, home, "build", "submit", "--project", "web", "--method", "script", "-p", "script=true",
             "--cpu", "1", "--memory-gb", "1", "--time-budget-min", "5", "--no-start", "-o", "json")
    build = as_json(r)
    assert build["status"] == "pending"
    assert build["params"] == {"script": "true"}
    assert build["spec"]["cpu"] == 1 and build["spec"]["time_budget_min"] == 5

    listed = as_json(kiln(stack, home, "build", "list", "--status", "pending", "--limit", "200", "-o", "json"))
    assert build["id"] in [b["id"] for b in listed["items"]]
    assert all(b["status"] == "pending" for b in listed["items"])
    table = kiln(stack, home, "build", "list", "--status", "pending")
    assert table.returncode == 0, table.stderr
    header = table.stdout.splitlines()[0].split()
    assert header == ["ID", "STATUS", "PROJECT", "METHOD", "INFRASTRUCTURE", "CREATED"], table.stdout
    row = next(line for line in table.stdout.splitlines() if line.startswith(build["id"]))
    assert row.split()[1:4] == ["pending", "web", "script"], row

    shown = kiln(stack, home, "build", "show", build["id"])
    assert shown.returncode == 0, shown.stderr
    assert f"id:             {build['id']}" in shown.stdout and "status:         pending" in shown.stdout, shown.stdout
    assert as_json(kiln(stack, home, "build", "show", build["id"], "-o", "json"))["id"] == build["id"]

    cancelled = kiln(stack, home, "build", "cancel", build["id"], "--reason", "not needed")
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout == f"build {build['id']} cancelled\n"
    assert get_build(stack.client(stack.admin_token), build["id"])["status"] == "cancelled"


# errors -----------------------------------------------------------------------------------

def test_api_errors_print_the_message_and_field_and_exit_5(stack, home, project):
    r = kiln(stack, home, "build", "submit", "--project", "web", "--method", "script", "-p", "script=true",
             "--cpu", "1000", "--memory-gb", "1", "--time-budget-min", "5")
    assert r.returncode == 5, (r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr.startswith("kiln build submit: error: "), r.stderr
    assert "(field: spec.cpu)" in r.stderr and "HTTP 400" in r.stderr, r.stderr

    r = kiln(stack, home, "build", "show", "00000000-0000-4000-8000-000000000000", "-o", "json")
    assert r.returncode == 5
    body = json.loads(r.stdout)
    assert body["error"]["code"] == "not_found", body
    assert body["error"]["message"] in r.stderr


def test_a_bad_token_is_refused_with_the_apis_message(stack, home):
    r = kiln(stack, home, "build", "list", token="kiln_wrong")
    assert r.returncode == 5, (r.stdout, r.stderr)
    assert "HTTP 401" in r.stderr, r.stderr


def test_connection_failures_and_missing_configuration_are_explained(stack, home):
    r = kiln(stack, home, "build", "list", url="http://127.0.0.1:1")
    assert r.returncode == 4, (r.stdout, r.stderr)
    assert "cannot reach the Kiln server at http://127.0.0.1:1" in r.stderr, r.stderr
    assert "KILN_URL" in r.stderr

    r = kiln(stack, home, "build", "list", env={"KILN_URL": None, "KILN_TOKEN": None})
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert "no Kiln server configured" in r.stderr and f"{home}/.config/kiln/config" in r.stderr, r.stderr

    r = kiln(stack, home, "build", "list", env={"KILN_TOKEN": None})
    assert r.returncode == 3 and "no API token configured" in r.stderr, r.stderr


def test_the_config_file_under_the_config_directory_is_read(stack, tmp_path):
    config_home = tmp_path / "xdg"
    (config_home / "kiln").mkdir(parents=True)
    (tmp_path / "token").write_text(stack.admin_token + "\n")
    (config_home / "kiln" / "config").write_text(
        f"# the lab\nurl = {stack.url}/\ntoken_file = {tmp_path / 'token'}\n")
    r = kiln(stack, tmp_path, "build", "list", "-o", "json",
             env={"KILN_URL": None, "KILN_TOKEN": None, "XDG_CONFIG_HOME": str(config_home)})
    assert "items" in as_json(r)
    (config_home / "kiln" / "config").write_text("server = x\n")
    r = kiln(stack, tmp_path, "build", "list",
             env={"KILN_URL": None, "KILN_TOKEN": None, "XDG_CONFIG_HOME": str(config_home)})
    assert r.returncode == 3 and "config:1: unknown key \"server\"" in r.stderr, r.stderr


def test_usage_errors_exit_2_and_show_the_usage(stack, home):
    r = kiln(stack, home, "build", "submit", "--project", "web", "--colour", "blue")
    assert r.returncode == 2
    assert "unknown option --colour" in r.stderr and "usage: kiln build submit" in r.stderr, r.stderr
    r = kiln(stack, home, "build", "submit", "--method", "script")
    assert r.returncode == 2 and "--project is required" in r.stderr, r.stderr
    r = kiln(stack, home, "build", "frobnicate")
    assert r.returncode == 2 and "unknown command \"frobnicate\"" in r.stderr, r.stderr


COMMANDS = [["build", "submit"], ["build", "list"], ["build", "show"], ["build", "cancel"], ["build", "logs"],
            ["recommend"], ["provider", "import"], ["provider", "list"], ["node", "register"], ["node", "list"],
            ["token", "create"], ["token", "list"], ["token", "revoke"], ["token", "rotate"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_without_configuration(stack, home, command):
    r = kiln(stack, home, *command, "--help", env={"KILN_URL": None, "KILN_TOKEN": None})
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: kiln " + " ".join(command)), r.stdout
    assert "--output FORMAT" in r.stdout and "examples:" in r.stdout


def test_group_and_top_level_help_list_the_commands(stack, home):
    for group in ("build", "provider", "node", "token"):
        r = kiln(stack, home, group, "--help")
        assert r.returncode == 0, r.stderr
        for command in COMMANDS:
            if command[0] == group:
                assert "kiln " + " ".join(command) in r.stdout, (group, r.stdout)
    r = kiln(stack, home, "--help")
    assert r.returncode == 0
    assert "kiln migrate" in r.stdout and "kiln bootstrap" in r.stdout and "kiln token rotate ID" in r.stdout


# recommendation, nodes, providers, tokens ------------------------------------------------

def test_recommend_prints_the_recommendation_reason_and_confidence(stack, home, workers):
    r = kiln(stack, home, "recommend", "--project", "web", "--method", "script", "-p", "script=make",
             "--cpu", "1", "--memory-gb", "1", "--time-budget-min", "5")
    assert r.returncode == 0, r.stderr
    api = stack.client(stack.admin_token).post(
        "/api/v1/builds/infrastructure-recommendation",
        script_build(params={"script": "make"}, spec={"cpu": 1, "memory_gb": 1, "time_budget_min": 5})).json()
    lines = dict(line.split(":", 1) for line in r.stdout.splitlines() if ":" in line and not line.startswith(" "))
    assert lines["recommendation"].strip() == api["infrastructure_type"], r.stdout
    assert lines["reason"].strip() == api["reason"], r.stdout
    assert float(lines["confidence"]) == pytest.approx(api["confidence"]), r.stdout
    body = as_json(kiln(stack, home, "recommend", "--project", "web", "--method", "script", "-p", "script=make",
                        "-o", "json"))
    assert {"infrastructure_type", "reason", "confidence", "recommendation_id"} <= set(body)


def test_node_register_writes_the_token_file_and_lists_the_node(stack, home, tmp_path):
    token_file = tmp_path / "node.token"
    r = kiln(stack, home, "node", "register", "cli-node-2", "--label", "arch=arm64", "--capability", "airgapped",
             "--concurrency", "3", "--token-file", str(token_file))
    assert r.returncode == 0, r.stderr
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert token_file.read_text().startswith("kiln_node_")
    assert token_file.read_text().strip() not in r.stdout
    nodes = as_json(kiln(stack, home, "node", "list", "-o", "json"))["items"]
    node = next(n for n in nodes if n["name"] == "cli-node-2")
    assert node["labels"] == {"arch": "arm64"} and node["capabilities"] == {"airgapped": True}
    assert node["concurrency"] == 3
    r = kiln(stack, home, "node", "register", "cli-node-2")
    assert r.returncode == 5 and "HTTP 409" in r.stderr, r.stderr
    r = kiln(stack, home, "node", "register", "Bad_Name")
    assert r.returncode == 5 and "(field: name)" in r.stderr, r.stderr


def test_provider_import_sends_the_kubeconfig_and_names_bad_ones(stack, home, tmp_path):
    good = tmp_path / "Lab_Cluster.yaml"
    good.write_text(KUBECONFIG)
    provider = as_json(kiln(stack, home, "provider", "import", "--kubeconfig", str(good), "--type", "rancher",
                            "--display-name", "Lab", "-o", "json"))
    assert provider["name"] == "lab-cluster" and provider["provider_type"] == "rancher"
    assert provider["api_server"] == "https://127.0.0.1:6443" and provider["namespace"] == "builds"
    assert provider["credentials"]["configured"] is True and "not-a-real-token" not in json.dumps(provider)
    listed = kiln(stack, home, "provider", "list")
    assert listed.returncode == 0 and "lab-cluster" in listed.stdout, listed.stderr

    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Config\n")
    r = kiln(stack, home, "provider", "import", "--kubeconfig", str(bad), "--type", "eks")
    assert r.returncode == 5 and "(field: kubeconfig)" in r.stderr, r.stderr
    r = kiln(stack, home, "provider", "import", "--kubeconfig", str(good), "--type", "nomad")
    assert r.returncode == 2 and "--type must be one of" in r.stderr, r.stderr


def test_tokens_are_created_listed_rotated_and_revoked(stack, home, tmp_path):
    token_file = tmp_path / "ci.token"
    created = kiln(stack, home, "token", "create", "cli-ci", "--expires-in-days", "7", "--token-file", str(token_file))
    assert created.returncode == 0, created.stderr
    assert token_file.stat().st_mode & 0o777 == 0o600
    secret = token_file.read_text().strip()
    assert secret and secret not in created.stdout
    as_json(kiln(stack, home, "build", "list", "-o", "json", token=secret))  # the new token works

    tokens = as_json(kiln(stack, home, "token", "list", "-o", "json"))["items"]
    mine = next(t for t in tokens if t["name"] == "cli-ci")
    assert "token" not in mine and mine["revoked_at"] is None

    rotated = as_json(kiln(stack, home, "token", "rotate", mine["id"], "--grace-seconds", "0", "-o", "json"))
    assert rotated["token"] and rotated["token"] != secret and rotated["id"] != mine["id"]
    as_json(kiln(stack, home, "build", "list", "-o", "json", token=rotated["token"]))
    r = kiln(stack, home, "build", "list", token=secret)
    assert r.returncode == 5 and "HTTP 401" in r.stderr, r.stderr

    revoked = kiln(stack, home, "token", "revoke", rotated["id"])
    assert revoked.returncode == 0 and "revoked at" in revoked.stdout, revoked.stderr
    r = kiln(stack, home, "build", "list", token=rotated["token"])
    assert r.returncode == 5 and "HTTP 401" in r.stderr, r.stderr
    r = kiln(stack, home, "token", "create", "x", "--expires-in-days", "999")
    assert r.returncode == 5 and "(field: expires_in_days)" in r.stderr, r.stderr


def test_migrate_and_bootstrap_still_work_as_before(stack, home, tmp_path):
    token_file = tmp_path / "dev.token"
    r = subprocess.run([str(stack.kiln), "bootstrap", "--database", stack.admin_dsn(), "--tenant", "acme",
                        "--user", "cli-dev", "--role", "developer", "--token-file", str(token_file)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("kiln bootstrap: developer token for cli-dev@acme written to")
    r = subprocess.run([str(stack.kiln), "nonsense"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("usage:")
