#include "dispatch/housekeeping.hpp"

#include <mutex>

#include "db/ops_api.hpp"
#include "dispatch/metrics_registry.hpp"
#include "log.hpp"

namespace kiln::dispatch {

namespace {

std::mutex g_mutex;
HousekeepingOptions g_options;
std::chrono::steady_clock::time_point g_last_maintenance{};  // epoch: the first pass maintains
bool g_maintained = false;

// Runs one step; an exception is logged and counted, and the pass goes on.
template <class F>
void step(const char* name, F&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    DispatchMetrics::instance().count("kiln_dispatch_housekeeping_errors_total", name);
    log("warn", "housekeeping step failed; the next pass retries", {{"step", name}, {"error", e.what()}});
  }
}

void maintain(db::Database& db, HousekeepingResult& result) {
  step("partitions", [&] {
    for (const auto& a : db.with_tx([](pqxx::work& tx) { return db::maintain_usage_partitions(tx); })) {
      (a.action == "created" ? result.partitions_created : result.partitions_detached) += 1;
      DispatchMetrics::instance().count("kiln_dispatch_partitions_total", a.action);
      log("info", "usage partition " + a.action,
          {{"partition", a.partition}, {"moved_rows", std::to_string(a.moved_rows)}});
    }
  });
  step("purge_deliveries", [&] {
    const int purged = db.with_tx([](pqxx::work& tx) { return db::purge_webhook_deliveries(tx); });
    if (purged > 0) log("info", "purged old webhook deliveries", {{"deliveries", std::to_string(purged)}});
  });
}

}  // namespace

void configure_housekeeping(HousekeepingOptions options) {
  std::lock_guard lock(g_mutex);
  g_options = std::move(options);
}

HousekeepingResult run_housekeeping(db::Database& db) {
  HousekeepingOptions options;
  bool maintenance_due = false;
  {
    std::lock_guard lock(g_mutex);
    options = g_options;
    const auto now = std::chrono::steady_clock::now();
    if (!g_maintained || now - g_last_maintenance >= options.maintenance_interval) {
      maintenance_due = true;
      g_maintained = true;
      g_last_maintenance = now;
    }
  }
  HousekeepingResult result;
  if (maintenance_due) maintain(db, result);

  step("schedules", [&] {
    const auto runs = db.with_tx(
        [&](pqxx::work& tx) { return db::enqueue_due_schedules(tx, options.worker, options.schedule_batch); });
    for (const auto& run : runs) {
      DispatchMetrics::instance().count("kiln_dispatch_schedule_runs_total", run.kind);
      if (!run.build_id.empty()) ++result.schedules_enqueued;
      if (!run.error.empty()) {
        ++result.schedule_errors;
        log("warn", "scheduled build not submitted",
            {{"schedule_id", run.schedule_id}, {"tick", run.tick_at}, {"error", run.error}});
      } else {
        log("info", run.kind == "skipped" ? "missed schedule ticks skipped" : "scheduled build submitted",
            {{"schedule_id", run.schedule_id}, {"tick", run.tick_at}, {"kind", run.kind},
             {"build_id", run.build_id}});
      }
    }
  });

  step("alerts", [&] {
    result.alerts_queued = db.with_tx([](pqxx::work& tx) { return db::collect_alerts(tx); });
    if (result.alerts_queued > 0) {
      DispatchMetrics::instance().count("kiln_dispatch_alerts_queued_total", "collect_alerts", result.alerts_queued);
    }
  });
  DispatchMetrics::instance().set_connection("pass", db.connected());
  return result;
}

}  // namespace kiln::dispatch
