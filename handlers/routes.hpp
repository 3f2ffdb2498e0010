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
// Server-rendered pages (handlers/pages_*.cpp); register_session_pages loads the templates.
void register_session_pages(http::Router& router);
void register_dashboard_page(http::Router& router);
void register_build_node_pages(http::Router& router);
void register_build_pages(http::Router& router);
void register_build_form_page(http::Router& router);
void register_audit_page(http::Router& router);
void register_usage_page(http::Router& router);
void register_provider_pages(http::Router& router);  // after register_provider_routes
void register_pipeline_template_pages(http::Router& router);  // after register_pipeline_template_routes
void register_usage_routes(http::Router& router);
void register_schedule_routes(http::Router& router);
void register_scheduling_routes(http::Router& router);
void register_webhook_routes(http::Router& router);
void register_infrastructure_routes(http::Router& router);
void register_provider_routes(http::Router& router);
void register_pipeline_template_routes(http::Router& router);
void register_audit_routes(http::Router& router);
void register_token_routes(http::Router& router);
void register_session_routes(http::Router& router);
void register_openapi_routes(http::Router& router);  // GET /api/v1/openapi.json
std::string_view openapi_document();               // docs/openapi.json, embedded

// Every route of kiln-api.
inline http::Router all_routes(http::Metrics& metrics) {
  http::Router router;
  register_system_routes(router, metrics);
  register_project_routes(router);
  register_build_routes(router);
  register_log_routes(router);
  register_build_node_routes(router);
  register_agent_routes(router);
  register_usage_routes(router);
  register_schedule_routes(router);
  register_scheduling_routes(router);
  register_webhook_routes(router);
  register_infrastructure_routes(router);
  register_provider_routes(router);
  register_pipeline_template_routes(router);
  register_audit_routes(router);
  register_token_routes(router);
  register_session_routes(router);
  register_openapi_routes(router);
  register_session_pages(router);
  register_dashboard_page(router);
  register_build_node_pages(router);
  register_build_pages(router);
  register_build_form_page(router);
  register_audit_page(router);
  register_usage_page(router);
  register_provider_pages(router);
  register_pipeline_template_pages(router);
  return router;
}

}  // namespace kiln::handlers
