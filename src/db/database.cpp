#include "db/database.hpp"

#include <thread>
#include <utility>

#include "log.hpp"

namespace kiln::db {

struct Database::Receiver : pqxx::notification_receiver {
  Receiver(pqxx::connection& conn, const std::string& channel, std::vector<std::string>& sink)
      : pqxx::notification_receiver(conn, channel), sink_(sink) {}
  void operator()(const std::string& payload, int) override { sink_.push_back(payload); }
  std::vector<std::string>& sink_;
};

Database::~Database() {
  receivers_.clear();
}

void Database::listen(const std::string& channel) {
  for (const auto& r : receivers_) {
    if (r->channel() == channel) return;
  }
  try {
    receivers_.push_back(std::make_unique<Receiver>(connection(), channel, pending_));
  } catch (const pqxx::broken_connection& e) {
    fail_connection(e.what());
  }
}

void Database::unlisten(const std::string& channel) noexcept {
  std::erase_if(receivers_, [&](const auto& r) { return r->channel() == channel; });
}

std::vector<std::string> Database::wait_for_notifications(std::chrono::milliseconds timeout) {
  if (!conn_ || receivers_.empty()) {
    std::this_thread::sleep_for(std::min(timeout, std::chrono::milliseconds(1000)));
    return {};
  }
  try {
    if (pending_.empty()) conn_->get_notifs();  // some may have arrived during a transaction
    if (pending_.empty() && timeout.count() > 0) {
      conn_->await_notification(timeout.count() / 1000, (timeout.count() % 1000) * 1000);
    }
  } catch (const pqxx::broken_connection& e) {
    fail_connection(e.what());
  }
  return std::exchange(pending_, {});
}

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
  receivers_.clear();
  conn_.reset();
  log("warn", "database connection lost", {{"error", what}});
  throw Error(Errc::kUnavailable, "unavailable", "the database is unavailable; try again shortly",
              {}, what);
}

}  // namespace kiln::db
