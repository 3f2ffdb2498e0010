// The process runner against real processes: /bin/sh, sleep, python3 and the kernel's
// cgroup memory controller.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <future>
#include <mutex>
#include <regex>
#include <thread>

#include "agent/process_runner.hpp"

namespace kiln::agent {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

bool process_exists(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }
bool group_exists(pid_t pgid) { return ::kill(-pgid, 0) == 0 || errno != ESRCH; }

// The number printed after "name=" in the output, or 0.
pid_t number_after(const std::string& output, const std::string& name) {
  std::smatch match;
  if (!std::regex_search(output, match, std::regex(name + "=([0-9]+)"))) return 0;
  return static_cast<pid_t>(std::stol(match[1]));
}

class ProcessRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "kiln-runner-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    work_root_ = pattern;
  }
  void TearDown() override { fs::remove_all(work_root_); }

  RunSpec spec(std::string script) {
    RunSpec s;
    s.script = std::move(script);
    s.work_root = work_root_;
    s.env = {"KILN_BUILD_ID=build-1", "KILN_EXECUTION_ID=exec-1", "KILN_ATTEMPT=1"};
    s.kill_grace = seconds(1);
    return s;
  }

  RunResult run(ProcessRunner& runner) {
    return runner.run([this](std::string_view bytes) {
      std::lock_guard lock(mu_);
      output_.append(bytes);
    });
  }
  RunResult run(RunSpec s, const MemoryLimiter& limiter = MemoryLimiter::rlimit_only()) {
    ProcessRunner runner(limiter, std::move(s));
    return run(runner);
  }
  std::string output() {
    std::lock_guard lock(mu_);
    return output_;
  }

  fs::path work_root_;
  std::mutex mu_;
  std::string output_;
};

TEST_F(ProcessRunnerTest, ExitZeroSucceedsWithStdoutAndStderrCaptured) {
  const RunResult r = run(spec("echo to-stdout\necho to-stderr >&2\nexit 0\n"));
  EXPECT_EQ(r.outcome, RunOutcome::kSucceeded);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(output(), "to-stdout\nto-stderr\n");
}

TEST_F(ProcessRunnerTest, ExitThreeFailsWithExitCodeThree) {
  const RunResult r = run(spec("echo about to fail\nexit 3\n"));
  EXPECT_EQ(r.outcome, RunOutcome::kFailed);
  EXPECT_EQ(r.exit_code, 3);
}

TEST_F(ProcessRunnerTest, DeathBySignalFailsWithExitCode128PlusTheSignal) {
  const RunResult r = run(spec("kill -SEGV $$\n"));
  EXPECT_EQ(r.outcome, RunOutcome::kFailed);
  EXPECT_EQ(r.exit_code, 128 + SIGSEGV);
}

