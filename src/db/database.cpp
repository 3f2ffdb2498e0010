#include "db/database.hpp"

#include "log.hpp"

namespace kiln::db {

Database::Database(std::string conninfo, std::function<void(pqxx::connection&)> prepare)
    : conninfo_(std::move(conninfo)), prepare_(std::move(prepare)) {}

pqxx::connection& Database::connection() {
  if (conn_ && !conn_->is_open()) conn_.reset();
  if (!conn_) {
    try {
      auto conn = std::make_unique<pqxx::connection>(conninfo_);
      if (prepare_) prepare_(*conn);
      conn_ = std::move(conn);
    } catch (const pqxx::broken_connection& e) {
      fail_connection(e.what());
    } catch (const pqxx::sql_error& e) {
      // e.g. the server accepts connections but is still starting up (57P03)
      fail_connection(e.what());
    }
  }
  return *conn_;
}

void Database::fail_connection(const std::string& what) {
  conn_.reset();
  log("warn", "database connection lost", {{"error", what}});
  throw Error(Errc::kUnavailable, "unavailable", "the database is unavailable; try again shortly",
              {}, what);
}

}  // namespace kiln::db
