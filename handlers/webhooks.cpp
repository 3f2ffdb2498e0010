// /api/v1/admin/webhooks: alert webhooks (sql/api/webhooks.sql). Admins configure them
// (infrastructure:configure) and read them and their delivery log
// (infrastructure:monitor). The signing secret is generated here and shown once.
#include <nlohmann/json.hpp>

#include "core/token.hpp"
#include "db/ops_api.hpp"
#include "http/app.hpp"
#include "http/query.hpp"
#include "path_params.hpp"
#include "routes.hpp"

namespace kiln::handlers {

void register_webhook_routes(http::Router& router) {
  router.add({"POST", "/api/v1/admin/webhooks", "infrastructure:configure", [](const http::Call& c) {
                const std::string secret = "whsec_" + core::generate_token().substr(5);
                auto webhook = nlohmann::json::parse(db::create_webhook(c.tx, http::json_object_body(c.request), secret));
                webhook["secret"] = secret;  // shown once; kiln-api cannot read it back
                return http::Response::json(201, webhook.dump());
              }, {}});
  router.add({"GET", "/api/v1/admin/webhooks", "infrastructure:monitor", [](const http::Call& c) {
                return http::Response::json(200, db::list_webhooks(c.tx));
              }, {}});
  router.add({"DELETE", "/api/v1/admin/webhooks/{id}", "infrastructure:configure", [](const http::Call& c) {
                return http::Response::json(200, db::delete_webhook(c.tx, uuid_param(c.params[0], "id")));
              }, {}});
  router.add({"POST", "/api/v1/admin/webhooks/{id}/test", "infrastructure:configure", [](const http::Call& c) {
                return http::Response::json(201, db::test_webhook(c.tx, uuid_param(c.params[0], "id")));
              }, {}});
  router.add({"GET", "/api/v1/admin/webhooks/{id}/deliveries", "infrastructure:monitor", [](const http::Call& c) {
                const http::Query q(c.request.query_string);
                q.allow_only({"limit"});
                std::optional<int> limit;
                if (auto n = q.integer("limit")) {
                  if (*n < 1 || *n > 200) {
                    throw Error(Errc::kBadRequest, "invalid_value", "limit must be between 1 and 200", "limit");
                  }
                  limit = static_cast<int>(*n);
                }
                return http::Response::json(
                    200, db::list_webhook_deliveries(c.tx, uuid_param(c.params[0], "id"), limit));
              }, {}});
}

}  // namespace kiln::handlers
