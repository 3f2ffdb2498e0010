#include "dispatch/kubernetes.hpp"

#include <openssl/crypto.h>

#include <thread>

#include "db/k8s_api.hpp"
#include "k8s/pipeline_template.hpp"
#include "log.hpp"

namespace kiln::dispatch {

namespace {

std::string label_of(const nlohmann::json& object, const std::string& key) {
  const auto meta = object.value("metadata", nlohmann::json::object());
  const auto labels = meta.value("labels", nlohmann::json::object());
  return labels.contains(key) && labels[key].is_string() ? labels[key].get<std::string>() : "";
}

double number(const nlohmann::json& object, const char* key, double fallback) {
  if (!object.is_object() || !object.contains(key)) return fallback;
  const auto& v = object[key];
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    try {
      return std::stod(v.get<std::string>());
    } catch (const std::exception&) {
      return fallback;
    }
  }
  return fallback;
}

nlohmann::json check(const std::string& name, bool ok, const std::string& message) {
  return {{"name", name}, {"ok", ok}, {"message", message}};
}

}  // namespace

std::string pipeline_run_name(const std::string& build_id, int size_step) {
  return "kiln-" + build_id + "-s" + std::to_string(size_step);
}

KubernetesBackend::KubernetesBackend(KubernetesOptions options)
    : options_(std::move(options)),
      keys_(k8s::KeyRing::load(options_.master_key_file)),
      exec_cache_(k8s::ExecPolicy{options_.exec_allow, std::chrono::seconds(30), std::chrono::seconds(60)}) {}

KubernetesBackend::~KubernetesBackend() = default;

KubernetesBackend::Cluster& KubernetesBackend::cluster(db::Database& db, const std::string& provider_id,
                                                       const std::string& purpose) {
  if (auto it = clusters_.find(provider_id); it != clusters_.end()) return *it->second;
  auto c = std::make_unique<Cluster>();
  // Its own transaction, committed before the decryption: the audit row stays whatever
  // happens to the work that follows.
  const db::ProviderSecret secret = db.with_tx(
      [&](pqxx::work& tx) { return db::k8s_provider_credentials(tx, provider_id, options_.worker, purpose); });
  c->name = secret.name;
  std::string plain;
  try {
    plain = keys_.open(secret.ciphertext, secret.key_id, k8s::credentials_aad(provider_id));
    c->client = std::make_unique<k8s::KubeClient>(k8s::credentials_from_json(plain),
                                                  provider_id + ":" + secret.fingerprint, &exec_cache_,
                                                  options_.client);
  } catch (const k8s::CryptoError& e) {
    c->error = e.what();
  } catch (const nlohmann::json::exception&) {
    c->error = "the stored credentials are not in a form this version reads; upload the kubeconfig again";
  }
  if (!plain.empty()) OPENSSL_cleanse(plain.data(), plain.size());
  return *clusters_.emplace(provider_id, std::move(c)).first->second;
}

