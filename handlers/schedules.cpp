// /api/v1/schedules: scheduled builds (sql/api/schedules.sql). Changing one needs
// build:create and reading build:read, like the builds a schedule submits: its template is
// checked with its creator's permissions when it is created, so a schedule never does
// more than its creator could by hand.
#include "db/ops_api.hpp"
#include "http/app.hpp"
#include "path_params.hpp"
#include "routes.hpp"

namespace kiln::handlers {

namespace {

http::Handler set_enabled(bool enabled) {
  return [enabled](const http::Call& c) {
    return http::Response::json(200, db::set_schedule_enabled(c.tx, uuid_param(c.params[0], "id"), enabled));
  };
}

}  // namespace

void register_schedule_routes(http::Router& router) {
  router.add({"POST", "/api/v1/schedules", "build:create", [](const http::Call& c) {
                return http::Response::json(201, db::create_schedule(c.tx, http::json_object_body(c.request)));
              }, {}});
  router.add({"GET", "/api/v1/schedules", "build:read", [](const http::Call& c) {
                return http::Response::json(200, db::list_schedules(c.tx));
              }, {}});
  router.add({"GET", "/api/v1/schedules/{id}", "build:read", [](const http::Call& c) {
                return http::Response::json(200, db::get_schedule(c.tx, uuid_param(c.params[0], "id")));
              }, {}});
  router.add({"DELETE", "/api/v1/schedules/{id}", "build:create", [](const http::Call& c) {
                return http::Response::json(200, db::delete_schedule(c.tx, uuid_param(c.params[0], "id")));
              }, {}});
  router.add({"POST", "/api/v1/schedules/{id}/enable", "build:create", set_enabled(true), {}});
  router.add({"POST", "/api/v1/schedules/{id}/disable", "build:create", set_enabled(false), {}});
}

}  // namespace kiln::handlers
