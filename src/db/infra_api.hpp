#pragma once
// Typed calls for infrastructure selection (sql/api/select_infrastructure.sql,
// recommendation.sql, infrastructure_options.sql). Like api.hpp: one prepared statement
// per kiln_api function; JSON results are returned as text.
#include <pqxx/pqxx>
#include <string>

namespace kiln::db {

void prepare_infra_statements(pqxx::connection& conn);

// The recommendation for a build config (a POST /api/v1/builds body), recorded.
std::string recommend_infrastructure(pqxx::work& tx, const std::string& body);
// What the current user may pick: types, providers, build-node label sets.
std::string infrastructure_options(pqxx::work& tx);

}  // namespace kiln::db
