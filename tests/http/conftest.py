import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from stack import Stack, log_tails, remove_fresh_dir, fresh_dir  # noqa: E402,F401


@pytest.fixture(scope="module")
def stack():
    var = fresh_dir("stack")
    s = Stack(var).up()
    yield s
    s.down()
    remove_fresh_dir(var)


@pytest.fixture(scope="module")
def admin(stack):
    return stack.client(stack.admin_token)


@pytest.fixture(scope="module")
def project(admin):
    r = admin.post("/api/v1/projects", {"name": "web", "language": "go"})
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
def dump_worker_logs_on_failure(request, stack):
    """For modules that run workers (pytestmark): the workers' and the API's log tails
    after a failed test."""
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        print(log_tails(stack, ["agent", "dispatch", "kiln-api", "nginx-error"]))


def script_build(**overrides):
    body = {"project": "web", "method": "script", "params": {"script": "make test"},
            "spec": {"cpu": 1, "memory_gb": 1, "time_budget_min": 10},
            "infrastructure_type": "auto"}
    body.update(overrides)
    return body


REQUEST_ID_RE = re.compile(r"^[0-9a-f]{32}$")


def assert_json(r, status):
    """A JSON answer with the given status and a request id header; returns the body."""
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == "application/json"
    assert REQUEST_ID_RE.match(r.headers.get("X-Request-Id", "")), r.headers
    return r.json()


def assert_error(r, status, code, field, contains=None, exact=None):
    """The whole error object: status, headers, code, field, message, request_id."""
    body = assert_json(r, status)
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "field", "request_id"}, err
    assert err["code"] == code, err
    assert err["field"] == field, err
    assert isinstance(err["message"], str) and err["message"], err
    if contains is not None:
        assert contains in err["message"], err
    if exact is not None:
        assert err["message"] == exact, err
    assert err["request_id"] == r.headers["X-Request-Id"]
    return err
