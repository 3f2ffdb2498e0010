// kiln-api: the HTTP API behind nginx (FastCGI).
//   kiln-api [--listen PATH|HOST:PORT] [--database CONNINFO] [--threads N] [--max-body BYTES]
//   kiln-api --print-routes   the route table as JSON (method, pattern, permission, auth), for
//                             the generated isolation and audit tests; needs no database
// Environment: KILN_LISTEN, KILN_DATABASE_URL, KILN_API_THREADS.
#include <cstdio>
#include <exception>
#include <nlohmann/json.hpp>

#include "cli_args.hpp"
#include "http/fcgi_server.hpp"
#include "log.hpp"
#include "routes.hpp"

namespace {

const char* auth_name(kiln::http::Auth auth) {
  switch (auth) {
    case kiln::http::Auth::kBearer: return "bearer";
    case kiln::http::Auth::kPageSession: return "page-session";
    case kiln::http::Auth::kBearerOrPageSession: return "bearer-or-page-session";
  }
  return "unknown";
}

int print_routes() {
  kiln::http::Metrics metrics;
  const auto router = kiln::handlers::all_routes(metrics);
  auto out = nlohmann::json::array();
  for (const auto& r : router.routes()) {
    out.push_back({{"method", r.method}, {"pattern", r.pattern}, {"permission", r.permission},
                   {"auth", auth_name(r.auth)}, {"streaming", static_cast<bool>(r.session_handler)}});
  }
  std::puts(out.dump(1).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    kiln::Args args(argc, argv, 1);
    if (args.flag("help")) {
      std::puts("usage: kiln-api [--listen PATH|HOST:PORT] [--database CONNINFO] [--threads N] "
                "[--max-body BYTES] | --print-routes");
      return 0;
    }
    if (args.flag("print-routes")) return print_routes();
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
