#include "db/ops_api.hpp"

#include "db/statements.hpp"

namespace kiln::db {

namespace {

constexpr Statement kApiStatements[] = {
    {"ops_usage_report", "select kiln_api.usage_report($1, $2, $3, $4, $5, $6)"},
    {"ops_create_schedule", "select kiln_api.create_schedule($1::jsonb)"},
    {"ops_list_schedules", "select kiln_api.list_schedules()"},
    {"ops_get_schedule", "select kiln_api.get_schedule($1::uuid)"},
    {"ops_set_schedule_enabled", "select kiln_api.set_schedule_enabled($1::uuid, $2)"},
    {"ops_delete_schedule", "select kiln_api.delete_schedule($1::uuid)"},
    {"ops_create_webhook", "select kiln_api.create_webhook($1::jsonb, $2)"},
    {"ops_list_webhooks", "select kiln_api.list_webhooks()"},
    {"ops_delete_webhook", "select kiln_api.delete_webhook($1::uuid)"},
    {"ops_test_webhook", "select kiln_api.test_webhook($1::uuid)"},
    {"ops_list_webhook_deliveries", "select kiln_api.list_webhook_deliveries($1::uuid, $2)"},
};

// Shared by both binaries.
constexpr Statement kMetricStatements[] = {
    {"ops_metrics_rows",
     "select metric, labels::text, value from kiln_api.metrics_snapshot() "
     "union all select metric, labels::text, value from kiln_api.metrics_connections()"},
};

constexpr Statement kDispatchStatements[] = {
    {"ops_maintain_usage_partitions",
     "select action, partition_name, moved_rows from kiln_api.maintain_usage_partitions()"},
    {"ops_purge_webhook_deliveries", "select kiln_api.purge_webhook_deliveries()"},
    {"ops_enqueue_due_schedules",
     "select schedule_id, tick_at::text, kind, build_id, error from kiln_api.enqueue_due_schedules($1, null, $2)"},
    {"ops_collect_alerts", "select kiln_api.collect_alerts()"},
    {"ops_claim_webhook_deliveries",
     "select delivery_id, url, secret, event, body, attempt, timeout_seconds "
     "from kiln_api.claim_webhook_deliveries($1, $2, $3)"},
    {"ops_record_webhook_delivery", "select kiln_api.record_webhook_delivery($1, $2, $3, $4, $5, $6)"},
    {"ops_build_counts", "select status::text, builds from kiln_api.metrics_build_counts()"},
};

std::vector<MetricRow> metric_rows(const pqxx::result& r) {
  std::vector<MetricRow> out;
  out.reserve(r.size());
  for (const auto& row : r) out.push_back({row[0].c_str(), row[1].c_str(), row[2].as<double>(0)});
  return out;
}

}  // namespace

void prepare_ops_statements(pqxx::connection& conn) {
  prepare_all(conn, kApiStatements);
  prepare_all(conn, kMetricStatements);
}

void prepare_ops_dispatch_statements(pqxx::connection& conn) {
  prepare_all(conn, kDispatchStatements);
  prepare_all(conn, kMetricStatements);
}

std::string usage_report(pqxx::work& tx, const UsageQuery& q) {
  return json_of(tx.exec_prepared1("ops_usage_report", q.period, q.from, q.to, q.tenant, q.project, q.type));
}

std::string create_schedule(pqxx::work& tx, const std::string& body) {
  return json_of(tx.exec_prepared1("ops_create_schedule", body));
}
std::string list_schedules(pqxx::work& tx) { return json_of(tx.exec_prepared1("ops_list_schedules")); }
std::string get_schedule(pqxx::work& tx, const std::string& id) {
  return json_of(tx.exec_prepared1("ops_get_schedule", id));
}
std::string set_schedule_enabled(pqxx::work& tx, const std::string& id, bool enabled) {
  return json_of(tx.exec_prepared1("ops_set_schedule_enabled", id, enabled));
}
std::string delete_schedule(pqxx::work& tx, const std::string& id) {
  return json_of(tx.exec_prepared1("ops_delete_schedule", id));
}

std::string create_webhook(pqxx::work& tx, const std::string& body, const std::string& secret) {
  return json_of(tx.exec_prepared1("ops_create_webhook", body, secret));
}
std::string list_webhooks(pqxx::work& tx) { return json_of(tx.exec_prepared1("ops_list_webhooks")); }
std::string delete_webhook(pqxx::work& tx, const std::string& id) {
  return json_of(tx.exec_prepared1("ops_delete_webhook", id));
}
std::string test_webhook(pqxx::work& tx, const std::string& id) {
  return json_of(tx.exec_prepared1("ops_test_webhook", id));
}
std::string list_webhook_deliveries(pqxx::work& tx, const std::string& id, std::optional<int> limit) {
  return json_of(tx.exec_prepared1("ops_list_webhook_deliveries", id, limit));
}

std::vector<MetricRow> metrics_rows(pqxx::work& tx) { return metric_rows(tx.exec_prepared("ops_metrics_rows")); }

std::vector<PartitionAction> maintain_usage_partitions(pqxx::work& tx) {
  std::vector<PartitionAction> out;
  for (const auto& row : tx.exec_prepared("ops_maintain_usage_partitions")) {
    out.push_back({row[0].c_str(), row[1].c_str(), row[2].as<long long>(0)});
  }
  return out;
}

int purge_webhook_deliveries(pqxx::work& tx) {
  return tx.exec_prepared1("ops_purge_webhook_deliveries")[0].as<int>();
}

std::vector<ScheduleRun> enqueue_due_schedules(pqxx::work& tx, const std::string& worker, int limit) {
  std::vector<ScheduleRun> out;
  for (const auto& row : tx.exec_prepared("ops_enqueue_due_schedules", worker, limit)) {
    out.push_back({row[0].c_str(), row[1].c_str(), row[2].c_str(), row[3].is_null() ? "" : row[3].c_str(),
                   row[4].is_null() ? "" : row[4].c_str()});
  }
  return out;
}

int collect_alerts(pqxx::work& tx) { return tx.exec_prepared1("ops_collect_alerts")[0].as<int>(); }

std::vector<Delivery> claim_webhook_deliveries(pqxx::work& tx, const std::string& worker, int limit,
                                               int lease_seconds) {
  std::vector<Delivery> out;
  for (const auto& row : tx.exec_prepared("ops_claim_webhook_deliveries", worker, limit, lease_seconds)) {
    out.push_back({row[0].as<long long>(), row[1].c_str(), row[2].c_str(), row[3].c_str(), row[4].c_str(),
                   row[5].as<int>(), row[6].as<double>(5)});
  }
  return out;
}

std::string record_webhook_delivery(pqxx::work& tx, long long id, int attempt, const std::string& worker,
                                    std::optional<int> status_code, const std::optional<std::string>& error,
                                    int duration_ms) {
  return json_of(
      tx.exec_prepared1("ops_record_webhook_delivery", id, attempt, worker, status_code, error, duration_ms));
}

std::vector<MetricRow> dispatch_metrics_rows(pqxx::work& tx) {
  std::vector<MetricRow> out;
  for (const auto& row : tx.exec_prepared("ops_build_counts")) {
    out.push_back({"kiln_builds", std::string(R"({"status": ")") + row[0].c_str() + "\"}", row[1].as<double>(0)});
  }
  for (auto& row : metric_rows(tx.exec_prepared("ops_metrics_rows"))) out.push_back(std::move(row));
  return out;
}

}  // namespace kiln::db
