// /api/v1/agent: the build-node agent's calls (docs/agent-protocol.md), authenticated by
// the node token inside each kiln_api.agent_* function.
#include <chrono>
#include <nlohmann/json.hpp>

#include "db/nodes_api.hpp"
#include "http/draining.hpp"
#include "json_fields.hpp"
#include "path_params.hpp"
#include "routes.hpp"

namespace kiln::handlers {

namespace {

using http::kNodeToken;
constexpr int kMaxWaitSeconds = 30;
constexpr std::chrono::milliseconds kDrainCheck{1000};  // how often a waiting claim looks at draining()

// Long-poll: claim now; if nothing is offered, wait for kiln_offers (or the deadline) and
// claim once more. Listening starts before the first claim so no offer slips in between.
http::Response claim(const http::Session& s) {
  const auto body = object_body(s.request);
  int wait_seconds = 0;
  if (body.contains("wait_seconds")) {
    wait_seconds = static_cast<int>(std::clamp<long long>(integer_field(body, "wait_seconds"), 0, kMaxWaitSeconds));
  }
  const std::string declared = body.dump();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
  db::Listening offers(s.db, "kiln_offers");
  for (;;) {
    std::string result = s.with_tx([&](pqxx::work& tx) {
      std::string claimed = db::agent_claim(tx, s.token_sha256, declared);
      // An agent that left (stopped, crashed, timed out) must not be handed work it will
      // never run: roll the claim back so the executions stay offered.
      if (s.request.client_gone()) {
        throw Error(Errc::kUnavailable, "client_gone", "the agent closed the connection");
      }
      return claimed;
    });
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    const auto parsed = nlohmann::json::parse(result);
    if (!parsed["executions"].empty() || left.count() <= 0 || parsed.value("node_status", "active") != "active" ||
        http::draining()) {
      return http::Response::json(200, std::move(result));
    }
    s.db.wait_for_notifications(std::min(left, kDrainCheck));
    if (s.request.client_gone()) {
      throw Error(Errc::kUnavailable, "client_gone", "the agent closed the connection");
    }
  }
}

}  // namespace

void register_agent_routes(http::Router& router) {
  router.add({"POST", "/api/v1/agent/claim", std::string(kNodeToken), {}, claim});
  router.add({"POST", "/api/v1/agent/executions/{id}/renew", std::string(kNodeToken), [](const http::Call& c) {
                const auto body = object_body(c.request);
                allow_fields(body, {"epoch"});
                return http::Response::json(200, db::agent_renew(c.tx, c.token_sha256, uuid_param(c.params[0], "id"),
                                                                 integer_field(body, "epoch")));
              }, {}});
  router.add({"POST", "/api/v1/agent/executions/{id}/logs", std::string(kNodeToken), [](const http::Call& c) {
                const auto body = object_body(c.request);
                allow_fields(body, {"epoch", "offset", "data"});
                return http::Response::json(
                    200, db::agent_append_log(c.tx, c.token_sha256, uuid_param(c.params[0], "id"),
                                              integer_field(body, "epoch"), integer_field(body, "offset"),
                                              string_field(body, "data")));
              }, {}});
  router.add({"POST", "/api/v1/agent/executions/{id}/finish", std::string(kNodeToken), [](const http::Call& c) {
                const auto body = object_body(c.request);
                return http::Response::json(200, db::agent_finish(c.tx, c.token_sha256, uuid_param(c.params[0], "id"),
                                                                  integer_field(body, "epoch"), body.dump()));
              }, {}});
}

}  // namespace kiln::handlers
