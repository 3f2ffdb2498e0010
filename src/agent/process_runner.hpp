#pragma once
// Runs one build script: /bin/sh build.sh in a fresh scratch directory, as a new process
// group under a shepherd (shepherd.hpp), with the time budget, the memory limit, output
// streamed to a callback, and cancel/kill from other threads.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/memory_limit.hpp"

namespace kiln::agent {

enum class RunOutcome {
  kSucceeded,  // exit 0
  kFailed,     // another exit status or a signal
  kTimedOut,   // the time budget ran out
  kOomKilled,  // the kernel's OOM killer struck in the build's cgroup
  kCancelled,  // cancel() or kill(): never reported to the API
};
// The wire name (docs/agent-protocol.md); "cancelled" for kCancelled.
std::string_view to_string(RunOutcome outcome);

struct RunSpec {
  std::string script;                                              // written to <scratch>/build.sh
  std::filesystem::path work_root;                                 // the scratch directory is made in here
  std::vector<std::string> env;                                    // NAME=value; HOME is added (the scratch directory)
  std::chrono::milliseconds time_budget{0};                        // 0: unlimited
  std::chrono::milliseconds kill_grace{std::chrono::seconds(10)};  // SIGTERM → SIGKILL
  std::int64_t memory_bytes = 0;                                   // 0: unlimited
};

struct RunResult {
  RunOutcome outcome = RunOutcome::kFailed;
  int exit_code = 0;  // exit status, or 128 + signal number
  double cpu_seconds = 0;
  std::int64_t peak_memory_bytes = 0;
  double duration_seconds = 0;
};

using OutputSink = std::function<void(std::string_view bytes)>;

class ProcessRunner {
 public:
  ProcessRunner(const MemoryLimiter& limiter, RunSpec spec);
  ~ProcessRunner();
  ProcessRunner(const ProcessRunner&) = delete;
  ProcessRunner& operator=(const ProcessRunner&) = delete;

  // Runs the script to the end and returns when none of its processes is left and the
  // scratch directory is gone. Output (stdout and stderr merged) goes to sink on this
  // thread. Throws std::runtime_error / std::system_error if the build cannot be set up.
  RunResult run(const OutputSink& sink);

  // Thread-safe, also before or after run(). cancel(): SIGTERM to the group now and
  // SIGKILL after the grace period; kill(): SIGKILL now.
  void cancel();
  void kill();

 private:
  enum Request : int { kNone = 0, kCancel = 1, kKill = 2 };
  void request(Request r);

  const MemoryLimiter& limiter_;
  RunSpec spec_;
  std::atomic<int> request_{kNone};
  int wake_[2] = {-1, -1};  // wakes run()'s poll when a request comes in
};

}  // namespace kiln::agent
