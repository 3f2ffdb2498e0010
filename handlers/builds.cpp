// /api/v1/builds: submit, list, show, start, cancel, events.
#include <nlohmann/json.hpp>

#include "db/api.hpp"
#include "http/app.hpp"
#include "http/query.hpp"
#include "path_params.hpp"
#include "routes.hpp"

namespace kiln::handlers {

namespace {

using http::Call;
using http::Response;

// The optional cancel body {"reason": "..."}.
std::optional<std::string> cancel_reason(const http::Request& request) {
  if (request.body.empty()) return std::nullopt;
  const auto body = nlohmann::json::parse(http::json_object_body(request));
  for (const auto& [key, value] : body.items()) {
    if (key != "reason") {
      throw Error(Errc::kBadRequest, "unknown_field", "unknown field " + key + " (allowed: reason)", key);
    }
  }
  if (!body.contains("reason")) return std::nullopt;
  const auto& reason = body["reason"];
  if (!reason.is_string()) {
    throw Error(Errc::kBadRequest, "invalid_type", "reason must be a string", "reason");
  }
  if (reason.get_ref<const std::string&>().size() > 1000) {
    throw Error(Errc::kBadRequest, "invalid_value", "reason is longer than 1000 characters", "reason");
  }
  return reason.get<std::string>();
}

}  // namespace

void register_build_routes(http::Router& router) {
  router.add({"POST", "/api/v1/builds", "build:create", [](const Call& c) {
                return Response::json(201, db::submit_build(c.tx, http::json_object_body(c.request)));
              }, {}});
  router.add({"GET", "/api/v1/builds", "build:read", [](const Call& c) {
                const http::Query q(c.request.query_string);
                q.allow_only({"status", "project", "limit", "cursor"});
                std::optional<int> limit;
                if (auto n = q.integer("limit")) {
                  if (*n < 1 || *n > 200) {
                    throw Error(Errc::kBadRequest, "invalid_value", "limit must be between 1 and 200",
                                "limit");
                  }
                  limit = static_cast<int>(*n);
                }
                return Response::json(
                    200, db::list_builds(c.tx, q.text("status"), q.text("project"), limit, q.text("cursor")));
              }, {}});
  router.add({"GET", "/api/v1/builds/{id}", "build:read", [](const Call& c) {
                return Response::json(200, db::get_build(c.tx, uuid_param(c.params[0], "id")));
              }, {}});
  router.add({"POST", "/api/v1/builds/{id}/start", "build:create", [](const Call& c) {
                return Response::json(200, db::start_build(c.tx, uuid_param(c.params[0], "id")));
              }, {}});
  router.add({"POST", "/api/v1/builds/{id}/cancel", "build:cancel", [](const Call& c) {
                const std::string& id = uuid_param(c.params[0], "id");
                return Response::json(200, db::cancel_build(c.tx, id, cancel_reason(c.request)));
              }, {}});
  router.add({"GET", "/api/v1/builds/{id}/events", "build:read", [](const Call& c) {
                const http::Query q(c.request.query_string);
                q.allow_only({"after"});
                const std::string& id = uuid_param(c.params[0], "id");
                return Response::json(200, db::list_build_events(c.tx, id, q.integer("after").value_or(0)));
              }, {}});
}

}  // namespace kiln::handlers
