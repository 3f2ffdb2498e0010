#pragma once
// The route table. Patterns are literal segments and {name} placeholders
// ("/api/v1/builds/{id}/start"). Every route names the permission it needs, or kPublic;
// the server checks it before the handler runs, inside the request's transaction.
#include <functional>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <vector>

#include "db/api.hpp"
#include "http/request.hpp"

namespace kiln::http {

inline constexpr std::string_view kPublic = "public";

struct Call {
  const Request& request;
  const std::vector<std::string>& params;  // placeholder values in pattern order
  pqxx::work& tx;
  const db::Principal& principal;          // empty for public routes
};

using Handler = std::function<Response(const Call&)>;

struct Route {
  std::string method;
  std::string pattern;
  std::string permission;  // a permission name, or kPublic
  Handler handler;
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

}  // namespace kiln::http
