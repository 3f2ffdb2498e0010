// The whole agent against a fake API on a local socket: claim, run, logs, renew, finish,
// cancellation, retries and shutdown, as docs/agent-protocol.md describes them.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "agent/agent.hpp"

namespace kiln::agent {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

struct Recorded {
  std::string path;
  std::string authorization;
  json body;
};

// A minimal HTTP/1.1 server: one thread per connection, keep-alive, Content-Length bodies.
class FakeApi {
 public:
  using Handler = std::function<std::pair<int, json>(const std::string& path, const json& body)>;

  explicit FakeApi(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(listen_fd_, 16);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~FakeApi() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    {
      std::lock_guard lock(mu_);
      for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : threads_) t.join();
    ::close(listen_fd_);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  std::vector<Recorded> requests(const std::string& suffix) {
    std::lock_guard lock(mu_);
    std::vector<Recorded> out;
    for (const auto& r : recorded_) {
      if (r.path.size() >= suffix.size() && r.path.compare(r.path.size() - suffix.size(), suffix.size(), suffix) == 0)
        out.push_back(r);
    }
    return out;
  }

  // Waits until pred holds over the recorded requests.
  bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds limit = 10s) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      if (pred()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return pred();
  }

 private:
  void accept_loop() {
    while (!stopping_) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      std::lock_guard lock(mu_);
      connections_.push_back(fd);
      threads_.emplace_back([this, fd] { serve(fd); });
    }
  }

  void serve(int fd) {
    std::string buffer;
    char chunk[65536];
    while (true) {
      std::size_t header_end;
      while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return close_connection(fd);
        buffer.append(chunk, static_cast<std::size_t>(n));
      }
      const std::string head = buffer.substr(0, header_end);
      std::size_t length = 0;
      std::string authorization;
      for (std::size_t pos = head.find("\r\n"); pos != std::string::npos;) {
        const std::size_t next = head.find("\r\n", pos + 2);
        const std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
        const std::string lower = [&] {
          std::string l = line;
          for (auto& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          return l;
        }();
        if (lower.rfind("content-length:", 0) == 0) length = std::stoul(line.substr(15));
        if (lower.rfind("authorization:", 0) == 0) authorization = line.substr(15);
        pos = next;
      }
      while (buffer.size() < header_end + 4 + length) {
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return close_connection(fd);
        buffer.append(chunk, static_cast<std::size_t>(n));
      }
      const std::string request_line = head.substr(0, head.find("\r\n"));
      const std::string path =
          request_line.substr(request_line.find(' ') + 1, request_line.rfind(' ') - request_line.find(' ') - 1);
      const json body = json::parse(buffer.substr(header_end + 4, length), nullptr, false);
      buffer.erase(0, header_end + 4 + length);
      {
        std::lock_guard lock(mu_);
        recorded_.push_back({path, authorization, body});
      }
      const auto [status, answer] = handler_(path, body);
      const std::string text = answer.dump();
      const std::string response = "HTTP/1.1 " + std::to_string(status) +
                                   " X\r\nContent-Type: application/json\r\n"
                                   "Content-Length: " +
                                   std::to_string(text.size()) + "\r\n\r\n" + text;
      if (::send(fd, response.data(), response.size(), MSG_NOSIGNAL) < 0) return close_connection(fd);
    }
  }

  void close_connection(int fd) {
    std::lock_guard lock(mu_);
    std::erase(connections_, fd);
    ::close(fd);
  }

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> connections_;
  std::vector<std::thread> threads_;
  std::vector<Recorded> recorded_;
};

json execution(const std::string& id, const std::string& script, int lease_seconds = 30) {
  return json{
      {"execution_id", id},
      {"build_id", "build-" + id},
      {"job_token", "kiln_job_" + id},
      {"epoch", 7},
      {"attempt", 1},
      {"lease_seconds", lease_seconds},
      {"lease_expires_at", "2030-01-01T00:00:00Z"},
      {"project", "web"},
      {"method", "script"},
      {"script", script},
      {"size", {{"cpu", 1}, {"memory_gb", 1}, {"disk_gb", 1}, {"time_budget_min", 1}, {"time_budget_seconds", 10}}}};
}

json error_body(const std::string& code) { return json{{"error", {{"code", code}, {"message", code}}}}; }

class AgentLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "kiln-agent-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    std::ofstream(root_ / "token") << "kiln_node_test\n";
  }
  void TearDown() override { fs::remove_all(root_); }

  // Serves the given executions on the first claim, then long-polls briefly with nothing.
  FakeApi::Handler claims_then(std::vector<json> executions, FakeApi::Handler others) {
    return [executions = std::move(executions), others = std::move(others), handed = std::make_shared<bool>(false)](
               const std::string& path, const json& body) -> std::pair<int, json> {
      if (path == "/api/v1/agent/claim") {
        if (!*handed) {
          *handed = true;
          return {200, json{{"executions", executions}}};
        }
        std::this_thread::sleep_for(100ms);
        return {200, json{{"executions", json::array()}}};
      }
      return others(path, body);
    };
  }

  std::unique_ptr<Agent> make_agent(const std::string& url, int concurrency = 1) {
    AgentConfig config;
    config.url = url;
    config.token_file = (root_ / "token").string();
    config.work_dir = root_ / "work";
    config.node.labels = {{"arch", "amd64"}};
    config.node.capabilities = {{"gpu", false}};
    config.node.cpu = 2;
    config.node.memory_gb = 4;
    config.node.concurrency = concurrency;
    config.kill_grace = 1s;
    config.wait_seconds = 1;
    LogStreamOptions logs;
    logs.interval = 50ms;
    return std::make_unique<Agent>(config, MemoryLimiter::rlimit_only(), logs);
  }

  fs::path root_;
};

