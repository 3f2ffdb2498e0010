// /api/v1/admin/build-nodes: register (the node token is shown once), list, drain,
// resume, deprecate, rotate the node token (the new one shown once; the old one works for
// a grace so the agent can be given the new one without downtime).
#include <nlohmann/json.hpp>

#include "core/token.hpp"
#include "db/nodes_api.hpp"
#include "http/app.hpp"
#include "path_params.hpp"
#include "routes.hpp"

namespace kiln::handlers {

namespace {

// "kiln_node_" + 43 base64url characters (32 random bytes).
std::string new_node_token() { return "kiln_node_" + core::generate_token().substr(5); }

http::Handler node_action(std::string action) {
  return [action](const http::Call& c) {
    const std::string body = c.request.body.empty() ? "{}" : http::json_object_body(c.request);
    return http::Response::json(
        200, db::set_build_node_status(c.tx, uuid_param(c.params[0], "id"), action, body));
  };
}

}  // namespace

void register_build_node_routes(http::Router& router) {
  router.add({"POST", "/api/v1/admin/build-nodes", "infrastructure:configure", [](const http::Call& c) {
                const std::string token = new_node_token();
                auto node = nlohmann::json::parse(
                    db::register_build_node(c.tx, http::json_object_body(c.request), core::sha256_hex(token)));
                node["token"] = token;  // shown once; only its hash is stored
                return http::Response::json(201, node.dump());
              }, {}});
  router.add({"GET", "/api/v1/admin/build-nodes", "infrastructure:monitor", [](const http::Call& c) {
                return http::Response::json(200, db::list_build_nodes(c.tx));
              }, {}});
  router.add({"POST", "/api/v1/admin/build-nodes/{id}/drain", "infrastructure:manage", node_action("drain"), {}});
  router.add({"POST", "/api/v1/admin/build-nodes/{id}/resume", "infrastructure:manage", node_action("resume"), {}});
  router.add({"POST", "/api/v1/admin/build-nodes/{id}/deprecate", "infrastructure:manage",
              node_action("deprecate"), {}});
  // Issuing a node credential needs what registering a node needs.
  router.add({"POST", "/api/v1/admin/build-nodes/{id}/rotate-token", "infrastructure:configure",
              [](const http::Call& c) {
                const std::string& id = uuid_param(c.params[0], "id");
                const std::string body = c.request.body.empty() ? "{}" : http::json_object_body(c.request);
                const std::string token = new_node_token();
                auto answer = nlohmann::json::parse(db::rotate_node_token(c.tx, id, body, core::sha256_hex(token)));
                answer["token"] = token;  // shown once; only its hash is stored
                return http::Response::json(200, answer.dump());
              }, {}});
}

}  // namespace kiln::handlers
