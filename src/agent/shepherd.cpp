#include "agent/shepherd.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <ctime>

// Everything below runs after fork() in a multi-threaded program: system calls only,
// no allocation, no stdio, no locks.
namespace kiln::agent {

namespace {

// How long the shepherd keeps killing leftovers that do not die (uninterruptible sleep).
constexpr std::int64_t kSweepLimitNs = 5'000'000'000;

void write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

std::size_t length(const char* s) {
  std::size_t n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

void write_text(int fd, const char* text) { write_all(fd, text, length(text)); }

void write_number(int fd, long value) {
  char digits[24];
  int n = 0;
  unsigned long magnitude = value < 0 ? 0UL - static_cast<unsigned long>(value) : static_cast<unsigned long>(value);
  do {
    digits[n++] = static_cast<char>('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude > 0);
  if (value < 0) digits[n++] = '-';
  char out[24];
  for (int i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
  write_all(fd, out, static_cast<std::size_t>(n));
}

// In the script's process, just before _exit: the message lands in the build log.
[[noreturn]] void fail(const char* what, int err) {
  write_text(STDERR_FILENO, "kiln-agent: ");
  write_text(STDERR_FILENO, what);
  write_text(STDERR_FILENO, " failed, errno ");
  write_number(STDERR_FILENO, err);
  write_text(STDERR_FILENO, "\n");
  ::_exit(kCannotRunExitCode);
}

void set_all_signals(void (*handler)(int)) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);  // the agent blocks SIGTERM for its sigwait thread
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &action, nullptr);
  }
}

// Closes every descriptor except 0-2 and the given ones (sorted ascending).
void close_others(const int* keep, int count) {
  unsigned first = 3;
  for (int i = 0; i < count; ++i) {
    const auto fd = static_cast<unsigned>(keep[i]);
    if (fd > first) ::close_range(first, fd - 1, 0);
    if (fd + 1 > first) first = fd + 1;
  }
  ::close_range(first, ~0U, 0);
}

std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

void nap_ms(long ms) {
  timespec ts{0, ms * 1'000'000};
  nanosleep(&ts, nullptr);
}

// SIGKILLs the shepherd's direct children: the build's processes that escaped the
// process group and were re-parented to us.
void kill_children() {
  const int fd = ::open("/proc/thread-self/children", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[4096];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  long pid = 0;
  for (ssize_t i = 0; i < n; ++i) {
    if (buf[i] >= '0' && buf[i] <= '9') {
      pid = pid * 10 + (buf[i] - '0');
    } else if (pid > 0) {
      ::kill(static_cast<pid_t>(pid), SIGKILL);
      pid = 0;
    }
  }
  if (pid > 0) ::kill(static_cast<pid_t>(pid), SIGKILL);
}

// In the script's process (the shepherd's child). The ready pipe's write end is
// close-on-exec: its closing tells the shepherd that the script is now in its own process
// group (and cgroup), so signals to the group cannot miss it.
[[noreturn]] void exec_script(const ShepherdPlan& plan) {
  set_all_signals(SIG_DFL);
  if (::dup2(plan.output_fd, STDOUT_FILENO) < 0 || ::dup2(plan.output_fd, STDERR_FILENO) < 0)
    ::_exit(kCannotRunExitCode);
  if (::setsid() < 0) fail("setsid", errno);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0 || ::dup2(null_fd, STDIN_FILENO) < 0) fail("open /dev/null", errno);
  if (plan.cgroup_procs != nullptr) {
    // "0" is the writing process; joining before exec means the limit covers the script from its first page.
    const int fd = ::open(plan.cgroup_procs, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "0", 1) != 1) fail("joining the build cgroup", errno);
    ::close(fd);
  }
  if (plan.rlimit_as > 0) {
    const rlimit limit{static_cast<rlim_t>(plan.rlimit_as), static_cast<rlim_t>(plan.rlimit_as)};
    if (::setrlimit(RLIMIT_AS, &limit) != 0) fail("setrlimit RLIMIT_AS", errno);
  }
  if (::chdir(plan.work_dir) != 0) fail("chdir to the scratch directory", errno);
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);  // the build sees stdio only
  ::execve(plan.shell, plan.argv, plan.envp);
  fail("exec /bin/sh", errno);
}

}  // namespace