std::pair<int, json> accept_all(const std::string& path, const json& body) {
  if (path.ends_with("/logs"))
    return {200, json{{"next_offset", body["offset"].get<std::int64_t>() +
                                          static_cast<std::int64_t>(body["data"].get<std::string>().size())}}};
  if (path.ends_with("/finish")) return {200, json{{"build_status", "failed"}}};
  return {200, json{{"lease_expires_at", "2030-01-01T00:00:00Z"}}};
}

std::string shipped_log(FakeApi& api) {
  std::string log;
  for (const auto& r : api.requests("/logs")) {
    const auto offset = r.body["offset"].get<std::size_t>();
    const auto data = r.body["data"].get<std::string>();
    EXPECT_LE(offset, log.size());
    log = log.substr(0, offset) + data;
  }
  return log;
}

TEST_F(AgentLoopTest, RunsAClaimedScriptShipsItsOutputAndReportsTheOutcome) {
  FakeApi api(claims_then({execution("e1", "echo hello\necho \"id=$KILN_EXECUTION_ID\" >&2\nexit 3\n")}, accept_all));
  auto agent = make_agent(api.url());
  std::thread runner([&] { EXPECT_EQ(agent->run(), 0); });
  ASSERT_TRUE(api.wait_for([&] { return !api.requests("/e1/finish").empty(); }));
  agent->request_stop(false);
  runner.join();

  const auto claims = api.requests("/claim");
  ASSERT_GE(claims.size(), 2u);
  EXPECT_EQ(claims[0].authorization, "Bearer kiln_node_test");
  EXPECT_EQ(claims[0].body["running"], 0);
  EXPECT_EQ(claims[0].body["labels"], json({{"arch", "amd64"}}));
  EXPECT_EQ(claims[0].body["capacity"], json({{"cpu", 2}, {"memory_gb", 4}}));
  EXPECT_EQ(claims[0].body["wait_seconds"], 1);
  EXPECT_EQ(shipped_log(api), "hello\nid=e1\n");
  const auto finish = api.requests("/api/v1/agent/executions/e1/finish");
  ASSERT_EQ(finish.size(), 1u);
  // Everything about the execution carries its job token, never the node token.
  EXPECT_EQ(finish[0].authorization, "Bearer kiln_job_e1");
  for (const auto& r : api.requests("/e1/")) EXPECT_EQ(r.authorization, "Bearer kiln_job_e1") << r.path;
  EXPECT_EQ(finish[0].body["epoch"], 7);
  EXPECT_EQ(finish[0].body["outcome"], "failed");
  EXPECT_EQ(finish[0].body["exit_code"], 3);
  EXPECT_GT(finish[0].body["duration_seconds"].get<double>(), 0);
  EXPECT_TRUE(finish[0].body.contains("cpu_seconds"));
  EXPECT_GT(finish[0].body["peak_memory_bytes"].get<std::int64_t>(), 0);
  EXPECT_TRUE(fs::is_empty(root_ / "work"));  // the scratch directory is gone
}

TEST_F(AgentLoopTest, CancelledOnRenewalKillsTheBuildAndSendsNoFinish) {
  // lease_seconds 3: renewals every second.
  FakeApi api(claims_then({execution("e2", "echo started\nsleep 30\n", 3)},
                          [](const std::string& path, const json& body) -> std::pair<int, json> {
                            if (path.ends_with("/renew")) return {409, error_body("execution_cancelled")};
                            return accept_all(path, body);
                          }));
  auto agent = make_agent(api.url());
  std::thread runner([&] { agent->run(); });
  ASSERT_TRUE(api.wait_for([&] { return !api.requests("/e2/renew").empty(); }));
  // The slot frees up again: a claim with running 0 after the cancellation.
  ASSERT_TRUE(api.wait_for(
      [&] {
        const auto claims = api.requests("/claim");
        return claims.size() >= 2 && claims.back().body["running"] == 0;
      },
      5s));
  agent->request_stop(false);
  runner.join();
  EXPECT_TRUE(api.requests("/e2/finish").empty());
  EXPECT_EQ(api.requests("/e2/renew").size(), 1u);  // nothing more after the 409
}