bool KubernetesBackend::hand_off(db::Database& db, const db::Claim& claim, const std::string& plan_json) {
  const auto fail = [&](const std::string& reason) {
    try {
      db.with_tx([&](pqxx::work& tx) { db::fail_execution(tx, claim.execution_id, claim.epoch, reason); });
      log("warn", "build cannot run on Kubernetes", {{"build_id", claim.build_id}, {"reason", reason}});
    } catch (const Error& e) {
      if (http_status(e.code) != 409) throw;  // cancelled or reaped meanwhile: nothing to fail
    }
    return false;
  };
  const auto target = nlohmann::json::parse(
      db.with_tx([&](pqxx::work& tx) { return db::k8s_resolve_target(tx, claim.execution_id, plan_json); }));
  if (target.contains("error")) return fail(target["error"].get<std::string>());
  const auto plan = nlohmann::json::parse(plan_json);
  const auto& build = target["build"];
  const auto& tpl = target["template"];
  const std::string provider_id = target["provider"]["id"];
  const std::string provider = target["provider"]["name"];
  const std::string ns = target["namespace"];
  const std::string name = pipeline_run_name(claim.build_id, build.value("size_step", 0));
  const std::string ref = tpl["name"].get<std::string>() + "@" + tpl["version"].get<std::string>();

  k8s::Rendered rendered;
  try {
    k8s::RenderInput in;
    in.template_text = tpl["template_yaml"];
    in.template_ref = ref;
    in.parameters = k8s::parameters_from_json(tpl["parameters"]);
    in.params = build.value("params", nlohmann::json::object());
    in.name = name;
    in.namespace_name = ns;
    in.build_id = claim.build_id;
    in.execution_id = claim.execution_id;
    in.tenant = build.value("tenant", "");
    in.tenant_id = build.value("tenant_id", "");
    in.project = build.value("project", "");
    in.method = build.value("method", claim.method);
    in.attempt = claim.attempt;
    in.size_step = build.value("size_step", 0);
    const auto size = plan.value("size", nlohmann::json::object());
    in.size = {number(size, "cpu", 1), number(size, "memory_gb", 2), number(size, "disk_gb", 10),
               static_cast<int>(number(size, "time_budget_min", 60))};
    if (target.contains("node_pool") && target["node_pool"].is_object()) {
      const auto& pool = target["node_pool"];
      const auto labels = pool.value("labels", nlohmann::json::object());
      for (const auto& [k, v] : labels.items()) {
        if (v.is_string()) in.node_selector[k] = v;
      }
      in.tolerations = k8s::tolerations_for_taints(pool.value("taints", nlohmann::json::array()));
    }
    rendered = k8s::render_pipeline_run(in);
  } catch (const k8s::TemplateError& e) {
    return fail("pipeline template " + ref + ": " + e.what());
  }

  Cluster* found = nullptr;
  try {
    found = &cluster(db, provider_id, "create PipelineRun " + name);
  } catch (const Error& e) {
    if (http_status(e.code) != 404) throw;
    return fail("provider " + provider + " is gone or has no credentials");
  }
  Cluster& c = *found;
  if (!c.client) return fail("the credentials of provider " + provider + " cannot be used: " + c.error);
  const std::string path = "/apis/tekton.dev/v1/namespaces/" + ns + "/pipelineruns";
  try {
    db.with_tx([&](pqxx::work& tx) { db::k8s_prepare(tx, claim.execution_id, claim.epoch, provider_id, ns, name); });
  } catch (const Error& e) {
    if (http_status(e.code) != 409) throw;
    return false;  // cancelled or reaped since the claim
  }
  bool adopted = false;
  try {
    c.client->call("POST", path, "create PipelineRun " + name, rendered.run.dump(), "application/json");
  } catch (const k8s::KubeError& e) {
    try {
      if (e.status != 409 || e.reason != "AlreadyExists") throw;
      // A run of this name exists: ours from an attempt that died before recording it, or
      // a collision with something else (its build-id label says which).
      const auto existing = nlohmann::json::parse(
          c.client->call("GET", path + "/" + name, "read PipelineRun " + name).body);
      if (label_of(existing, "kiln.dev/build-id") != claim.build_id) {
        return fail("a PipelineRun named " + name + " already exists in " + provider + "/" + ns +
                    " and is not this build's");
      }
      adopted = true;
    } catch (const k8s::KubeError& e2) {
      if (e2.transient()) {
        log("warn", "cannot reach Kubernetes; the claim will expire and the build be retried",
            {{"build_id", claim.build_id}, {"provider", provider}, {"error", e2.what()}});
        return false;
      }
      if (e2.status == 401) {
        db.with_tx([&](pqxx::work& tx) { db::k8s_set_health(tx, provider_id, false, std::string(e2.what())); });
      }
      return fail(e2.what());
    }
  }
  log("info", adopted ? "adopted the PipelineRun an earlier attempt created" : "created PipelineRun",
      {{"build_id", claim.build_id}, {"execution_id", claim.execution_id}, {"pipeline_run", name},
       {"provider", provider}, {"namespace", ns}, {"template", ref}});
  if (options_.pause_after_create.count() > 0) {
    log("warn", "pausing after create (fault injection)", {{"seconds", std::to_string(options_.pause_after_create.count())}});
    std::this_thread::sleep_for(options_.pause_after_create);
  }
  try {
    db.with_tx([&](pqxx::work& tx) {
      db::k8s_start_execution(tx, claim.execution_id, claim.epoch, plan_json, target.dump(), name, adopted);
    });
  } catch (const Error& e) {
    if (http_status(e.code) != 409) throw;
    // Reaped or cancelled meanwhile: the run is an orphan the sync cancels (or a later
    // attempt adopts).
    log("warn", "the execution moved on before its run was recorded",
        {{"build_id", claim.build_id}, {"pipeline_run", name}, {"error", e.message}});
    return false;
  }
  return true;
}

