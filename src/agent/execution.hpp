#pragma once
// One claimed execution from start to finish: runs the script, renews the lease every
// lease_seconds / 3, ships the output, and reports the outcome. Three threads: the
// caller's (runner, then finish), a renewer and a log shipper, each with its own ApiClient.
// Every call carries the execution's job token from the claim, never the node token.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <stop_token>
#include <string>

#include "agent/api_client.hpp"
#include "agent/log_stream.hpp"
#include "agent/memory_limit.hpp"
#include "agent/process_runner.hpp"
#include "agent/protocol.hpp"

namespace kiln::agent {

struct ExecutionSettings {
  std::string api_url;
  std::filesystem::path work_dir;
  std::chrono::milliseconds kill_grace{std::chrono::seconds(10)};
  std::string path_env;  // PATH for builds: the agent's own
  LogStreamOptions log_options;
};

class Execution {
 public:
  Execution(ClaimedExecution claim, const ExecutionSettings& settings, const MemoryLimiter& limiter);
  Execution(const Execution&) = delete;
  Execution& operator=(const Execution&) = delete;

  // Blocks until the build is over and reported (or dropped) and nothing of it is left.
  void run();
  // The agent is going down hard: SIGKILL the build and report nothing; the API's lease
  // reaper hands it out again.
  void abandon();

  const ClaimedExecution& claim() const { return claim_; }

 private:
  enum Loss : int { kNotLost = 0, kCancelled, kLeaseLost, kEnded, kAbandoned };

  void renew_loop();
  SendResult send_chunk(const LogChunk& chunk, std::int64_t& next_offset);
  void lose(Loss why);
  void report(const RunResult& result, std::string reason);

  ClaimedExecution claim_;
  const ExecutionSettings& settings_;
  ProcessRunner runner_;
  std::stop_source stop_;  // ends renewals, log shipping and API retries
  std::atomic<int> lost_{kNotLost};
  std::unique_ptr<ApiClient> log_api_;  // used by the shipper thread only
  LogStream logs_;
};

}  // namespace kiln::agent