TEST_F(AgentLoopTest, StaleLeaseOnSendingOutputKillsTheBuildAndDropsIt) {
  FakeApi api(claims_then({execution("e8", "echo started\nsleep 30\n")},
                          [](const std::string& path, const json& body) -> std::pair<int, json> {
                            if (path.ends_with("/logs")) return {409, error_body("stale_lease")};
                            return accept_all(path, body);
                          }));
  auto agent = make_agent(api.url());
  std::thread runner([&] { agent->run(); });
  ASSERT_TRUE(api.wait_for(
      [&] {
        const auto claims = api.requests("/claim");
        return claims.size() >= 2 && claims.back().body["running"] == 0;
      },
      5s));
  agent->request_stop(false);
  runner.join();
  EXPECT_EQ(api.requests("/e8/logs").size(), 1u);
  EXPECT_TRUE(api.requests("/e8/finish").empty());
}

TEST_F(AgentLoopTest, TransientFailuresAreRetriedWithoutLosingOrDuplicatingOutput) {
  auto log_calls = std::make_shared<std::atomic<int>>(0);
  auto finish_calls = std::make_shared<std::atomic<int>>(0);
  FakeApi api(claims_then({execution("e3", "echo one\nsleep 0.3\necho two\n")},
                          [=](const std::string& path, const json& body) -> std::pair<int, json> {
                            if (path.ends_with("/logs") && (*log_calls)++ == 0) return {503, error_body("unavailable")};
                            if (path.ends_with("/finish") && (*finish_calls)++ == 0) return {502, json::object()};
                            return accept_all(path, body);
                          }));
  auto agent = make_agent(api.url());
  std::thread runner([&] { agent->run(); });
  ASSERT_TRUE(api.wait_for([&] { return api.requests("/e3/finish").size() == 2; }));
  agent->request_stop(false);
  runner.join();
  const auto logs = api.requests("/e3/logs");
  ASSERT_GE(logs.size(), 2u);
  EXPECT_EQ(logs[0].body["offset"], 0);
  EXPECT_EQ(logs[1].body["offset"], 0);  // the refused chunk again, from the same offset
  EXPECT_EQ(shipped_log(api), "one\ntwo\n");
  EXPECT_EQ(api.requests("/e3/finish")[1].body["outcome"], "succeeded");
}

TEST_F(AgentLoopTest, FirstStopLetsTheRunningBuildFinishAndReportIt) {
  FakeApi api(claims_then({execution("e4", "sleep 0.5\necho done\n")}, accept_all));
  auto agent = make_agent(api.url());
  std::thread runner([&] { agent->run(); });
  ASSERT_TRUE(api.wait_for([&] { return api.requests("/claim").size() >= 2; }));
  agent->request_stop(false);
  runner.join();
  const auto finish = api.requests("/e4/finish");
  ASSERT_EQ(finish.size(), 1u);
  EXPECT_EQ(finish[0].body["outcome"], "succeeded");
}

TEST_F(AgentLoopTest, SecondStopKillsRunningBuildsAndExitsWithoutFinishing) {
  FakeApi api(claims_then({execution("e5", "echo started\nsleep 30\n"), execution("e6", "sleep 30\n")}, accept_all));
  auto agent = make_agent(api.url(), 2);
  std::thread runner([&] { agent->run(); });
  ASSERT_TRUE(api.wait_for([&] { return !api.requests("/e5/logs").empty(); }));
  const auto t0 = std::chrono::steady_clock::now();
  agent->request_stop(false);
  agent->request_stop(true);
  runner.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_TRUE(api.requests("/e5/finish").empty());
  EXPECT_TRUE(api.requests("/e6/finish").empty());
  EXPECT_TRUE(fs::is_empty(root_ / "work"));
}

TEST_F(AgentLoopTest, ADrainingNodeIsNotAnsweredWithAClaimStorm) {
  // The API answers a draining node at once; the agent must not ask again at once.
  FakeApi api([](const std::string&, const json&) -> std::pair<int, json> {
    return {200, json{{"executions", json::array()}, {"node_status", "draining"}}};
  });
  auto agent = make_agent(api.url());
  std::thread runner([&] { agent->run(); });
  std::this_thread::sleep_for(1500ms);
  agent->request_stop(false);
  runner.join();
  const auto claims = api.requests("/claim").size();
  EXPECT_GE(claims, 1u);
  EXPECT_LE(claims, 3u);
}

TEST_F(AgentLoopTest, AllSlotsBusyMeansNoClaimsUntilOneFrees) {
  FakeApi api(claims_then({execution("e7", "sleep 1\n")}, accept_all));
  auto agent = make_agent(api.url(), 1);
  std::thread runner([&] { agent->run(); });
  ASSERT_TRUE(api.wait_for([&] { return !api.requests("/e7/finish").empty(); }));
  ASSERT_TRUE(api.wait_for([&] { return api.requests("/claim").size() >= 2; }));
  agent->request_stop(false);
  runner.join();
  const auto claims = api.requests("/claim");
  EXPECT_EQ(claims[1].body["running"], 0);  // the second claim came only after the build
  for (const auto& c : claims) EXPECT_EQ(c.body["running"], 0);
}

}  // namespace
}  // namespace kiln::agent
