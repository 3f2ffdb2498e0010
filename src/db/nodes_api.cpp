#include "db/nodes_api.hpp"

#include "db/statements.hpp"

namespace kiln::db {

namespace {

constexpr Statement kStatements[] = {
    {"register_build_node", "select kiln_api.register_build_node($1::jsonb, decode($2, 'hex'))"},
    {"list_build_nodes", "select kiln_api.list_build_nodes()"},
    {"set_build_node_status", "select kiln_api.set_build_node_status($1::uuid, $2, $3::jsonb)"},
    {"agent_claim", "select kiln_api.agent_claim(decode($1, 'hex'), $2::jsonb)"},
    {"agent_issue_job_token", "select kiln_api.agent_issue_job_token(decode($1, 'hex'), $2::uuid, decode($3, 'hex'))"},
    {"rotate_node_token", "select kiln_api.rotate_node_token($1::uuid, $2::jsonb, decode($3, 'hex'))"},
    {"agent_renew", "select kiln_api.agent_renew(decode($1, 'hex'), $2::uuid, $3)"},
    {"agent_append_log", "select kiln_api.agent_append_log(decode($1, 'hex'), $2::uuid, $3, $4, $5)"},
    {"agent_finish", "select kiln_api.agent_finish(decode($1, 'hex'), $2::uuid, $3, $4::jsonb)"},
    {"get_build_log",
     "select data, next_offset, status::text, complete from kiln_api.get_build_log($1::uuid, $2, $3)"},
};

}  // namespace

void prepare_node_statements(pqxx::connection& conn) {
  prepare_all(conn, kStatements);
}

std::string register_build_node(pqxx::work& tx, const std::string& body, const std::string& token_sha256_hex) {
  return json_of(tx.exec_prepared1("register_build_node", body, token_sha256_hex));
}

std::string list_build_nodes(pqxx::work& tx) { return json_of(tx.exec_prepared1("list_build_nodes")); }

std::string set_build_node_status(pqxx::work& tx, const std::string& node_id, const std::string& action,
                                  const std::string& body) {
  return json_of(tx.exec_prepared1("set_build_node_status", node_id, action, body));
}

std::string agent_claim(pqxx::work& tx, const std::string& token_sha256_hex, const std::string& body) {
  return json_of(tx.exec_prepared1("agent_claim", token_sha256_hex, body));
}

void agent_issue_job_token(pqxx::work& tx, const std::string& token_sha256_hex, const std::string& execution_id,
                           const std::string& job_token_sha256_hex) {
  tx.exec_prepared1("agent_issue_job_token", token_sha256_hex, execution_id, job_token_sha256_hex);
}

std::string rotate_node_token(pqxx::work& tx, const std::string& node_id, const std::string& body,
                              const std::string& token_sha256_hex) {
  return json_of(tx.exec_prepared1("rotate_node_token", node_id, body, token_sha256_hex));
}

std::string agent_renew(pqxx::work& tx, const std::string& token_sha256_hex, const std::string& execution_id,
                        long long epoch) {
  return json_of(tx.exec_prepared1("agent_renew", token_sha256_hex, execution_id, epoch));
}

std::string agent_append_log(pqxx::work& tx, const std::string& token_sha256_hex,
                             const std::string& execution_id, long long epoch, long long offset,
                             const std::string& data) {
  return json_of(tx.exec_prepared1("agent_append_log", token_sha256_hex, execution_id, epoch, offset, data));
}

std::string agent_finish(pqxx::work& tx, const std::string& token_sha256_hex, const std::string& execution_id,
                         long long epoch, const std::string& body) {
  return json_of(tx.exec_prepared1("agent_finish", token_sha256_hex, execution_id, epoch, body));
}

LogSlice get_build_log(pqxx::work& tx, const std::string& build_id, long long offset, int limit) {
  const pqxx::row r = tx.exec_prepared1("get_build_log", build_id, offset, limit);
  return LogSlice{r[0].c_str(), r[1].as<long long>(), r[2].c_str(), r[3].as<bool>()};
}

}  // namespace kiln::db
