"""The server-rendered pages over HTTP: sign-in and its cookie, server-side sessions that
expire and can be revoked, CSRF refusal, 403 for an admin action posted by a user, every
state change a POST, the API not taking the cookie, and escaping of what pages show."""
import hashlib
import re

import pytest
import requests

from conftest import script_build

SESSION = "__Host-kiln_session"


def csrf_of(html):
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, html[:2000]
    return m.group(1)


def set_cookie_headers(response):
    return [v for k, v in response.raw.headers.items() if k.lower() == "set-cookie"]


def sign_in(stack, token, next_path="", headers=None):
    """A requests.Session signed in with token; returns (session, the sign-in answer)."""
    s = requests.Session()
    form = s.get(stack.url + "/admin/login", headers=headers, timeout=30)
    assert form.status_code == 200, form.text
    csrf = csrf_of(form.text)
    # Sent by hand: behind TLS the cookie is Secure and requests keeps it from plain HTTP.
    r = s.post(stack.url + "/admin/login", timeout=30, allow_redirects=False, headers=headers,
               cookies={"kiln_login_csrf": csrf},
               data={"csrf_token": csrf, "token": token, "next": next_path})
    # The session cookie is Secure (__Host-); browsers send it to http://127.0.0.1 as a
    # trustworthy origin, requests does not: let the test's jar send it over plain HTTP.
    for cookie in s.cookies:
        if cookie.name == SESSION:
            cookie.secure = False
    return s, r


@pytest.fixture(scope="module")
def admin_page(stack, project):
    s, r = sign_in(stack, stack.admin_token)
    assert r.status_code == 303, r.text
    return s


@pytest.fixture(scope="module")
def developer_token(stack):
    return stack.token("default", "dev", "developer")


def page(session, stack, path):
    r = session.get(stack.url + path, timeout=30, allow_redirects=False)
    return r


# sign-in, cookies, sessions ---------------------------------------------------------------

def test_a_page_without_a_session_redirects_to_the_sign_in_form(stack):
    r = requests.get(stack.url + "/admin/builds?status=failed", allow_redirects=False, timeout=30)
    assert r.status_code == 303
    assert r.headers["Location"] == "/admin/login?next=/admin/builds%3Fstatus%3Dfailed"
    r = requests.get(stack.url + "/builds/new", allow_redirects=False, timeout=30)
    assert r.status_code == 303 and r.headers["Location"].startswith("/admin/login")


def test_sign_in_sets_an_httponly_samesite_strict_cookie_and_stores_only_its_hash(stack):
    s, r = sign_in(stack, stack.admin_token, "/admin/builds")
    assert r.status_code == 303
    assert r.headers["Location"] == "/admin/builds"
    cookies = set_cookie_headers(r)
    session = next(c for c in cookies if c.startswith(SESSION + "="))
    assert "; HttpOnly" in session and "; SameSite=Strict" in session and "; Path=/" in session
    assert "; Secure" in session and "Domain" not in session  # __Host-: Secure, Path=/, no Domain, even on HTTP
    value = session.split(";")[0].split("=", 1)[1]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value)
    rows = stack.sql("select encode(session_sha256, 'hex'), csrf_token, expires_at > now() + interval '11 hours' "
                     "from kiln.web_sessions where session_sha256 = sha256(%s::bytea)", (value,))
    assert rows and rows[0][0] == hashlib.sha256(value.encode()).hexdigest() and rows[0][2]
    assert not stack.sql("select 1 from kiln.web_sessions where encode(session_sha256, 'escape') like %s",
                         ("%" + value + "%",))
    assert page(s, stack, "/admin").status_code == 200


def test_the_cookie_is_secure_when_served_over_tls(stack):
    _, r = sign_in(stack, stack.admin_token, headers={"X-Forwarded-Proto": "https"})
    assert r.status_code == 303
    assert any(c.startswith(SESSION + "=") and "; Secure" in c for c in set_cookie_headers(r))


def test_a_wrong_token_is_refused_with_the_form_again(stack):
    s, r = sign_in(stack, "kiln_nope")
    assert r.status_code == 401
    assert "unknown, expired or revoked" in r.text
    assert not any(c.startswith(SESSION + "=") for c in set_cookie_headers(r))


def test_sign_in_without_the_login_csrf_token_is_refused(stack):
    r = requests.post(stack.url + "/admin/login", data={"token": stack.admin_token}, allow_redirects=False,
                      timeout=30)
    assert r.status_code == 403
    assert "CSRF" in r.text and r.headers["Content-Type"].startswith("text/html")


