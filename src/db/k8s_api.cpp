#include "db/k8s_api.hpp"

#include "db/statements.hpp"

namespace kiln::db {

namespace {

constexpr Statement kStatements[] = {
    {"create_provider",
     "select kiln_api.create_provider($1::uuid, $2::jsonb, $3::jsonb, decode($4, 'hex'), $5, $6)"},
    {"list_providers", "select kiln_api.list_providers()"},
    {"get_provider", "select kiln_api.get_provider($1::uuid)"},
    {"update_provider",
     "select kiln_api.update_provider($1::uuid, $2::jsonb, $3::jsonb, decode($4, 'hex'), $5, $6)"},
    {"delete_provider", "select kiln_api.delete_provider($1::uuid)"},
    {"request_provider_check", "select kiln_api.request_provider_check($1::uuid)"},
    {"provider_check_result", "select kiln_api.provider_check_result($1::uuid, $2::uuid)"},
    {"list_pipeline_templates", "select kiln_api.list_pipeline_templates($1)"},
    {"get_pipeline_template", "select kiln_api.get_pipeline_template($1::uuid)"},
    {"create_pipeline_template", "select kiln_api.create_pipeline_template($1::jsonb)"},
    {"set_default_pipeline_template", "select kiln_api.set_default_pipeline_template($1::uuid)"},
    {"k8s_resolve_target", "select kiln_api.k8s_resolve_target($1::uuid, $2::jsonb)"},
    {"k8s_provider_credentials",
     "select encode(ciphertext, 'hex'), key_id, fingerprint, name "
     "from kiln_api.k8s_provider_credentials($1::uuid, $2, $3)"},
    {"k8s_prepare", "select kiln_api.k8s_prepare($1::uuid, $2, $3::uuid, $4, $5)"},
    {"k8s_start_execution",
     "select kiln_api.k8s_start_execution($1::uuid, $2, $3::jsonb, $4::jsonb, $5, $6)"},
    {"k8s_open_runs", "select kiln_api.k8s_open_runs()"},
    {"k8s_build_states", "select kiln_api.k8s_build_states($1::uuid[])"},
    {"k8s_record_logs", "select kiln_api.k8s_record_logs($1::uuid, $2::jsonb)"},
    {"k8s_finish", "select kiln_api.k8s_finish($1::uuid, $2, $3, $4, $5)::text"},
    {"k8s_mark_done", "select kiln_api.k8s_mark_done($1::uuid, $2)"},
    {"k8s_renew",
     "select kiln_api.renew_lease($1::uuid, $2, kiln_api.setting('k8s_lease_seconds')::integer)"},
    {"k8s_set_health", "select kiln_api.k8s_set_health($1::uuid, $2, $3)"},
    {"k8s_pending_checks", "select provider_id, request_id, namespace from kiln_api.k8s_pending_checks()"},
    {"k8s_record_check", "select kiln_api.k8s_record_check($1::uuid, $2::uuid, $3::jsonb)"},
};

std::string from_hex(const std::string& hex) {
  std::string out;
  out.reserve(hex.size() / 2);
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1]));
  return out;
}

}  // namespace

void prepare_k8s_statements(pqxx::connection& conn) { prepare_all(conn, kStatements); }

std::string create_provider(pqxx::work& tx, const std::string& id, const std::string& body,
                            const SealedCredentials& c) {
  return json_of(tx.exec_prepared1("create_provider", id, body, c.summary_json, c.ciphertext_hex, c.key_id,
                                   c.fingerprint));
}

std::string list_providers(pqxx::work& tx) { return json_of(tx.exec_prepared1("list_providers")); }

std::string get_provider(pqxx::work& tx, const std::string& id) {
  return json_of(tx.exec_prepared1("get_provider", id));
}

std::string update_provider(pqxx::work& tx, const std::string& id, const std::string& body,
                            const std::optional<SealedCredentials>& c) {
  if (!c) {
    const char* none = nullptr;
    return json_of(tx.exec_prepared1("update_provider", id, body, none, none, none, none));
  }
  return json_of(tx.exec_prepared1("update_provider", id, body, c->summary_json, c->ciphertext_hex, c->key_id,
                                   c->fingerprint));
}

std::string delete_provider(pqxx::work& tx, const std::string& id) {
  return json_of(tx.exec_prepared1("delete_provider", id));
}

std::string request_provider_check(pqxx::work& tx, const std::string& id) {
  return json_of(tx.exec_prepared1("request_provider_check", id));
}

