#include "db/scheduling_api.hpp"

#include "db/statements.hpp"

namespace kiln::db {

namespace {

constexpr Statement kStatements[] = {
    {"sched_get", "select kiln_api.get_scheduling()"},
    {"sched_set_tenant", "select kiln_api.set_tenant_scheduling($1::jsonb)"},
    {"sched_set_project", "select kiln_api.set_project_scheduling($1, $2::jsonb)"},
};

}  // namespace

void prepare_scheduling_statements(pqxx::connection& conn) { prepare_all(conn, kStatements); }

std::string get_scheduling(pqxx::work& tx) { return json_of(tx.exec_prepared1("sched_get")); }

std::string set_tenant_scheduling(pqxx::work& tx, const std::string& body) {
  return json_of(tx.exec_prepared1("sched_set_tenant", body));
}

std::string set_project_scheduling(pqxx::work& tx, const std::string& project, const std::string& body) {
  return json_of(tx.exec_prepared1("sched_set_project", project, body));
}

}  // namespace kiln::db
