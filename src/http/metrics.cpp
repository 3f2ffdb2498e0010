#include "http/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <tuple>

namespace kiln::http {

std::string prometheus_label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void Metrics::observe(std::string_view method, std::string_view route, int status, double seconds) {
  std::lock_guard lock(mutex_);
  ++requests_[{std::string(method), std::string(route), status}];
  auto& h = latency_[{std::string(method), std::string(route)}];
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += seconds;
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  out += "# HELP kiln_http_requests_total HTTP requests by method, route and status.\n";
  out += "# TYPE kiln_http_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    const auto& [method, route, status] = key;
    out += "kiln_http_requests_total{method=\"" + prometheus_label(method) + "\",route=\"" +
           prometheus_label(route) + "\",status=\"" + std::to_string(status) + "\"} " +
           std::to_string(count) + "\n";
  }
  out += "# HELP kiln_http_request_duration_seconds Time to answer a request.\n";
  out += "# TYPE kiln_http_request_duration_seconds histogram\n";
  char number[64];
  for (const auto& [key, h] : latency_) {
    const std::string labels =
        "method=\"" + prometheus_label(key.first) + "\",route=\"" + prometheus_label(key.second) + "\"";
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      std::snprintf(number, sizeof number, "%g", kBuckets[i]);
      out += "kiln_http_request_duration_seconds_bucket{" + labels + ",le=\"" + number + "\"} " +
             std::to_string(h.buckets[i]) + "\n";
    }
    out += "kiln_http_request_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} " +
           std::to_string(h.count) + "\n";
    std::snprintf(number, sizeof number, "%.6f", h.sum);
    out += "kiln_http_request_duration_seconds_sum{" + labels + "} " + number + "\n";
    out += "kiln_http_request_duration_seconds_count{" + labels + "} " + std::to_string(h.count) + "\n";
  }
  return out;
}

namespace {

struct MetricHelp {
  const char* name;
  const char* type;
  const char* help;
};

constexpr MetricHelp kDatabaseMetrics[] = {
    {"kiln_builds", "gauge", "Builds by status, all tenants."},
    {"kiln_queue_oldest_wait_seconds", "gauge", "Age of the oldest queued build (0 when none)."},
    {"kiln_executions_active", "gauge", "Executions dispatching or running, by infrastructure type and status."},
    {"kiln_execution_outcomes_total", "counter",
     "Finished executions with measured usage, by infrastructure type and outcome (from the usage roll-ups)."},
    {"kiln_node_heartbeat_age_seconds", "gauge", "Seconds since each build node's last heartbeat."},
    {"kiln_provider_health", "gauge", "1 for each enabled Kubernetes provider's current health, else 0."},
    {"kiln_claim_latency_seconds", "gauge",
     "Time from queued to claimed by a dispatcher, quantiles over the last 5 minutes."},
    {"kiln_claims_last_5m", "gauge", "Builds claimed in the last 5 minutes."},
    {"kiln_dispatch_latency_seconds", "gauge",
     "Time from claimed to running, by infrastructure type, quantiles over the last 5 minutes."},
    {"kiln_webhook_deliveries_pending", "gauge", "Alert webhook deliveries waiting to be sent or retried."},
    {"kiln_webhook_oldest_pending_seconds", "gauge", "Age of the oldest pending webhook delivery (0 when none)."},
    {"kiln_schedules", "gauge", "Build schedules, by enabled."},
    {"kiln_schedules_overdue", "gauge", "Enabled schedules whose next tick is past the missed-tick limit."},
    {"kiln_usage_default_partition_rows", "gauge",
     "Usage rows in the default partition (should be 0: partitions are created ahead; capped at 100000)."},
    {"kiln_db_connections", "gauge", "PostgreSQL connections of the Kiln roles, by role and state (pool use)."},
    {"kiln_db_max_connections", "gauge", "The PostgreSQL server's max_connections."},
};

}  // namespace

std::string prometheus_value(double value) {
  char number[64];
  if (std::isfinite(value) && value == std::trunc(value) && std::fabs(value) < 1e15) {
    std::snprintf(number, sizeof number, "%.0f", value);
  } else {
    std::snprintf(number, sizeof number, "%.9g", value);
  }
  return number;
}

std::string render_database_metrics(const std::vector<db::MetricRow>& rows) {
  std::string out;
  std::vector<std::string> seen;
  for (const auto& row : rows) {
    if (std::find(seen.begin(), seen.end(), row.metric) == seen.end()) {
      seen.push_back(row.metric);
      const MetricHelp* help = nullptr;
      for (const auto& h : kDatabaseMetrics) {
        if (row.metric == h.name) help = &h;
      }
      out += "# HELP " + row.metric + " " + (help ? help->help : "Kiln database metric.") + "\n";
      out += "# TYPE " + row.metric + " " + (help ? help->type : "untyped") + "\n";
    }
    std::string labels;
    const auto parsed = nlohmann::json::parse(row.labels, nullptr, false);
    if (parsed.is_object()) {
      for (const auto& [key, value] : parsed.items()) {
        labels += (labels.empty() ? "" : ",") + key + "=\"" +
                  prometheus_label(value.is_string() ? value.get<std::string>() : value.dump()) + "\"";
      }
    }
    out += row.metric + (labels.empty() ? "" : "{" + labels + "}") + " " + prometheus_value(row.value) + "\n";
  }
  return out;
}

}  // namespace kiln::http
