#pragma once
// How a build's memory is limited, chosen once at startup (docs/agent-protocol.md):
// a child cgroup per run under our own cgroup, v2 if its memory controller is usable,
// else v1's memory controller, else RLIMIT_AS set in the build's process (which cannot
// tell an out-of-memory kill from an ordinary failure).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::agent {

enum class MemoryLimitMode { kCgroupV2, kCgroupV1, kRlimit };
std::string_view to_string(MemoryLimitMode mode);

// One run's cgroup. Processes join it through procs_path() before exec.
class MemoryCgroup {
 public:
  // Creates dir with the limit; throws std::runtime_error when the kernel refuses.
  MemoryCgroup(MemoryLimitMode mode, std::string dir, std::int64_t limit_bytes);
  ~MemoryCgroup();  // SIGKILLs any process still inside, then removes the directory
  MemoryCgroup(const MemoryCgroup&) = delete;
  MemoryCgroup& operator=(const MemoryCgroup&) = delete;

  std::string procs_path() const { return dir_ + "/cgroup.procs"; }
  // How many processes the kernel's OOM killer killed in this cgroup.
  std::int64_t oom_kills() const;
  // The highest memory use seen (v2 memory.peak needs Linux 5.19; nullopt without it).
  std::optional<std::int64_t> peak_bytes() const;

 private:
  MemoryLimitMode mode_;
  std::string dir_;
};

class MemoryLimiter {
 public:
  // Probes by creating and removing a child cgroup. On cgroup v2 this may move the agent
  // into a leaf "kiln-agent" child so its cgroup may enable the memory controller for
  // children (v2 allows no processes in a cgroup that delegates controllers).
  static MemoryLimiter detect();
  static MemoryLimiter rlimit_only() { return MemoryLimiter(MemoryLimitMode::kRlimit, {}); }

  MemoryLimitMode mode() const { return mode_; }
  const std::string& parent_dir() const { return parent_; }
  // A fresh cgroup limited to limit_bytes; nullptr in RLIMIT_AS mode. Throws like MemoryCgroup.
  std::unique_ptr<MemoryCgroup> create(std::int64_t limit_bytes) const;

 private:
  MemoryLimiter(MemoryLimitMode mode, std::string parent) : mode_(mode), parent_(std::move(parent)) {}
  MemoryLimitMode mode_;
  std::string parent_;  // our own cgroup directory, under which per-run cgroups are made
};

}  // namespace kiln::agent
