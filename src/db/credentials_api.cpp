#include "db/credentials_api.hpp"

#include "db/statements.hpp"

namespace kiln::db {

namespace {

constexpr Statement kStatements[] = {
    {"create_api_token", "select kiln_api.create_api_token($1::jsonb, decode($2, 'hex'))"},
    {"list_api_tokens", "select kiln_api.list_api_tokens()"},
    {"revoke_api_token", "select kiln_api.revoke_api_token($1::uuid)"},
    {"rotate_api_token", "select kiln_api.rotate_api_token($1::uuid, $2::jsonb, decode($3, 'hex'))"},
    {"token_refusal", "select kiln_api.token_refusal(decode($1, 'hex'))"},
    {"list_web_sessions", "select kiln_api.list_web_sessions()"},
    {"revoke_web_session", "select kiln_api.revoke_web_session($1::uuid)"},
};

}  // namespace

void prepare_credential_statements(pqxx::connection& conn) { prepare_all(conn, kStatements); }

std::string create_api_token(pqxx::work& tx, const std::string& body, const std::string& token_sha256_hex) {
  return json_of(tx.exec_prepared1("create_api_token", body, token_sha256_hex));
}

std::string list_api_tokens(pqxx::work& tx) { return json_of(tx.exec_prepared1("list_api_tokens")); }

std::string revoke_api_token(pqxx::work& tx, const std::string& token_id) {
  return json_of(tx.exec_prepared1("revoke_api_token", token_id));
}

std::string rotate_api_token(pqxx::work& tx, const std::string& token_id, const std::string& body,
                             const std::string& token_sha256_hex) {
  return json_of(tx.exec_prepared1("rotate_api_token", token_id, body, token_sha256_hex));
}

std::string token_refusal(pqxx::work& tx, const std::string& token_sha256_hex) {
  const pqxx::result r = tx.exec_prepared("token_refusal", token_sha256_hex);
  return r.empty() || r[0][0].is_null() ? std::string() : std::string(r[0][0].c_str());
}

std::string list_web_sessions(pqxx::work& tx) { return json_of(tx.exec_prepared1("list_web_sessions")); }

std::string revoke_web_session(pqxx::work& tx, const std::string& session_id) {
  return json_of(tx.exec_prepared1("revoke_web_session", session_id));
}

}  // namespace kiln::db
