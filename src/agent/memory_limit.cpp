#include "agent/memory_limit.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "agent/cgroup_paths.hpp"
#include "log.hpp"

namespace kiln::agent {

namespace {

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// cgroup files want one write(2) per value; returns 0 or the errno.
int write_text(const std::string& path, std::string_view value) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  const ssize_t n = ::write(fd, value.data(), value.size());
  const int err = n < 0 ? errno : 0;
  ::close(fd);
  return err;
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// The value of "key N" in a flat-keyed cgroup file (memory.events, memory.oom_control).
std::int64_t keyed_value(const std::string& text, std::string_view key) {
  std::istringstream in(text);
  std::string name;
  std::int64_t value = 0;
  while (in >> name >> value) {
    if (name == key) return value;
  }
  return 0;
}

bool has_word(const std::string& text, std::string_view word) {
  std::istringstream in(text);
  std::string token;
  while (in >> token) {
    if (token == word) return true;
  }
  return false;
}

std::string unique_name(std::string_view prefix) {
  static std::atomic<unsigned> counter{0};
  return std::string(prefix) + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

// Make our v2 cgroup hand the memory controller to its children.
bool enable_v2_memory(const std::string& dir) {
  const std::string subtree = dir + "/cgroup.subtree_control";
  if (has_word(read_text(subtree).value_or(""), "memory")) return true;
  int err = write_text(subtree, "+memory");
  if (err == EBUSY) {
    // "No internal processes": move ourselves into a leaf first.
    const std::string leaf = dir + "/kiln-agent";
    if (::mkdir(leaf.c_str(), 0755) != 0 && errno != EEXIST) return false;
    if (write_text(leaf + "/cgroup.procs", "0") != 0) return false;
    err = write_text(subtree, "+memory");
  }
  return err == 0;
}

bool probe(MemoryLimitMode mode, const std::string& parent) {
  try {
    MemoryCgroup cgroup(mode, parent + "/" + unique_name("kiln-probe-"), std::int64_t{1} << 40);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

// A killed agent leaves its per-run cgroups behind (its builds died with it). Names carry
// the owning agent's pid; only cgroups of agents that are gone are removed, since another
// agent on this machine may have just created one that its build has not joined yet (and
// rmdir would succeed on it, being empty).
void remove_leftovers(const std::string& parent) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(parent, ec)) {
    const std::string name = entry.path().filename().string();
    std::string_view rest;
    if (name.rfind("kiln-run-", 0) == 0) rest = std::string_view(name).substr(9);
    if (name.rfind("kiln-probe-", 0) == 0) rest = std::string_view(name).substr(11);
    if (rest.empty()) continue;
    const pid_t owner = static_cast<pid_t>(std::atoi(std::string(rest.substr(0, rest.find('-'))).c_str()));
    if (owner > 0 && (::kill(owner, 0) == 0 || errno == EPERM)) continue;  // its agent still runs
    ::rmdir(entry.path().c_str());
  }
}

}  // namespace

std::string_view to_string(MemoryLimitMode mode) {
  switch (mode) {
    case MemoryLimitMode::kCgroupV2:
      return "cgroup_v2";
    case MemoryLimitMode::kCgroupV1:
      return "cgroup_v1";
    case MemoryLimitMode::kRlimit:
      return "rlimit_as";
  }
  return "unknown";
}

MemoryCgroup::MemoryCgroup(MemoryLimitMode mode, std::string dir, std::int64_t limit_bytes)
    : mode_(mode), dir_(std::move(dir)) {
  if (::mkdir(dir_.c_str(), 0755) != 0) throw std::runtime_error("mkdir " + dir_ + ": " + std::strerror(errno));
  // No limit requested: the cgroup still counts peak memory and OOM kills.
  const bool v2 = mode_ == MemoryLimitMode::kCgroupV2;
  const std::string limit = limit_bytes > 0 ? std::to_string(limit_bytes) : v2 ? "max" : "-1";
  int err = 0;
  if (v2) {
    err = write_text(dir_ + "/memory.max", limit);
    // Without this, a build over its limit would swap instead of being OOM-killed.
    if (err == 0 && exists(dir_ + "/memory.swap.max")) err = write_text(dir_ + "/memory.swap.max", "0");
  } else {
    err = write_text(dir_ + "/memory.limit_in_bytes", limit);
    // memsw (RAM + swap) must be >= limit_in_bytes, so it is written second.
    if (err == 0 && exists(dir_ + "/memory.memsw.limit_in_bytes"))
      err = write_text(dir_ + "/memory.memsw.limit_in_bytes", limit);
  }
  if (err != 0) {
    ::rmdir(dir_.c_str());
    throw std::runtime_error("cannot set the memory limit in " + dir_ + ": " + std::strerror(err));
  }
}

MemoryCgroup::~MemoryCgroup() {
  // The runner reaps every process of a build before this runs; this is the backstop.
  // Killed processes leave the cgroup a moment after they die, hence the retries.
  for (int attempt = 0; attempt < 100; ++attempt) {
    if (::rmdir(dir_.c_str()) == 0 || errno == ENOENT) return;
    std::istringstream pids(read_text(procs_path()).value_or(""));
    for (pid_t pid = 0; pids >> pid;) ::kill(pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kiln::log("warn", "cannot remove a build cgroup", {{"dir", dir_}, {"error", std::strerror(errno)}});
}

std::int64_t MemoryCgroup::oom_kills() const {
  const bool v2 = mode_ == MemoryLimitMode::kCgroupV2;
  return keyed_value(read_text(dir_ + (v2 ? "/memory.events" : "/memory.oom_control")).value_or(""), "oom_kill");
}

std::optional<std::int64_t> MemoryCgroup::peak_bytes() const {
  const bool v2 = mode_ == MemoryLimitMode::kCgroupV2;
  const auto text = read_text(dir_ + (v2 ? "/memory.peak" : "/memory.max_usage_in_bytes"));
  if (!text) return std::nullopt;
  try {
    return std::stoll(*text);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

MemoryLimiter MemoryLimiter::detect() {
  const OwnCgroups own = read_own_cgroups();
  if (!own.unified_dir.empty() && has_word(read_text(own.unified_dir + "/cgroup.controllers").value_or(""), "memory") &&
      enable_v2_memory(own.unified_dir) && probe(MemoryLimitMode::kCgroupV2, own.unified_dir)) {
    remove_leftovers(own.unified_dir);
    return MemoryLimiter(MemoryLimitMode::kCgroupV2, own.unified_dir);
  }
  if (!own.memory_v1_dir.empty() && probe(MemoryLimitMode::kCgroupV1, own.memory_v1_dir)) {
    remove_leftovers(own.memory_v1_dir);
    return MemoryLimiter(MemoryLimitMode::kCgroupV1, own.memory_v1_dir);
  }
  return rlimit_only();
}

std::unique_ptr<MemoryCgroup> MemoryLimiter::create(std::int64_t limit_bytes) const {
  if (mode_ == MemoryLimitMode::kRlimit) return nullptr;
  return std::make_unique<MemoryCgroup>(mode_, parent_ + "/" + unique_name("kiln-run-"), limit_bytes);
}

}  // namespace kiln::agent
