#pragma once
// What a PipelineRun's status means for Kiln (pure functions over the API's JSON; see
// ../shared/tekton/REFERENCE.md §4-5). The outcome is read from the run's
// conditions[type=Succeeded] and its reason, never from the message:
//   True                                   succeeded
//   False PipelineRunTimeout               timed_out
//   False Cancelled / *RunFinally          cancelled
//   False (anything else), a TaskRun OOM   oom_killed
//   False (anything else)                  failed, with the failed task and step
//   Unknown or no condition yet            still running
// OOM: a TaskRun reason StepOOM/SidecarOOM/InitContainerOOM (Tekton ≥ 1.12), a step or
// sidecar (or an earlier retry's) terminated with reason OOMKilled, a condition message of
// just "OOMKilled" (older controllers), or, when the caller fetched them, the pods' container
// statuses.
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace kiln::dispatch {

struct RunOutcome {
  bool done = false;
  std::string outcome;  // succeeded, failed, timed_out, oom_killed, cancelled (done only)
  std::optional<int> exit_code;
  std::string reason;  // for people: what happened, naming the task and step
  std::vector<std::string> pods_to_check;  // failed TaskRuns whose pods may tell an OOM apart
};

// task_runs: the TaskRuns of this run (label tekton.dev/pipelineRun). pods: pod name → pod
// JSON for pods the caller fetched after a first call asked for them.
RunOutcome classify_run(const nlohmann::json& pipeline_run, const std::vector<nlohmann::json>& task_runs,
                        const std::map<std::string, nlohmann::json>& pods = {});

// The Succeeded condition of a Tekton object, or null.
const nlohmann::json* succeeded_condition(const nlohmann::json& object);
bool is_done(const nlohmann::json& object);

}  // namespace kiln::dispatch
