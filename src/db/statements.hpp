#pragma once
// The shape every src/db/*_api.cpp uses: a table of prepared statements, one per
// kiln_api function, registered on each new connection.
#include <pqxx/pqxx>
#include <span>
#include <string>

namespace kiln::db {

struct Statement {
  const char* name;
  const char* sql;
};

inline void prepare_all(pqxx::connection& conn, std::span<const Statement> statements) {
  for (const auto& s : statements) conn.prepare(s.name, s.sql);
}

// The single JSON column of a procedure's answer, as text.
inline std::string json_of(const pqxx::row& row) { return row[0].c_str(); }

}  // namespace kiln::db