def test_sign_in_never_redirects_off_site(stack):
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        _, r = sign_in(stack, stack.admin_token, target)
        assert r.status_code == 303 and r.headers["Location"] == "/admin", target


def test_sign_out_revokes_the_session_on_the_server(stack):
    s, _ = sign_in(stack, stack.admin_token)
    cookie = s.cookies[SESSION]
    html = page(s, stack, "/admin").text
    r = s.post(stack.url + "/admin/logout", data={"csrf_token": csrf_of(html)}, allow_redirects=False, timeout=30)
    assert r.status_code == 303 and r.headers["Location"] == "/admin/login"
    assert any(c.startswith(SESSION + "=;") and "Max-Age=0" in c for c in set_cookie_headers(r))
    assert stack.sql("select revoked_at is not null from kiln.web_sessions where session_sha256 = sha256(%s::bytea)",
                     (cookie,)) == [(True,)]
    replay = requests.get(stack.url + "/admin", cookies={SESSION: cookie}, allow_redirects=False, timeout=30)
    assert replay.status_code == 303


def test_sessions_end_when_they_expire_idle_or_their_token_is_revoked(stack):
    s, _ = sign_in(stack, stack.admin_token)
    cookie = s.cookies[SESSION]
    stack.sql("update kiln.web_sessions set last_seen_at = now() - interval '3 hours' "
              "where session_sha256 = sha256(%s::bytea)", (cookie,))
    assert page(s, stack, "/admin").status_code == 303

    s, _ = sign_in(stack, stack.admin_token)
    stack.sql("update kiln.web_sessions set expires_at = now() - interval '1 second' "
              "where session_sha256 = sha256(%s::bytea)", (s.cookies[SESSION],))
    assert page(s, stack, "/admin").status_code == 303

    token = stack.token("default", "short-lived", "admin")
    s, _ = sign_in(stack, token)
    assert page(s, stack, "/admin").status_code == 200
    stack.sql("update kiln.api_tokens set revoked_at = now() where token_sha256 = sha256(%s::bytea)", (token,))
    r = page(s, stack, "/admin")
    assert r.status_code == 303
    assert any(c.startswith(SESSION + "=;") for c in set_cookie_headers(r)), "the dead cookie is dropped"


# CSRF and permissions -----------------------------------------------------------------------

def test_a_post_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing(stack, admin_page):
    for data in ({"name": "csrf-less"}, {"name": "csrf-less", "csrf_token": "x" * 43}):
        r = admin_page.post(stack.url + "/admin/build-nodes", data=data, allow_redirects=False, timeout=30)
        assert r.status_code == 403, r.text
        assert "CSRF token is missing or stale" in r.text
    assert not stack.sql("select 1 from kiln.build_nodes where name = 'csrf-less'")


def test_a_user_sees_no_admin_action_and_gets_403_when_posting_one(stack, admin, developer_token):
    r = admin.post("/api/v1/admin/build-nodes", {"name": "pages-node"})
    assert r.status_code == 201, r.text
    node_id = r.json()["id"]
    s, r = sign_in(stack, developer_token)
    assert r.headers["Location"] == "/builds/new"
    html = page(s, stack, "/builds/new").text
    for link in ('href="/admin"', 'href="/admin/build-nodes"', 'href="/admin/audit"', 'href="/admin/usage"'):
        assert link not in html
    assert "force_infrastructure" not in html
    csrf = csrf_of(html)
    for path in (f"/admin/build-nodes/{node_id}/drain", f"/admin/build-nodes/{node_id}/deprecate",
                 "/admin/build-nodes"):
        r = s.post(stack.url + path, data={"csrf_token": csrf, "name": "x"}, allow_redirects=False, timeout=30)
        assert r.status_code == 403, (path, r.text)
        assert "infrastructure:" in r.text
    assert page(s, stack, "/admin/build-nodes").status_code == 403
    assert page(s, stack, "/admin/audit").status_code == 403
    assert stack.sql("select status::text from kiln.build_nodes where id = %s", (node_id,)) == [("active",)]


def test_an_admin_sees_the_node_actions_and_they_work(stack, admin_page):
    html = page(admin_page, stack, "/admin/build-nodes").text
    node_id = stack.sql("select id::text from kiln.build_nodes where name = 'pages-node'")[0][0]
    assert f'action="/admin/build-nodes/{node_id}/drain"' in html
    r = admin_page.post(stack.url + f"/admin/build-nodes/{node_id}/drain", data={"csrf_token": csrf_of(html)},
                        allow_redirects=False, timeout=30)
    assert r.status_code == 303 and r.headers["Location"] == "/admin/build-nodes?notice=drain"
    assert stack.sql("select status::text from kiln.build_nodes where id = %s", (node_id,)) == [("draining",)]
    html = page(admin_page, stack, r.headers["Location"]).text
    assert "The node is draining" in html and f"/admin/build-nodes/{node_id}/resume" in html


