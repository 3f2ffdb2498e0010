import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from stack import Stack, remove_fresh_dir, fresh_dir  # noqa: E402,F401


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


def script_build(**overrides):
    body = {"project": "web", "method": "script", "params": {"script": "make test"},
            "spec": {"cpu": 1, "memory_gb": 1, "time_budget_min": 10},
            "infrastructure_type": "auto"}
    body.update(overrides)
    return body
