#pragma once
// The Kubernetes/Tekton back-end of kiln-dispatch.
//
// hand_off: a claimed execution planned onto Kubernetes → its provider, namespace, node pool
// and the method's pipeline template (kiln_api.k8s_resolve_target) → a PipelineRun rendered
// with the size, placement and time budget → POST under a deterministic name,
// "kiln-<build id>-s<size step>" (the size step is the build's OOM retry count), so a
// dispatcher that died between the create and recording it gets 409 on the retry and
// adopts the run (labels say it is this build's) instead of starting a second one → the
// execution runs (kiln_api.k8s_start_execution). Permanent problems (no provider, a
// template refusing the params, a 4xx from the cluster) fail the build with the reason;
// transient ones (5xx, 429 after retries, no answer) leave the claim to expire and be
// retried.
//
// sync, once per pass: one LIST of PipelineRuns (and one of TaskRuns) per provider and
// namespace with open runs, by label selector; each run's conditions mapped to the outcome
// (OOMKilled → oom_killed, retried once one size up by finish_execution), step logs copied
// into the build log, leases of running executions renewed, runs of cancelled or finished
// executions cancelled with a merge patch of spec.status=Cancelled, and the providers
// tests admins asked for run.
//
// Credentials are decrypted per pass, for the providers the pass needs, each decryption
// audited; they are dropped at the end of sync. Exec-plugin tokens are cached across passes
// until they expire.
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "db/database.hpp"
#include "db/dispatch_api.hpp"
#include "k8s/client.hpp"
#include "k8s/crypto.hpp"
#include "k8s/exec_credential.hpp"

namespace kiln::dispatch {

struct KubernetesOptions {
  std::string worker;
  std::filesystem::path master_key_file;
  std::vector<std::string> exec_allow = k8s::default_exec_allow_list();
  k8s::ClientOptions client;
  std::chrono::seconds pause_after_create{0};  // fault injection for crash tests only
};

struct KubernetesSyncResult {
  int synced = 0;
  int finished = 0;
  int cancelled = 0;
  int checks = 0;
  int errors = 0;
};

class KubernetesBackend {
 public:
  // Loads the master key; throws k8s::CryptoError naming what is wrong with the file.
  explicit KubernetesBackend(KubernetesOptions options);
  ~KubernetesBackend();

  // Returns true when the run was created or adopted and recorded; false when the build
  // was failed (permanent) or left to its lease (transient).
  bool hand_off(db::Database& db, const db::Claim& claim, const std::string& plan_json);
  KubernetesSyncResult sync(db::Database& db);

 private:
  struct Cluster {
    std::unique_ptr<k8s::KubeClient> client;
    std::string name;
    std::string error;  // why the credentials cannot be used (client is null then)
  };
  Cluster& cluster(db::Database& db, const std::string& provider_id, const std::string& purpose);
  void run_checks(db::Database& db, KubernetesSyncResult& result);
  nlohmann::json check_provider(db::Database& db, const std::string& provider_id, const std::string& ns);
  void sync_namespace(db::Database& db, const std::string& provider_id, const std::string& ns,
                      const std::vector<nlohmann::json>& executions, KubernetesSyncResult& result);

  KubernetesOptions options_;
  k8s::KeyRing keys_;
  k8s::ExecCredentialCache exec_cache_;
  std::map<std::string, std::unique_ptr<Cluster>> clusters_;  // this pass's, by provider id
};

// "kiln-<build id>-s<size step>": at most 63 characters, a DNS label.
std::string pipeline_run_name(const std::string& build_id, int size_step);

}  // namespace kiln::dispatch
