#include "agent/protocol.hpp"

#include <cmath>
#include <stdexcept>

#include "agent/version.hpp"

namespace kiln::agent {

namespace {

using nlohmann::json;

const json& member(const json& object, const char* name, const char* path) {
  if (!object.is_object() || !object.contains(name)) throw std::invalid_argument(std::string(path) + " is missing");
  return object.at(name);
}

std::string string_member(const json& object, const char* name, const char* path) {
  const json& value = member(object, name, path);
  if (!value.is_string()) throw std::invalid_argument(std::string(path) + " must be a string");
  return value.get<std::string>();
}

std::int64_t integer_member(const json& object, const char* name, const char* path) {
  const json& value = member(object, name, path);
  if (!value.is_number_integer()) throw std::invalid_argument(std::string(path) + " must be an integer");
  return value.get<std::int64_t>();
}

double number_member(const json& object, const char* name, const char* path) {
  const json& value = member(object, name, path);
  if (!value.is_number()) throw std::invalid_argument(std::string(path) + " must be a number");
  return value.get<double>();
}

}  // namespace

json claim_body(const NodeDescription& node, int running, int wait_seconds) {
  return json{{"labels", node.labels},
              {"capabilities", node.capabilities},
              {"capacity", {{"cpu", node.cpu}, {"memory_gb", node.memory_gb}}},
              {"concurrency", node.concurrency},
              {"running", running},
              {"wait_seconds", wait_seconds},
              {"version", kAgentVersion}};
}

ClaimedExecution parse_claimed_execution(const json& e) {
  ClaimedExecution c;
  c.execution_id = string_member(e, "execution_id", "execution_id");
  c.build_id = string_member(e, "build_id", "build_id");
  c.job_token = string_member(e, "job_token", "job_token");
  if (c.job_token.empty()) throw std::invalid_argument("job_token must not be empty");
  c.epoch = integer_member(e, "epoch", "epoch");
  c.attempt = static_cast<int>(integer_member(e, "attempt", "attempt"));
  c.lease_seconds = static_cast<int>(integer_member(e, "lease_seconds", "lease_seconds"));
  if (c.lease_seconds <= 0) throw std::invalid_argument("lease_seconds must be positive");
  c.project = e.contains("project") && e["project"].is_string() ? e["project"].get<std::string>() : "";
  c.method = e.contains("method") && e["method"].is_string() ? e["method"].get<std::string>() : "";
  c.script = string_member(e, "script", "script");

  const json& size = member(e, "size", "size");
  const double memory_gb = number_member(size, "memory_gb", "size.memory_gb");
  if (!(memory_gb > 0)) throw std::invalid_argument("size.memory_gb must be positive");
  c.memory_bytes = std::llround(memory_gb * 1024 * 1024 * 1024);
  // time_budget_seconds is not in the protocol document; tests send it for budgets under a minute.
  const double budget = size.contains("time_budget_seconds")
                            ? number_member(size, "time_budget_seconds", "size.time_budget_seconds")
                            : number_member(size, "time_budget_min", "size.time_budget_min") * 60;
  if (!(budget > 0)) throw std::invalid_argument("the time budget must be positive");
  c.time_budget = std::chrono::milliseconds(std::llround(budget * 1000));
  return c;
}

json finish_body(std::int64_t epoch, const FinishReport& r) {
  json body{{"epoch", epoch},
            {"outcome", r.outcome},
            {"exit_code", r.exit_code},
            {"cpu_seconds", std::round(r.cpu_seconds * 1000) / 1000},
            {"peak_memory_bytes", r.peak_memory_bytes},
            {"duration_seconds", std::round(r.duration_seconds * 1000) / 1000}};
  if (!r.reason.empty()) body["reason"] = r.reason;
  return body;
}

json logs_body(std::int64_t epoch, std::int64_t offset, const std::string& data) {
  return json{{"epoch", epoch}, {"offset", offset}, {"data", data}};
}

}  // namespace kiln::agent
