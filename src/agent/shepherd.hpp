#pragma once
// The shepherd: the per-build process between the agent and the build script.
//
// The agent forks it; it forks the script as the leader of a new session and process
// group, and is a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so every process the
// build leaves behind, even one that double-forked or called setsid, is re-parented to it.
// That gives two guarantees a plain fork/exec cannot:
// - when the script ends, the shepherd kills the group and keeps killing and reaping its
//   remaining children until none is left, so nothing of the build survives it;
// - every descendant is reaped by the shepherd or by a reaped ancestor, so the shepherd's
//   RUSAGE_CHILDREN holds the CPU time of the whole tree (cgroup CPU accounting would
//   need the cpuacct/cpu controller, which RLIMIT_AS-only nodes lack).
//
// The agent is multi-threaded, so between fork and exec only async-signal-safe calls are
// allowed (another thread may have held the malloc lock): the shepherd uses raw system
// calls only and everything it needs is prepared before fork() in a ShepherdPlan.
#include <cstdint>

namespace kiln::agent {

// What the shepherd writes to the status pipe (each write is atomic: < PIPE_BUF).
struct ShepherdReport {
  enum Kind : std::int32_t { kStarted = 1, kFinished = 2 };
  std::int32_t kind = 0;
  std::int32_t pid = 0;          // kStarted: the script's pid, which is also its process group
  std::int32_t wait_status = 0;  // kFinished: the script's waitpid status
  std::int32_t reserved = 0;
  std::int64_t user_usec = 0;  // kFinished: RUSAGE_CHILDREN of the whole tree
  std::int64_t system_usec = 0;
  std::int64_t max_rss_kib = 0;  // the largest single process, not the sum
};

// Bytes the agent sends on the control socket. Its end of file (the agent died) means kill.
inline constexpr char kControlTerminate = 'T';  // SIGTERM to the script's process group
inline constexpr char kControlKill = 'K';       // SIGKILL to the script's process group

// Exit status of the script when the shepherd could not start it properly.
inline constexpr int kCannotRunExitCode = 125;

struct ShepherdPlan {
  const char* shell = nullptr;  // "/bin/sh"
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* work_dir = nullptr;      // the script's current directory
  const char* cgroup_procs = nullptr;  // joined before exec; nullptr when there is no cgroup
  std::int64_t rlimit_as = 0;          // RLIMIT_AS for the script; 0 for none
  int output_fd = -1;                  // the script's stdout and stderr
  int status_fd = -1;
  int control_fd = -1;
};

// Runs in the child of fork(); never returns.
[[noreturn]] void shepherd_main(const ShepherdPlan& plan);

}  // namespace kiln::agent
