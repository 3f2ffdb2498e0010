#include "agent/agent.hpp"

#include <cstdlib>

#include "agent/backoff.hpp"
#include "agent/version.hpp"
#include "log.hpp"

namespace kiln::agent {

namespace {
constexpr std::chrono::milliseconds kMinClaimInterval{1000};  // between claims that brought nothing
}  // namespace

Agent::Agent(AgentConfig config) : Agent(std::move(config), MemoryLimiter::detect(), LogStreamOptions{}) {}

Agent::Agent(AgentConfig config, MemoryLimiter limiter, LogStreamOptions log_options)
    : config_(std::move(config)), limiter_(std::move(limiter)) {
  settings_.api_url = config_.url;
  node_token_ = read_token_file(config_.token_file);
  std::filesystem::create_directories(config_.work_dir);
  settings_.work_dir = std::filesystem::canonical(config_.work_dir);
  settings_.kill_grace = config_.kill_grace;
  if (const char* path = std::getenv("PATH")) settings_.path_env = path;
  settings_.log_options = std::move(log_options);
}

int Agent::run() {
  kiln::log("info", "kiln-agent started",
            {{"version", kAgentVersion},
             {"url", config_.url},
             {"work_dir", settings_.work_dir.string()},
             {"concurrency", std::to_string(config_.node.concurrency)},
             {"memory_limit", std::string(to_string(limiter_.mode()))},
             {"cgroup", limiter_.parent_dir()}});
  if (limiter_.mode() == MemoryLimitMode::kRlimit) {
    kiln::log("warn",
              "no writable cgroup memory controller: memory is limited with RLIMIT_AS, and a build that runs out "
              "of memory is reported as failed, not oom_killed",
              {});
  }
  ApiClient api(settings_.api_url, node_token_, draining_.get_token());
  Backoff backoff;
  bool failing = false;
  std::string node_status = "active";
  while (!draining_.stop_requested()) {
    reap_finished();
    int running = 0;
    {
      std::unique_lock lock(mu_);
      changed_.wait(lock, draining_.get_token(), [&] { return busy_ < config_.node.concurrency; });
      if (draining_.stop_requested()) break;
      running = busy_;
    }
    if (reload_requested_.exchange(false)) reload_node_token(api, "SIGHUP");
    const auto asked_at = std::chrono::steady_clock::now();
    const ApiResult r = api.claim(config_.node, running, config_.wait_seconds);
    // A 401 may mean the node token was rotated and the file already holds the new one.
    if (r.status == ApiStatus::kUnauthorized && reload_node_token(api, "401")) continue;
    if (r.ok()) {
      if (failing) kiln::log("info", "API reachable again", {});
      failing = false;
      backoff.reset();
      const auto& reported = r.body.contains("node_status") ? r.body["node_status"] : nlohmann::json();
      const std::string status = reported.is_string() ? reported.get<std::string>() : "active";
      if (status != node_status) {
        kiln::log(status == "active" ? "info" : "warn", "node status", {{"status", status}});
        node_status = status;
      }
      if (start_all(r.body) == 0) {
        // The API answers at once, not after wait_seconds, to a draining or deprecated
        // node (and to wait_seconds 0): pace the claims, which still carry the heartbeat.
        const std::chrono::milliseconds pause =
            status == "active"
                ? kMinClaimInterval
                : std::max<std::chrono::milliseconds>(kMinClaimInterval, std::chrono::seconds(config_.wait_seconds));
        const auto elapsed = std::chrono::steady_clock::now() - asked_at;
        if (elapsed < pause) {
          sleep_unless_stopped(draining_.get_token(),
                               std::chrono::duration_cast<std::chrono::milliseconds>(pause - elapsed));
        }
      }
      continue;
    }
    if (draining_.stop_requested()) break;
    failing = true;
    const auto delay = backoff.next();
    kiln::log(r.status == ApiStatus::kTransient ? "warn" : "error",
              r.status == ApiStatus::kTransient ? "API unreachable, backing off" : "claim refused, backing off",
              {{"call", "claim"}, {"error", r.describe()}, {"retry_in_ms", std::to_string(delay.count())}});
    sleep_unless_stopped(draining_.get_token(), delay);
  }

  std::unique_lock lock(mu_);
  if (busy_ > 0) kiln::log("info", "draining: waiting for running builds", {{"running", std::to_string(busy_)}});
  changed_.wait(lock, [&] { return busy_ == 0; });
  lock.unlock();
  reap_finished();
  kiln::log("info", "kiln-agent stopped", {});
  return 0;
}

void Agent::request_token_reload() { reload_requested_ = true; }

bool Agent::reload_node_token(ApiClient& api, const char* why) {
  std::string token;
  try {
    token = read_token_file(config_.token_file);
  } catch (const std::exception& e) {
    kiln::log("error", "cannot reload the node token; keeping the current one", {{"why", why}, {"error", e.what()}});
    return false;
  }
  if (token == node_token_) return false;
  node_token_ = std::move(token);
  api.set_token(node_token_);
  kiln::log("info", "node token reloaded", {{"why", why}, {"token_file", config_.token_file}});
  return true;
}

void Agent::request_stop(bool hard) {
  if (hard) {
    kiln::log("warn", "stopping now: killing running builds", {});
    killing_.request_stop();
    std::lock_guard lock(mu_);
    for (Slot& slot : slots_) slot.execution->abandon();
  } else {
    kiln::log("info", "stopping: no new builds; running builds may finish", {});
  }
  draining_.request_stop();
  changed_.notify_all();
}

int Agent::start_all(const nlohmann::json& answer) {
  if (!answer.contains("executions") || !answer["executions"].is_array()) {
    kiln::log("error", "claim answer without an executions list", {});
    return 0;
  }
  int started = 0;
  for (const auto& item : answer["executions"]) {
    try {
      start(parse_claimed_execution(item));
      ++started;
    } catch (const std::invalid_argument& e) {
      // Not started, so never finished: the lease reaper gives it back to the queue.
      const std::string id = item.contains("execution_id") && item["execution_id"].is_string()
                                 ? item["execution_id"].get<std::string>()
                                 : "";
      kiln::log("error", "ignoring a malformed claimed execution", {{"execution_id", id}, {"error", e.what()}});
    }
  }
  return started;
}

void Agent::start(ClaimedExecution claim) {
  std::lock_guard lock(mu_);
  kiln::log("info", "claimed",
            {{"execution_id", claim.execution_id},
             {"build_id", claim.build_id},
             {"attempt", std::to_string(claim.attempt)},
             {"epoch", std::to_string(claim.epoch)},
             {"project", claim.project},
             {"method", claim.method}});
  if (busy_ >= config_.node.concurrency) {
    kiln::log("warn", "the API handed out more work than free slots", {{"running", std::to_string(busy_)}});
  }
  Slot& slot = slots_.emplace_back();
  slot.execution = std::make_unique<Execution>(std::move(claim), settings_, limiter_);
  if (killing_.stop_requested()) slot.execution->abandon();
  ++busy_;
  slot.thread = std::jthread([this, &slot] {
    try {
      slot.execution->run();
    } catch (const std::exception& e) {
      kiln::log("error", "execution failed",
                {{"execution_id", slot.execution->claim().execution_id}, {"error", e.what()}});
    }
    std::lock_guard done_lock(mu_);
    slot.done = true;
    --busy_;
    changed_.notify_all();
  });
}

void Agent::reap_finished() {
  std::list<Slot> finished;
  {
    std::lock_guard lock(mu_);
    for (auto it = slots_.begin(); it != slots_.end();) {
      auto next = std::next(it);
      if (it->done) finished.splice(finished.end(), slots_, it);
      it = next;
    }
  }
  // Destroying a Slot joins its thread, which has nothing left to do once done is set.
}

}  // namespace kiln::agent
