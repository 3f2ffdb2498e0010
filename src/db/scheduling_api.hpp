#pragma once
// Typed calls for fair scheduling (sql/api/scheduling_admin.sql): the tenant's share and
// caps, its projects' caps. JSON results are returned as text.
#include <pqxx/pqxx>
#include <string>

namespace kiln::db {

void prepare_scheduling_statements(pqxx::connection& conn);

std::string get_scheduling(pqxx::work& tx);
std::string set_tenant_scheduling(pqxx::work& tx, const std::string& body);
std::string set_project_scheduling(pqxx::work& tx, const std::string& project, const std::string& body);

}  // namespace kiln::db
