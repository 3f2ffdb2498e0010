#pragma once
// Typed calls for the server-rendered pages: page sessions (sign-in, per-request lookup,
// sign-out) and one page query per page. Like api.hpp: one prepared statement per kiln_api
// function; JSON results are returned as text.
#include <functional>
#include <optional>
#include <pqxx/pqxx>
#include <string>

#include "db/api.hpp"
#include "error.hpp"

namespace kiln::db {

void prepare_page_statements(pqxx::connection& conn);

// Starts a session for the user of an API token; false when the token is not valid.
bool session_start(pqxx::work& tx, const std::string& token_sha256_hex, const std::string& session_sha256_hex,
                   const std::string& csrf_token, const std::string& user_agent);

struct WebSession {
  Principal principal;
  std::string csrf_token;
  std::string user_name;
  std::string tenant_name;
};
// The live session of a cookie (its hash); sets the transaction's tenant context.
std::optional<WebSession> session_authenticate(pqxx::work& tx, const std::string& session_sha256_hex);
void session_end(pqxx::work& tx, const std::string& session_sha256_hex);

std::string page_dashboard(pqxx::work& tx);
std::string recommendation_accuracy(pqxx::work& tx, int days);
std::string page_builds(pqxx::work& tx, const std::optional<std::string>& status,
                        const std::optional<std::string>& project, int limit, const std::optional<std::string>& cursor);
std::string page_build(pqxx::work& tx, const std::string& build_id, int log_limit);
std::string page_build_nodes(pqxx::work& tx);
std::string page_audit_log(pqxx::work& tx, const std::optional<std::string>& action,
                           std::optional<long long> before, int limit);
std::string page_build_form(pqxx::work& tx, const std::optional<std::string>& method,
                            const std::optional<std::string>& project);
std::string page_recommendation(pqxx::work& tx, const std::string& body);
std::string page_usage(pqxx::work& tx, const std::string& period, const std::optional<std::string>& project,
                         const std::optional<std::string>& type);

// Runs body in a savepoint: an Error it throws (or a database error, translated) rolls back
// only the savepoint and is returned, so a page can show it next to the form it came from.
std::optional<Error> in_savepoint(pqxx::work& tx, const std::function<void()>& body);

}  // namespace kiln::db