void shepherd_main(const ShepherdPlan& plan) {
  // Ctrl-C in a terminal or a SIGTERM to the agent's group must not kill the shepherd
  // and orphan the build; the agent's death is seen as end of file on the control socket.
  set_all_signals(SIG_IGN);
  {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;  // SIGCHLD ignored would make the kernel auto-reap: no exit status
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGCHLD, &dfl, nullptr);
  }
  int keep[3] = {plan.output_fd, plan.status_fd, plan.control_fd};
  std::sort(keep, keep + 3);  // pure computation on our stack: safe after fork()
  close_others(keep, 3);  // descriptors of other builds' pipes must not be kept open here
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);

  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) ::_exit(kCannotRunExitCode);
  const pid_t script = ::fork();
  if (script < 0) ::_exit(kCannotRunExitCode);
  if (script == 0) {
    ::close(ready[0]);
    exec_script(plan);
  }
  ::close(ready[1]);
  ::close(plan.output_fd);
  char byte;
  while (::read(ready[0], &byte, 1) < 0 && errno == EINTR) {
  }
  ::close(ready[0]);

  ShepherdReport report;
  report.kind = ShepherdReport::kStarted;
  report.pid = script;
  write_all(plan.status_fd, reinterpret_cast<const char*>(&report), sizeof report);

  // Readable when the script exits. Through syscall(): glibc 2.36's <sys/pidfd.h> lacks extern "C".
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, script, 0));
  bool control_open = true;
  bool script_done = false;
  int script_status = 0;
  while (!script_done) {
    pollfd fds[2] = {{control_open ? plan.control_fd : -1, POLLIN, 0}, {pidfd, POLLIN, 0}};
    ::poll(fds, 2, pidfd >= 0 ? 1000 : 50);
    if (fds[0].revents != 0) {
      char commands[16];
      const ssize_t n = ::read(plan.control_fd, commands, sizeof commands);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        ::kill(-script, SIGKILL);
        control_open = false;
      }
      for (ssize_t i = 0; i < n; ++i) {
        if (commands[i] == kControlTerminate) ::kill(-script, SIGTERM);
        if (commands[i] == kControlKill) ::kill(-script, SIGKILL);
      }
    }
    int status = 0;
    for (pid_t pid; (pid = ::waitpid(-1, &status, WNOHANG)) > 0;) {  // orphans are reaped as they come
      if (pid == script) {
        script_status = status;
        script_done = true;
      }
    }
  }

  // The script has ended: nothing of the build may outlive it. The group id stays
  // reserved while any member lives, so signalling -script cannot hit a stranger.
  ::kill(-script, SIGKILL);
  const std::int64_t give_up_at = now_ns() + kSweepLimitNs;
  while (true) {
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
    }
    if (pid < 0 && errno == ECHILD) break;
    ::kill(-script, SIGKILL);
    kill_children();
    if (now_ns() > give_up_at) break;
    nap_ms(5);
  }

  rusage usage{};
  ::getrusage(RUSAGE_CHILDREN, &usage);
  report = ShepherdReport{};
  report.kind = ShepherdReport::kFinished;
  report.pid = script;
  report.wait_status = script_status;
  report.user_usec = std::int64_t{usage.ru_utime.tv_sec} * 1'000'000 + usage.ru_utime.tv_usec;
  report.system_usec = std::int64_t{usage.ru_stime.tv_sec} * 1'000'000 + usage.ru_stime.tv_usec;
  report.max_rss_kib = usage.ru_maxrss;
  write_all(plan.status_fd, reinterpret_cast<const char*>(&report), sizeof report);
  ::_exit(0);
}

}  // namespace kiln::agent
