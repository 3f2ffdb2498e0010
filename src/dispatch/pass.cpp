#include "dispatch/pass.hpp"

#include <nlohmann/json.hpp>
#include <thread>

#include "db/dispatch_api.hpp"
#include "dispatch/housekeeping.hpp"
#include "dispatch/kubernetes.hpp"
#include "log.hpp"

namespace kiln::dispatch {

namespace {

// Plans one claimed build and hands it to its back-end, in one transaction. A build that
// can never run is failed with the reason (permanent); database trouble propagates
// (transient: the claim's lease expires and the build is requeued).
void hand_off(db::Database& db, const db::Claim& claim, const BuildNodeRenderer& renderer,
              KubernetesBackend* kubernetes, PassResult& result) {
  std::string kubernetes_plan;
  db.with_tx([&](pqxx::work& tx) {
    // The plan text goes back to the database as it came (a few KB: re-serializing it per
    // build cost more than the fields read from it).
    const std::string plan_text = db::plan_execution(tx, claim.execution_id);
    const auto plan = nlohmann::json::parse(plan_text);
    std::string error = plan.value("error", "");
    std::string script;
    if (error.empty() && plan.value("infrastructure_type", "") == "kubernetes") {
      if (kubernetes) {
        kubernetes_plan = plan_text;  // created outside this transaction: it talks to the cluster
        return;
      }
      error = "this dispatcher cannot run builds on Kubernetes: start kiln-dispatch with --master-key-file";
    } else if (error.empty() && plan.value("infrastructure_type", "") != "build_nodes") {
      error = "unknown infrastructure type " + plan.value("infrastructure_type", "");
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
    db::offer_execution(tx, claim.execution_id, claim.epoch, plan_text, nlohmann::json{{"script", script}}.dump());
    ++result.offered;
    log("info", "offered to build nodes",
        {{"build_id", claim.build_id}, {"execution_id", claim.execution_id},
         {"attempt", std::to_string(claim.attempt)}, {"reason", plan.value("reason", "")}});
  });
  if (!kubernetes_plan.empty() && kubernetes->hand_off(db, claim, kubernetes_plan)) ++result.offered;
}

}  // namespace

PassResult run_pass(db::Database& db, const PassOptions& options, const BuildNodeRenderer& renderer) {
  PassResult result;
  result.housekeeping = run_housekeeping(db);
  // Between claim batches too: a long pass must not delay recovering a dead worker's builds.
  const auto recover = [&] {
    for (const auto& r : db.with_tx([](pqxx::work& tx) { return db::reap_expired_leases(tx); })) {
      log("warn", "lease expired", {{"build_id", r.build_id}, {"execution_id", r.execution_id},
                                    {"now", r.new_status}});
      ++result.reaped;
    }
    result.timed_out += db.with_tx([](pqxx::work& tx) { return db::enforce_time_budgets(tx); });
  };

  while (result.claimed < options.max_builds) {
    recover();
    const int batch = std::min(options.batch, options.max_builds - result.claimed);
    const auto claims = db.with_tx(
        [&](pqxx::work& tx) { return db::claim_builds(tx, options.worker, batch, options.lease_seconds); });
    result.claimed += static_cast<int>(claims.size());
    if (!claims.empty() && options.pause_after_claim.count() > 0) {
      log("warn", "pausing after claim (fault injection)", {{"seconds", std::to_string(options.pause_after_claim.count())}});
      std::this_thread::sleep_for(options.pause_after_claim);
    }
    for (const auto& claim : claims) hand_off(db, claim, renderer, options.kubernetes, result);
    if (static_cast<int>(claims.size()) < batch) break;
  }
  if (options.kubernetes) {
    const auto k8s = options.kubernetes->sync(db);
    if (k8s.finished + k8s.cancelled + k8s.checks + k8s.errors > 0) {
      log("info", "kubernetes sync", {{"runs", std::to_string(k8s.synced)}, {"finished", std::to_string(k8s.finished)},
                                      {"cancelled", std::to_string(k8s.cancelled)},
                                      {"provider_tests", std::to_string(k8s.checks)},
                                      {"errors", std::to_string(k8s.errors)}});
    }
  }
  return result;
}

}  // namespace kiln::dispatch
