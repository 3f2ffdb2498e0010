// The agent's wire bodies, HTTP answer classification, backoff and command line.
#include <gtest/gtest.h>

#include <fstream>

#include "agent/agent_config.hpp"
#include "agent/api_client.hpp"
#include "agent/backoff.hpp"
#include "agent/cgroup_paths.hpp"
#include "agent/protocol.hpp"

namespace kiln::agent {
namespace {

using nlohmann::json;

json claimed(json size = {{"cpu", 1}, {"memory_gb", 1}, {"disk_gb", 10}, {"time_budget_min", 10}}) {
  return json{{"execution_id", "e-1"}, {"build_id", "b-1"},   {"epoch", 7}, {"job_token", "kiln_job_abc"},
              {"attempt", 2},          {"lease_seconds", 30}, {"lease_expires_at", "2030-01-01T00:00:00Z"},
              {"project", "web"},      {"method", "script"},  {"script", "#!/bin/sh\necho hi\n"},
              {"size", size}};
}

TEST(AgentProtocol, ClaimBodyDeclaresTheNodeAndItsRunningCount) {
  NodeDescription node;
  node.labels = {{"arch", "amd64"}, {"tools", "docker,make"}};
  node.capabilities = {{"gpu", false}, {"airgapped", true}};
  node.cpu = 4;
  node.memory_gb = 8;
  node.concurrency = 2;
  EXPECT_EQ(claim_body(node, 1, 25), json::parse(R"({
    "labels": {"arch": "amd64", "tools": "docker,make"},
    "capabilities": {"gpu": false, "airgapped": true},
    "capacity": {"cpu": 4, "memory_gb": 8},
    "concurrency": 2, "running": 1, "wait_seconds": 25, "version": "0.1.0"})"));
}

TEST(AgentProtocol, ClaimedExecutionIsReadWithItsSizeInBytesAndMilliseconds) {
  const ClaimedExecution c = parse_claimed_execution(claimed());
  EXPECT_EQ(c.execution_id, "e-1");
  EXPECT_EQ(c.build_id, "b-1");
  EXPECT_EQ(c.job_token, "kiln_job_abc");
  EXPECT_EQ(c.epoch, 7);
  EXPECT_EQ(c.attempt, 2);
  EXPECT_EQ(c.lease_seconds, 30);
  EXPECT_EQ(c.script, "#!/bin/sh\necho hi\n");
  EXPECT_EQ(c.memory_bytes, std::int64_t{1} << 30);
  EXPECT_EQ(c.time_budget, std::chrono::minutes(10));
}

TEST(AgentProtocol, TimeBudgetSecondsTakesPrecedenceOverMinutes) {
  const ClaimedExecution c =
      parse_claimed_execution(claimed({{"memory_gb", 0.5}, {"time_budget_min", 10}, {"time_budget_seconds", 1.5}}));
  EXPECT_EQ(c.time_budget, std::chrono::milliseconds(1500));
  EXPECT_EQ(c.memory_bytes, std::int64_t{1} << 29);
}

TEST(AgentProtocol, ClaimedExecutionWithoutWhatTheAgentNeedsIsRejectedNamingTheField) {
  json no_script = claimed();
  no_script.erase("script");
  EXPECT_THROW(parse_claimed_execution(no_script), std::invalid_argument);
  json no_job_token = claimed();
  no_job_token.erase("job_token");
  EXPECT_THROW(parse_claimed_execution(no_job_token), std::invalid_argument);
  no_job_token["job_token"] = "";
  EXPECT_THROW(parse_claimed_execution(no_job_token), std::invalid_argument);
  json text_epoch = claimed();
  text_epoch["epoch"] = "7";
  EXPECT_THROW(parse_claimed_execution(text_epoch), std::invalid_argument);
  try {
    parse_claimed_execution(claimed({{"memory_gb", 1}}));
    FAIL() << "no time budget accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "size.time_budget_min is missing");
  }
}

TEST(AgentProtocol, FinishBodyCarriesOutcomeAndMeasurements) {
  const FinishReport r{"oom_killed", 137, 12.5, 104857600, 31.2};
  EXPECT_EQ(finish_body(7, r), json::parse(R"({"epoch": 7, "outcome": "oom_killed", "exit_code": 137,
      "cpu_seconds": 12.5, "peak_memory_bytes": 104857600, "duration_seconds": 31.2})"));
  EXPECT_EQ(logs_body(7, 42, "x\n"), json::parse(R"({"epoch": 7, "offset": 42, "data": "x\n"})"));
  FinishReport with_reason = r;
  with_reason.reason = "the time budget of 60 s ran out";
  EXPECT_EQ(finish_body(7, with_reason)["reason"], "the time budget of 60 s ran out");
}

TEST(AgentApiClient, ConflictsForCancelledAndStaleLeasesAreTheirOwnResults) {
  const auto cancelled =
      classify_http(409, R"({"error":{"code":"execution_cancelled","message":"cancelled","field":null}})");
  EXPECT_EQ(cancelled.status, ApiStatus::kCancelled);
  EXPECT_EQ(cancelled.error_message, "cancelled");
  EXPECT_EQ(classify_http(409, R"({"error":{"code":"stale_lease","message":"m"}})").status, ApiStatus::kStaleLease);
  const auto other = classify_http(409, R"({"error":{"code":"log_gap","message":"gap","field":"offset"}})");
  EXPECT_EQ(other.status, ApiStatus::kFailed);
  EXPECT_EQ(other.describe(), "409 log_gap: gap (field offset)");
}

TEST(AgentApiClient, GatewayErrorsAreTransientAndClientErrorsAreNot) {
  for (long status : {502L, 503L, 504L, 429L}) EXPECT_EQ(classify_http(status, "<html>").status, ApiStatus::kTransient);
  for (long status : {400L, 404L, 500L}) EXPECT_EQ(classify_http(status, "{}").status, ApiStatus::kFailed);
}

TEST(AgentApiClient, ADeadJobTokenEndsTheExecutionAndOther401sAreUnauthorized) {
  EXPECT_EQ(classify_http(401, R"({"error":{"code":"job_token_expired","message":"ended"}})").status,
            ApiStatus::kEnded);
  EXPECT_EQ(classify_http(401, R"({"error":{"code":"node_token_expired","message":"m"}})").status,
            ApiStatus::kUnauthorized);
  EXPECT_EQ(classify_http(401, R"({"error":{"code":"unauthorized","message":"m"}})").status,
            ApiStatus::kUnauthorized);
  EXPECT_EQ(classify_http(401, "{}").status, ApiStatus::kUnauthorized);
}

TEST(AgentApiClient, SuccessNeedsAJsonObject) {
  const auto ok = classify_http(200, R"({"next_offset": 12})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.body["next_offset"], 12);
  EXPECT_EQ(classify_http(200, "not json").status, ApiStatus::kFailed);
}

TEST(AgentApiClient, AnUnreachableApiIsTransient) {
  ApiClient api("http://127.0.0.1:1", "secret-token");  // nothing listens on port 1
  const ApiResult r = api.renew("e-1", 1);
  EXPECT_EQ(r.status, ApiStatus::kTransient);
  EXPECT_EQ(r.http_status, 0);
  EXPECT_EQ(r.describe().find("secret-token"), std::string::npos);
}

TEST(AgentBackoff, DoublesFromHalfASecondUpToTenSeconds) {
  Backoff b;
  std::vector<long> delays;
  for (int i = 0; i < 8; ++i) delays.push_back(static_cast<long>(b.next().count()));
  EXPECT_EQ(delays, (std::vector<long>{500, 1000, 2000, 4000, 8000, 10000, 10000, 10000}));
  b.reset();
  EXPECT_EQ(b.next().count(), 500);
}

TEST(AgentConfig, RepeatedLabelsAndCapabilitiesAreCollected) {
  const AgentConfig c = parse_agent_args({"--url",
                                          "http://127.0.0.1:8080",
                                          "--token-file",
                                          "/t",
                                          "--label",
                                          "arch=amd64",
                                          "--label=tools=docker,make",
                                          "--capability",
                                          "gpu=false",
                                          "--capability",
                                          "airgapped=true",
                                          "--concurrency",
                                          "2",
                                          "--cpu",
                                          "4",
                                          "--memory-gb",
                                          "8",
                                          "--kill-grace-seconds",
                                          "3",
                                          "--wait-seconds",
                                          "5",
                                          "--work-dir",
                                          "/w"});
  EXPECT_EQ(c.url, "http://127.0.0.1:8080");
  EXPECT_EQ(c.token_file, "/t");
  EXPECT_EQ(c.work_dir, "/w");
  EXPECT_EQ(c.node.labels, (std::map<std::string, std::string>{{"arch", "amd64"}, {"tools", "docker,make"}}));
  EXPECT_EQ(c.node.capabilities, (std::map<std::string, bool>{{"gpu", false}, {"airgapped", true}}));
  EXPECT_EQ(c.node.concurrency, 2);
  EXPECT_EQ(c.node.cpu, 4);
  EXPECT_EQ(c.node.memory_gb, 8);
  EXPECT_EQ(c.kill_grace, std::chrono::seconds(3));
  EXPECT_EQ(c.wait_seconds, 5);
}

TEST(AgentConfig, DefaultsComeFromTheDocAndTheMachine) {
  const AgentConfig c = parse_agent_args({"--url", "https://kiln.example", "--token-file", "/t"});
  EXPECT_EQ(c.work_dir, "/var/lib/kiln-agent");
  EXPECT_EQ(c.node.concurrency, 1);
  EXPECT_EQ(c.kill_grace, std::chrono::seconds(10));
  EXPECT_EQ(c.wait_seconds, 25);
  EXPECT_GE(c.node.cpu, 1);
  EXPECT_GE(c.node.memory_gb, 1);
  EXPECT_TRUE(c.node.labels.empty());
}

TEST(AgentConfig, BadArgumentsAreRefused) {
  const std::vector<std::string> base = {"--url", "http://x", "--token-file", "/t"};
  const auto with = [&](std::vector<std::string> extra) {
    auto args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  EXPECT_THROW(parse_agent_args({"--token-file", "/t"}), std::invalid_argument);
  EXPECT_THROW(parse_agent_args({"--url", "ftp://x", "--token-file", "/t"}), std::invalid_argument);
  EXPECT_THROW(parse_agent_args(with({"--capability", "gpu=yes"})), std::invalid_argument);
  EXPECT_THROW(parse_agent_args(with({"--label", "novalue"})), std::invalid_argument);
  EXPECT_THROW(parse_agent_args(with({"--label", "a=1", "--label", "a=2"})), std::invalid_argument);
  EXPECT_THROW(parse_agent_args(with({"--concurrency", "0"})), std::invalid_argument);
  EXPECT_THROW(parse_agent_args(with({"--wait-seconds", "31"})), std::invalid_argument);
  EXPECT_THROW(parse_agent_args(with({"--colour", "blue"})), std::invalid_argument);
  EXPECT_THROW(parse_agent_args(with({"--cpu"})), std::invalid_argument);
  EXPECT_TRUE(parse_agent_args({"--help"}).help);
}

TEST(AgentConfig, TokenFileIsReadWithoutSurroundingWhitespace) {
  const std::string path = ::testing::TempDir() + "agent-token";
  std::ofstream(path) << "  kiln_node_abc\n";
  EXPECT_EQ(read_token_file(path), "kiln_node_abc");
  std::ofstream(path) << "\n";
  EXPECT_THROW(read_token_file(path), std::runtime_error);
  EXPECT_THROW(read_token_file(path + "-missing"), std::runtime_error);
}

TEST(AgentCgroupPaths, CgroupV1MemoryAndUnifiedDirectoriesComeFromProcSelf) {
  const std::string cgroup = "9:name=systemd:/\n4:memory:/process_api/abc\n2:cpu,cpuacct:/\n0::/\n";
  const std::string mountinfo =
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
  const OwnCgroups own = find_own_cgroups(cgroup, mountinfo);
  EXPECT_EQ(own.memory_v1_dir, "/sys/fs/cgroup/memory/process_api/abc");
  EXPECT_EQ(own.unified_dir, "/sys/fs/cgroup/unified");
}

TEST(AgentCgroupPaths, AContainerMountOfASubtreeIsJoinedBelowItsRoot) {
  const std::string cgroup = "0::/kubepods/pod1/ctr\n";
  const std::string mountinfo =
      "700 600 0:30 /kubepods/pod1 /sys/fs/cgroup rw,nosuid shared:1 - cgroup2 cgroup2 rw,nsdelegate\n";
  EXPECT_EQ(find_own_cgroups(cgroup, mountinfo).unified_dir, "/sys/fs/cgroup/ctr");
  EXPECT_EQ(find_own_cgroups("0::/elsewhere\n", mountinfo).unified_dir, "");
  EXPECT_EQ(find_own_cgroups(cgroup, "").unified_dir, "");
}

TEST(AgentCgroupPaths, EscapedSpacesInMountPointsAreDecoded) {
  const std::string mountinfo = "35 31 0:32 / /mnt/cg\\040mem rw - cgroup cgroup rw,memory\n";
  EXPECT_EQ(find_own_cgroups("4:memory:/a\n", mountinfo).memory_v1_dir, "/mnt/cg mem/a");
}

}  // namespace
}  // namespace kiln::agent
