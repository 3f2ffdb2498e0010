// The sync step of the Kubernetes back-end: see kubernetes.hpp.
#include <set>

#include "core/uuid.hpp"
#include "db/k8s_api.hpp"
#include "dispatch/kubernetes.hpp"
#include "dispatch/kubernetes_status.hpp"
#include "http/query.hpp"
#include "log.hpp"

namespace kiln::dispatch {

namespace {

// Runs Kiln created and has not finished reading (the recorded label is set last).
const std::string kSelector = "app.kubernetes.io/managed-by=kiln,!kiln.dev/recorded";
constexpr long long kLogChunk = 4 << 20;

std::string str(const nlohmann::json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

std::string meta(const nlohmann::json& object, const char* key) {
  return str(object.value("metadata", nlohmann::json::object()), key);
}

std::string label(const nlohmann::json& object, const std::string& key) {
  const auto labels = object.value("metadata", nlohmann::json::object()).value("labels", nlohmann::json::object());
  return labels.contains(key) && labels[key].is_string() ? labels[key].get<std::string>() : "";
}

bool final_build(const std::string& status) {
  return status == "succeeded" || status == "failed" || status == "cancelled" || status == "timed_out";
}

// Replaces invalid UTF-8 with U+FFFD so the log (text in PostgreSQL) always stores.
std::string valid_utf8(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size();) {
    const auto c = static_cast<unsigned char>(in[i]);
    int len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    bool ok = len > 0 && i + len <= in.size() && !(len == 1 && c == 0);
    for (int k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(in[i + k]) & 0xC0) == 0x80;
    if (ok && len > 1) {
      const auto c1 = static_cast<unsigned char>(in[i + 1]);
      ok = !(len == 2 && c < 0xC2) && !(len == 3 && c == 0xE0 && c1 < 0xA0) && !(len == 3 && c == 0xED && c1 >= 0xA0) &&
           !(len == 4 && c == 0xF0 && c1 < 0x90) && !(len == 4 && (c > 0xF4 || (c == 0xF4 && c1 >= 0x90)));
    }
    if (ok) {
      out.append(in, i, static_cast<std::size_t>(len));
      i += static_cast<std::size_t>(len);
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

std::vector<nlohmann::json> list_all(k8s::KubeClient& client, const std::string& path, const std::string& what) {
  std::vector<nlohmann::json> items;
  std::string next;
  do {
    std::string url = path + "?labelSelector=" + http::percent_encode(kSelector) + "&limit=500";
    if (!next.empty()) url += "&continue=" + http::percent_encode(next);
    const auto page = nlohmann::json::parse(client.call("GET", url, what).body);
    for (const auto& item : page.value("items", nlohmann::json::array())) items.push_back(item);
    next = page.value("metadata", nlohmann::json::object()).value("continue", "");
  } while (!next.empty());
  return items;
}

// The log entries (kiln_api.k8s_record_logs) that bring the build log up to date with the
// steps of these TaskRuns. A running step's log is copied up to its last complete line; a
// finished step's to its end, after which it is not read again.
nlohmann::json collect_logs(k8s::KubeClient& client, const std::string& ns, const std::vector<nlohmann::json>& task_runs,
                            const nlohmann::json& state, bool run_done, long long max_bytes) {
  nlohmann::json entries = nlohmann::json::array();
  const auto offsets = state.value("logs", nlohmann::json::object());
  const auto done = state.value("logs_done", nlohmann::json::object());
  for (const auto& tr : task_runs) {
    const auto status = tr.value("status", nlohmann::json::object());
    const std::string pod = str(status, "podName");
    const std::string task = label(tr, "tekton.dev/pipelineTask");
    if (pod.empty()) continue;
    for (const auto& step : status.value("steps", nlohmann::json::array())) {
      const std::string container = str(step, "container").empty() ? "step-" + str(step, "name") : str(step, "container");
      const std::string key = meta(tr, "name") + "/" + container;
      if (done.contains(key)) continue;
      const bool finished = step.contains("terminated") || run_done;
      if (!finished && !step.contains("running")) continue;  // still waiting to start
      const long long offset = offsets.value(key, 0LL);
      const std::string header = "--- task " + (task.empty() ? meta(tr, "name") : task) + ", step " + str(step, "name") + "\n";
      if (offset >= max_bytes) {
        entries.push_back({{"key", key}, {"offset", offset}, {"bytes", 0},
                           {"text", "[kiln: the rest of " + container + "'s log was not copied (over " +
                                        std::to_string(max_bytes) + " bytes)]\n"}});
        entries.push_back({{"key", key}, {"done", true}});
        continue;
      }
      const long long limit = std::min(offset + kLogChunk, max_bytes);
      std::string body;
      try {
        body = client
                   .call("GET", "/api/v1/namespaces/" + ns + "/pods/" + pod + "/log?container=" + http::percent_encode(container) +
                                    "&limitBytes=" + std::to_string(limit),
                         "read the log of " + pod + "/" + container, {}, {}, "text/plain")
                   .body;
      } catch (const k8s::KubeError& e) {
        if (e.status == 404 || (e.status == 400 && finished)) {  // the pod (and its logs) is gone
          if (finished) entries.push_back({{"key", key}, {"done", true}});
          continue;
        }
        throw;
      }
      std::size_t end = body.size();
      const bool complete = finished && static_cast<long long>(body.size()) < limit;
      if (!complete) {  // only whole lines of a log that may still grow (or was cut at limit)
        const auto nl = body.rfind('\n');
        end = nl == std::string::npos || static_cast<long long>(nl) < offset ? static_cast<std::size_t>(offset) : nl + 1;
      }
      if (static_cast<long long>(end) > offset) {
        std::string text = (offset == 0 ? header : "") + valid_utf8(body.substr(static_cast<std::size_t>(offset), end - static_cast<std::size_t>(offset)));
        if (complete && text.back() != '\n') text += '\n';
        entries.push_back({{"key", key}, {"offset", offset}, {"bytes", static_cast<long long>(end) - offset}, {"text", text}});
      }
      if (complete) entries.push_back({{"key", key}, {"done", true}});
    }
  }
  return entries;
}

}  // namespace

KubernetesSyncResult KubernetesBackend::sync(db::Database& db) {
  KubernetesSyncResult result;
  struct ForgetCredentials {
    std::map<std::string, std::unique_ptr<Cluster>>& clusters;
    ~ForgetCredentials() { clusters.clear(); }
  } forget{clusters_};
  try {
    run_checks(db, result);
  } catch (const std::exception& e) {
    ++result.errors;
    log("error", "provider tests failed", {{"error", e.what()}});
  }
  const auto open = nlohmann::json::parse(db.with_tx([](pqxx::work& tx) { return db::k8s_open_runs(tx); }));
  std::map<std::pair<std::string, std::string>, std::vector<nlohmann::json>> groups;
  for (const auto& e : open) {
    if (!e["provider_id"].is_string() || !e["namespace"].is_string()) {
      db.with_tx([&](pqxx::work& tx) { db::k8s_mark_done(tx, e["execution_id"], "provider deleted"); });
      continue;
    }
    groups[{e["provider_id"], e["namespace"]}].push_back(e);
  }
  for (const auto& [where, executions] : groups) {
    try {
      sync_namespace(db, where.first, where.second, executions, result);
    } catch (const std::exception& e) {
      ++result.errors;
      log("error", "Kubernetes sync failed", {{"provider_id", where.first}, {"namespace", where.second},
                                              {"error", e.what()}});
    }
  }
  return result;
}

void KubernetesBackend::sync_namespace(db::Database& db, const std::string& provider_id, const std::string& ns,
                                       const std::vector<nlohmann::json>& executions, KubernetesSyncResult& result) {
  Cluster& c = cluster(db, provider_id, "sync PipelineRuns in " + ns);
  if (!c.client) {
    db.with_tx([&](pqxx::work& tx) { db::k8s_set_health(tx, provider_id, false, c.error); });
    throw std::runtime_error("the credentials of provider " + c.name + " cannot be used: " + c.error);
  }
  k8s::KubeClient& client = *c.client;
  const std::string runs_path = "/apis/tekton.dev/v1/namespaces/" + ns + "/pipelineruns";
  std::vector<nlohmann::json> runs;
  std::map<std::string, std::vector<nlohmann::json>> task_runs;  // by PipelineRun name
  try {
    runs = list_all(client, runs_path, "list PipelineRuns in " + ns);
    if (!runs.empty()) {
      for (auto& tr : list_all(client, "/apis/tekton.dev/v1/namespaces/" + ns + "/taskruns", "list TaskRuns in " + ns)) {
        task_runs[label(tr, "tekton.dev/pipelineRun")].push_back(std::move(tr));
      }
    }
  } catch (const k8s::KubeError& e) {
    db.with_tx([&](pqxx::work& tx) { db::k8s_set_health(tx, provider_id, false, std::string(e.what())); });
    throw;
  }
  db.with_tx([&](pqxx::work& tx) { db::k8s_set_health(tx, provider_id, true, std::nullopt); });
  for (auto& [name, list] : task_runs) {
    std::sort(list.begin(), list.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
      return meta(a, "creationTimestamp") < meta(b, "creationTimestamp");
    });
  }
  std::map<std::string, const nlohmann::json*> by_name;
  for (const auto& r : runs) by_name[meta(r, "name")] = &r;
  const long long max_bytes = static_cast<long long>(
      db.with_tx([](pqxx::work& tx) { return db::setting(tx, "k8s_log_max_bytes_per_step"); }));
  std::set<std::string> matched;
  const auto mark_recorded = [&](const std::string& name) {
    try {
      client.call("PATCH", runs_path + "/" + name, "label PipelineRun " + name,
                  R"({"metadata":{"labels":{"kiln.dev/recorded":"true"}}})", "application/merge-patch+json");
    } catch (const k8s::KubeError& e) {
      log("warn", "could not label a recorded PipelineRun (retried next pass)", {{"pipeline_run", name}, {"error", e.what()}});
    }
  };
  const auto cancel = [&](const std::string& name, const std::string& why) {
    try {
      client.call("PATCH", runs_path + "/" + name, "cancel PipelineRun " + name, R"({"spec":{"status":"Cancelled"}})",
                  "application/merge-patch+json");
      ++result.cancelled;
      log("info", "cancelled PipelineRun", {{"pipeline_run", name}, {"namespace", ns}, {"why", why}});
    } catch (const k8s::KubeError& e) {
      if (e.status != 400) throw;  // 400: it completed meanwhile; the next pass records it
    }
  };

  for (const auto& e : executions) {
    const std::string exec_id = e["execution_id"];
    const std::string status = e["status"];
    const std::string run_name = e["run"];
    const std::string build_status = e.value("build_status", "");
    const auto it = by_name.find(run_name);
    const nlohmann::json* run = it == by_name.end() || label(*it->second, "kiln.dev/build-id") != e["build_id"]
                                    ? nullptr
                                    : it->second;
    if (run) matched.insert(run_name);
    ++result.synced;
    if (status == "dispatching") continue;  // its hand-off is under way
    if (e.value("superseded", false)) {
      db.with_tx([&](pqxx::work& tx) { db::k8s_mark_done(tx, exec_id, "adopted by a later attempt"); });
      continue;
    }
    if (!run) {
      if (status == "running") {
        db.with_tx([&](pqxx::work& tx) {
          db::k8s_finish(tx, exec_id, e["epoch"].get<long long>(), "failed", std::nullopt,
                         "PipelineRun " + run_name + " is gone from " + c.name + "/" + ns + " (deleted outside Kiln)");
        });
        ++result.finished;
      } else {
        db.with_tx([&](pqxx::work& tx) { db::k8s_mark_done(tx, exec_id, "no run in the cluster"); });
      }
      continue;
    }
    const auto& trs = task_runs[run_name];
    if (status != "running") {
      if (!is_done(*run)) {
        // Cancelled, timed out or given up: stop the run, unless another attempt will take it.
        if (final_build(build_status)) cancel(run_name, "the build is " + build_status);
        continue;
      }
      const auto entries = collect_logs(client, ns, trs, e["state"], true, max_bytes);
      db.with_tx([&](pqxx::work& tx) {
        if (!entries.empty()) db::k8s_record_logs(tx, exec_id, entries.dump());
        db::k8s_mark_done(tx, exec_id, "run ended after the execution");
      });
      mark_recorded(run_name);
      continue;
    }
    RunOutcome outcome = classify_run(*run, trs);
    if (outcome.done && outcome.outcome == "failed" && !outcome.pods_to_check.empty()) {
      std::map<std::string, nlohmann::json> pods;
      for (const auto& pod : outcome.pods_to_check) {
        try {
          pods[pod] = nlohmann::json::parse(client.call("GET", "/api/v1/namespaces/" + ns + "/pods/" + pod, "read pod " + pod).body);
        } catch (const k8s::KubeError&) {
        }  // the pod is gone: the TaskRun is all there is
      }
      outcome = classify_run(*run, trs, pods);
    }
    const auto entries = collect_logs(client, ns, trs, e["state"], outcome.done, max_bytes);
    try {
      db.with_tx([&](pqxx::work& tx) {
        if (!entries.empty()) db::k8s_record_logs(tx, exec_id, entries.dump());
        if (!outcome.done) {
          db::k8s_renew(tx, exec_id, e["epoch"].get<long long>());
          return;
        }
        const bool theirs = outcome.outcome == "cancelled";
        db::k8s_finish(tx, exec_id, e["epoch"].get<long long>(), theirs ? "failed" : outcome.outcome,
                       outcome.exit_code,
                       theirs ? "the PipelineRun was cancelled in the cluster, not through Kiln" : outcome.reason);
      });
    } catch (const Error& err) {
      if (http_status(err.code) != 409) throw;
      continue;  // cancelled or reaped meanwhile: the next pass sees it so
    }
    if (outcome.done) {
      ++result.finished;
      log("info", "PipelineRun finished", {{"build_id", e["build_id"].get<std::string>()}, {"pipeline_run", run_name},
                                           {"outcome", outcome.outcome}, {"reason", outcome.reason}});
      mark_recorded(run_name);
    }
  }

  // Runs no open execution holds: recorded ones whose label did not stick, and orphans.
  std::vector<std::string> orphan_builds;
  for (const auto& r : runs) {
    if (!matched.count(meta(r, "name")) && core::is_uuid(label(r, "kiln.dev/build-id"))) {
      orphan_builds.push_back(label(r, "kiln.dev/build-id"));
    }
  }
  if (orphan_builds.empty()) return;
  const auto states = nlohmann::json::parse(db.with_tx([&](pqxx::work& tx) { return db::k8s_build_states(tx, orphan_builds); }));
  for (const auto& r : runs) {
    const std::string name = meta(r, "name");
    const std::string build = label(r, "kiln.dev/build-id");
    if (matched.count(name) || !core::is_uuid(build)) continue;
    if (is_done(r)) {
      mark_recorded(name);
      continue;
    }
    if (!states.contains(build) || final_build(states[build].value("status", ""))) {
      cancel(name, states.contains(build) ? "its build has ended" : "its build no longer exists");
    }
  }
}

}  // namespace kiln::dispatch
