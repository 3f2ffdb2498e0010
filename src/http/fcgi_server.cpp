#include "http/fcgi_server.hpp"

#include <arpa/inet.h>
#include <fcgiapp.h>
#include <netinet/in.h>
#include <signal.h>
#include <strings.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "db/api.hpp"
#include "http/draining.hpp"
#include "http/error_body.hpp"
#include "log.hpp"

namespace kiln::http {

namespace {

// libfcgi's FCGX_OpenSocket exits the process when the address is taken and silently
// steals a unix socket from a running instance; we bind ourselves and refuse both.
int open_listener(const std::string& listen) {
  const bool is_tcp = listen.find('/') == std::string::npos && listen.find(':') != std::string::npos;
  int fd = -1;
  if (is_tcp) {
    const std::size_t colon = listen.rfind(':');
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(listen.substr(colon + 1))));
    if (inet_pton(AF_INET, listen.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
      throw std::runtime_error("bad listen address " + listen);
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("cannot bind " + listen + ": " + std::strerror(errno));
    }
  } else {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (listen.size() >= sizeof addr.sun_path) throw std::runtime_error("socket path too long: " + listen);
    std::strcpy(addr.sun_path, listen.c_str());
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int probe = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      close(probe);
      throw std::runtime_error("another process is serving " + listen + "; stop it first");
    }
    close(probe);
    unlink(listen.c_str());  // a stale socket file from a process that died
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("cannot bind " + listen + ": " + std::strerror(errno));
    }
    // nginx workers run as another user; the socket lives in a private directory.
    chmod(listen.c_str(), 0666);
  }
  if (::listen(fd, 1024) != 0) throw std::runtime_error("listen failed: " + std::string(std::strerror(errno)));
  return fd;
}

// nginx closes the FastCGI connection when its client aborts (no keep_conn): the socket
// then reads end-of-file. Nothing else arrives on it once the request body was read.
bool connection_closed(int fd) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLHUP | POLLRDHUP | POLLERR)) return true;
  char byte;
  return ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

std::string param(FCGX_Request& r, const char* name) {
  const char* value = FCGX_GetParam(name, r.envp);
  return value ? value : "";
}

std::string new_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (auto& c : id) c = kHex[rng() & 15];
  return id;
}

void write_response(FCGX_Request& r, const Request& request, const Response& response) {
  std::string head = "Status: " + std::to_string(response.status) + " " +
                     std::string(reason_phrase(response.status)) + "\r\n";
  head += "Content-Type: " + response.content_type + "\r\n";
  head += "X-Request-Id: " + request.request_id + "\r\n";
  // no-store unless the handler chose a cache policy itself (the public API description)
  bool cache_policy = false;
  for (const auto& [name, value] : response.headers) {
    head += name + ": " + value + "\r\n";
    cache_policy = cache_policy || strcasecmp(name.c_str(), "Cache-Control") == 0;
  }
  if (!cache_policy) head += "Cache-Control: no-store\r\n";
  head += "\r\n";
  FCGX_PutStr(head.data(), static_cast<int>(head.size()), r.out);
  if (request.method == "HEAD") return;
  FCGX_PutStr(response.body.data(), static_cast<int>(response.body.size()), r.out);
  if (response.stream) {
    // Each piece goes out at once; a failed flush (EPIPE) means the client left.
    FCGX_FFlush(r.out);
    response.stream([&r](std::string_view piece) {
      FCGX_PutStr(piece.data(), static_cast<int>(piece.size()), r.out);
      return FCGX_FFlush(r.out) == 0 && FCGX_GetError(r.out) == 0;
    });
  }
}

void worker(int listen_fd, const ServerOptions& options, App& app) {
  db::Database db(options.conninfo, db::prepare_statements);
  FCGX_Request r;
  FCGX_InitRequest(&r, listen_fd, 0);
  while (FCGX_Accept_r(&r) == 0) {
    Request request;
    request.method = param(r, "REQUEST_METHOD");
    request.path = param(r, "DOCUMENT_URI");
    request.query_string = param(r, "QUERY_STRING");
    request.authorization = param(r, "HTTP_AUTHORIZATION");
    request.content_type = param(r, "CONTENT_TYPE");
    request.request_id = param(r, "REQUEST_ID");
    request.last_event_id = param(r, "HTTP_LAST_EVENT_ID");
    request.client_gone = [fd = r.ipcFd] { return connection_closed(fd); };
    request.accept = param(r, "HTTP_ACCEPT");
    request.cookie = param(r, "HTTP_COOKIE");
    request.user_agent = param(r, "HTTP_USER_AGENT");
    request.https = param(r, "HTTPS") == "on" || param(r, "REQUEST_SCHEME") == "https" ||
                    param(r, "HTTP_X_FORWARDED_PROTO") == "https";
    if (request.request_id.empty()) request.request_id = new_request_id();
    const long long length = std::atoll(param(r, "CONTENT_LENGTH").c_str());
    if (length > static_cast<long long>(options.max_body_bytes)) {
      write_response(r, request,
                     error_response(Error(Errc::kPayloadTooLarge, "payload_too_large",
                                          "the body is larger than " +
                                              std::to_string(options.max_body_bytes) + " bytes", "body"),
                                    request.request_id));
      FCGX_Finish_r(&r);
      continue;
    }
    if (length > 0) {
      request.body.resize(static_cast<std::size_t>(length));
      const int got = FCGX_GetStr(request.body.data(), static_cast<int>(length), r.in);
      request.body.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
    }
    write_response(r, request, app.handle(request, db));
    FCGX_Finish_r(&r);
  }
}

}  // namespace

int serve(const ServerOptions& options, App& app) {
  if (FCGX_Init() != 0) throw std::runtime_error("FCGX_Init failed");
  const int listen_fd = open_listener(options.listen);

  // FCGX_Init catches SIGTERM but threads blocked in accept() never notice. Block the
  // signals in every thread and wait for them here instead.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::vector<std::thread> threads;
  for (int i = 0; i < options.threads; ++i) {
    threads.emplace_back(worker, listen_fd, std::cref(options), std::ref(app));
  }
  log("info", "kiln-api listening", {{"listen", options.listen},
                                     {"threads", std::to_string(options.threads)}});
  int received = 0;
  sigwait(&signals, &received);
  log("info", "draining", {{"signal", strsignal(received)}});
  g_draining = true;
  FCGX_ShutdownPending();
  shutdown(listen_fd, SHUT_RDWR);  // wakes every accept(); in-flight requests finish
  for (auto& t : threads) t.join();
  close(listen_fd);
  if (options.listen.find('/') != std::string::npos) unlink(options.listen.c_str());
  log("info", "stopped");
  return 0;
}

}  // namespace kiln::http