def test_state_changing_page_routes_take_no_get(stack, admin_page):
    for path in ("/admin/logout", "/admin/build-nodes/00000000-0000-0000-0000-000000000000/drain",
                 "/admin/builds/00000000-0000-0000-0000-000000000000/cancel"):
        r = page(admin_page, stack, path)
        assert r.status_code == 405, path


def test_the_api_does_not_take_the_session_cookie(stack, admin_page, project):
    r = admin_page.post(stack.url + "/api/v1/builds", json=script_build(), timeout=30)
    assert r.status_code == 401
    assert admin_page.get(stack.url + "/api/v1/builds", timeout=30).status_code == 401


# what pages show -----------------------------------------------------------------------------

def test_html_in_names_and_values_is_shown_escaped(stack, admin, admin_page):
    evil = "<script>alert(1)</script>"
    r = admin.post("/api/v1/admin/build-nodes", {"name": "evil-labels", "labels": {"owner": evil}})
    assert r.status_code == 201, r.text
    r = admin.post("/api/v1/builds", script_build(params={"script": 'echo "<img src=x onerror=alert(2)>"'}))
    build_id = r.json()["id"]
    stack.sql("insert into kiln.providers (name, display_name, provider_type, api_server) "
              "values ('evil-pages', %s, 'kubernetes', 'https://127.0.0.1:1')", ('"><svg onload=alert(3)>',))

    nodes = page(admin_page, stack, "/admin/build-nodes").text
    assert "owner=&lt;script&gt;alert(1)&lt;/script&gt;" in nodes and evil not in nodes
    build = page(admin_page, stack, f"/admin/builds/{build_id}").text
    assert "&lt;img src=x onerror=alert(2)&gt;" in build and "<img src=x" not in build
    dash = page(admin_page, stack, "/admin").text
    assert "&quot;&gt;&lt;svg onload=alert(3)&gt;" in dash and "<svg onload" not in dash
    assert "<script" not in dash and "<script" not in nodes  # no script at all on these pages


def test_the_build_page_follows_its_log_with_the_session_cookie(stack, admin_page, project, admin):
    r = admin.post("/api/v1/builds", script_build())
    build_id = r.json()["id"]
    r = admin_page.get(stack.url + f"/api/v1/builds/{build_id}/logs", timeout=30)
    assert r.status_code == 200 and r.headers["X-Kiln-Build-Status"] == "pending"
    html = page(admin_page, stack, f"/admin/builds/{build_id}").text
    assert 'data-follow="1"' in html and '<script src="/static/log-follow.js" defer></script>' in html
    other = requests.get(stack.url + f"/api/v1/builds/{build_id}/logs", cookies={SESSION: "forged"}, timeout=30)
    assert other.status_code == 401


def test_the_build_form_submits_and_starts_a_build_and_shows_errors_inline(stack, admin_page, project):
    html = page(admin_page, stack, "/builds/new?method=script").text
    assert 'value="auto" checked' in html
    csrf = csrf_of(html)
    form = {"csrf_token": csrf, "method": "script", "project": "web", "param_script": "",
            "spec_cpu": "lots", "infrastructure_type": "auto", "intent": "submit"}
    r = admin_page.post(stack.url + "/builds/new", data=form, allow_redirects=False, timeout=30)
    assert r.status_code == 400, r.text
    assert "params.script" in r.text or "spec.cpu" in r.text
    form.update(param_script="make test", spec_cpu="1")
    r = admin_page.post(stack.url + "/builds/new", data=form, allow_redirects=False, timeout=30)
    assert r.status_code == 303, r.text
    build_id = r.headers["Location"].rsplit("/", 1)[1]
    assert stack.sql("select status::text from kiln.builds where id = %s", (build_id,)) == [("queued",)]


def test_pages_and_assets_are_served(stack, admin_page):
    for path in ("/admin", "/admin/builds", "/admin/build-nodes", "/admin/audit", "/admin/usage?period=week",
                 "/builds/new?method=docker"):
        r = page(admin_page, stack, path)
        assert r.status_code == 200, (path, r.text[:500])
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert "style=" not in r.text and " on" + "click=" not in r.text
    css = requests.get(stack.url + "/static/kiln.css", timeout=30)
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    js = requests.get(stack.url + "/static/log-follow.js", timeout=30)
    assert js.status_code == 200
