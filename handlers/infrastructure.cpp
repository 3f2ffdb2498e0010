// Infrastructure selection for users (hybrid-infrastructure-strategy seed): the
// recommendation for a build config and the options a user may pick. Both are read-only
// views of what admins configured (infrastructure:view); the decision itself is
// kiln_api.select_infrastructure.
#include "db/infra_api.hpp"
#include "http/app.hpp"
#include "routes.hpp"

namespace kiln::handlers {

void register_infrastructure_routes(http::Router& router) {
  // The body is a build config, as for POST /api/v1/builds; the answer is the decision
  // (type, target, reason, confidence, size, alternatives, inputs) and its recommendation_id.
  router.add({"POST", "/api/v1/builds/infrastructure-recommendation", "infrastructure:view",
              [](const http::Call& c) {
                return http::Response::json(200,
                                            db::recommend_infrastructure(c.tx, http::json_object_body(c.request)));
              }, {}});
  router.add({"GET", "/api/v1/infrastructure/options", "infrastructure:view", [](const http::Call& c) {
                return http::Response::json(200, db::infrastructure_options(c.tx));
              }, {}});
}

}  // namespace kiln::handlers
