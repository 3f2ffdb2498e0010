#pragma once
// The JSON bodies of docs/agent-protocol.md, kept apart from HTTP so they can be tested.
#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace kiln::agent {

// What the node declares about itself in every claim.
struct NodeDescription {
  std::map<std::string, std::string> labels;
  std::map<std::string, bool> capabilities;
  int cpu = 1;
  int memory_gb = 1;
  int concurrency = 1;
};

nlohmann::json claim_body(const NodeDescription& node, int running, int wait_seconds);

struct ClaimedExecution {
  std::string execution_id;
  std::string build_id;
  std::string job_token;  // the only credential for this execution's renew, logs and finish
  std::int64_t epoch = 0;
  int attempt = 0;
  int lease_seconds = 30;
  std::string project;
  std::string method;
  std::string script;
  std::int64_t memory_bytes = 0;             // size.memory_gb, in GiB (2^30 bytes)
  std::chrono::milliseconds time_budget{0};  // size.time_budget_seconds if given, else time_budget_min
};

// One element of the claim answer's "executions". Throws std::invalid_argument naming the
// field when something the agent needs is missing or has the wrong type.
ClaimedExecution parse_claimed_execution(const nlohmann::json& execution);

struct FinishReport {
  std::string outcome;  // succeeded, failed, timed_out, oom_killed
  int exit_code = 0;
  double cpu_seconds = 0;
  std::int64_t peak_memory_bytes = 0;
  double duration_seconds = 0;
  std::string reason;  // optional, for people: why it failed; omitted when empty
};

nlohmann::json finish_body(std::int64_t epoch, const FinishReport& report);
nlohmann::json logs_body(std::int64_t epoch, std::int64_t offset, const std::string& data);

}  // namespace kiln::agent
