#include "agent/execution.hpp"

#include <algorithm>
#include <cstdio>
#include <thread>

#include "agent/shepherd.hpp"
#include "log.hpp"

namespace kiln::agent {

namespace {

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", value);
  return text;
}

RunSpec run_spec(const ClaimedExecution& claim, const ExecutionSettings& settings) {
  RunSpec spec;
  spec.script = claim.script;
  spec.work_root = settings.work_dir;
  spec.env = {"KILN_BUILD_ID=" + claim.build_id, "KILN_EXECUTION_ID=" + claim.execution_id,
              "KILN_ATTEMPT=" + std::to_string(claim.attempt)};
  if (!settings.path_env.empty()) spec.env.push_back("PATH=" + settings.path_env);
  spec.time_budget = claim.time_budget;
  spec.kill_grace = settings.kill_grace;
  spec.memory_bytes = claim.memory_bytes;
  return spec;
}

}  // namespace

Execution::Execution(ClaimedExecution claim, const ExecutionSettings& settings, const MemoryLimiter& limiter)
    : claim_(std::move(claim)),
      settings_(settings),
      runner_(limiter, run_spec(claim_, settings)),
      logs_([this](const LogChunk& chunk, std::int64_t& next) { return send_chunk(chunk, next); },
            settings.log_options) {}

void Execution::run() {
  kiln::log("info", "build started",
            {{"execution_id", claim_.execution_id},
             {"build_id", claim_.build_id},
             {"time_budget_seconds", number(static_cast<double>(claim_.time_budget.count()) / 1000)},
             {"memory_bytes", std::to_string(claim_.memory_bytes)}});
  log_api_ = std::make_unique<ApiClient>(settings_.api_url, claim_.job_token, stop_.get_token());
  RunResult result;
  std::string reason;  // set when the agent, not the script, is why the build failed
  {
    std::jthread renewer([this] { renew_loop(); });
    std::jthread shipper([this] { logs_.pump(stop_.get_token()); });
    try {
      result = runner_.run([this](std::string_view bytes) { logs_.write(bytes); });
    } catch (const std::exception& e) {
      kiln::log("error", "cannot start the build", {{"execution_id", claim_.execution_id}, {"error", e.what()}});
      reason = std::string("kiln-agent could not start the build: ") + e.what();
      logs_.write(reason + "\n");
      result.outcome = RunOutcome::kFailed;
      result.exit_code = kCannotRunExitCode;
    }
    logs_.close();
    shipper.join();  // the finish must come after the last log chunk
    if (lost_.load() == kNotLost) report(result, std::move(reason));
    stop_.request_stop();  // ends the renewer; it is joined here
  }
  if (lost_.load() != kNotLost) {
    kiln::log("info", "build dropped",
              {{"execution_id", claim_.execution_id}, {"outcome", std::string(to_string(result.outcome))}});
  }
}

void Execution::abandon() { lose(kAbandoned); }

void Execution::lose(Loss why) {
  int expected = kNotLost;
  if (!lost_.compare_exchange_strong(expected, why)) return;
  if (why == kCancelled) {
    kiln::log("info", "build cancelled; killing it", {{"execution_id", claim_.execution_id}});
  } else if (why == kLeaseLost) {
    kiln::log("warn", "lease lost; killing the build and dropping it", {{"execution_id", claim_.execution_id}});
  } else if (why == kEnded) {
    kiln::log("warn", "the execution ended on the server (cancelled, or its lease lost) and its job token is dead; "
              "killing the build and dropping it", {{"execution_id", claim_.execution_id}});
  }
  if (why == kAbandoned) {
    runner_.kill();
  } else {
    runner_.cancel();  // SIGTERM, then SIGKILL after the grace, as for a timeout
  }
  stop_.request_stop();  // nothing more is sent for this execution
}

