#include "http/app.hpp"

#include <chrono>
#include <nlohmann/json.hpp>

#include <openssl/crypto.h>

#include "core/token.hpp"
#include "db/credentials_api.hpp"
#include "db/pages_api.hpp"
#include "http/cookies.hpp"
#include "http/error_body.hpp"
#include "http/html.hpp"
#include "http/query.hpp"
#include "log.hpp"

namespace kiln::http {

std::string json_object_body(const Request& request) {
  // Any Content-Type is accepted (curl -d sends form-urlencoded); the body must be JSON.
  // Bearer tokens are never sent by browsers on their own, so this opens no CSRF hole.
  if (request.body.empty()) {
    throw Error(Errc::kBadRequest, "invalid_body", "the request needs a JSON object body", "body");
  }
  try {
    const auto parsed = nlohmann::json::parse(request.body);
    if (!parsed.is_object()) {
      throw Error(Errc::kBadRequest, "invalid_body", "the body must be a JSON object", "body");
    }
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is the 1-based position where parsing stopped.
    throw Error(Errc::kBadRequest, "malformed_json",
                "the body is not valid JSON (at byte " + std::to_string(e.byte) + ")", "body");
  } catch (const nlohmann::json::exception&) {
    // e.g. out_of_range 406: a number too large for a double
    throw Error(Errc::kBadRequest, "malformed_json", "the body holds a number out of range", "body");
  }
  return request.body;
}

namespace {

// The principal of a user token holding the route's permission; 401/403 otherwise.
db::Principal authorize(pqxx::work& tx, const Route& route, const std::string& token_sha256) {
  auto found = db::authenticate(tx, token_sha256);
  if (!found) {
    // An expired or revoked token is told so (token_expired, token_revoked): its holder
    // knows the token already, so this reveals nothing.
    const std::string refusal = db::token_refusal(tx, token_sha256);
    if (refusal == "token_expired") throw Error(Errc::kUnauthorized, refusal, "the API token has expired");
    if (refusal == "token_revoked") throw Error(Errc::kUnauthorized, refusal, "the API token was revoked");
    throw Error(Errc::kUnauthorized, "unauthorized", "the API token is unknown, expired or revoked");
  }
  if (!found->has(route.permission)) {
    throw Error(Errc::kForbidden, "forbidden", "this needs the " + route.permission + " permission");
  }
  return std::move(*found);
}

// The page session's principal holding the route's permission, on a GET of a route that
// also takes the page cookie (the log stream a build page follows). 401/403 otherwise.
db::Principal authorize_session(pqxx::work& tx, const Route& route, const std::string& session_sha256) {
  auto found = db::session_authenticate(tx, session_sha256);
  if (!found) throw Error(Errc::kUnauthorized, "unauthorized", "the session has ended; sign in again");
  if (!found->principal.has(route.permission)) {
    throw Error(Errc::kForbidden, "forbidden", "this needs the " + route.permission + " permission");
  }
  return std::move(found->principal);
}

// A POST from a page must echo the session's CSRF token in its form (csrf_token): a form
// on another site cannot know it. Compared in constant time.
void check_csrf(const Request& request, const std::string& expected) {
  std::optional<std::string> sent;
  try {
    sent = Query(request.body).text("csrf_token");
  } catch (const Error&) {
  }  // an unreadable form carries no token
  if (!sent || sent->size() != expected.size() || expected.empty() ||
      CRYPTO_memcmp(sent->data(), expected.data(), expected.size()) != 0) {
    throw Error(Errc::kForbidden, "csrf_token_invalid",
                "the form was not sent by this site's page (its CSRF token is missing or stale); "
                "reload the page and try again", "csrf_token");
  }
}

}  // namespace

// Page routes: the session cookie instead of a bearer token. No valid session sends the
// browser to the sign-in page; a POST must carry the session's CSRF token; a permission the
// user lacks is a 403 page (the action was not shown to them in the first place).
Response App::dispatch_page(const Request& request, const RouteMatch& match, db::Database& db) {
  const Route& route = *match.route;
  if (route.permission == kPublic) {
    return db.with_tx([&](pqxx::work& tx) {
      return route.handler(Call{request, match.params, tx, db::Principal{}, std::string{}});
    });
  }
  const auto cookie = cookie_value(request.cookie, html::kSessionCookie);
  if (!cookie || cookie->empty()) return html::sign_in_redirect(request, false);
  const std::string session_sha256 = core::sha256_hex(*cookie);
  return db.with_tx([&](pqxx::work& tx) -> Response {
    auto session = db::session_authenticate(tx, session_sha256);
    if (!session) return html::sign_in_redirect(request, true);
    if (request.method == "POST") check_csrf(request, session->csrf_token);
    if (route.permission != kSignedIn && !session->principal.has(route.permission)) {
      throw Error(Errc::kForbidden, "forbidden", "this needs the " + route.permission + " permission");
    }
    const PageContext page{session->csrf_token, session->user_name, session->tenant_name, session_sha256};
    return route.handler(Call{request, match.params, tx, session->principal, std::string{}, &page});
  });
}

Response App::dispatch(const Request& request, const RouteMatch& match, db::Database& db) {
  const Route& route = *match.route;
  if (route.auth == Auth::kPageSession) return dispatch_page(request, match, db);
  if (route.auth == Auth::kBearerOrPageSession && request.authorization.empty() && request.method == "GET") {
    if (const auto cookie = cookie_value(request.cookie, html::kSessionCookie); cookie && !cookie->empty()) {
      const std::string session_sha256 = core::sha256_hex(*cookie);
      if (route.session_handler) {
        db.with_tx([&](pqxx::work& tx) { authorize_session(tx, route, session_sha256); });
        return route.session_handler(Session{request, match.params, db, session_sha256, true, true});
      }
      return db.with_tx([&](pqxx::work& tx) {
        const db::Principal principal = authorize_session(tx, route, session_sha256);
        return route.handler(Call{request, match.params, tx, principal, std::string{}});
      });
    }
  }
  std::string token_sha256;
  if (route.permission != kPublic) {
    const std::string_view token = core::bearer_token(request.authorization);
    if (token.empty()) {
      throw Error(Errc::kUnauthorized, "unauthorized", "send an API token as Authorization: Bearer <token>");
    }
    token_sha256 = core::sha256_hex(token);
  }
  const bool user_token = route.permission != kPublic && route.permission != kNodeToken;
  if (route.session_handler) {
    if (user_token) db.with_tx([&](pqxx::work& tx) { authorize(tx, route, token_sha256); });
    return route.session_handler(Session{request, match.params, db, token_sha256, user_token});
  }
  return db.with_tx([&](pqxx::work& tx) {
    db::Principal principal;
    if (user_token) principal = authorize(tx, route, token_sha256);
    return route.handler(Call{request, match.params, tx, principal, token_sha256});
  });
}

namespace {

// Pages answer errors with an HTML page, the API with the JSON error body.
Response render_error(const Error& e, const Request& request, const RouteMatch& match) {
  if (match.route && match.route->auth == Auth::kPageSession) {
    try {
      return html::error_page(e, request);
    } catch (const std::exception&) {
    }  // no templates loaded (a test's router): fall back to JSON
  }
  return error_response(e, request.request_id);
}

}  // namespace

Response App::handle(const Request& request, db::Database& db) {
  const auto started = std::chrono::steady_clock::now();
  const RouteMatch match = router_.match(request.method, request.path);
  Response response;
  try {
    if (!match.route && !match.allowed_methods.empty()) {
      std::string allow;
      for (const auto& m : match.allowed_methods) allow += (allow.empty() ? "" : ", ") + m;
      response = error_response(Error(Errc::kMethodNotAllowed, "method_not_allowed",
                                      request.method + " is not allowed here; use " + allow),
                                request.request_id);
      response.headers.emplace_back("Allow", allow);
    } else if (!match.route) {
      throw Error(Errc::kNotFound, "route_not_found", "no such endpoint: " + request.path);
    } else {
      response = dispatch(request, match, db);
    }
  } catch (const Error& e) {
    if (http_status(e.code) >= 500) {
      log("error", "request failed", {{"request_id", request.request_id}, {"path", request.path},
                                      {"code", e.wire_code}, {"internal", e.internal}});
    }
    response = render_error(e, request, match);
  } catch (const std::exception& e) {
    log("error", "unhandled exception", {{"request_id", request.request_id},
                                         {"path", request.path}, {"internal", e.what()}});
    response = render_error(Error(Errc::kInternal, "internal", "internal error"), request, match);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.observe(request.method, match.route ? match.route->pattern : "unmatched", response.status,
                   seconds);
  return response;
}

}  // namespace kiln::http
