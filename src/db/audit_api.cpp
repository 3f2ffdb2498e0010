#include "db/audit_api.hpp"

#include "db/statements.hpp"

namespace kiln::db {

std::string verify_audit_chain(pqxx::work& tx, const std::optional<std::string>& tenant_id) {
  return json_of(tx.exec_params1("select kiln_api.verify_audit_chain($1::uuid)", tenant_id));
}

}  // namespace kiln::db
