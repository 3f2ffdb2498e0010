#pragma once
#include "http/metrics.hpp"
#include "http/router.hpp"

namespace kiln::handlers {

void register_build_routes(http::Router& router);
void register_log_routes(http::Router& router);
void register_build_node_routes(http::Router& router);
void register_agent_routes(http::Router& router);
void register_project_routes(http::Router& router);
void register_system_routes(http::Router& router, http::Metrics& metrics);

// Every route of kiln-api.
inline http::Router all_routes(http::Metrics& metrics) {
  http::Router router;
  register_system_routes(router, metrics);
  register_project_routes(router);
  register_build_routes(router);
  register_log_routes(router);
  register_build_node_routes(router);
  register_agent_routes(router);
  return router;
}

}  // namespace kiln::handlers
