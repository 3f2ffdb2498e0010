#pragma once
// One PostgreSQL connection (one per server thread; pqxx connections are not
// thread-safe), connected lazily and rebuilt after it breaks. with_tx runs one
// transaction and translates every database failure into kiln::Error:
//   connection lost or server restarting → 503 (the next call reconnects)
//   serialization failure or deadlock    → retried up to 3 times, then 503
#include <functional>
#include <memory>
#include <pqxx/pqxx>
#include <string>

#include "db/sql_error.hpp"
#include "error.hpp"

namespace kiln::db {

class Database {
 public:
  // prepare runs on every new connection (prepared statements, session settings).
  Database(std::string conninfo, std::function<void(pqxx::connection&)> prepare);

  template <class F>
  auto with_tx(F&& body) -> decltype(body(std::declval<pqxx::work&>()));

  bool connected() const { return conn_ != nullptr; }

 private:
  pqxx::connection& connection();
  [[noreturn]] void fail_connection(const std::string& what);

  std::string conninfo_;
  std::function<void(pqxx::connection&)> prepare_;
  std::unique_ptr<pqxx::connection> conn_;
};

template <class F>
auto Database::with_tx(F&& body) -> decltype(body(std::declval<pqxx::work&>())) {
  for (int attempt = 1;; ++attempt) {
    try {
      pqxx::work tx(connection());
      if constexpr (std::is_void_v<decltype(body(tx))>) {
        body(tx);
        tx.commit();
        return;
      } else {
        auto result = body(tx);
        tx.commit();
        return result;
      }
    } catch (const pqxx::broken_connection& e) {
      fail_connection(e.what());
    } catch (const pqxx::in_doubt_error& e) {
      fail_connection(e.what());
    } catch (const pqxx::sql_error& e) {
      if (is_connection_state(e.sqlstate())) fail_connection(e.what());
      if (is_retryable_state(e.sqlstate()) && attempt < 3) continue;
      throw from_sql(e);
    }
  }
}

}  // namespace kiln::db
