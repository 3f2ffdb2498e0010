#pragma once
// The agent's main loop: claims work whenever a slot is free and runs each execution on
// a thread of its own. While every slot is busy it does not claim; the executions' lease
// renewals keep the node's heartbeat fresh (every API call refreshes it). The node token
// (claims only) is read from the token file at start and again on SIGHUP or when a claim
// is answered 401, so a rotated token is picked up without a restart; each execution
// uses the job token its claim returned.
#include <atomic>
#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>

#include "agent/agent_config.hpp"
#include "agent/execution.hpp"
#include "agent/memory_limit.hpp"

namespace kiln::agent {

class Agent {
 public:
  // Reads the token, creates the work directory, chooses how memory is limited. Throws.
  explicit Agent(AgentConfig config);
  Agent(AgentConfig config, MemoryLimiter limiter, LogStreamOptions log_options);  // for tests

  // Claims and runs builds until request_stop(); returns the process exit code.
  int run();
  // Thread-safe. First: stop claiming and let running builds finish. hard: kill them too.
  void request_stop(bool hard);
  // Thread-safe (SIGHUP): re-read the token file before the next claim.
  void request_token_reload();

 private:
  struct Slot {
    std::unique_ptr<Execution> execution;
    std::jthread thread;
    bool done = false;
  };

  void start(ClaimedExecution claim);
  int start_all(const nlohmann::json& answer);  // how many were started
  void reap_finished();
  // Re-reads the token file; true when it holds a new token (then used from now on).
  bool reload_node_token(ApiClient& api, const char* why);

  AgentConfig config_;
  MemoryLimiter limiter_;
  ExecutionSettings settings_;
  std::string node_token_;  // used by run()'s thread only
  std::atomic<bool> reload_requested_{false};
  std::stop_source draining_;  // first SIGTERM: no more claims
  std::stop_source killing_;   // second SIGTERM: running builds are abandoned
  std::mutex mu_;
  std::condition_variable_any changed_;
  std::list<Slot> slots_;  // guarded by mu_; a list so a thread may keep a reference to its slot
  int busy_ = 0;           // guarded by mu_
};

}  // namespace kiln::agent
