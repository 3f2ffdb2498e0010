#include "db/pages_api.hpp"

#include "db/sql_error.hpp"
#include "db/statements.hpp"

namespace kiln::db {

namespace {

// Statement names start with page_ or session_ so they cannot clash with another area's
// statement for the same kiln_api function.
constexpr Statement kStatements[] = {
    {"session_start",
     "select user_id from kiln_api.session_start(decode($1, 'hex'), decode($2, 'hex'), $3, $4)"},
    {"session_authenticate",
     "select user_id, tenant_id, array_to_string(permissions, ','), csrf_token, user_name, tenant_name "
     "from kiln_api.session_authenticate(decode($1, 'hex'))"},
    {"session_end", "select kiln_api.session_end(decode($1, 'hex'))"},
    {"page_dashboard", "select kiln_api.page_dashboard()"},
    {"page_builds", "select kiln_api.page_builds($1, $2, $3, $4)"},
    {"page_build", "select kiln_api.page_build($1::uuid, $2)"},
    {"page_build_nodes", "select kiln_api.page_build_nodes()"},
    {"page_audit_log", "select kiln_api.page_audit_log($1, $2, $3)"},
    {"page_build_form", "select kiln_api.page_build_form($1, $2)"},
    {"page_recommend_infrastructure", "select kiln_api.recommend_infrastructure($1::jsonb)"},
    {"page_usage_report", "select kiln_api.usage_report($1, null, null, null, $2, $3)"},
};

}  // namespace

void prepare_page_statements(pqxx::connection& conn) { prepare_all(conn, kStatements); }

bool session_start(pqxx::work& tx, const std::string& token_sha256_hex, const std::string& session_sha256_hex,
                   const std::string& csrf_token, const std::string& user_agent) {
  return !tx.exec_prepared("session_start", token_sha256_hex, session_sha256_hex, csrf_token, user_agent).empty();
}

std::optional<WebSession> session_authenticate(pqxx::work& tx, const std::string& session_sha256_hex) {
  const pqxx::result r = tx.exec_prepared("session_authenticate", session_sha256_hex);
  if (r.empty()) return std::nullopt;
  WebSession s{{r[0][0].c_str(), r[0][1].c_str(), {}}, r[0][3].c_str(), r[0][4].c_str(), r[0][5].c_str()};
  std::string_view list = r[0][2].c_str();
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    s.principal.permissions.emplace_back(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
  }
  return s;
}

void session_end(pqxx::work& tx, const std::string& session_sha256_hex) {
  tx.exec_prepared1("session_end", session_sha256_hex);
}

std::string page_dashboard(pqxx::work& tx) { return json_of(tx.exec_prepared1("page_dashboard")); }

std::string page_builds(pqxx::work& tx, const std::optional<std::string>& status,
                        const std::optional<std::string>& project, int limit, const std::optional<std::string>& cursor) {
  return json_of(tx.exec_prepared1("page_builds", status, project, limit, cursor));
}

std::string page_build(pqxx::work& tx, const std::string& build_id, int log_limit) {
  return json_of(tx.exec_prepared1("page_build", build_id, log_limit));
}

std::string page_build_nodes(pqxx::work& tx) { return json_of(tx.exec_prepared1("page_build_nodes")); }

std::string page_audit_log(pqxx::work& tx, const std::optional<std::string>& action,
                           std::optional<long long> before, int limit) {
  return json_of(tx.exec_prepared1("page_audit_log", action, before, limit));
}

std::string page_build_form(pqxx::work& tx, const std::optional<std::string>& method,
                            const std::optional<std::string>& project) {
  return json_of(tx.exec_prepared1("page_build_form", method, project));
}

std::string page_recommendation(pqxx::work& tx, const std::string& body) {
  return json_of(tx.exec_prepared1("page_recommend_infrastructure", body));
}

std::string page_usage(pqxx::work& tx, const std::string& period, const std::optional<std::string>& project,
                         const std::optional<std::string>& type) {
  return json_of(tx.exec_prepared1("page_usage_report", period, project, type));
}

std::optional<Error> in_savepoint(pqxx::work& tx, const std::function<void()>& body) {
  // Plain SAVEPOINT statements: the body runs its statements on tx itself, so a
  // pqxx::subtransaction would never begin (it starts with its own first statement) and
  // its abort would roll nothing back.
  tx.exec0("savepoint page_form");
  std::optional<Error> error;
  try {
    body();
  } catch (const pqxx::sql_error& e) {
    if (is_connection_state(e.sqlstate())) throw;
    error = from_sql(e);
  } catch (const Error& e) {
    error = e;
  }
  tx.exec0(error ? "rollback to savepoint page_form" : "release savepoint page_form");
  return error;
}

}  // namespace kiln::db
