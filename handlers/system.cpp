// /healthz and /metrics: public, for load balancers and Prometheus (nginx restricts
// /metrics to the addresses allowed in nginx/kiln.conf.in).
#include "db/api.hpp"
#include "db/ops_api.hpp"
#include "http/metrics.hpp"
#include "routes.hpp"

namespace kiln::handlers {

void register_system_routes(http::Router& router, http::Metrics& metrics) {
  router.add({"GET", "/healthz", std::string(http::kPublic), [](const http::Call& c) {
                db::ping(c.tx);
                return http::Response::json(200, R"({"status":"ok","database":"ok"})");
              }, {}});
  router.add({"GET", "/metrics", std::string(http::kPublic), [&metrics](const http::Call& c) {
                std::string text = metrics.render();
                text += "# HELP kiln_builds Builds by status, all tenants.\n# TYPE kiln_builds gauge\n";
                for (const auto& row : db::metrics_build_counts(c.tx)) {
                  text += "kiln_builds{status=\"" + row.status + "\"} " + std::to_string(row.builds) + "\n";
                }
                // queue, executions, nodes, providers, latencies, webhooks, PostgreSQL pool use
                text += http::render_database_metrics(db::metrics_rows(c.tx));
                return http::Response{200, "text/plain; version=0.0.4", std::move(text), {}, {}};
              }, {}});
}

}  // namespace kiln::handlers
