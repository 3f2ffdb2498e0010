#pragma once
// kiln-dispatch's own Prometheus metrics: what its passes, housekeeping and webhook sender
// did, kept in memory for the life of the process. Thread-safe (the pass, the webhook
// sender and the metrics listener run on different threads). The database gauges (queue
// depth, latencies, nodes, providers, pool use) are added at render time by the caller
// (metrics_listener.hpp), from kiln_api.metrics_snapshot.
#include <array>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace kiln::dispatch {

struct PassResult;

class DispatchMetrics {
 public:
  static constexpr std::array<double, 12> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                      0.5,   1.0,  2.5,   5.0,  10.0, 30.0};

  // The one instance of the process.
  static DispatchMetrics& instance();

  void observe_pass(const PassResult& result, double seconds, bool ok);
  // result: delivered, retrying, failed (given up) or stale; seconds: the attempt.
  void observe_delivery(std::string_view result, double seconds);
  void count(std::string_view counter, std::string_view label, long long n = 1);
  // Whether a database connection of the given use (pass, webhooks, metrics) is open.
  void set_connection(std::string_view use, bool open);

  std::string render() const;

 private:
  struct Histogram {
    std::array<unsigned long long, kBuckets.size()> buckets{};
    unsigned long long count = 0;
    double sum = 0;
    void observe(double seconds);
    std::string render(std::string_view name, std::string_view labels) const;
  };

  mutable std::mutex mutex_;
  Histogram pass_seconds_;
  Histogram delivery_seconds_;
  std::map<std::string, long long> passes_;      // by result: ok, error
  std::map<std::pair<std::string, std::string>, long long> counters_;  // (counter, label value)
  std::map<std::string, long long> deliveries_;  // by result
  std::map<std::string, bool> connections_;
  double last_pass_seconds_ = 0;
  double last_pass_unixtime_ = 0;
};

}  // namespace kiln::dispatch
