// /api/v1/projects: create and list.
#include "db/api.hpp"
#include "http/app.hpp"
#include "routes.hpp"

namespace kiln::handlers {

void register_project_routes(http::Router& router) {
  router.add({"POST", "/api/v1/projects", "build:create", [](const http::Call& c) {
                return http::Response::json(201, db::create_project(c.tx, http::json_object_body(c.request)));
              }, {}});
  router.add({"GET", "/api/v1/projects", "build:read", [](const http::Call& c) {
                return http::Response::json(200, db::list_projects(c.tx));
              }, {}});
}

}  // namespace kiln::handlers
