#pragma once
// Typed calls for the audit log (sql/api/audit.sql). verify_audit_chain is an
// administrator's occasional check, so it is not a prepared statement.
#include <optional>
#include <pqxx/pqxx>
#include <string>

namespace kiln::db {

// {"valid": bool, "chains": [...]} for the caller's chain(s), or one tenant's.
std::string verify_audit_chain(pqxx::work& tx, const std::optional<std::string>& tenant_id);

}  // namespace kiln::db
