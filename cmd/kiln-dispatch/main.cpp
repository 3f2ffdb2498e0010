// kiln-dispatch: claims queued builds and hands them to their back-end.
//   kiln-dispatch --once   one bounded pass, then exit (cron, systemd timer)
//   kiln-dispatch --loop   pass after pass, woken early by NOTIFY kiln_queue
// Exit status of --once: 0 the pass ran (whether or not there was work), 1 the database
// was unreachable or the pass failed, 2 bad arguments or templates.
// Metrics (docs/monitoring.md): --metrics-listen serves GET /metrics (for --loop);
// --metrics-textfile writes the same text after every pass (for --once under cron).
// Alert webhooks are sent by a thread of their own in --loop, and after the pass within
// --webhook-budget seconds in --once: a slow receiver never delays a pass.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <exception>

#include "cli_args.hpp"
#include "db/dispatch_api.hpp"
#include "db/k8s_api.hpp"
#include "dispatch/kubernetes.hpp"
#include "dispatch/metrics_listener.hpp"
#include "dispatch/metrics_registry.hpp"
#include "dispatch/pass.hpp"
#include "dispatch/webhook_sender.hpp"
#include "log.hpp"

#ifndef KILN_DEFAULT_PIPELINES_DIR
#define KILN_DEFAULT_PIPELINES_DIR "pipelines"
#endif

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop = true; }

constexpr const char* kUsage =
    "usage: kiln-dispatch (--once | --loop) [--database CONNINFO] [--worker NAME]\n"
    "                     [--batch N] [--max-builds N] [--lease SECONDS] [--interval SECONDS]\n"
    "                     [--pipelines DIR] [--metrics-listen HOST:PORT] [--metrics-textfile PATH]\n"
    "                     [--webhook-budget SECONDS]\n"
    "                     [--master-key-file FILE] [--exec-allow CMD,CMD,...]\n"
    "environment: KILN_DATABASE_URL, KILN_PIPELINES_DIR, KILN_DISPATCH_METRICS_LISTEN,\n"
    "             KILN_MASTER_KEY_FILE (without one, builds planned onto Kubernetes fail)\n";

std::string default_worker() {
  char host[256] = "host";
  gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(getpid());
}

void log_pass(const kiln::dispatch::PassResult& r, double seconds) {
  kiln::log("info", "pass", {{"claimed", std::to_string(r.claimed)}, {"offered", std::to_string(r.offered)},
                             {"failed", std::to_string(r.failed)}, {"reaped", std::to_string(r.reaped)},
                             {"timed_out", std::to_string(r.timed_out)},
                             {"seconds", std::to_string(seconds)}});
}

}  // namespace

