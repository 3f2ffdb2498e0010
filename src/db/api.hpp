#pragma once
// One typed C++ function per kiln_api procedure the API calls. Each body is one prepared
// `select … from kiln_api.<function>(…)`; prepare_statements() registers them on every
// new connection. Functions returning std::string return the procedure's JSON as text.
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

namespace kiln::db {

void prepare_statements(pqxx::connection& conn);

struct Principal {
  std::string user_id;
  std::string tenant_id;
  std::vector<std::string> permissions;
  bool has(std::string_view permission) const;
};

// Sets the transaction's tenant context as a side effect (row-level security).
std::optional<Principal> authenticate(pqxx::work& tx, const std::string& token_sha256_hex);

std::string submit_build(pqxx::work& tx, const std::string& body);
std::string start_build(pqxx::work& tx, const std::string& build_id);
std::string cancel_build(pqxx::work& tx, const std::string& build_id,
                         const std::optional<std::string>& reason);
std::string get_build(pqxx::work& tx, const std::string& build_id);
std::string list_builds(pqxx::work& tx, const std::optional<std::string>& status,
                        const std::optional<std::string>& project, std::optional<int> limit,
                        const std::optional<std::string>& cursor);
std::string list_build_events(pqxx::work& tx, const std::string& build_id, long long after);
std::string create_project(pqxx::work& tx, const std::string& body);
std::string list_projects(pqxx::work& tx);

struct StatusCount {
  std::string status;
  long long builds;
};
std::vector<StatusCount> metrics_build_counts(pqxx::work& tx);
void ping(pqxx::work& tx);

}  // namespace kiln::db

namespace kiln::db {

// Creates or reuses tenant and user, grants the role, stores a token hash.
// Returns the user's id.
std::string bootstrap_user(pqxx::work& tx, const std::string& tenant, const std::string& user,
                           const std::string& role, const std::string& token_sha256_hex,
                           const std::string& token_name);

}  // namespace kiln::db
