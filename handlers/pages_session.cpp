// Sign-in and sign-out for the pages: GET/POST /admin/login, POST /admin/logout.
// Sign-in takes an API token once and starts a server-side session (kiln.web_sessions);
// the browser keeps only a random session id in a __Host- cookie (Secure, HttpOnly,
// SameSite=Strict, Path=/, no Domain). Every sign-in mints a new id and ends the session of
// any cookie the browser still sent, so a cookie planted before sign-in never becomes the
// session (no fixation). The session ends when idle or old (kiln.settings), at sign-out,
// or when an admin revokes it. The sign-in form is protected against login CSRF by a
// double-submit token: a random value in a cookie scoped to /admin/login that the form
// must echo.
#include <openssl/crypto.h>

#include "core/token.hpp"
#include "db/pages_api.hpp"
#include "http/cookies.hpp"
#include "http/html.hpp"
#include "http/query.hpp"
#include "routes.hpp"

namespace kiln::handlers {

namespace {

using http::Call;
using http::Response;

// 32 random bytes, base64url: session ids and CSRF tokens.
std::string random_token() { return core::generate_token().substr(5); }

http::CookieOptions login_csrf_cookie(const http::Request& request) {
  return {.path = "/admin/login", .max_age_seconds = 3600, .secure = request.https};
}

// The sign-in form, with a fresh login CSRF token in the form and in its cookie.
Response login_form(const Call& c, const std::string& next, const std::string& error, int status) {
  const std::string csrf = random_token();
  ctemplate::TemplateDictionary dict("login");
  dict.SetValue("CSRF_TOKEN", csrf);
  dict.SetValue("NEXT", http::html::is_local_path(next) ? next : "");
  if (!error.empty()) dict.AddSectionDictionary("ERROR")->SetValue("MESSAGE", error);
  Response r = http::html::page(c, "login.tpl", "Sign in", dict, status);
  r.headers.emplace_back("Set-Cookie",
                         http::set_cookie(http::html::kLoginCsrfCookie, csrf, login_csrf_cookie(c.request)));
  return r;
}

bool same_secret(const std::optional<std::string>& a, const std::optional<std::string>& b) {
  return a && b && !a->empty() && a->size() == b->size() && CRYPTO_memcmp(a->data(), b->data(), a->size()) == 0;
}

// Where a user lands after sign-in when no page was asked for: the first page they may see.
std::string home_of(const db::Principal& p) {
  if (p.has("infrastructure:monitor")) return "/admin";
  if (p.has("build:create")) return "/builds/new";
  return "/admin/builds";
}

Response sign_in(const Call& c) {
  const http::Query form(c.request.body);
  const std::string next = form.text("next").value_or("");
  if (!same_secret(form.text("csrf_token"), http::cookie_value(c.request.cookie, http::html::kLoginCsrfCookie))) {
    throw Error(Errc::kForbidden, "csrf_token_invalid",
                "the sign-in form was not sent by this site's page (its CSRF token is missing or stale); "
                "reload the page and try again", "csrf_token");
  }
  const std::string token = form.text("token").value_or("");
  const std::string session_id = random_token();
  const std::string session_sha256 = core::sha256_hex(session_id);
  if (token.empty() || token.size() > 200 ||
      !db::session_start(c.tx, core::sha256_hex(token), session_sha256, random_token(), c.request.user_agent)) {
    return login_form(c, next, "That API token is unknown, expired or revoked.", 401);
  }
  // The new session has a new id; whatever session cookie came with the form ends here.
  if (const auto previous = http::cookie_value(c.request.cookie, http::html::kSessionCookie);
      previous && !previous->empty()) {
    if (const std::string h = core::sha256_hex(*previous); h != session_sha256) db::session_end(c.tx, h);
  }
  const auto session = db::session_authenticate(c.tx, session_sha256);
  Response r = http::html::redirect(http::html::is_local_path(next) && next != "/admin/login"
                                        ? next
                                        : home_of(session ? session->principal : db::Principal{}));
  r.headers.emplace_back("Set-Cookie", http::set_cookie(http::html::kSessionCookie, session_id, http::host_cookie()));
  r.headers.emplace_back("Set-Cookie",
                         http::clear_cookie(http::html::kLoginCsrfCookie, login_csrf_cookie(c.request)));
  return r;
}

}  // namespace

void register_session_pages(http::Router& router) {
  // Pages need their templates: loaded and checked here, at start, so that a template
  // without the escaping pragma stops kiln-api from starting instead of serving raw HTML.
  http::html::load_templates(http::html::default_templates_dir());
  router.add({"GET", "/admin/login", std::string(http::kPublic), [](const Call& c) {
                const http::Query q(c.request.query_string);
                return login_form(c, q.text("next").value_or(""), "", 200);
              }, {}, http::Auth::kPageSession});
  router.add({"POST", "/admin/login", std::string(http::kPublic), sign_in, {}, http::Auth::kPageSession});
  router.add({"POST", "/admin/logout", std::string(http::kSignedIn), [](const Call& c) {
                db::session_end(c.tx, c.page->session_sha256);
                Response r = http::html::redirect("/admin/login");
                r.headers.emplace_back("Set-Cookie",
                                       http::clear_cookie(http::html::kSessionCookie, http::host_cookie()));
                return r;
              }, {}, http::Auth::kPageSession});
}

}  // namespace kiln::handlers