void Execution::renew_loop() {
  ApiClient api(settings_.api_url, claim_.job_token, stop_.get_token());
  // lease_seconds / 3 as the protocol asks, but at most 20 s: while every slot is busy the
  // agent does not claim, and renewals alone must keep the heartbeat under the 60 s at
  // which the node shows as offline.
  const auto period = std::clamp<std::chrono::milliseconds>(std::chrono::seconds(claim_.lease_seconds) / 3,
                                                            std::chrono::seconds(1), std::chrono::seconds(20));
  Backoff backoff(std::chrono::milliseconds(500), period);
  auto wait = period;  // the claim has just granted a full lease
  while (sleep_unless_stopped(stop_.get_token(), wait)) {
    const ApiResult r = api.renew(claim_.execution_id, claim_.epoch);
    if (r.ok()) {
      backoff.reset();
      wait = period;
      continue;
    }
    if (r.status == ApiStatus::kCancelled) return lose(kCancelled);
    if (r.status == ApiStatus::kStaleLease) return lose(kLeaseLost);
    if (r.status == ApiStatus::kEnded) return lose(kEnded);
    if (stop_.stop_requested()) return;
    wait = backoff.next();
    kiln::log(r.status == ApiStatus::kTransient ? "warn" : "error", "lease renewal failed, retrying",
              {{"execution_id", claim_.execution_id},
               {"error", r.describe()},
               {"retry_in_ms", std::to_string(wait.count())}});
  }
}

SendResult Execution::send_chunk(const LogChunk& chunk, std::int64_t& next_offset) {
  const ApiResult r = log_api_->send_logs(claim_.execution_id, claim_.epoch, chunk);
  switch (r.status) {
    case ApiStatus::kOk:
      if (r.body.contains("next_offset") && r.body["next_offset"].is_number_integer())
        next_offset = r.body["next_offset"].get<std::int64_t>();
      return SendResult::kSent;
    case ApiStatus::kCancelled:
      lose(kCancelled);
      return SendResult::kGiveUp;
    case ApiStatus::kStaleLease:
      lose(kLeaseLost);
      return SendResult::kGiveUp;
    case ApiStatus::kEnded:
      lose(kEnded);
      return SendResult::kGiveUp;
    case ApiStatus::kTransient:
      kiln::log("warn", "API unreachable while sending output, backing off",
                {{"execution_id", claim_.execution_id}, {"error", r.describe()}});
      return SendResult::kRetry;
    case ApiStatus::kUnauthorized:
    case ApiStatus::kFailed:
      break;
  }
  if (!stop_.stop_requested()) {
    kiln::log(
        "error", "the API refused build output; no more output is sent",
        {{"execution_id", claim_.execution_id}, {"offset", std::to_string(chunk.offset)}, {"error", r.describe()}});
  }
  return SendResult::kGiveUp;
}

void Execution::report(const RunResult& result, std::string reason) {
  const std::string outcome(to_string(result.outcome));
  char text[128] = "";
  if (reason.empty() && result.outcome == RunOutcome::kTimedOut) {
    std::snprintf(text, sizeof text, "the time budget of %g s ran out",
                  static_cast<double>(claim_.time_budget.count()) / 1000);
  } else if (reason.empty() && result.outcome == RunOutcome::kOomKilled) {
    std::snprintf(text, sizeof text, "killed by the kernel's OOM killer at the memory limit of %g GiB",
                  static_cast<double>(claim_.memory_bytes) / (1024.0 * 1024 * 1024));
  }
  if (reason.empty()) reason = text;
  kiln::log("info", "build finished",
            {{"execution_id", claim_.execution_id},
             {"outcome", outcome},
             {"exit_code", std::to_string(result.exit_code)},
             {"duration_seconds", number(result.duration_seconds)},
             {"cpu_seconds", number(result.cpu_seconds)},
             {"peak_memory_bytes", std::to_string(result.peak_memory_bytes)}});
  const FinishReport finish{
      outcome,          result.exit_code, result.cpu_seconds, result.peak_memory_bytes, result.duration_seconds,
      std::move(reason)};
  ApiClient api(settings_.api_url, claim_.job_token, stop_.get_token());
  Backoff backoff;
  const ApiResult r = with_retries("finish", stop_.get_token(), backoff,
                                   [&] { return api.finish(claim_.execution_id, claim_.epoch, finish); });
  if (r.ok()) {
    const std::string status = r.body.contains("build_status") && r.body["build_status"].is_string()
                                   ? r.body["build_status"].get<std::string>()
                                   : std::string();
    kiln::log("info", "finish recorded", {{"execution_id", claim_.execution_id}, {"build_status", status}});
  } else if (r.status == ApiStatus::kCancelled) {
    lose(kCancelled);
  } else if (r.status == ApiStatus::kStaleLease) {
    lose(kLeaseLost);
  } else if (r.status == ApiStatus::kEnded) {
    lose(kEnded);
  } else if (!stop_.stop_requested()) {
    kiln::log("error", "the API refused the finish", {{"execution_id", claim_.execution_id}, {"error", r.describe()}});
  }
}

}  // namespace kiln::agent
