#include "db/api.hpp"

#include <algorithm>

#include "db/credentials_api.hpp"
#include "db/infra_api.hpp"
#include "db/k8s_api.hpp"
#include "db/nodes_api.hpp"
#include "db/ops_api.hpp"
#include "db/scheduling_api.hpp"
#include "db/pages_api.hpp"
#include "db/statements.hpp"

namespace kiln::db {

namespace {

constexpr Statement kStatements[] = {
    {"authenticate",
     "select user_id, tenant_id, array_to_string(permissions, ',') "
     "from kiln_api.authenticate(decode($1, 'hex'))"},
    {"submit_build", "select kiln_api.submit_build($1::jsonb)"},
    {"start_build", "select kiln_api.start_build($1::uuid)"},
    {"cancel_build", "select kiln_api.cancel_build($1::uuid, $2)"},
    {"get_build", "select kiln_api.get_build($1::uuid)"},
    {"list_builds", "select kiln_api.list_builds($1, $2, $3, $4)"},
    {"list_build_events", "select kiln_api.list_build_events($1::uuid, $2)"},
    {"create_project", "select kiln_api.create_project($1::jsonb)"},
    {"list_projects", "select kiln_api.list_projects()"},
    {"metrics_build_counts", "select status::text, builds from kiln_api.metrics_build_counts()"},
    {"ping", "select 1"},
};

}  // namespace

void prepare_statements(pqxx::connection& conn) {
  {
    pqxx::nontransaction tx(conn);
    tx.exec("set timezone = 'UTC'");
  }
  prepare_all(conn, kStatements);
  prepare_node_statements(conn);
  prepare_k8s_statements(conn);
  prepare_infra_statements(conn);
  prepare_ops_statements(conn);
  prepare_scheduling_statements(conn);
  prepare_page_statements(conn);
  prepare_credential_statements(conn);
}

bool Principal::has(std::string_view permission) const {
  return std::find(permissions.begin(), permissions.end(), permission) != permissions.end();
}

std::optional<Principal> authenticate(pqxx::work& tx, const std::string& token_sha256_hex) {
  const pqxx::result r = tx.exec_prepared("authenticate", token_sha256_hex);
  if (r.empty()) return std::nullopt;
  Principal p{r[0][0].c_str(), r[0][1].c_str(), {}};
  std::string_view list = r[0][2].c_str();
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    p.permissions.emplace_back(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
  }
  return p;
}

std::string submit_build(pqxx::work& tx, const std::string& body) {
  return json_of(tx.exec_prepared1("submit_build", body));
}

std::string start_build(pqxx::work& tx, const std::string& build_id) {
  return json_of(tx.exec_prepared1("start_build", build_id));
}

std::string cancel_build(pqxx::work& tx, const std::string& build_id,
                         const std::optional<std::string>& reason) {
  return json_of(tx.exec_prepared1("cancel_build", build_id, reason));
}

std::string get_build(pqxx::work& tx, const std::string& build_id) {
  return json_of(tx.exec_prepared1("get_build", build_id));
}

std::string list_builds(pqxx::work& tx, const std::optional<std::string>& status,
                        const std::optional<std::string>& project, std::optional<int> limit,
                        const std::optional<std::string>& cursor) {
  return json_of(tx.exec_prepared1("list_builds", status, project, limit, cursor));
}

std::string list_build_events(pqxx::work& tx, const std::string& build_id, long long after) {
  return json_of(tx.exec_prepared1("list_build_events", build_id, after));
}

std::string create_project(pqxx::work& tx, const std::string& body) {
  return json_of(tx.exec_prepared1("create_project", body));
}

std::string list_projects(pqxx::work& tx) { return json_of(tx.exec_prepared1("list_projects")); }

std::vector<StatusCount> metrics_build_counts(pqxx::work& tx) {
  std::vector<StatusCount> out;
  for (const auto& row : tx.exec_prepared("metrics_build_counts")) {
    out.push_back({row[0].c_str(), row[1].as<long long>()});
  }
  return out;
}

void ping(pqxx::work& tx) { tx.exec_prepared1("ping"); }

}  // namespace kiln::db

namespace kiln::db {

std::string bootstrap_user(pqxx::work& tx, const std::string& tenant, const std::string& user,
                           const std::string& role, const std::string& token_sha256_hex,
                           const std::string& token_name) {
  return tx
      .exec_params1("select user_id from kiln_api.bootstrap_user($1, $2, $3, decode($4, 'hex'), $5)",
                    tenant, user, role, token_sha256_hex, token_name)[0]
      .c_str();
}

}  // namespace kiln::db
