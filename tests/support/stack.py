"""A private Kiln stack for one test module: PostgreSQL, kiln-api and nginx, started by
scripts/stack.sh (the same script `make up` uses) in a temp directory on free ports."""
import json
import os
import shutil
import tempfile
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import psycopg2
import requests

ROOT = Path(__file__).resolve().parents[2]


def fresh_dir(name):
    """A fresh directory for a stack, outside pytest's temp folder: pytest resets that
    folder to mode 0700 whenever another pytest run starts (ctest runs several at once),
    which would lock nginx's workers and PostgreSQL out of a running stack."""
    path = Path(tempfile.mkdtemp(prefix=f"kiln-test-{name}-"))
    path.chmod(0o755)
    return path


def remove_fresh_dir(path):
    if not os.environ.get("KILN_KEEP_TEST_DIRS"):
        shutil.rmtree(path, ignore_errors=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """HTTP client for one token, returning requests.Response objects."""

    def __init__(self, base_url, token=None):
        self.base_url = base_url
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method, path, json_body=None, data=None, headers=None):
        kwargs = {"timeout": 30, "headers": headers or {}}
        if json_body is not None:
            kwargs["data"] = json.dumps(json_body)
            kwargs["headers"].setdefault("Content-Type", "application/json")
        elif data is not None:
            kwargs["data"] = data
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json_body=None, **kw):
        return self.request("POST", path, json_body=json_body, **kw)

    def put(self, path, json_body=None, **kw):
        return self.request("PUT", path, json_body=json_body, **kw)


class Stack:
    def __init__(self, var_dir):
        self.var = Path(var_dir)
        self.http_port = free_port()
        self.pg_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.env = dict(os.environ, KILN_VAR=str(self.var), KILN_HTTP_PORT=str(self.http_port),
                        KILN_PG_PORT=str(self.pg_port),
                        KILN_BUILD_DIR=os.environ.get("KILN_BUILD_DIR", str(ROOT / "build")),
                        KILN_API_THREADS=os.environ.get("KILN_API_THREADS", "8"),
                        KILN_WITH_WORKERS=os.environ.get("KILN_WITH_WORKERS", "0"))
        self.kiln = Path(self.env["KILN_BUILD_DIR"]) / "cmd" / "kiln"

    # lifecycle ---------------------------------------------------------------------------
    def script(self, *args, check=True):
        return subprocess.run([str(ROOT / "scripts" / "stack.sh"), *args], env=self.env,
                              check=check, capture_output=True, text=True, timeout=180)

    def up(self):
        result = self.script("up", check=False)
        if result.returncode != 0:
            raise RuntimeError(f"stack.sh up failed:\n{result.stdout}\n{result.stderr}\n"
                               + self.logs())
        self.admin_token = (self.var / "admin-token").read_text().strip()
        return self

    def down(self):
        self.script("down", check=False)

    def logs(self):
        out = []
        for name in ("kiln-api.log", "nginx-error.log"):
            path = self.var / "log" / name
            if path.exists():
                out.append(f"--- {name}\n{path.read_text()[-4000:]}")
        return "\n".join(out)

    # people ------------------------------------------------------------------------------
    def token(self, tenant, user, role):
        """A new API token for user@tenant with role (tenant and user created if missing)."""
        path = self.var / f"token-{tenant}-{user}-{role}-{time.monotonic_ns()}"
        subprocess.run([str(self.kiln), "bootstrap", "--database", self.admin_dsn(), "--tenant", tenant,
                        "--user", user, "--role", role, "--token-file", str(path)],
                       check=True, capture_output=True, text=True)
        return path.read_text().strip()

    def client(self, token=None):
        return Client(self.url, token)

    # database ----------------------------------------------------------------------------
    def admin_dsn(self):
        return f"host=127.0.0.1 port={self.pg_port} user=postgres dbname=kiln"

    def sql(self, query, params=None):
        """Runs one statement as the superuser (bypasses row-level security)."""
        conn = psycopg2.connect(self.admin_dsn())
        try:
            with conn, conn.cursor() as cur:
                cur.execute(query, params)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def pg(self, *args):
        subprocess.run([str(ROOT / "scripts" / "pg.sh"), *args], check=True, env=self.env)

    # processes ---------------------------------------------------------------------------
    def api_pid(self):
        return int((self.var / "run" / "kiln-api.pid").read_text())

    def wait_healthy(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.1)
        return False

    def signal_api(self, sig=signal.SIGTERM):
        os.kill(self.api_pid(), sig)


