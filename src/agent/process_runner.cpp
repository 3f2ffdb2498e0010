#include "agent/process_runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <optional>
#include <system_error>

#include "agent/scratch_dir.hpp"
#include "agent/shepherd.hpp"
#include "log.hpp"

namespace kiln::agent {

namespace {

using Clock = std::chrono::steady_clock;

// After the shepherd reports the end, output still in the pipe is read for at most this
// long; only a process that survived the shepherd's kill sweep could hold it open longer.
constexpr auto kDrainLimit = std::chrono::seconds(2);
constexpr const char* kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

void send_control(int fd, char command) { ::send(fd, &command, 1, MSG_NOSIGNAL | MSG_DONTWAIT); }

int poll_timeout_ms(Clock::time_point now, std::initializer_list<std::optional<Clock::time_point>> timers) {
  std::optional<Clock::time_point> first;
  for (const auto& t : timers) {
    if (t && (!first || *t < *first)) first = t;
  }
  if (!first) return -1;
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(*first - now).count();
  return static_cast<int>(std::clamp<long long>(wait, 0, 60'000));
}

int exit_code_of(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return kCannotRunExitCode;
}

}  // namespace

std::string_view to_string(RunOutcome outcome) {
  switch (outcome) {
    case RunOutcome::kSucceeded:
      return "succeeded";
    case RunOutcome::kFailed:
      return "failed";
    case RunOutcome::kTimedOut:
      return "timed_out";
    case RunOutcome::kOomKilled:
      return "oom_killed";
    case RunOutcome::kCancelled:
      return "cancelled";
  }
  return "failed";
}

ProcessRunner::ProcessRunner(const MemoryLimiter& limiter, RunSpec spec) : limiter_(limiter), spec_(std::move(spec)) {
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) throw_errno("pipe2");
}

ProcessRunner::~ProcessRunner() {
  ::close(wake_[0]);
  ::close(wake_[1]);
}

void ProcessRunner::cancel() { request(kCancel); }
void ProcessRunner::kill() { request(kKill); }

void ProcessRunner::request(Request r) {
  int current = request_.load();
  while (current < r && !request_.compare_exchange_weak(current, r)) {
  }
  const char byte = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_[1], &byte, 1);  // a full pipe already wakes the poll
}

RunResult ProcessRunner::run(const OutputSink& sink) {
  if (request_.load() != kNone) return RunResult{RunOutcome::kCancelled, 0, 0, 0, 0};

  ScratchDir scratch(spec_.work_root);
  const auto script_path = scratch.path() / "build.sh";
  {
    std::ofstream out(script_path, std::ios::binary);
    out << spec_.script;
    if (!out.flush()) throw std::runtime_error("cannot write " + script_path.string());
  }
  const std::unique_ptr<MemoryCgroup> cgroup = limiter_.create(spec_.memory_bytes);

  // Everything the shepherd needs is built here: after fork() it must not allocate.
  std::vector<std::string> args = {"/bin/sh", script_path.string()};
  std::vector<std::string> env = spec_.env;
  env.push_back("HOME=" + scratch.path().string());
  if (std::none_of(env.begin(), env.end(), [](const std::string& e) { return e.rfind("PATH=", 0) == 0; }))
    env.push_back(kDefaultPath);
  const auto argv = c_strings(args);
  const auto envp = c_strings(env);
  const std::string work_dir = scratch.path().string();
  const std::string procs = cgroup ? cgroup->procs_path() : std::string();

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
  Fd output_r(fds[0]), output_w(fds[1]);
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
  Fd status_r(fds[0]), status_w(fds[1]);
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) throw_errno("socketpair");
  Fd control(fds[0]), control_child(fds[1]);

  ShepherdPlan plan;
  plan.shell = "/bin/sh";
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.work_dir = work_dir.c_str();
  plan.cgroup_procs = cgroup ? procs.c_str() : nullptr;
  plan.rlimit_as = limiter_.mode() == MemoryLimitMode::kRlimit ? spec_.memory_bytes : 0;
  plan.output_fd = output_w.get();
  plan.status_fd = status_w.get();
  plan.control_fd = control_child.get();

  const auto started = Clock::now();
  const pid_t shepherd = ::fork();
  if (shepherd < 0) throw_errno("fork");
  if (shepherd == 0) shepherd_main(plan);
  output_w.reset();  // our copies would keep the pipes from ever reaching end of file
  status_w.reset();
  control_child.reset();

