#include "dispatch/kubernetes_status.hpp"

namespace kiln::dispatch {

namespace {

const nlohmann::json kEmptyArray = nlohmann::json::array();

const nlohmann::json& array_at(const nlohmann::json& object, const char* a, const char* b = nullptr) {
  if (!object.is_object() || !object.contains(a)) return kEmptyArray;
  const auto& x = object[a];
  if (!b) return x.is_array() ? x : kEmptyArray;
  if (!x.is_object() || !x.contains(b) || !x[b].is_array()) return kEmptyArray;
  return x[b];
}

std::string text(const nlohmann::json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_string() ? object[key].get<std::string>() : "";
}

bool terminated_oom(const nlohmann::json& state_holder) {
  for (const char* key : {"terminated", "lastState"}) {
    if (!state_holder.contains(key) || !state_holder[key].is_object()) continue;
    const auto& t = std::string(key) == "lastState" && state_holder[key].contains("terminated")
                        ? state_holder[key]["terminated"]
                        : state_holder[key];
    if (text(t, "reason") == "OOMKilled") return true;
  }
  if (state_holder.contains("state") && state_holder["state"].is_object() &&
      state_holder["state"].contains("terminated") && text(state_holder["state"]["terminated"], "reason") == "OOMKilled") {
    return true;
  }
  return false;
}

// The step (or sidecar) of a TaskRun status killed by the OOM killer, or empty.
std::string oom_step(const nlohmann::json& status) {
  for (const char* list : {"steps", "sidecars"}) {
    for (const auto& s : array_at(status, list)) {
      if (terminated_oom(s)) return text(s, "name").empty() ? text(s, "container") : text(s, "name");
    }
  }
  for (const auto& retry : array_at(status, "retriesStatus")) {  // earlier attempts: TaskRunStatus each
    if (!retry.is_object()) continue;
    const std::string step = oom_step(retry.contains("status") ? retry["status"] : retry);
    if (!step.empty()) return step;
  }
  return {};
}

std::string task_name(const nlohmann::json& task_run) {
  const auto& meta = task_run.value("metadata", nlohmann::json::object());
  const auto& labels = meta.value("labels", nlohmann::json::object());
  if (labels.contains("tekton.dev/pipelineTask") && labels["tekton.dev/pipelineTask"].is_string()) {
    return labels["tekton.dev/pipelineTask"];
  }
  return text(meta, "name");
}

}  // namespace

const nlohmann::json* succeeded_condition(const nlohmann::json& object) {
  if (!object.is_object() || !object.contains("status") || !object["status"].is_object()) return nullptr;
  for (const auto& c : array_at(object["status"], "conditions")) {
    if (text(c, "type") == "Succeeded") return &c;
  }
  return nullptr;
}

bool is_done(const nlohmann::json& object) {
  const auto* c = succeeded_condition(object);
  return c && (text(*c, "status") == "True" || text(*c, "status") == "False");
}

RunOutcome classify_run(const nlohmann::json& run, const std::vector<nlohmann::json>& task_runs,
                        const std::map<std::string, nlohmann::json>& pods) {
  RunOutcome out;
  const auto* cond = succeeded_condition(run);
  if (!cond || (text(*cond, "status") != "True" && text(*cond, "status") != "False")) return out;
  out.done = true;
  const std::string reason = text(*cond, "reason");
  const std::string message = text(*cond, "message");
  if (text(*cond, "status") == "True") {
    out.outcome = "succeeded";
    out.exit_code = 0;
    out.reason = "succeeded";
    return out;
  }
  if (reason == "PipelineRunTimeout") {
    out.outcome = "timed_out";
    out.reason = "the PipelineRun exceeded its time budget (timeouts.pipeline)";
    return out;
  }
  if (reason == "Cancelled" || reason == "CancelledRunFinally" || reason == "StoppedRunFinally" ||
      reason == "PipelineRunCancelled") {
    out.outcome = "cancelled";
    out.reason = "the PipelineRun was cancelled";
    return out;
  }
  // Failed: find the TaskRun that failed, and whether it ran out of memory.
  const nlohmann::json* failed = nullptr;
  for (const auto& tr : task_runs) {
    const auto* c = succeeded_condition(tr);
    if (!c || text(*c, "status") != "False") continue;
    if (!failed) failed = &tr;
    const std::string tr_reason = text(*c, "reason");
    const auto& status = tr.value("status", nlohmann::json::object());
    std::string step = oom_step(status);
    const bool oom_reason = tr_reason == "StepOOM" || tr_reason == "SidecarOOM" || tr_reason == "InitContainerOOM";
    if (step.empty() && !oom_reason && text(*c, "message") == "OOMKilled") step = "?";
    const std::string pod = text(status, "podName");
    if (step.empty() && !oom_reason && pods.count(pod)) {
      const auto& ps = pods.at(pod).value("status", nlohmann::json::object());
      for (const char* list : {"containerStatuses", "initContainerStatuses"}) {
        for (const auto& cs : array_at(ps, list)) {
          if (terminated_oom(cs)) step = text(cs, "name");
        }
      }
    }
    if (!step.empty() || oom_reason) {
      out.outcome = "oom_killed";
      out.exit_code = 137;
      out.reason = "out of memory in task " + task_name(tr) +
                   (step.empty() || step == "?" ? "" : " step " + step) + " (OOMKilled)";
      return out;
    }
    if (!pod.empty() && !pods.count(pod) && tr_reason != "TaskRunTimeout" && tr_reason != "TaskRunCancelled") {
      out.pods_to_check.push_back(pod);
    }
  }
  out.outcome = "failed";
  if (failed) {
    const auto& status = failed->value("status", nlohmann::json::object());
    std::string step;
    for (const auto& s : array_at(status, "steps")) {
      if (s.contains("terminated") && s["terminated"].is_object() && s["terminated"].value("exitCode", 0) != 0) {
        step = text(s, "name");
        out.exit_code = s["terminated"].value("exitCode", 1);
        break;
      }
    }
    const auto* c = succeeded_condition(*failed);
    const std::string tr_reason = text(*c, "reason");
    if (tr_reason == "TaskRunTimeout") {
      out.outcome = "timed_out";
      out.reason = "task " + task_name(*failed) + " exceeded its timeout";
      return out;
    }
    out.reason = "task " + task_name(*failed) + (step.empty() ? "" : " step " + step) + " failed" +
                 (out.exit_code ? " with exit code " + std::to_string(*out.exit_code) : "") + " (" + tr_reason + ")";
  } else {
    out.reason = "the PipelineRun failed (" + reason + ")" + (message.empty() ? "" : ": " + message);
  }
  return out;
}

}  // namespace kiln::dispatch
