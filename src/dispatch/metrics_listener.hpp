#pragma once
// How kiln-dispatch exposes its Prometheus metrics:
//   --metrics-listen HOST:PORT   a small HTTP listener on its own thread answering
//                                GET /metrics (for --loop: Prometheus scrapes it live, and
//                                the database gauges are read at scrape time)
//   --metrics-textfile PATH      the same text written after every pass, atomically
//                                (write + rename), for node_exporter's textfile collector
//                                (for --once under cron: the process is gone before any
//                                scrape could reach it)
// Both may be used at once.
#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "db/database.hpp"

namespace kiln::dispatch {

// The full text: this process's counters and histograms, then the database gauges read
// through db (statement_timeout 2 s). A database failure leaves the gauges out and sets
// kiln_dispatch_metrics_database_up 0.
std::string render_dispatch_metrics(db::Database& db);

// Writes text to path through path + ".tmp" and rename(2). Throws std::runtime_error.
void write_metrics_textfile(const std::string& path, const std::string& text);

class MetricsListener {
 public:
  // Binds address ("127.0.0.1:9188", or ":9188" for all interfaces) at once (throws
  // std::runtime_error when it cannot), then serves from a thread of its own with its own
  // database connection.
  MetricsListener(const std::string& address, const std::string& conninfo);
  ~MetricsListener();
  MetricsListener(const MetricsListener&) = delete;
  MetricsListener& operator=(const MetricsListener&) = delete;

  int port() const { return port_; }

 private:
  void serve();

  int fd_ = -1;
  int port_ = 0;
  std::string conninfo_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace kiln::dispatch
