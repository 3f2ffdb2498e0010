#pragma once
// Request counters and a latency histogram per route pattern, rendered in the Prometheus
// text format. Thread-safe; shared by all server threads of one process.
#include <array>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "db/ops_api.hpp"

namespace kiln::http {

class Metrics {
 public:
  static constexpr std::array<double, 12> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                      0.1,   0.25,   0.5,   1.0,  2.5,   5.0};

  void observe(std::string_view method, std::string_view route, int status, double seconds);
  // kiln_http_requests_total and kiln_http_request_duration_seconds.
  std::string render() const;

 private:
  struct Histogram {
    std::array<unsigned long long, kBuckets.size()> buckets{};
    unsigned long long count = 0;
    double sum = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, int>, unsigned long long> requests_;
  std::map<std::pair<std::string, std::string>, Histogram> latency_;
};

// A Prometheus label value with \, " and newline escaped.
std::string prometheus_label(std::string_view value);

// Samples read from the database (kiln_api.metrics_snapshot, metrics_connections; labels
// are a JSON object of strings) in the text format, each metric under one # HELP and
// # TYPE from the table in metrics.cpp (docs/monitoring.md lists them). kiln-api's and
// kiln-dispatch's /metrics both use it.
std::string render_database_metrics(const std::vector<db::MetricRow>& rows);

// A sample value: integers without a fraction, others with up to 9 significant digits.
std::string prometheus_value(double value);

}  // namespace kiln::http