// The checks behind POST /api/v1/admin/providers/{id}/test, each a clear result; after a
// failed one the rest are reported as not checked.
nlohmann::json KubernetesBackend::check_provider(db::Database& db, const std::string& provider_id,
                                                 const std::string& ns) {
  nlohmann::json checks = nlohmann::json::array();
  std::string blocked;
  const auto add = [&](const std::string& name, bool ok, const std::string& message) {
    checks.push_back(check(name, ok, message));
    if (!ok && blocked.empty()) blocked = name;
  };
  const auto skip = [&](const std::string& name) {
    checks.push_back({{"name", name}, {"ok", false}, {"skipped", true}, {"message", "not checked: " + blocked + " failed"}});
  };
  Cluster* found = nullptr;
  try {
    found = &cluster(db, provider_id, "provider test");
  } catch (const Error& e) {
    if (http_status(e.code) != 404) throw;
    add("credentials", false, "the provider has no credentials: upload a kubeconfig");
  }
  Cluster empty;
  Cluster& c = found ? *found : empty;
  if (found && !c.client) {
    add("credentials", false, "the stored credentials cannot be used: " + c.error);
  } else if (found) {
    try {
      c.client->authenticate();
      add("credentials", true, std::string("decrypted (") + std::string(k8s::auth_kind_name(c.client->credentials().auth)) + ")");
    } catch (const k8s::KubeError& e) {
      add("credentials", false, e.what());
    }
  }
  for (const char* name : {"reachable", "authenticated", "tekton", "namespace", "permissions"}) {
    if (!blocked.empty()) {
      skip(name);
      continue;
    }
    const std::string n = name;
    try {
      if (n == "reachable") {
        const auto r = c.client->call_once("GET", "/version");
        const auto v = nlohmann::json::parse(r.body, nullptr, false);
        add(n, true, "the API server answered (HTTP " + std::to_string(r.status) + ")" +
                         (v.is_object() && v.contains("gitVersion") ? ", Kubernetes " + v["gitVersion"].get<std::string>() : ""));
      } else if (n == "authenticated") {
        const auto r = c.client->call_once(
            "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            R"({"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"})", "application/json");
        if (r.status == 401) {
          add(n, false, "the API server rejected the credentials (401 Unauthorized): they are wrong or expired");
        } else if (r.status >= 200 && r.status < 300) {
          const auto j = nlohmann::json::parse(r.body, nullptr, false);
          std::string user = j.is_object() ? j.value("/status/userInfo/username"_json_pointer, std::string()) : "";
          add(n, true, user.empty() ? "authenticated" : "authenticated as " + user);
        } else {
          add(n, true, "the credentials were accepted (SelfSubjectReview answered HTTP " + std::to_string(r.status) + ")");
        }
      } else if (n == "tekton") {
        const auto r = c.client->call_once("GET", "/apis/tekton.dev/v1");
        const auto j = nlohmann::json::parse(r.body, nullptr, false);
        bool runs = false;
        bool task_runs = false;
        if (r.status == 200 && j.is_object()) {
          for (const auto& res : j.value("resources", nlohmann::json::array())) {
            runs = runs || res.value("name", "") == "pipelineruns";
            task_runs = task_runs || res.value("name", "") == "taskruns";
          }
        }
        if (runs && task_runs) {
          add(n, true, "Tekton Pipelines serves tekton.dev/v1 (pipelineruns, taskruns)");
        } else if (r.status == 404 || r.status == 200) {
          add(n, false, "Tekton Pipelines is not installed or too old: tekton.dev/v1 pipelineruns are not served "
                        "(install Tekton Pipelines ≥ 0.44)");
        } else {
          add(n, false, k8s::status_error(r.status, r.body, "GET /apis/tekton.dev/v1").what());
        }
      } else if (n == "namespace") {
        const auto r = c.client->call_once("GET", "/api/v1/namespaces/" + ns);
        if (r.status == 200) {
          add(n, true, "namespace " + ns + " exists");
        } else if (r.status == 404) {
          add(n, false, "namespace " + ns + " does not exist: create it (kubectl create namespace " + ns + ")");
        } else if (r.status == 403) {
          add(n, true, "namespace " + ns + " cannot be read by these credentials (not needed; assumed to exist)");
        } else {
          add(n, false, k8s::status_error(r.status, r.body, "GET namespace " + ns).what());
        }
      } else {
        std::string denied;
        for (const char* verb : {"create", "list", "patch"}) {
          const nlohmann::json review = {
              {"apiVersion", "authorization.k8s.io/v1"},
              {"kind", "SelfSubjectAccessReview"},
              {"spec", {{"resourceAttributes",
                         {{"namespace", ns}, {"verb", verb}, {"group", "tekton.dev"}, {"resource", "pipelineruns"}}}}}};
          const auto r = c.client->call_once("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                                             review.dump(), "application/json");
          const auto j = nlohmann::json::parse(r.body, nullptr, false);
          if (r.status >= 300 || !j.is_object() || !j.value("/status/allowed"_json_pointer, false)) {
            denied += (denied.empty() ? "" : ", ") + std::string(verb);
          }
        }
        if (denied.empty()) {
          add(n, true, "may create, list and patch PipelineRuns in " + ns);
        } else {
          add(n, false, "may not " + denied + " PipelineRuns in namespace " + ns +
                            " (grant the Role of docs/kubernetes.md to the identity)");
        }
      }
    } catch (const k8s::KubeError& e) {
      add(n, false, e.what());
    }
  }
  return checks;
}

void KubernetesBackend::run_checks(db::Database& db, KubernetesSyncResult& result) {
  const auto pending = db.with_tx([](pqxx::work& tx) { return db::k8s_pending_checks(tx); });
  for (const auto& p : pending) {
    const nlohmann::json checks = check_provider(db, p.provider_id, p.namespace_name);
    db.with_tx([&](pqxx::work& tx) { db::k8s_record_check(tx, p.provider_id, p.request_id, checks.dump()); });
    ++result.checks;
    log("info", "provider tested", {{"provider_id", p.provider_id}, {"request_id", p.request_id},
                                    {"results", checks.dump()}});
  }
}

}  // namespace kiln::dispatch
