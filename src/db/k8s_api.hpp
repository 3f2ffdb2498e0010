#pragma once
// Typed calls for Kubernetes providers, pipeline templates (kiln-api, admin routes) and the
// Kubernetes back-end of kiln-dispatch: one prepared statement per kiln_api function of
// sql/api/providers.sql, pipeline_templates.sql and kubernetes.sql. JSON is passed and
// returned as text; ciphertext travels as hex.
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

namespace kiln::db {

void prepare_k8s_statements(pqxx::connection& conn);

// --- providers (kiln-api) ------------------------------------------------------------------
struct SealedCredentials {
  std::string summary_json;    // {api_server, kind, context}: what may be shown
  std::string ciphertext_hex;
  std::string key_id;
  std::string fingerprint;
};
std::string create_provider(pqxx::work& tx, const std::string& id, const std::string& body,
                            const SealedCredentials& credentials);
std::string list_providers(pqxx::work& tx);
std::string get_provider(pqxx::work& tx, const std::string& id);
std::string update_provider(pqxx::work& tx, const std::string& id, const std::string& body,
                            const std::optional<SealedCredentials>& credentials);
std::string delete_provider(pqxx::work& tx, const std::string& id);
std::string request_provider_check(pqxx::work& tx, const std::string& id);
std::string provider_check_result(pqxx::work& tx, const std::string& id, const std::string& request_id);

// --- pipeline templates (kiln-api, kiln migrate) -----------------------------------------
std::string list_pipeline_templates(pqxx::work& tx, const std::optional<std::string>& method);
std::string get_pipeline_template(pqxx::work& tx, const std::string& id);
std::string create_pipeline_template(pqxx::work& tx, const std::string& body);
std::string set_default_pipeline_template(pqxx::work& tx, const std::string& id);
// Unprepared (kiln migrate's connection prepares nothing). Returns inserted, unchanged, conflict.
std::string seed_pipeline_template(pqxx::work& tx, const std::string& name, const std::string& method,
                                   const std::string& version, const std::string& yaml,
                                   const std::string& parameters_json, const std::string& description);

// --- the dispatcher's Kubernetes back-end --------------------------------------------------
std::string k8s_resolve_target(pqxx::work& tx, const std::string& execution_id, const std::string& plan);
struct ProviderSecret {
  std::string ciphertext;  // binary
  std::string key_id;
  std::string fingerprint;
  std::string name;
};
ProviderSecret k8s_provider_credentials(pqxx::work& tx, const std::string& provider_id, const std::string& worker,
                                        const std::string& purpose);
void k8s_prepare(pqxx::work& tx, const std::string& execution_id, long long epoch, const std::string& provider_id,
                 const std::string& namespace_name, const std::string& run_name);
void k8s_start_execution(pqxx::work& tx, const std::string& execution_id, long long epoch, const std::string& plan,
                         const std::string& target, const std::string& run_name, bool adopted);
std::string k8s_open_runs(pqxx::work& tx);
std::string k8s_build_states(pqxx::work& tx, const std::vector<std::string>& build_ids);
std::string k8s_record_logs(pqxx::work& tx, const std::string& execution_id, const std::string& entries);
std::string k8s_finish(pqxx::work& tx, const std::string& execution_id, long long epoch, const std::string& outcome,
                       std::optional<int> exit_code, const std::string& reason);
void k8s_mark_done(pqxx::work& tx, const std::string& execution_id, const std::string& note);
void k8s_renew(pqxx::work& tx, const std::string& execution_id, long long epoch);
void k8s_set_health(pqxx::work& tx, const std::string& provider_id, bool healthy, const std::optional<std::string>& error);
struct PendingCheck {
  std::string provider_id;
  std::string request_id;
  std::string namespace_name;
};
std::vector<PendingCheck> k8s_pending_checks(pqxx::work& tx);
void k8s_record_check(pqxx::work& tx, const std::string& provider_id, const std::string& request_id,
                      const std::string& checks);

}  // namespace kiln::db
