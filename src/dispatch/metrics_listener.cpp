#include "dispatch/metrics_listener.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "db/dispatch_api.hpp"
#include "db/ops_api.hpp"
#include "dispatch/metrics_registry.hpp"
#include "http/metrics.hpp"
#include "log.hpp"

namespace kiln::dispatch {

namespace {

constexpr int kPollMs = 200;         // how often the serving thread looks at stop_
constexpr int kRequestTimeoutMs = 2000;
constexpr std::size_t kMaxRequestBytes = 8192;

// Reads a request head (up to the blank line) within the timeout; empty on failure.
std::string read_request(int fd) {
  std::string head;
  char buffer[1024];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < kMaxRequestBytes) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, kRequestTimeoutMs) <= 0) return {};
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return {};
    head.append(buffer, static_cast<std::size_t>(n));
  }
  return head;
}

void send_all(int fd, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

std::string response(int status, const char* reason, const std::string& type, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace

std::string render_dispatch_metrics(db::Database& db) {
  std::string text = DispatchMetrics::instance().render();
  bool up = true;
  try {
    text += http::render_database_metrics(db.with_tx([](pqxx::work& tx) {
      tx.exec("set local statement_timeout = '2s'");
      return db::dispatch_metrics_rows(tx);
    }));
  } catch (const std::exception& e) {
    up = false;
    log("warn", "metrics: database gauges unavailable", {{"error", e.what()}});
  }
  text += "# HELP kiln_dispatch_metrics_database_up Whether the database gauges above could be read.\n"
          "# TYPE kiln_dispatch_metrics_database_up gauge\nkiln_dispatch_metrics_database_up " +
          std::string(up ? "1" : "0") + "\n";
  return text;
}

void write_metrics_textfile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) throw std::runtime_error("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
  }
}

MetricsListener::MetricsListener(const std::string& address, const std::string& conninfo) : conninfo_(conninfo) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("--metrics-listen needs HOST:PORT, not " + address);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  const std::string host = address.substr(0, colon);
  if (inet_pton(AF_INET, host.empty() ? "0.0.0.0" : host.c_str(), &addr.sin_addr) != 1) {
    throw std::runtime_error("bad --metrics-listen address " + address);
  }
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd_, 16) != 0) {
    const std::string why = std::strerror(errno);
    close(fd_);
    throw std::runtime_error("cannot listen on " + address + ": " + why);
  }
  socklen_t len = sizeof addr;
  getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

MetricsListener::~MetricsListener() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  close(fd_);
}

void MetricsListener::serve() {
  db::Database db(conninfo_, db::prepare_dispatch_statements);
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, kPollMs) <= 0) continue;
    const int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    const std::string head = read_request(client);
    if (head.rfind("GET /metrics ", 0) == 0 || head.rfind("GET /metrics?", 0) == 0) {
      const std::string body = render_dispatch_metrics(db);
      DispatchMetrics::instance().set_connection("metrics", db.connected());
      send_all(client, response(200, "OK", "text/plain; version=0.0.4", body));
    } else if (!head.empty()) {
      send_all(client, response(404, "Not Found", "text/plain", "only GET /metrics is served here\n"));
    }
    close(client);
  }
}

}  // namespace kiln::dispatch