TEST_F(ProcessRunnerTest, ScriptGetsItsEnvironmentAndAScratchHomeThatIsRemovedAfterwards) {
  const RunResult r =
      run(spec("echo \"$KILN_BUILD_ID $KILN_EXECUTION_ID $KILN_ATTEMPT\"\n"
               "echo \"home=$HOME\"\necho \"pwd=$(pwd)\"\necho \"path=$PATH\"\n"
               "test -f \"$HOME/build.sh\" && echo script-in-home\n"));
  EXPECT_EQ(r.outcome, RunOutcome::kSucceeded);
  const std::string out = output();
  EXPECT_NE(out.find("build-1 exec-1 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("script-in-home"), std::string::npos) << out;
  EXPECT_NE(out.find("path=/usr/local/sbin:"), std::string::npos) << out;
  std::smatch home;
  ASSERT_TRUE(std::regex_search(out, home, std::regex("home=(\\S+)\n"))) << out;
  EXPECT_NE(out.find("pwd=" + home[1].str() + "\n"), std::string::npos) << out;
  EXPECT_EQ(fs::path(home[1].str()).parent_path(), work_root_);
  EXPECT_FALSE(fs::exists(home[1].str()));
  EXPECT_TRUE(fs::is_empty(work_root_));
}

TEST_F(ProcessRunnerTest, TimeBudgetTerminatesTheGroupAndKillsItAfterTheGrace) {
  RunSpec s = spec("trap '' TERM\necho pgid=$$\nsleep 30 &\nsleep 30\n");  // deaf to SIGTERM
  s.time_budget = seconds(1);
  s.kill_grace = seconds(1);
  const auto t0 = std::chrono::steady_clock::now();
  const RunResult r = run(std::move(s));
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.outcome, RunOutcome::kTimedOut);
  EXPECT_EQ(r.exit_code, 128 + SIGKILL);
  EXPECT_GE(elapsed, 1.9);  // budget + grace: SIGKILL, not SIGTERM, ended it
  EXPECT_LT(elapsed, 3.5);
  const pid_t pgid = number_after(output(), "pgid");
  ASSERT_GT(pgid, 0) << output();
  EXPECT_FALSE(group_exists(pgid));
}

TEST_F(ProcessRunnerTest, TimeBudgetEndsAScriptThatObeysSigtermWithoutWaitingForTheGrace) {
  RunSpec s = spec("sleep 30\n");
  s.time_budget = milliseconds(300);
  s.kill_grace = seconds(10);
  const RunResult r = run(std::move(s));
  EXPECT_EQ(r.outcome, RunOutcome::kTimedOut);
  EXPECT_EQ(r.exit_code, 128 + SIGTERM);
  EXPECT_LT(r.duration_seconds, 2.0);
}

TEST_F(ProcessRunnerTest, CancelFromAnotherThreadKillsTheWholeGroup) {
  ProcessRunner runner(MemoryLimiter::rlimit_only(), spec("echo pgid=$$\nsleep 30 &\nsleep 30\n"));
  std::promise<void> started;
  auto started_future = started.get_future();
  std::thread canceller([&] {
    started_future.wait();
    runner.cancel();
  });
  bool signalled = false;
  const RunResult r = runner.run([&](std::string_view bytes) {
    std::lock_guard lock(mu_);
    output_.append(bytes);
    if (!signalled && output_.find('\n') != std::string::npos) {
      signalled = true;
      started.set_value();
    }
  });
  canceller.join();
  EXPECT_EQ(r.outcome, RunOutcome::kCancelled);
  EXPECT_LT(r.duration_seconds, 2.0);
  const pid_t pgid = number_after(output(), "pgid");
  ASSERT_GT(pgid, 0) << output();
  EXPECT_FALSE(group_exists(pgid));
}

TEST_F(ProcessRunnerTest, CancelBeforeRunStartsNothing) {
  ProcessRunner runner(MemoryLimiter::rlimit_only(), spec("echo should-not-run\n"));
  runner.kill();
  EXPECT_EQ(run(runner).outcome, RunOutcome::kCancelled);
  EXPECT_EQ(output(), "");
}

TEST_F(ProcessRunnerTest, BackgroundedSleepDoesNotOutliveTheScript) {
  const RunResult r = run(spec("sleep 1000 &\necho bg=$!\nexit 0\n"));
  EXPECT_EQ(r.outcome, RunOutcome::kSucceeded);
  EXPECT_LT(r.duration_seconds, 2.0);  // the open pipe of the sleep did not hold the run
  const pid_t bg = number_after(output(), "bg");
  ASSERT_GT(bg, 0) << output();
  EXPECT_FALSE(process_exists(bg));
}

TEST_F(ProcessRunnerTest, ProcessThatLeftTheGroupWithSetsidIsKilledToo) {
  const RunResult r = run(spec("setsid sleep 1000 >/dev/null 2>&1 &\necho bg=$!\nsleep 0.2\n"));
  EXPECT_EQ(r.outcome, RunOutcome::kSucceeded);
  const pid_t bg = number_after(output(), "bg");
  ASSERT_GT(bg, 0) << output();
  EXPECT_FALSE(process_exists(bg));
}

TEST_F(ProcessRunnerTest, CpuSecondsCountABusyLoop) {
  const RunResult r = run(spec("python3 -c 'import time\nwhile time.process_time() < 0.3: pass'\n"));
  ASSERT_EQ(r.outcome, RunOutcome::kSucceeded) << output();
  EXPECT_GE(r.cpu_seconds, 0.28);
  EXPECT_LT(r.cpu_seconds, 5.0);
}

TEST_F(ProcessRunnerTest, CpuSecondsIncludeAnOrphanedGrandchild) {
  // The subshell exits at once, so its busy child is re-parented: only a subreaper counts it.
  const RunResult r =
      run(spec("(python3 -c 'import time\nwhile time.process_time() < 0.3: pass\nopen(\"done\", \"w\")' &)\n"
               "while [ ! -f done ]; do sleep 0.05; done\nsleep 0.1\n"));
  ASSERT_EQ(r.outcome, RunOutcome::kSucceeded) << output();
  EXPECT_GE(r.cpu_seconds, 0.28);
}

TEST_F(ProcessRunnerTest, PeakMemoryReflectsA100MegabyteAllocation) {
  const MemoryLimiter limiter = MemoryLimiter::detect();
  const RunResult r = run(spec("python3 -c 'b = b\"x\" * (100 << 20)'\n"), limiter);
  ASSERT_EQ(r.outcome, RunOutcome::kSucceeded) << output();
  EXPECT_GE(r.peak_memory_bytes, 100 << 20) << to_string(limiter.mode());
  EXPECT_LT(r.peak_memory_bytes, 300 << 20) << to_string(limiter.mode());
}

TEST_F(ProcessRunnerTest, AllocatingPastTheCgroupLimitIsOomKilled) {
  const MemoryLimiter limiter = MemoryLimiter::detect();
  // Build nodes must offer a writable memory cgroup (v2 or v1): under the RLIMIT_AS fallback an
  // OOM kill cannot be told apart from a failure, so a node without one is not fit to run builds.
  ASSERT_NE(limiter.mode(), MemoryLimitMode::kRlimit) << "no writable cgroup v2 or v1 memory controller";
  RunSpec s = spec("python3 -c 'b = b\"x\" * (400 << 20)'\n");
  s.memory_bytes = 64 << 20;
  const RunResult r = run(std::move(s), limiter);
  EXPECT_EQ(r.outcome, RunOutcome::kOomKilled) << output();
  EXPECT_EQ(r.exit_code, 128 + SIGKILL);
  // This process's run cgroups are gone (other agents on the machine may have their own).
  const std::string mine = "kiln-run-" + std::to_string(::getpid()) + "-";
  for (const auto& entry : fs::directory_iterator(limiter.parent_dir()))
    EXPECT_EQ(entry.path().filename().string().rfind(mine, 0), std::string::npos) << entry.path();
}

TEST_F(ProcessRunnerTest, ScriptWithinItsCgroupLimitSucceeds) {
  const MemoryLimiter limiter = MemoryLimiter::detect();
  // Build nodes must offer a writable memory cgroup (v2 or v1): under the RLIMIT_AS fallback an
  // OOM kill cannot be told apart from a failure, so a node without one is not fit to run builds.
  ASSERT_NE(limiter.mode(), MemoryLimitMode::kRlimit) << "no writable cgroup v2 or v1 memory controller";
  RunSpec s = spec("python3 -c 'b = b\"x\" * (20 << 20)'\n");
  s.memory_bytes = 256 << 20;
  EXPECT_EQ(run(std::move(s), limiter).outcome, RunOutcome::kSucceeded) << output();
}

TEST_F(ProcessRunnerTest, RlimitFallbackFailsAnOversizedAllocationAsAnOrdinaryFailure) {
  RunSpec s = spec("python3 -c 'b = b\"x\" * (400 << 20)'\n");
  s.memory_bytes = 64 << 20;
  const RunResult r = run(std::move(s), MemoryLimiter::rlimit_only());
  EXPECT_EQ(r.outcome, RunOutcome::kFailed);
  EXPECT_NE(r.exit_code, 0);
}

}  // namespace
}  // namespace kiln::agent
