#pragma once
// Typed calls for build nodes (admin), the build-node agent and build logs. Like api.hpp:
// one prepared statement per kiln_api function; JSON results are returned as text.
#include <pqxx/pqxx>
#include <string>

namespace kiln::db {

void prepare_node_statements(pqxx::connection& conn);

std::string register_build_node(pqxx::work& tx, const std::string& body, const std::string& token_sha256_hex);
std::string list_build_nodes(pqxx::work& tx);
std::string set_build_node_status(pqxx::work& tx, const std::string& node_id, const std::string& action,
                                  const std::string& body);

// New token hash for a node; {id, name, expires_at, previous_token_expires_at}.
std::string rotate_node_token(pqxx::work& tx, const std::string& node_id, const std::string& body,
                              const std::string& token_sha256_hex);

// token_sha256_hex: the node token's for claim and agent_issue_job_token; the execution's
// job token's for renew, logs and finish.
std::string agent_claim(pqxx::work& tx, const std::string& token_sha256_hex, const std::string& body);
void agent_issue_job_token(pqxx::work& tx, const std::string& token_sha256_hex, const std::string& execution_id,
                           const std::string& job_token_sha256_hex);
std::string agent_renew(pqxx::work& tx, const std::string& token_sha256_hex, const std::string& execution_id,
                        long long epoch);
std::string agent_append_log(pqxx::work& tx, const std::string& token_sha256_hex,
                             const std::string& execution_id, long long epoch, long long offset,
                             const std::string& data);
std::string agent_finish(pqxx::work& tx, const std::string& token_sha256_hex, const std::string& execution_id,
                         long long epoch, const std::string& body);

struct LogSlice {
  std::string data;
  long long next_offset = 0;
  std::string status;
  bool complete = false;
};
LogSlice get_build_log(pqxx::work& tx, const std::string& build_id, long long offset, int limit);

}  // namespace kiln::db
