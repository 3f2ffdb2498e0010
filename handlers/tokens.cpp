// /api/v1/admin/tokens: API tokens as a tenant's admins manage them (docs/api.md): create
// (the token is shown once), list (never a token or its hash), revoke, rotate with a grace.
// Tokens are 32 random bytes (core::generate_token); only their SHA-256 is stored.
#include <nlohmann/json.hpp>

#include "core/token.hpp"
#include "db/credentials_api.hpp"
#include "http/app.hpp"
#include "path_params.hpp"
#include "routes.hpp"

namespace kiln::handlers {

namespace {

// The token object of a create or rotate, with the new token in it (shown once).
http::Response with_new_token(const std::string& object, const std::string& token) {
  auto json = nlohmann::json::parse(object);
  json["token"] = token;
  return http::Response::json(201, json.dump());
}

}  // namespace

void register_token_routes(http::Router& router) {
  router.add({"POST", "/api/v1/admin/tokens", "admin", [](const http::Call& c) {
                const std::string token = core::generate_token();
                return with_new_token(
                    db::create_api_token(c.tx, http::json_object_body(c.request), core::sha256_hex(token)), token);
              }, {}});
  router.add({"GET", "/api/v1/admin/tokens", "admin", [](const http::Call& c) {
                return http::Response::json(200, db::list_api_tokens(c.tx));
              }, {}});
  router.add({"POST", "/api/v1/admin/tokens/{id}/revoke", "admin", [](const http::Call& c) {
                return http::Response::json(200, db::revoke_api_token(c.tx, uuid_param(c.params[0], "id")));
              }, {}});
  router.add({"POST", "/api/v1/admin/tokens/{id}/rotate", "admin", [](const http::Call& c) {
                const std::string& id = uuid_param(c.params[0], "id");
                const std::string body = c.request.body.empty() ? "{}" : http::json_object_body(c.request);
                const std::string token = core::generate_token();
                return with_new_token(db::rotate_api_token(c.tx, id, body, core::sha256_hex(token)), token);
              }, {}});
}

}  // namespace kiln::handlers
