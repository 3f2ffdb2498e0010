#include "cli/log_follow.hpp"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <iostream>
#include <thread>

#include "cli/output.hpp"
#include "cli/sse.hpp"
#include "cli/status_line.hpp"
#include "http/query.hpp"

namespace kiln::cli {

namespace {

constexpr int kMaxReconnects = 30;  // consecutive failed reconnects before giving up
constexpr auto kPhaseRefresh = std::chrono::seconds(5);

std::string logs_path(const std::string& build_id) { return "/api/v1/builds/" + http::percent_encode(build_id) + "/logs"; }

// The build's status and creation time for the status line.
struct Phase {
  std::string status = "waiting";
  std::optional<std::time_t> created_at;
  std::chrono::steady_clock::time_point fetched{};
};

void refresh_phase(Context& ctx, const std::string& build_id, Phase& phase) {
  const auto now = std::chrono::steady_clock::now();
  if (phase.fetched != std::chrono::steady_clock::time_point{} && now - phase.fetched < kPhaseRefresh) return;
  phase.fetched = now;
  try {
    const auto build = ctx.client().call("GET", "/api/v1/builds/" + http::percent_encode(build_id));
    phase.status = build.value("status", phase.status);
    if (build.contains("created_at") && build["created_at"].is_string()) {
      phase.created_at = parse_rfc3339(build["created_at"].get<std::string>());
    }
  } catch (const std::exception&) {
    // the status line is a courtesy: the stream itself reports real errors
  }
}

}  // namespace

void print_log(Context& ctx, const std::string& build_id) {
  const HttpResponse r = ctx.client().request("GET", logs_path(build_id));
  if (ctx.json()) {
    const auto header = [&](const std::string& name) {
      const auto it = r.headers.find(name);
      return it == r.headers.end() ? std::string() : it->second;
    };
    ctx.print_json({{"text", r.body},
                    {"next_offset", std::stoll(header("x-kiln-next-offset").empty() ? "0" : header("x-kiln-next-offset"))},
                    {"status", header("x-kiln-build-status")},
                    {"complete", header("x-kiln-log-complete") == "true"}});
    return;
  }
  ctx.out << r.body << std::flush;
}

std::string follow_log(Context& ctx, const std::string& build_id) {
  StatusLine line(!ctx.json() && isatty(STDERR_FILENO) == 1);
  Phase phase;
  const auto started = std::chrono::steady_clock::now();
  auto last_output = started;
  SseParser parser;
  std::string final_status;
  std::optional<ApiError> stream_error;
  int failures = 0;

  const auto on_bytes = [&](const std::string& bytes) {
    for (const auto& event : parser.feed(bytes)) {
      auto data = nlohmann::json::parse(event.data, nullptr, false);
      if (ctx.json()) {
        nlohmann::json printed{{"event", event.event}, {"data", data.is_discarded() ? nlohmann::json(event.data) : data}};
        if (event.id) printed["id"] = *event.id;
        ctx.print_json(printed);
      }
      if (event.event == "log" && !ctx.json()) {
        line.clear();
        ctx.out << (data.is_object() ? data.value("text", std::string()) : std::string()) << std::flush;
        last_output = std::chrono::steady_clock::now();
      } else if (event.event == "end") {
        final_status = data.is_object() ? data.value("status", std::string("unknown")) : "unknown";
        return false;
      } else if (event.event == "error") {
        stream_error.emplace(0, data, data.is_object() ? error_text(data) : event.data);
        return false;
      }
    }
    failures = 0;
    return true;
  };
  const auto on_idle = [&] {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_output < std::chrono::seconds(1)) return;
    refresh_phase(ctx, build_id, phase);
    const long elapsed = phase.created_at
                             ? static_cast<long>(std::time(nullptr) - *phase.created_at)
                             : static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(now - started).count());
    line.show(status_line_text(build_id, phase.status, elapsed));
  };

  for (;;) {
    std::map<std::string, std::string> headers;
    if (!parser.last_event_id().empty()) headers["Last-Event-ID"] = parser.last_event_id();
    parser.reconnect();
    try {
      ctx.client().stream(logs_path(build_id) + "?follow=1", headers, on_bytes, on_idle);
    } catch (const ConnectionError& e) {
      if (++failures > kMaxReconnects) throw;
      line.clear();
      ctx.err << "kiln: " << e.what() << "; retrying" << std::endl;
    }
    if (stream_error) {
      line.clear();
      throw *stream_error;
    }
    if (!final_status.empty()) return final_status;
    // The stream ended early (a restart, a proxy): resume where it stopped.
    std::this_thread::sleep_for(std::chrono::milliseconds(parser.retry_ms().value_or(2000)));
  }
}

}  // namespace kiln::cli