  std::optional<Clock::time_point> deadline, kill_at, drain_until;
  if (spec_.time_budget.count() > 0) deadline = started + spec_.time_budget;
  bool output_open = true, status_open = true, timed_out = false;
  int handled = kNone;
  pid_t script = 0;
  std::optional<ShepherdReport> finished;
  auto finished_at = started;
  std::string status_bytes;
  std::vector<char> buffer(64 * 1024);

  while (output_open || status_open) {
    const auto now = Clock::now();
    if (const int wanted = request_.load(); wanted > handled && !finished) {
      send_control(control.get(), wanted == kKill ? kControlKill : kControlTerminate);
      if (wanted == kCancel) kill_at = std::min(kill_at.value_or(now + spec_.kill_grace), now + spec_.kill_grace);
      if (wanted == kKill) kill_at.reset();
      handled = wanted;
    }
    if (deadline && !finished && !timed_out && now >= *deadline) {
      timed_out = true;
      send_control(control.get(), kControlTerminate);
      kill_at = std::min(kill_at.value_or(now + spec_.kill_grace), now + spec_.kill_grace);
    }
    if (kill_at && !finished && now >= *kill_at) {
      send_control(control.get(), kControlKill);
      kill_at.reset();
    }
    if (drain_until && now >= *drain_until) {
      kiln::log("warn", "build output still open after the build ended", {{"pid", std::to_string(script)}});
      break;
    }

    pollfd polled[3] = {{output_open ? output_r.get() : -1, POLLIN, 0},
                        {status_open ? status_r.get() : -1, POLLIN, 0},
                        {wake_[0], POLLIN, 0}};
    const auto budget_timer = timed_out || finished ? std::nullopt : deadline;
    if (::poll(polled, 3, poll_timeout_ms(now, {budget_timer, finished ? std::nullopt : kill_at, drain_until})) < 0 &&
        errno != EINTR)
      throw_errno("poll");

    if (polled[0].revents != 0) {
      const ssize_t n = ::read(output_r.get(), buffer.data(), buffer.size());
      if (n > 0) sink(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
      if (n == 0 || (n < 0 && errno != EINTR)) output_open = false;
    }
    if (polled[1].revents != 0) {
      const ssize_t n = ::read(status_r.get(), buffer.data(), buffer.size());
      if (n > 0) status_bytes.append(buffer.data(), static_cast<std::size_t>(n));
      if (n == 0 || (n < 0 && errno != EINTR)) {
        status_open = false;
        if (!finished) {
          // The shepherd died (it never should): nobody guards the group any more.
          if (script > 0) ::kill(-script, SIGKILL);
          drain_until = Clock::now() + kDrainLimit;
        }
      }
      while (status_bytes.size() >= sizeof(ShepherdReport)) {
        ShepherdReport report;
        std::memcpy(&report, status_bytes.data(), sizeof report);
        status_bytes.erase(0, sizeof report);
        if (report.kind == ShepherdReport::kStarted) script = report.pid;
        if (report.kind == ShepherdReport::kFinished) {
          finished = report;
          finished_at = Clock::now();
          drain_until = finished_at + kDrainLimit;
        }
      }
    }
    if (polled[2].revents != 0) {
      char drained[64];
      while (::read(wake_[0], drained, sizeof drained) > 0) {
      }
    }
  }
  while (::waitpid(shepherd, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (!finished) finished_at = Clock::now();

  RunResult result;
  result.duration_seconds = std::chrono::duration<double>(finished_at - started).count();
  bool exited_zero = false;
  if (finished) {
    result.exit_code = exit_code_of(finished->wait_status);
    exited_zero = WIFEXITED(finished->wait_status) && result.exit_code == 0;
    result.cpu_seconds = static_cast<double>(finished->user_usec + finished->system_usec) / 1e6;
    result.peak_memory_bytes = finished->max_rss_kib * 1024;
  } else {
    kiln::log("error", "the build's shepherd process died", {{"pid", std::to_string(shepherd)}});
    result.exit_code = kCannotRunExitCode;
  }
  bool oom = false;
  if (cgroup) {
    oom = cgroup->oom_kills() > 0;
    if (const auto peak = cgroup->peak_bytes()) result.peak_memory_bytes = *peak;
  }
  if (handled != kNone) {
    result.outcome = RunOutcome::kCancelled;
  } else if (timed_out) {
    result.outcome = RunOutcome::kTimedOut;
  } else if (exited_zero) {
    result.outcome = RunOutcome::kSucceeded;
  } else if (oom) {
    result.outcome = RunOutcome::kOomKilled;
  } else {
    result.outcome = RunOutcome::kFailed;
  }
  return result;
}

}  // namespace kiln::agent
