#pragma once
// The route table. Patterns are literal segments and {name} placeholders
// ("/api/v1/builds/{id}/start"). Every route names the permission it needs, kPublic, or
// kNodeToken (build-node agents: the kiln_api.agent_* function checks the node token).
// The server checks a permission before the handler runs, inside the request's transaction.
// Page routes (auth kPageSession) authenticate with the session cookie instead of a bearer
// token: no valid session redirects to /admin/login, a POST must carry the session's CSRF
// token, and errors are HTML pages. kSignedIn asks for a session and no permission.
#include <functional>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <vector>

#include "db/api.hpp"
#include "db/database.hpp"
#include "db/pages_api.hpp"
#include "http/request.hpp"

namespace kiln::http {

inline constexpr std::string_view kPublic = "public";
inline constexpr std::string_view kNodeToken = "node-token";
inline constexpr std::string_view kSignedIn = "signed-in";

enum class Auth {
  kBearer,               // Authorization: Bearer <API token> (the API)
  kPageSession,          // the page session cookie (server-rendered pages)
  kBearerOrPageSession,  // either; the cookie only for GET (the log stream a page follows)
};

// The page session of a request on a page route.
struct PageContext {
  std::string csrf_token;
  std::string user_name;
  std::string tenant_name;
  std::string session_sha256;  // hex SHA-256 of the cookie
};

// A request served in one transaction (most routes).
struct Call {
  const Request& request;
  const std::vector<std::string>& params;  // placeholder values in pattern order
  pqxx::work& tx;
  const db::Principal& principal;          // empty for public and node-token routes
  const std::string& token_sha256;         // hex SHA-256 of the bearer token, or empty
  const PageContext* page = nullptr;       // set on page routes with a session
};

// A request whose work spans several transactions with waits between them (long-poll,
// Server-Sent Events). Each transaction is opened with with_tx, which re-authenticates the
// caller so that row-level security applies and a revoked token stops a long stream.
struct Session {
  const Request& request;
  const std::vector<std::string>& params;
  db::Database& db;
  std::string token_sha256;
  bool user_token = false;  // re-authenticate as a user in each transaction
  bool web_session = false;  // token_sha256 is a page session's, not an API token's

  template <class F>
  auto with_tx(F&& body) const -> decltype(body(std::declval<pqxx::work&>()));
};

using Handler = std::function<Response(const Call&)>;
using SessionHandler = std::function<Response(const Session&)>;

struct Route {
  std::string method;
  std::string pattern;
  std::string permission;  // a permission name, kPublic or kNodeToken
  Handler handler;                  // exactly one of handler
  SessionHandler session_handler;  // and session_handler
  Auth auth = Auth::kBearer;
};

struct RouteMatch {
  const Route* route = nullptr;
  std::vector<std::string> params;
  std::vector<std::string> allowed_methods;  // when the path matched but the method did not
};

class Router {
 public:
  void add(Route route);
  RouteMatch match(std::string_view method, std::string_view path) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

template <class F>
auto Session::with_tx(F&& body) const -> decltype(body(std::declval<pqxx::work&>())) {
  return db.with_tx([&](pqxx::work& tx) {
    if (user_token && !(web_session ? db::session_authenticate(tx, token_sha256).has_value()
                                    : db::authenticate(tx, token_sha256).has_value())) {
      throw Error(Errc::kUnauthorized, "unauthorized",
                  web_session ? "the session has ended; sign in again" : "the API token is unknown, expired or revoked");
    }
    return body(tx);
  });
}

}  // namespace kiln::http
