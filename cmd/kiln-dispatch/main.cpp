// kiln-dispatch: claims queued builds and hands them to their back-end.
//   kiln-dispatch --once   one bounded pass, then exit (cron, systemd timer)
//   kiln-dispatch --loop   pass after pass, woken early by NOTIFY kiln_queue
// Exit status of --once: 0 the pass ran (whether or not there was work), 1 the database
// was unreachable or the pass failed, 2 bad arguments or templates.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <exception>

#include "cli_args.hpp"
#include "db/dispatch_api.hpp"
#include "dispatch/pass.hpp"
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
    "                     [--pipelines DIR]\n"
    "environment: KILN_DATABASE_URL, KILN_PIPELINES_DIR\n";

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

  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  kiln::db::Database db(conninfo, kiln::db::prepare_dispatch_statements);
  kiln::log("info", "kiln-dispatch started", {{"worker", options.worker}, {"mode", once ? "once" : "loop"}});
  if (once) {
    try {
      const auto started = std::chrono::steady_clock::now();
      const auto result = kiln::dispatch::run_pass(db, options, *renderer);
      log_pass(result, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      return 0;
    } catch (const std::exception& e) {
      kiln::log("error", "pass failed", {{"error", e.what()}});
      return 1;
    }
  }

  while (!g_stop) {
    bool more = false;
    try {
      kiln::db::Listening queue(db, "kiln_queue");  // before the pass: no wake-up is missed
      const auto started = std::chrono::steady_clock::now();
      const auto result = kiln::dispatch::run_pass(db, options, *renderer);
      if (result.claimed + result.reaped + result.timed_out > 0) {
        log_pass(result, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      }
      more = result.claimed >= options.max_builds;
      if (!more && !g_stop) db.wait_for_notifications(std::chrono::seconds(interval));
    } catch (const std::exception& e) {
      kiln::log("error", "pass failed; retrying", {{"error", e.what()}});
      for (int i = 0; i < interval * 10 && !g_stop; ++i) usleep(100000);
    }
  }
  kiln::log("info", "kiln-dispatch stopped", {{"worker", options.worker}});
  return 0;
}
