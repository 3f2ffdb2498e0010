// What a PipelineRun's status means (conditions[Succeeded] and reasons, OOMKilled in its
// three forms) and how API errors read (Status objects and other bodies).
#include <gtest/gtest.h>

#include "dispatch/kubernetes.hpp"
#include "dispatch/kubernetes_status.hpp"
#include "k8s/status.hpp"

namespace kiln::dispatch {
namespace {

nlohmann::json run(const std::string& status, const std::string& reason, const std::string& message = "") {
  return {{"metadata", {{"name", "r"}}},
          {"status", {{"conditions", {{{"type", "Succeeded"}, {"status", status}, {"reason", reason}, {"message", message}}}}}}};
}

nlohmann::json task_run(const std::string& task, const std::string& status, const std::string& reason,
                        nlohmann::json steps, const std::string& message = "") {
  return {{"metadata", {{"name", "r-" + task}, {"labels", {{"tekton.dev/pipelineTask", task}}}}},
          {"status", {{"podName", "r-" + task + "-pod"},
                      {"steps", std::move(steps)},
                      {"conditions", {{{"type", "Succeeded"}, {"status", status}, {"reason", reason}, {"message", message}}}}}}};
}

nlohmann::json step(const std::string& name, int code, const std::string& reason) {
  return {{"name", name}, {"container", "step-" + name}, {"terminated", {{"exitCode", code}, {"reason", reason}}}};
}

TEST(ClassifyRun, IsStillRunningUntilTheConditionIsTrueOrFalse) {
  EXPECT_FALSE(classify_run(nlohmann::json{{"metadata", {{"name", "r"}}}}, {}).done);
  EXPECT_FALSE(classify_run(run("Unknown", "Running"), {}).done);
  EXPECT_FALSE(classify_run(run("Unknown", "PipelineRunStopping"), {}).done);
}

TEST(ClassifyRun, MapsTheReasons) {
  auto r = classify_run(run("True", "Succeeded"), {});
  EXPECT_EQ(r.outcome, "succeeded");
  EXPECT_EQ(classify_run(run("True", "Completed"), {}).outcome, "succeeded");
  EXPECT_EQ(classify_run(run("False", "PipelineRunTimeout"), {}).outcome, "timed_out");
  EXPECT_EQ(classify_run(run("False", "Cancelled"), {}).outcome, "cancelled");
  EXPECT_EQ(classify_run(run("False", "StoppedRunFinally"), {}).outcome, "cancelled");
  r = classify_run(run("False", "CouldntGetTask", "[User error] task x not found"), {});
  EXPECT_EQ(r.outcome, "failed");
  EXPECT_NE(r.reason.find("CouldntGetTask"), std::string::npos);
}

TEST(ClassifyRun, NamesTheFailedTaskStepAndExitCode) {
  const auto r = classify_run(run("False", "Failed"),
                              {task_run("clone", "True", "Succeeded", {step("clone", 0, "Completed")}),
                               task_run("build", "False", "Failed", {step("build-and-push", 2, "Error")})});
  EXPECT_EQ(r.outcome, "failed");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.reason, "task build step build-and-push failed with exit code 2 (Failed)");
  EXPECT_EQ(r.pods_to_check, std::vector<std::string>{"r-build-pod"});
}

TEST(ClassifyRun, DetectsOomKilledFromTheStep) {
  const auto r = classify_run(run("False", "Failed"), {task_run("build", "False", "Failed", {step("build", 137, "OOMKilled")})});
  EXPECT_EQ(r.outcome, "oom_killed");
  EXPECT_EQ(r.exit_code, 137);
  EXPECT_EQ(r.reason, "out of memory in task build step build (OOMKilled)");
}

TEST(ClassifyRun, DetectsOomKilledFromTheTaskRunReasonOfNewTekton) {
  const auto r = classify_run(run("False", "Failed"), {task_run("build", "False", "StepOOM", {step("build", 137, "Error")})});
  EXPECT_EQ(r.outcome, "oom_killed");
}

TEST(ClassifyRun, DetectsOomKilledFromAnOldControllersMessageOrAnEarlierRetry) {
  EXPECT_EQ(classify_run(run("False", "Failed"), {task_run("build", "False", "Failed", {}, "OOMKilled")}).outcome,
            "oom_killed");
  auto tr = task_run("build", "False", "Failed", {step("build", 1, "Error")});
  tr["status"]["retriesStatus"] = {{{"steps", {step("build", 137, "OOMKilled")}}}};
  EXPECT_EQ(classify_run(run("False", "Failed"), {tr}).outcome, "oom_killed");
}

TEST(ClassifyRun, DetectsOomKilledFromThePodWhenTheCallerFetchedIt) {
  const std::vector<nlohmann::json> trs = {task_run("build", "False", "Failed", {step("build", 137, "Error")})};
  const auto first = classify_run(run("False", "Failed"), trs);
  EXPECT_EQ(first.outcome, "failed");
  ASSERT_EQ(first.pods_to_check.size(), 1u);
  const nlohmann::json pod = {{"status", {{"containerStatuses",
      {{{"name", "step-build"}, {"state", {{"terminated", {{"reason", "OOMKilled"}, {"exitCode", 137}}}}}}}}}}};
  const auto second = classify_run(run("False", "Failed"), trs, {{"r-build-pod", pod}});
  EXPECT_EQ(second.outcome, "oom_killed");
  EXPECT_EQ(second.reason, "out of memory in task build step step-build (OOMKilled)");
}

TEST(ClassifyRun, ATaskTimeoutIsATimeout) {
  const auto r = classify_run(run("False", "Failed"), {task_run("build", "False", "TaskRunTimeout", {step("b", 1, "Error")})});
  EXPECT_EQ(r.outcome, "timed_out");
}

TEST(PipelineRunName, IsADeterministicDnsLabel) {
  const std::string name = pipeline_run_name("0f3c2b1a-9d8e-4f7a-b6c5-d4e3f2a1b0c9", 1);
  EXPECT_EQ(name, "kiln-0f3c2b1a-9d8e-4f7a-b6c5-d4e3f2a1b0c9-s1");
  EXPECT_LE(name.size(), 63u);
}

TEST(StatusError, ReadsStatusObjects) {
  const auto e = k8s::status_error(
      409, R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"pipelineruns.tekton.dev \"x\" already exists",)"
           R"("reason":"AlreadyExists","details":{"name":"x","group":"tekton.dev","kind":"pipelineruns"},"code":409})",
      "create PipelineRun x");
  EXPECT_EQ(e.status, 409);
  EXPECT_EQ(e.reason, "AlreadyExists");
  EXPECT_EQ(e.details_name, "x");
  EXPECT_STREQ(e.what(), "create PipelineRun x: pipelineruns.tekton.dev \"x\" already exists (AlreadyExists, HTTP 409)");
  const auto invalid = k8s::status_error(
      422, R"({"kind":"Status","reason":"Invalid","message":"bad","details":{"causes":[{"reason":"FieldValueInvalid","message":"m","field":"spec.x"}]}})",
      "create");
  ASSERT_EQ(invalid.causes.size(), 1u);
  EXPECT_EQ(invalid.causes[0].field, "spec.x");
  EXPECT_FALSE(invalid.transient());
  const auto throttled = k8s::status_error(429, R"({"kind":"Status","reason":"TooManyRequests","details":{"retryAfterSeconds":3}})", "list");
  EXPECT_EQ(throttled.retry_after_seconds, 3);
  EXPECT_TRUE(throttled.transient());
}

TEST(StatusError, ReadsOtherBodiesDefensively) {
  const auto e = k8s::status_error(502, "<html>\n<body>Bad Gateway</body></html>", "list");
  EXPECT_EQ(e.reason, "HTTP502");
  EXPECT_TRUE(e.transient());
  EXPECT_NE(std::string(e.what()).find("HTTP 502"), std::string::npos);
  EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  EXPECT_EQ(k8s::status_error(404, "", "get").reason, "NotFound");
}

}  // namespace
}  // namespace kiln::dispatch
