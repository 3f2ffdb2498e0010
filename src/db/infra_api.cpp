#include "db/infra_api.hpp"

namespace kiln::db {

namespace {

struct Statement {
  const char* name;
  const char* sql;
};

constexpr Statement kStatements[] = {
    {"recommend_infrastructure", "select kiln_api.recommend_infrastructure($1::jsonb)"},
    {"infrastructure_options", "select kiln_api.infrastructure_options()"},
};

std::string json_of(const pqxx::row& row) { return row[0].c_str(); }

}  // namespace

void prepare_infra_statements(pqxx::connection& conn) {
  for (const auto& s : kStatements) conn.prepare(s.name, s.sql);
}

std::string recommend_infrastructure(pqxx::work& tx, const std::string& body) {
  return json_of(tx.exec_prepared1("recommend_infrastructure", body));
}

std::string infrastructure_options(pqxx::work& tx) { return json_of(tx.exec_prepared1("infrastructure_options")); }

}  // namespace kiln::db
