#include "dispatch/pass.hpp"

#include <nlohmann/json.hpp>
#include <thread>

#include "db/dispatch_api.hpp"
#include "dispatch/housekeeping.hpp"
#include "log.hpp"

namespace kiln::dispatch {

namespace {

// Plans one claimed build and hands it to its back-end, in one transaction. A build that
// can never run is failed with the reason (permanent); database trouble propagates
// (transient: the claim's lease expires and the build is requeued).
void hand_off(db::Database& db, const db::Claim& claim, const BuildNodeRenderer& renderer, PassResult& result) {
  db.with_tx([&](pqxx::work& tx) {
    const auto plan = nlohmann::json::parse(db::plan_execution(tx, claim.execution_id));
    std::string error = plan.value("error", "");
    std::string script;
    if (error.empty() && plan.value("infrastructure_type", "") != "build_nodes") {
      error = "this dispatcher runs builds on build nodes only; the Kubernetes back-end is not enabled";
    }
    if (error.empty()) {
      try {
        script = renderer.render(claim.method, nlohmann::json::parse(claim.params), claim.build_id);
      } catch (const std::runtime_error& e) {
        error = e.what();
      }
    }
    if (!error.empty()) {
      db::fail_execution(tx, claim.execution_id, claim.epoch, error);
      ++result.failed;
      log("warn", "build cannot run", {{"build_id", claim.build_id}, {"reason", error}});
      return;
    }
    db::offer_execution(tx, claim.execution_id, claim.epoch, plan.dump(), nlohmann::json{{"script", script}}.dump());
    ++result.offered;
    log("info", "offered to build nodes",
        {{"build_id", claim.build_id}, {"execution_id", claim.execution_id},
         {"attempt", std::to_string(claim.attempt)}, {"reason", plan.value("reason", "")}});
  });
}

}  // namespace

PassResult run_pass(db::Database& db, const PassOptions& options, const BuildNodeRenderer& renderer) {
  PassResult result;
  result.housekeeping = run_housekeeping(db);
  for (const auto& r : db.with_tx([](pqxx::work& tx) { return db::reap_expired_leases(tx); })) {
    log("warn", "lease expired", {{"build_id", r.build_id}, {"execution_id", r.execution_id},
                                  {"now", r.new_status}});
    ++result.reaped;
  }
  result.timed_out = db.with_tx([](pqxx::work& tx) { return db::enforce_time_budgets(tx); });

  while (result.claimed < options.max_builds) {
    const int batch = std::min(options.batch, options.max_builds - result.claimed);
    const auto claims = db.with_tx(
        [&](pqxx::work& tx) { return db::claim_builds(tx, options.worker, batch, options.lease_seconds); });
    result.claimed += static_cast<int>(claims.size());
    if (!claims.empty() && options.pause_after_claim.count() > 0) {
      log("warn", "pausing after claim (fault injection)", {{"seconds", std::to_string(options.pause_after_claim.count())}});
      std::this_thread::sleep_for(options.pause_after_claim);
    }
    for (const auto& claim : claims) hand_off(db, claim, renderer, result);
    if (static_cast<int>(claims.size()) < batch) break;
  }
  return result;
}

}  // namespace kiln::dispatch