std::string provider_check_result(pqxx::work& tx, const std::string& id, const std::string& request_id) {
  return json_of(tx.exec_prepared1("provider_check_result", id, request_id));
}

std::string list_pipeline_templates(pqxx::work& tx, const std::optional<std::string>& method) {
  return json_of(tx.exec_prepared1("list_pipeline_templates", method));
}

std::string get_pipeline_template(pqxx::work& tx, const std::string& id) {
  return json_of(tx.exec_prepared1("get_pipeline_template", id));
}

std::string create_pipeline_template(pqxx::work& tx, const std::string& body) {
  return json_of(tx.exec_prepared1("create_pipeline_template", body));
}

std::string set_default_pipeline_template(pqxx::work& tx, const std::string& id) {
  return json_of(tx.exec_prepared1("set_default_pipeline_template", id));
}

std::string seed_pipeline_template(pqxx::work& tx, const std::string& name, const std::string& method,
                                   const std::string& version, const std::string& yaml,
                                   const std::string& parameters_json, const std::string& description) {
  return tx
      .exec_params1("select kiln_api.seed_pipeline_template($1, $2::kiln.build_method, $3, $4, $5::jsonb, $6)", name,
                    method, version, yaml, parameters_json, description)[0]
      .c_str();
}

std::string k8s_resolve_target(pqxx::work& tx, const std::string& execution_id, const std::string& plan) {
  return json_of(tx.exec_prepared1("k8s_resolve_target", execution_id, plan));
}

ProviderSecret k8s_provider_credentials(pqxx::work& tx, const std::string& provider_id, const std::string& worker,
                                        const std::string& purpose) {
  const pqxx::row r = tx.exec_prepared1("k8s_provider_credentials", provider_id, worker, purpose);
  return {from_hex(r[0].c_str()), r[1].c_str(), r[2].c_str(), r[3].c_str()};
}

void k8s_prepare(pqxx::work& tx, const std::string& execution_id, long long epoch, const std::string& provider_id,
                 const std::string& namespace_name, const std::string& run_name) {
  tx.exec_prepared1("k8s_prepare", execution_id, epoch, provider_id, namespace_name, run_name);
}

void k8s_start_execution(pqxx::work& tx, const std::string& execution_id, long long epoch, const std::string& plan,
                         const std::string& target, const std::string& run_name, bool adopted) {
  tx.exec_prepared1("k8s_start_execution", execution_id, epoch, plan, target, run_name, adopted);
}

std::string k8s_open_runs(pqxx::work& tx) { return json_of(tx.exec_prepared1("k8s_open_runs")); }

std::string k8s_build_states(pqxx::work& tx, const std::vector<std::string>& build_ids) {
  std::string array = "{";
  for (const auto& id : build_ids) array += (array.size() > 1 ? "," : "") + id;
  array += "}";
  return json_of(tx.exec_prepared1("k8s_build_states", array));
}

std::string k8s_record_logs(pqxx::work& tx, const std::string& execution_id, const std::string& entries) {
  return json_of(tx.exec_prepared1("k8s_record_logs", execution_id, entries));
}

std::string k8s_finish(pqxx::work& tx, const std::string& execution_id, long long epoch, const std::string& outcome,
                       std::optional<int> exit_code, const std::string& reason) {
  return tx.exec_prepared1("k8s_finish", execution_id, epoch, outcome, exit_code, reason)[0].c_str();
}

void k8s_mark_done(pqxx::work& tx, const std::string& execution_id, const std::string& note) {
  tx.exec_prepared1("k8s_mark_done", execution_id, note);
}

void k8s_renew(pqxx::work& tx, const std::string& execution_id, long long epoch) {
  tx.exec_prepared1("k8s_renew", execution_id, epoch);
}

void k8s_set_health(pqxx::work& tx, const std::string& provider_id, bool healthy,
                    const std::optional<std::string>& error) {
  tx.exec_prepared1("k8s_set_health", provider_id, healthy, error);
}

std::vector<PendingCheck> k8s_pending_checks(pqxx::work& tx) {
  std::vector<PendingCheck> out;
  for (const auto& row : tx.exec_prepared("k8s_pending_checks")) {
    out.push_back({row[0].c_str(), row[1].c_str(), row[2].is_null() ? "" : row[2].c_str()});
  }
  return out;
}

void k8s_record_check(pqxx::work& tx, const std::string& provider_id, const std::string& request_id,
                      const std::string& checks) {
  tx.exec_prepared1("k8s_record_check", provider_id, request_id, checks);
}

}  // namespace kiln::db
