#pragma once
// One PostgreSQL connection (one per server thread; pqxx connections are not
// thread-safe), connected lazily and rebuilt after it breaks. with_tx runs one
// transaction and translates every database failure into kiln::Error:
//   connection lost or server restarting → 503 (the next call reconnects)
//   serialization failure or deadlock    → retried up to 3 times, then 503
#include <chrono>
#include <functional>
#include <memory>
#include <vector>
#include <pqxx/pqxx>
#include <string>

#include "db/sql_error.hpp"
#include "error.hpp"

namespace kiln::db {

class Database {
 public:
  // prepare runs on every new connection (prepared statements, session settings).
  Database(std::string conninfo, std::function<void(pqxx::connection&)> prepare);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  template <class F>
  auto with_tx(F&& body) -> decltype(body(std::declval<pqxx::work&>()));

  bool connected() const { return conn_ != nullptr; }

  // LISTEN on a channel until unlisten (outside transactions: a connection inside one
  // receives nothing until it commits). Listen before checking for work, then wait, so
  // that no notification slips between the check and the wait.
  void listen(const std::string& channel);
  void unlisten(const std::string& channel) noexcept;
  // Waits up to timeout for notifications on the channels listened to and returns their
  // payloads (empty after a timeout).
  std::vector<std::string> wait_for_notifications(std::chrono::milliseconds timeout);

 private:
  struct Receiver;
  pqxx::connection& connection();
  [[noreturn]] void fail_connection(const std::string& what);

  std::string conninfo_;
  std::function<void(pqxx::connection&)> prepare_;
  std::unique_ptr<pqxx::connection> conn_;
  std::vector<std::unique_ptr<Receiver>> receivers_;  // destroyed before conn_ is replaced
  std::vector<std::string> pending_;
};

// Listens on a channel for the lifetime of the object.
class Listening {
 public:
  Listening(Database& db, std::string channel) : db_(db), channel_(std::move(channel)) { db_.listen(channel_); }
  ~Listening() { db_.unlisten(channel_); }
  Listening(const Listening&) = delete;
  Listening& operator=(const Listening&) = delete;

 private:
  Database& db_;
  std::string channel_;
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
