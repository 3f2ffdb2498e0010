#include "dispatch/metrics_registry.hpp"

#include <chrono>
#include <cstdio>

#include "dispatch/pass.hpp"
#include "http/metrics.hpp"

namespace kiln::dispatch {

namespace {

// Help text and the label name of each counter() family.
struct CounterHelp {
  const char* name;
  const char* label;
  const char* help;
};
constexpr CounterHelp kCounters[] = {
    {"kiln_dispatch_builds_total", "outcome",
     "Builds this dispatcher claimed, offered, failed (can never run), reaped and timed out."},
    {"kiln_dispatch_schedule_runs_total", "kind", "Schedule ticks this dispatcher handled, by kind."},
    {"kiln_dispatch_alerts_queued_total", "source", "Webhook deliveries this dispatcher queued."},
    {"kiln_dispatch_partitions_total", "action", "Usage partitions this dispatcher created or detached."},
    {"kiln_dispatch_housekeeping_errors_total", "step", "Housekeeping steps that failed (logged; retried next pass)."},
};

}  // namespace

DispatchMetrics& DispatchMetrics::instance() {
  static DispatchMetrics metrics;
  return metrics;
}

void DispatchMetrics::Histogram::observe(double seconds) {
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++buckets[i];
  }
  ++count;
  sum += seconds;
}

std::string DispatchMetrics::Histogram::render(std::string_view name, std::string_view labels) const {
  const std::string prefix = labels.empty() ? "" : std::string(labels) + ",";
  std::string out;
  char le[32];
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    std::snprintf(le, sizeof le, "%g", kBuckets[i]);
    out += std::string(name) + "_bucket{" + prefix + "le=\"" + le + "\"} " + std::to_string(buckets[i]) + "\n";
  }
  out += std::string(name) + "_bucket{" + prefix + "le=\"+Inf\"} " + std::to_string(count) + "\n";
  const std::string braces = labels.empty() ? "" : "{" + std::string(labels) + "}";
  out += std::string(name) + "_sum" + braces + " " + http::prometheus_value(sum) + "\n";
  out += std::string(name) + "_count" + braces + " " + std::to_string(count) + "\n";
  return out;
}

void DispatchMetrics::observe_pass(const PassResult& r, double seconds, bool ok) {
  std::lock_guard lock(mutex_);
  ++passes_[ok ? "ok" : "error"];
  pass_seconds_.observe(seconds);
  last_pass_seconds_ = seconds;
  last_pass_unixtime_ =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (!ok) return;
  const std::pair<const char*, int> outcomes[] = {{"claimed", r.claimed}, {"offered", r.offered},
                                                 {"failed", r.failed},   {"reaped", r.reaped},
                                                 {"timed_out", r.timed_out}};
  for (const auto& [outcome, n] : outcomes) counters_[{"kiln_dispatch_builds_total", outcome}] += n;
}

void DispatchMetrics::observe_delivery(std::string_view result, double seconds) {
  std::lock_guard lock(mutex_);
  ++deliveries_[std::string(result)];
  delivery_seconds_.observe(seconds);
}

void DispatchMetrics::count(std::string_view counter, std::string_view label, long long n) {
  std::lock_guard lock(mutex_);
  counters_[{std::string(counter), std::string(label)}] += n;
}

void DispatchMetrics::set_connection(std::string_view use, bool open) {
  std::lock_guard lock(mutex_);
  connections_[std::string(use)] = open;
}

std::string DispatchMetrics::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  out += "# HELP kiln_dispatch_passes_total Dispatcher passes, by result.\n"
         "# TYPE kiln_dispatch_passes_total counter\n";
  for (const char* result : {"ok", "error"}) {
    const auto it = passes_.find(result);
    out += std::string("kiln_dispatch_passes_total{result=\"") + result + "\"} " +
           std::to_string(it == passes_.end() ? 0 : it->second) + "\n";
  }
  out += "# HELP kiln_dispatch_pass_duration_seconds Time one pass took (housekeeping, reaping, claims, "
         "hand-offs).\n# TYPE kiln_dispatch_pass_duration_seconds histogram\n";
  out += pass_seconds_.render("kiln_dispatch_pass_duration_seconds", "");
  out += "# HELP kiln_dispatch_last_pass_seconds Duration of the last pass.\n"
         "# TYPE kiln_dispatch_last_pass_seconds gauge\n"
         "kiln_dispatch_last_pass_seconds " + http::prometheus_value(last_pass_seconds_) + "\n";
  out += "# HELP kiln_dispatch_last_pass_timestamp_seconds When the last pass ended (Unix time).\n"
         "# TYPE kiln_dispatch_last_pass_timestamp_seconds gauge\n"
         "kiln_dispatch_last_pass_timestamp_seconds " + http::prometheus_value(last_pass_unixtime_) + "\n";
  for (const auto& c : kCounters) {
    out += std::string("# HELP ") + c.name + " " + c.help + "\n# TYPE " + c.name + " counter\n";
    for (const auto& [key, n] : counters_) {
      if (key.first != c.name) continue;
      out += key.first + "{" + c.label + "=\"" + http::prometheus_label(key.second) + "\"} " + std::to_string(n) + "\n";
    }
  }
  out += "# HELP kiln_dispatch_webhook_deliveries_total Webhook delivery attempts, by result.\n"
         "# TYPE kiln_dispatch_webhook_deliveries_total counter\n";
  for (const char* result : {"delivered", "retrying", "failed", "stale"}) {
    const auto it = deliveries_.find(result);
    out += std::string("kiln_dispatch_webhook_deliveries_total{result=\"") + result + "\"} " +
           std::to_string(it == deliveries_.end() ? 0 : it->second) + "\n";
  }
  out += "# HELP kiln_dispatch_webhook_delivery_seconds Time one webhook delivery attempt took.\n"
         "# TYPE kiln_dispatch_webhook_delivery_seconds histogram\n";
  out += delivery_seconds_.render("kiln_dispatch_webhook_delivery_seconds", "");
  out += "# HELP kiln_dispatch_db_connection_open The dispatcher's PostgreSQL connections, by use "
         "(1 open, 0 broken or not yet opened).\n# TYPE kiln_dispatch_db_connection_open gauge\n";
  for (const auto& [use, open] : connections_) {
    out += "kiln_dispatch_db_connection_open{use=\"" + use + "\"} " + (open ? "1" : "0") + "\n";
  }
  return out;
}

}  // namespace kiln::dispatch
