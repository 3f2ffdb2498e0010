#include "http/app.hpp"

#include <chrono>
#include <nlohmann/json.hpp>

#include "core/token.hpp"
#include "http/error_body.hpp"
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
    throw Error(Errc::kUnauthorized, "unauthorized", "the API token is unknown, expired or revoked");
  }
  if (!found->has(route.permission)) {
    throw Error(Errc::kForbidden, "forbidden", "this needs the " + route.permission + " permission");
  }
  return std::move(*found);
}

}  // namespace

Response App::dispatch(const Request& request, const RouteMatch& match, db::Database& db) {
  const Route& route = *match.route;
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
    response = error_response(e, request.request_id);
  } catch (const std::exception& e) {
    log("error", "unhandled exception", {{"request_id", request.request_id},
                                         {"path", request.path}, {"internal", e.what()}});
    response = error_response(Error(Errc::kInternal, "internal", "internal error"), request.request_id);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.observe(request.method, match.route ? match.route->pattern : "unmatched", response.status,
                   seconds);
  return response;
}

}  // namespace kiln::http
