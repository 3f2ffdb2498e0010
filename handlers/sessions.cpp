// /api/v1/admin/sessions: the tenant's page sessions as admins see them (never a session
// id or its hash) and revoke them; a revoked session's next page request signs out.
#include "db/credentials_api.hpp"
#include "path_params.hpp"
#include "routes.hpp"

namespace kiln::handlers {

void register_session_routes(http::Router& router) {
  router.add({"GET", "/api/v1/admin/sessions", "admin", [](const http::Call& c) {
                return http::Response::json(200, db::list_web_sessions(c.tx));
              }, {}});
  router.add({"POST", "/api/v1/admin/sessions/{id}/revoke", "admin", [](const http::Call& c) {
                return http::Response::json(200, db::revoke_web_session(c.tx, uuid_param(c.params[0], "id")));
              }, {}});
}

}  // namespace kiln::handlers
