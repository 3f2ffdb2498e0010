#pragma once
// Typed calls for usage, schedules, alert webhooks and metrics (sql/api/usage*.sql,
// schedules*.sql, webhooks*.sql, partitions.sql, reporting_metrics.sql). Like api.hpp: one
// prepared statement per kiln_api function; JSON results are returned as text.
// prepare_ops_statements registers the API's, prepare_ops_dispatch_statements the
// dispatcher's (names prefixed ops_, so they never clash with the other tables).
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

namespace kiln::db {

void prepare_ops_statements(pqxx::connection& conn);
void prepare_ops_dispatch_statements(pqxx::connection& conn);

// --- API ------------------------------------------------------------------------------
struct UsageQuery {
  std::string period;
  std::optional<std::string> from, to, tenant, project, type;
};
std::string usage_report(pqxx::work& tx, const UsageQuery& q);

std::string create_schedule(pqxx::work& tx, const std::string& body);
std::string list_schedules(pqxx::work& tx);
std::string get_schedule(pqxx::work& tx, const std::string& id);
std::string set_schedule_enabled(pqxx::work& tx, const std::string& id, bool enabled);
std::string delete_schedule(pqxx::work& tx, const std::string& id);

std::string create_webhook(pqxx::work& tx, const std::string& body, const std::string& secret);
std::string list_webhooks(pqxx::work& tx);
std::string delete_webhook(pqxx::work& tx, const std::string& id);
std::string test_webhook(pqxx::work& tx, const std::string& id);
std::string list_webhook_deliveries(pqxx::work& tx, const std::string& id, std::optional<int> limit);

// One Prometheus sample: metric name, labels (a JSON object of strings), value.
struct MetricRow {
  std::string metric;
  std::string labels;
  double value = 0;
};
// metrics_snapshot (all tenants, aggregates) followed by metrics_connections (pool use).
std::vector<MetricRow> metrics_rows(pqxx::work& tx);

// --- dispatcher -----------------------------------------------------------------------
struct PartitionAction {
  std::string action;  // created | detached
  std::string partition;
  long long moved_rows = 0;
};
std::vector<PartitionAction> maintain_usage_partitions(pqxx::work& tx);
int purge_webhook_deliveries(pqxx::work& tx);

struct ScheduleRun {
  std::string schedule_id;
  std::string tick_at;
  std::string kind;      // on_time | catch_up | skipped
  std::string build_id;  // empty when none was created
  std::string error;
};
std::vector<ScheduleRun> enqueue_due_schedules(pqxx::work& tx, const std::string& worker, int limit);
int collect_alerts(pqxx::work& tx);

struct Delivery {
  long long id = 0;
  std::string url;
  std::string secret;
  std::string event;
  std::string body;
  int attempt = 0;
  double timeout_seconds = 5;
};
std::vector<Delivery> claim_webhook_deliveries(pqxx::work& tx, const std::string& worker, int limit,
                                               int lease_seconds);
// Returns the delivery's new status (delivered, pending, failed) or "stale".
std::string record_webhook_delivery(pqxx::work& tx, long long id, int attempt, const std::string& worker,
                                    std::optional<int> status_code, const std::optional<std::string>& error,
                                    int duration_ms);
// kiln_builds{status}: the API's kiln_builds gauge, for the dispatcher's endpoint.
std::vector<MetricRow> dispatch_metrics_rows(pqxx::work& tx);

}  // namespace kiln::db