int main(int argc, char** argv) {
  kiln::dispatch::PassOptions options;
  std::string conninfo;
  std::string pipelines;
  bool once = false;
  bool loop = false;
  int interval = 5;
  std::string metrics_listen;
  std::string metrics_textfile;
  int webhook_budget = 10;
  kiln::dispatch::KubernetesOptions k8s_options;
  try {
    kiln::Args args(argc, argv, 1);
    if (args.flag("help")) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    once = args.flag("once");
    loop = args.flag("loop");
    conninfo = args.get("database", "KILN_DATABASE_URL", "dbname=kiln user=kiln_dispatch");
    options.worker = args.get("worker", nullptr, default_worker());
    options.batch = std::stoi(args.get("batch", nullptr, "50"));
    options.max_builds = std::stoi(args.get("max-builds", nullptr, "1000"));
    options.lease_seconds = std::stoi(args.get("lease", nullptr, "60"));
    options.pause_after_claim = std::chrono::seconds(std::stoi(args.get("pause-after-claim", nullptr, "0")));
    interval = std::stoi(args.get("interval", nullptr, "5"));
    pipelines = args.get("pipelines", "KILN_PIPELINES_DIR", KILN_DEFAULT_PIPELINES_DIR "/build-node");
    metrics_listen = args.get("metrics-listen", "KILN_DISPATCH_METRICS_LISTEN", "");
    metrics_textfile = args.get("metrics-textfile", nullptr, "");
    webhook_budget = std::stoi(args.get("webhook-budget", nullptr, "10"));
    k8s_options.master_key_file = args.get("master-key-file", "KILN_MASTER_KEY_FILE", "");
    if (const std::string allow = args.get("exec-allow", "KILN_EXEC_ALLOW", ""); !allow.empty()) {
      k8s_options.exec_allow.clear();
      for (std::size_t start = 0; start <= allow.size();) {
        const std::size_t comma = std::min(allow.find(',', start), allow.size());
        if (comma > start) k8s_options.exec_allow.push_back(allow.substr(start, comma - start));
        start = comma + 1;
      }
    }
    k8s_options.pause_after_create = std::chrono::seconds(std::stoi(args.get("pause-after-create", nullptr, "0")));
    args.finish();
    if (once == loop) throw std::invalid_argument("pass exactly one of --once and --loop");
    if (options.batch < 1 || options.batch > 1000) throw std::invalid_argument("--batch must be 1..1000");
    if (options.lease_seconds < 1) throw std::invalid_argument("--lease must be at least 1 second");
    if (interval < 1) throw std::invalid_argument("--interval must be at least 1 second");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kiln-dispatch: %s\n%s", e.what(), kUsage);
    return 2;
  }

  std::unique_ptr<kiln::dispatch::BuildNodeRenderer> renderer;
  try {
    renderer = std::make_unique<kiln::dispatch::BuildNodeRenderer>(pipelines);
  } catch (const std::exception& e) {
    kiln::log("fatal", "cannot load pipeline templates", {{"error", e.what()}});
    return 2;
  }

  std::unique_ptr<kiln::dispatch::KubernetesBackend> kubernetes;
  if (!k8s_options.master_key_file.empty()) {
    k8s_options.worker = options.worker;
    try {
      kubernetes = std::make_unique<kiln::dispatch::KubernetesBackend>(k8s_options);
    } catch (const std::exception& e) {
      kiln::log("fatal", "cannot start the Kubernetes back-end", {{"error", e.what()}});
      return 2;
    }
    options.kubernetes = kubernetes.get();
  }

  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  kiln::db::Database db(conninfo, [](pqxx::connection& conn) {
    kiln::db::prepare_dispatch_statements(conn);
    kiln::db::prepare_k8s_statements(conn);
  });
  kiln::dispatch::configure_housekeeping({.worker = options.worker});
  auto& metrics = kiln::dispatch::DispatchMetrics::instance();
  std::unique_ptr<kiln::dispatch::MetricsListener> listener;
  if (!metrics_listen.empty()) {
    try {
      listener = std::make_unique<kiln::dispatch::MetricsListener>(metrics_listen, conninfo);
    } catch (const std::exception& e) {
      kiln::log("fatal", "cannot serve metrics", {{"error", e.what()}});
      return 2;
    }
    kiln::log("info", "serving metrics", {{"listen", metrics_listen}, {"port", std::to_string(listener->port())}});
  }
  const auto write_textfile = [&] {
    if (metrics_textfile.empty()) return;
    try {
      kiln::dispatch::write_metrics_textfile(metrics_textfile, kiln::dispatch::render_dispatch_metrics(db));
    } catch (const std::exception& e) {
      kiln::log("warn", "cannot write the metrics textfile", {{"error", e.what()}});
    }
  };
  kiln::dispatch::WebhookSender webhooks(conninfo, options.worker);
  kiln::log("info", "kiln-dispatch started", {{"worker", options.worker}, {"mode", once ? "once" : "loop"}});
  if (once) {
    try {
      const auto started = std::chrono::steady_clock::now();
      auto result = kiln::dispatch::run_pass(db, options, *renderer);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      metrics.observe_pass(result, seconds, true);
      log_pass(result, seconds);
      try {  // after the pass: its builds are already handed off
        const auto sent = webhooks.drain(std::chrono::steady_clock::now() + std::chrono::seconds(webhook_budget));
        result.housekeeping.webhooks_delivered = sent.delivered;
        result.housekeeping.webhooks_failed = sent.failed;
      } catch (const std::exception& e) {
        kiln::log("warn", "webhook delivery failed; the next run retries", {{"error", e.what()}});
      }
      write_textfile();
      return 0;
    } catch (const std::exception& e) {
      metrics.observe_pass({}, 0, false);
      write_textfile();
      kiln::log("error", "pass failed", {{"error", e.what()}});
      return 1;
    }
  }

  webhooks.start();
  while (!g_stop) {
    bool more = false;
    try {
      kiln::db::Listening queue(db, "kiln_queue");  // before the pass: no wake-up is missed
      kiln::db::Listening checks(db, "kiln_provider_checks");  // an admin tests a provider
      const auto started = std::chrono::steady_clock::now();
      const auto result = kiln::dispatch::run_pass(db, options, *renderer);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      metrics.observe_pass(result, seconds, true);
      if (result.housekeeping.alerts_queued > 0) webhooks.wake();
      write_textfile();
      if (result.claimed + result.reaped + result.timed_out > 0) log_pass(result, seconds);
      more = result.claimed >= options.max_builds;
      if (!more && !g_stop) db.wait_for_notifications(std::chrono::seconds(interval));
    } catch (const std::exception& e) {
      metrics.observe_pass({}, 0, false);
      kiln::log("error", "pass failed; retrying", {{"error", e.what()}});
      for (int i = 0; i < interval * 10 && !g_stop; ++i) usleep(100000);
    }
  }
  webhooks.stop();
  kiln::log("info", "kiln-dispatch stopped", {{"worker", options.worker}});
  return 0;
}
