// /api/v1/admin/audit: the tenant's audit log (admin). GET .../audit lists rows newest
// first (kiln_api.page_audit_log, the same query as the /admin/audit page); GET
// .../audit/verify recomputes the tenant's hash chain (kiln_api.verify_audit_chain) and
// names the first broken row.
#include "db/audit_api.hpp"
#include "db/pages_api.hpp"
#include "http/app.hpp"
#include "http/query.hpp"
#include "routes.hpp"

namespace kiln::handlers {

namespace {

http::Response list(const http::Call& c) {
  const http::Query q(c.request.query_string);
  q.allow_only({"action", "before", "limit"});
  return http::Response::json(200, db::page_audit_log(c.tx, q.text("action"), q.integer("before"),
                                                      static_cast<int>(q.integer("limit").value_or(50))));
}

http::Response verify(const http::Call& c) {
  const http::Query q(c.request.query_string);
  q.allow_only({});
  // Row-level security limits the check to the caller's tenant's chain.
  return http::Response::json(200, db::verify_audit_chain(c.tx, c.principal.tenant_id));
}

}  // namespace

void register_audit_routes(http::Router& router) {
  router.add({"GET", "/api/v1/admin/audit", "admin", list, {}});
  router.add({"GET", "/api/v1/admin/audit/verify", "admin", verify, {}});
}

}  // namespace kiln::handlers
