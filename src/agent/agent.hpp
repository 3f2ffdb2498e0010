#pragma once
// The agent's main loop: claims work whenever a slot is free and runs each execution on
// a thread of its own. While every slot is busy it does not claim; the executions' lease
// renewals keep the node's heartbeat fresh (every API call refreshes it).
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

 private:
  struct Slot {
    std::unique_ptr<Execution> execution;
    std::jthread thread;
    bool done = false;
  };

  void start(ClaimedExecution claim);
  int start_all(const nlohmann::json& answer);  // how many were started
  void reap_finished();

  AgentConfig config_;
  MemoryLimiter limiter_;
  ExecutionSettings settings_;
  std::stop_source draining_;  // first SIGTERM: no more claims
  std::stop_source killing_;   // second SIGTERM: running builds are abandoned
  std::mutex mu_;
  std::condition_variable_any changed_;
  std::list<Slot> slots_;  // guarded by mu_; a list so a thread may keep a reference to its slot
  int busy_ = 0;           // guarded by mu_
};

}  // namespace kiln::agent
