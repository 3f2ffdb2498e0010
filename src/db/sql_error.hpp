#pragma once
#include <pqxx/except>
#include <string_view>

#include "error.hpp"

namespace kiln::db {

// The only SQLSTATE table:
//   QCnnn            → HTTP nnn, code and field from the error's DETAIL JSON
//   23505, 23503     → 409 conflict
//   22P02, 22P05     → 400 (text PostgreSQL could not read as the type asked for)
//   22xxx, 23514     → 422
//   57014            → 503 (statement timeout)
//   08xxx, 57Pxx     → 503 (connection lost, server shutting down)
//   anything else    → 500 with a generic message; the SQL error goes to the log only
Error from_sql(std::string_view sqlstate, std::string_view what);
inline Error from_sql(const pqxx::sql_error& e) { return from_sql(e.sqlstate(), e.what()); }

// Whether a SQLSTATE means the connection is unusable and must be rebuilt.
bool is_connection_state(std::string_view sqlstate);
// Whether a SQLSTATE means the transaction may simply be run again.
bool is_retryable_state(std::string_view sqlstate);

}  // namespace kiln::db