class Workers:
    """Real kiln-dispatch and kiln-agent processes for one stack, started and killed at will
    (crash tests kill them with SIGKILL). Everything still running is stopped by stop_all()."""

    def __init__(self, stack):
        self.stack = stack
        self.build_dir = Path(stack.env["KILN_BUILD_DIR"])
        self.procs = []
        self.logs = stack.var / "log"

    def register_node(self, name, **fields):
        """Registers a build node through the API; returns (node json, token file)."""
        admin = self.stack.client(self.stack.admin_token)
        r = admin.post("/api/v1/admin/build-nodes", {"name": name, **fields})
        assert r.status_code == 201, r.text
        node = r.json()
        token_file = self.stack.var / f"node-token-{name}"
        token_file.write_text(node["token"] + "\n")
        token_file.chmod(0o600)
        return node, token_file

    def _spawn(self, name, args):
        log = open(self.logs / f"{name}.log", "ab")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=self.stack.env)
        proc.log_path = self.logs / f"{name}.log"
        self.procs.append(proc)
        return proc

    def agent(self, name, token_file, concurrency=2, extra=()):
        work = self.stack.var / f"agent-{name}"
        work.mkdir(exist_ok=True)
        return self._spawn(f"agent-{name}", [
            str(self.build_dir / "cmd" / "kiln-agent"), "--url", self.stack.url, "--token-file", str(token_file),
            "--work-dir", str(work), "--concurrency", str(concurrency), "--wait-seconds", "5",
            "--kill-grace-seconds", "2", *extra])

    def dispatcher(self, name, mode="--loop", extra=()):
        dsn = f"host=127.0.0.1 port={self.stack.pg_port} user=kiln_dispatch dbname=kiln"
        return self._spawn(f"dispatch-{name}", [
            str(self.build_dir / "cmd" / "kiln-dispatch"), mode, "--database", dsn, "--worker", name,
            "--interval", "1", "--pipelines", str(ROOT / "pipelines" / "build-node"), *extra])

    def kill(self, proc, sig=signal.SIGKILL):
        proc.send_signal(sig)
        proc.wait(timeout=30)

    def stop_all(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def set_setting(self, key, value):
        self.stack.sql("update kiln.settings set value = %s where key = %s", (value, key))


def wait_for(predicate, timeout=30.0, interval=0.1, what="condition"):
    """Polls predicate until it returns a truthy value, which is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# Helpers for the build-node end-to-end, crash-recovery and soak tests ----------------------

FINAL_STATUSES = ("succeeded", "failed", "cancelled", "timed_out")


def log_tails(stack, names=None, chars=3000):
    """The tails of the stack's log files (all *.log, or those whose name contains one of
    names), for printing when a test fails."""
    out = []
    for path in sorted((stack.var / "log").glob("*.log")):
        if names and not any(n in path.name for n in names):
            continue
        text = path.read_text(errors="replace")
        out.append(f"--- {path.name} (last {chars} chars)\n{text[-chars:]}")
    return "\n".join(out)


def submit_and_start(client, body):
    """Submits a build and starts it; returns the started build's JSON."""
    r = client.post("/api/v1/builds", body)
    assert r.status_code == 201, r.text
    build_id = r.json()["id"]
    r = client.post(f"/api/v1/builds/{build_id}/start")
    assert r.status_code == 200, r.text
    return r.json()


def get_build(client, build_id):
    r = client.get(f"/api/v1/builds/{build_id}")
    assert r.status_code == 200, r.text
    return r.json()


def wait_status(client, build_id, statuses, timeout=60.0, interval=0.2):
    """Polls the build until its status is one of statuses; returns the build JSON."""
    if isinstance(statuses, str):
        statuses = (statuses,)
    seen = {}

    def check():
        build = get_build(client, build_id)
        seen["last"] = build
        return build if build["status"] in statuses else None

    try:
        return wait_for(check, timeout=timeout, interval=interval,
                        what=f"build {build_id} to reach {statuses}")
    except AssertionError as e:
        last = seen.get("last") or {}
        raise AssertionError(f"{e}; last status {last.get('status')!r}, build: {json.dumps(last)[:3000]}")


def build_events(client, build_id):
    r = client.get(f"/api/v1/builds/{build_id}/events")
    assert r.status_code == 200, r.text
    return r.json()["items"]


def build_log(client, build_id, offset=0):
    r = client.get(f"/api/v1/builds/{build_id}/logs?offset={offset}")
    assert r.status_code == 200, r.text
    return r.text


def pid_gone(pid):
    """True when the process no longer exists or is a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def live_group_members(pgid):
    """Pids of live (non-zombie) processes in process group pgid."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def sse_events(response):
    """Parses a streamed text/event-stream response into dicts {event, id, data} (data
    parsed as JSON when it is JSON); comments and retry lines are skipped. A generator:
    it yields each event as it arrives."""
    event = {}
    data_lines = []
    for raw in response.iter_lines(decode_unicode=False):
        line = raw.decode("utf-8")
        if line == "":
            if data_lines or event:
                data = "\n".join(data_lines)
                try:
                    event["data"] = json.loads(data)
                except ValueError:
                    event["data"] = data
                event.setdefault("event", "message")
                yield event
            event, data_lines = {}, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data_lines.append(value)
        elif name in ("event", "id"):
            event[name] = value
        # retry: ignored


def stop_procs(procs, timeout=15):
    """SIGTERM then wait (SIGKILL after timeout) for the given Workers processes only."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class ActiveSampler:
    """Samples kiln.build_executions every 100 ms in a thread: the most active executions
    any build had at once, and the sampled moments."""

    def __init__(self, stack):
        self.conn = psycopg2.connect(stack.admin_dsn())
        self.conn.autocommit = True
        self.max_active = 0
        self.samples = 0
        self.violations = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        with self.conn.cursor() as cur:
            while not self._stop.is_set():
                cur.execute("select build_id, count(*) from kiln.build_executions "
                            "where status in ('dispatching', 'running') group by build_id")
                rows = cur.fetchall()
                self.samples += 1
                for build_id, count in rows:
                    self.max_active = max(self.max_active, count)
                    if count > 1:
                        self.violations.append((time.monotonic(), build_id, count))
                self._stop.wait(0.1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        self.conn.close()
