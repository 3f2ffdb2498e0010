#pragma once
// Typed calls for credentials with a lifetime (sql/api/tokens.sql, sessions.sql): API
// tokens as admins manage them, page sessions as admins see and revoke them, and why a
// refused API token was refused. Like api.hpp: one prepared statement per kiln_api
// function; JSON results are returned as text.
#include <pqxx/pqxx>
#include <string>

namespace kiln::db {

void prepare_credential_statements(pqxx::connection& conn);

std::string create_api_token(pqxx::work& tx, const std::string& body, const std::string& token_sha256_hex);
std::string list_api_tokens(pqxx::work& tx);
std::string revoke_api_token(pqxx::work& tx, const std::string& token_id);
std::string rotate_api_token(pqxx::work& tx, const std::string& token_id, const std::string& body,
                             const std::string& token_sha256_hex);
// "token_expired", "token_revoked", or empty (unknown token).
std::string token_refusal(pqxx::work& tx, const std::string& token_sha256_hex);

std::string list_web_sessions(pqxx::work& tx);
std::string revoke_web_session(pqxx::work& tx, const std::string& session_id);

}  // namespace kiln::db
