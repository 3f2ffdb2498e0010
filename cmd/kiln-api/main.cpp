// kiln-api: the HTTP API behind nginx (FastCGI).
//   kiln-api [--listen PATH|HOST:PORT] [--database CONNINFO] [--threads N] [--max-body BYTES]
// Environment: KILN_LISTEN, KILN_DATABASE_URL, KILN_API_THREADS.
#include <cstdio>
#include <exception>

#include "cli_args.hpp"
#include "http/fcgi_server.hpp"
#include "log.hpp"
#include "routes.hpp"

int main(int argc, char** argv) {
  try {
    kiln::Args args(argc, argv, 1);
    if (args.flag("help")) {
      std::puts("usage: kiln-api [--listen PATH|HOST:PORT] [--database CONNINFO] [--threads N] "
                "[--max-body BYTES]");
      return 0;
    }
    kiln::http::ServerOptions options;
    options.listen = args.get("listen", "KILN_LISTEN", options.listen);
    options.conninfo = args.get("database", "KILN_DATABASE_URL", "dbname=kiln user=kiln_web");
    options.threads = std::stoi(args.get("threads", "KILN_API_THREADS", "8"));
    options.max_body_bytes = std::stoul(args.get("max-body", nullptr, std::to_string(options.max_body_bytes)));
    args.finish();
    if (options.threads < 1 || options.threads > 256) throw std::invalid_argument("--threads must be 1..256");

    kiln::http::Metrics metrics;
    kiln::http::App app(kiln::handlers::all_routes(metrics), metrics);
    return kiln::http::serve(options, app);
  } catch (const std::exception& e) {
    kiln::log("fatal", e.what());
    return 1;
  }
}
