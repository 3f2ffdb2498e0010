"""Hardening at the edge, through nginx: security headers (a strict Content-Security-Policy,
nosniff, frame denial, no referrer) exactly once on every page and API response and on
nginx's own errors; Cache-Control no-store on authenticated answers; pages with no inline
script, style or event handler (the CSP would block them); 413 on an oversized body; and
the sign-in rate limit answering 429 with Retry-After and the JSON error body."""
import re
import sys
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from conftest import assert_error  # noqa: E402
from k8s_env import K8sEnv  # noqa: E402
from route_table import fill, load_routes, make_tenant_objects, route_id  # noqa: E402
from stack import fresh_dir, log_tails  # noqa: E402

ROUTES = load_routes()
GET_PAGES = [r for r in ROUTES if r["method"] == "GET" and r["auth"] == "page-session"]
GET_API = [r for r in ROUTES if r["method"] == "GET" and r["auth"] != "page-session"
           and r["pattern"] not in ("/metrics",) and not r["pattern"].endswith("/logs")]

CSP_DIRECTIVES = {"default-src": "'self'", "script-src": "'self'", "frame-ancestors": "'none'",
                  "base-uri": "'none'", "form-action": "'self'", "object-src": "'none'"}


@pytest.fixture(scope="module")
def env():
    e = K8sEnv(fresh_dir("edge"))
    e.dispatch_proc = e.dispatcher("edge")
    yield e
    e.stop()


@pytest.fixture(scope="module")
def world(env):
    objects, _, page = make_tenant_objects(env, env.admin, env.stack.admin_token, "edge")
    return {"objects": objects, "page": page}


@pytest.fixture(autouse=True)
def dump_logs_on_failure(request, env):
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        print(log_tails(env.stack, ["kiln-api", "nginx-error"]))


def header_values(r, name):
    return [v for k, v in r.raw.headers.items() if k.lower() == name.lower()]


def assert_security_headers(r, what):
    for name in ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"):
        assert len(header_values(r, name)) == 1, (what, name, header_values(r, name))
    csp = dict((d.strip().split(" ", 1) + [""])[:2] for d in r.headers["Content-Security-Policy"].split(";") if d.strip())
    for directive, value in CSP_DIRECTIVES.items():
        assert csp.get(directive) == value, (what, directive, csp)
    assert "'unsafe-inline'" not in r.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff", what
    assert r.headers["X-Frame-Options"] == "DENY", what
    assert r.headers["Referrer-Policy"] in ("no-referrer", "same-origin"), what


def assert_no_store(r, what):
    assert header_values(r, "Cache-Control") == ["no-store"], (what, header_values(r, "Cache-Control"))


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
STYLE_ATTR = re.compile(r"<[^>]+\sstyle\s*=", re.I)
STYLE_BLOCK = re.compile(r"<style[\s>]", re.I)
JS_URL = re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.I)


@pytest.mark.parametrize("route", GET_PAGES, ids=route_id)
def test_every_page_carries_the_security_headers_and_no_inline_script(env, world, route):
    path = fill(route["pattern"], world["objects"])
    if route["permission"] == "public":
        r = requests.get(env.stack.url + path, timeout=30, allow_redirects=False)
    else:
        r = world["page"].request("GET", path)
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    assert r.headers["Content-Type"].startswith("text/html")
    assert_security_headers(r, path)
    assert_no_store(r, path)
    html = r.text
    assert not INLINE_SCRIPT.search(html), (path, INLINE_SCRIPT.search(html).group(0))
    assert not EVENT_HANDLER.search(html), (path, EVENT_HANDLER.search(html).group(0))
    assert not STYLE_ATTR.search(html), (path, STYLE_ATTR.search(html).group(0))
    assert not STYLE_BLOCK.search(html), path
    assert not JS_URL.search(html), path
    # What the page loads comes from this origin, and is served with the headers too.
    for ref in re.findall(r"""<(?:script|link)[^>]+(?:src|href)="([^"]+)\"""", html):
        assert ref.startswith("/") and not ref.startswith("//"), (path, ref)
        s = requests.get(env.stack.url + ref, timeout=30)
        assert s.status_code == 200, ref
        assert_security_headers(s, ref)


@pytest.mark.parametrize("route", GET_API, ids=route_id)
def test_every_api_answer_carries_the_headers_and_no_store(env, world, route):
    path = fill(route["pattern"], world["objects"])
    if route["permission"] == "node-token":
        pytest.fail("a GET route on the agent protocol: add it here")
    r = env.admin.get(path)
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    assert_security_headers(r, path)
    if route["permission"] != "public":  # no-store is for answers that need a credential
        assert_no_store(r, path)


def test_errors_and_redirects_carry_the_headers_too(env):
    url = env.stack.url
    for r, what in ((requests.get(url + "/api/v1/builds", timeout=30), "401"),
                    (env.admin.get("/api/v1/no-such-route"), "404"),
                    (requests.get(url + "/admin/builds", timeout=30, allow_redirects=False), "page redirect")):
        assert_security_headers(r, what)
        assert_no_store(r, what)
    assert requests.get(url + "/healthz", timeout=30).headers["X-Frame-Options"] == "DENY"


def test_an_oversized_body_is_413_with_the_error_body_and_headers(env):
    before = env.stack.sql("select count(*) from kiln.builds")[0][0]
    r = env.admin.post("/api/v1/builds", {"project": "edge-web", "method": "script",
                                          "params": {"script": "x" * (2 * 1024 * 1024)}})
    assert_error(r, 413, "payload_too_large", "body")
    assert_security_headers(r, "413")
    assert_no_store(r, "413")
    assert env.stack.sql("select count(*) from kiln.builds")[0][0] == before


def test_a_slow_body_is_cut_off(env):
    """client_body_timeout: a client that announces a body and never sends it is dropped."""
    import socket
    host, port = env.stack.url.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=40) as s:
        s.sendall(b"POST /api/v1/builds HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        s.settimeout(40)
        data = s.recv(4096)
    assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:200]


# Last: it leaves this address rate-limited on sign-in for a while.
def test_a_sign_in_burst_gets_429_with_retry_after_and_the_error_body(env):
    url = env.stack.url
    answers = [requests.post(url + "/admin/login", data={"token": "kiln_wrong"}, timeout=30,
                             allow_redirects=False) for _ in range(40)]
    codes = [r.status_code for r in answers]
    assert 429 not in codes[:15], codes
    limited = [r for r in answers if r.status_code == 429]
    assert len(limited) >= 10, codes
    r = limited[0]
    assert int(r.headers["Retry-After"]) > 0
    assert_error(r, 429, "rate_limited", None)
    assert_security_headers(r, "429")
    # Only sign-in attempts are limited: the form and the API still answer.
    assert requests.get(url + "/admin/login", timeout=30).status_code == 200
    assert env.admin.get("/api/v1/projects").status_code == 200
