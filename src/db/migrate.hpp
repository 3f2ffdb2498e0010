#pragma once
// Applies sql/migrations/NNNN_*.sql in order, each in its own transaction and recorded
// in kiln.schema_migrations with its checksum (an applied migration that was edited
// afterwards is refused), then drops and re-creates schema kiln_api from sql/api/*.sql
// in one transaction (_grants.sql last). Serialized across runners by an advisory lock.
#include <filesystem>
#include <functional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

namespace kiln::db {

struct MigrateReport {
  std::vector<std::string> applied;  // versions applied by this run
  std::size_t already_applied = 0;
  std::size_t api_files = 0;
};

MigrateReport migrate(pqxx::connection& conn, const std::filesystem::path& sql_dir,
                      const std::function<void(const std::string&)>& progress);

}  // namespace kiln::db
