#pragma once
// The FastCGI front: N threads, each with its own database connection, accepting on one
// listening socket (a unix socket path, or host:port). SIGTERM/SIGINT drain: requests in
// flight finish, then the process exits 0.
#include <cstddef>
#include <string>

#include "http/app.hpp"

namespace kiln::http {

struct ServerOptions {
  std::string listen = "var/run/kiln-api.sock";
  std::string conninfo;
  int threads = 8;
  std::size_t max_body_bytes = 1 << 20;
};

int serve(const ServerOptions& options, App& app);

}  // namespace kiln::http
