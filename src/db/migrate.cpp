#include "db/migrate.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "core/token.hpp"

namespace kiln::db {

namespace {

constexpr long long kMigrateLockKey = 0x6b696c6e;  // "kiln"

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::filesystem::path> sql_files(const std::filesystem::path& dir) {
  if (!std::filesystem::is_directory(dir)) {
    throw std::runtime_error(dir.string() + " is not a directory (pass --sql-dir)");
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".sql") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

MigrateReport migrate(pqxx::connection& conn, const std::filesystem::path& sql_dir,
                      const std::function<void(const std::string&)>& progress) {
  MigrateReport report;
  // Session-level lock: it outlives the short transaction objects (a pqxx connection
  // holds one at a time).
  const auto session = [&conn](const char* sql) {
    pqxx::nontransaction tx(conn);
    tx.exec_params(sql, kMigrateLockKey);
  };
  session("select pg_advisory_lock($1)");
  try {
    std::map<std::string, std::string> applied;
    {
      pqxx::work tx(conn);
      if (tx.exec1("select to_regclass('kiln.schema_migrations') is not null")[0].as<bool>()) {
        for (const auto& row : tx.exec("select version, checksum from kiln.schema_migrations")) {
          applied[row[0].c_str()] = row[1].c_str();
        }
      }
      tx.commit();
    }
    for (const auto& path : sql_files(sql_dir / "migrations")) {
      const std::string version = path.stem().string();
      const std::string text = read_file(path);
      const std::string checksum = core::sha256_hex(text);
      if (auto it = applied.find(version); it != applied.end()) {
        if (it->second != checksum) {
          throw std::runtime_error("migration " + version +
                                   " was changed after it was applied; migrations are forward-only: "
                                   "restore the file and add a new migration instead");
        }
        ++report.already_applied;
        continue;
      }
      progress("applying migration " + version);
      pqxx::work tx(conn);
      tx.exec(text);
      tx.exec_params("insert into kiln.schema_migrations (version, checksum) values ($1, $2)",
                     version, checksum);
      tx.commit();
      report.applied.push_back(version);
    }

    const auto api = sql_files(sql_dir / "api");
    progress("reloading kiln_api from " + std::to_string(api.size()) + " files");
    pqxx::work tx(conn);
    tx.exec("drop schema if exists kiln_api cascade");
    tx.exec("create schema kiln_api");
    tx.exec("set local check_function_bodies = off");
    std::vector<std::filesystem::path> ordered;
    std::copy_if(api.begin(), api.end(), std::back_inserter(ordered),
                 [](const auto& p) { return p.filename() != "_grants.sql"; });
    std::copy_if(api.begin(), api.end(), std::back_inserter(ordered),
                 [](const auto& p) { return p.filename() == "_grants.sql"; });
    for (const auto& path : ordered) {
      try {
        tx.exec(read_file(path));
      } catch (const pqxx::sql_error& e) {
        throw std::runtime_error(path.filename().string() + ": " + e.what());
      }
    }
    tx.commit();
    report.api_files = ordered.size();
  } catch (...) {
    session("select pg_advisory_unlock($1)");
    throw;
  }
  session("select pg_advisory_unlock($1)");
  return report;
}

}  // namespace kiln::db
