// /api/v1/agent: the build-node agent's calls (docs/agent-protocol.md). The claim is
// authenticated by the node token; each claimed execution gets a job token minted here
// (only its hash is stored), the only credential its renew, logs and finish calls accept.
// Both are checked inside the kiln_api.agent_* functions.
#include <chrono>
#include <nlohmann/json.hpp>

#include "core/token.hpp"
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
    nlohmann::json parsed = s.with_tx([&](pqxx::work& tx) {
      auto claimed = nlohmann::json::parse(db::agent_claim(tx, s.token_sha256, declared));
      for (auto& execution : claimed["executions"]) {
        const std::string job_token = "kiln_job_" + core::generate_token().substr(5);
        db::agent_issue_job_token(tx, s.token_sha256, execution["execution_id"].get<std::string>(),
                                  core::sha256_hex(job_token));
        execution["job_token"] = job_token;  // handed out once; only its hash is stored
      }
      // An agent that left (stopped, crashed, timed out) must not be handed work it will
      // never run: roll the claim back so the executions stay offered.
      if (s.request.client_gone()) {
        throw Error(Errc::kUnavailable, "client_gone", "the agent closed the connection");
      }
      return claimed;
    });
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (!parsed["executions"].empty() || left.count() <= 0 || parsed.value("node_status", "active") != "active" ||
        http::draining()) {
      return http::Response::json(200, parsed.dump());
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
