// /api/v1/admin/scheduling: the tenant's fair share and caps, and its projects' caps
// (docs/scheduling.md). The tenant's own share and caps need scheduling:tenant, an
// operator's permission, so a tenant's admins cannot raise their own limits.
#include "db/scheduling_api.hpp"
#include "http/app.hpp"
#include "routes.hpp"

namespace kiln::handlers {

void register_scheduling_routes(http::Router& router) {
  router.add({"GET", "/api/v1/admin/scheduling", "admin", [](const http::Call& c) {
                return http::Response::json(200, db::get_scheduling(c.tx));
              }, {}});
  router.add({"PUT", "/api/v1/admin/scheduling/tenant", "scheduling:tenant", [](const http::Call& c) {
                return http::Response::json(200, db::set_tenant_scheduling(c.tx, http::json_object_body(c.request)));
              }, {}});
  router.add({"PUT", "/api/v1/admin/scheduling/projects/{name}", "admin", [](const http::Call& c) {
                return http::Response::json(
                    200, db::set_project_scheduling(c.tx, c.params[0], http::json_object_body(c.request)));
              }, {}});
}

}  // namespace kiln::handlers
