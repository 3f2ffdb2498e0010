#include "http/router.hpp"

#include <stdexcept>

namespace kiln::http {

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const std::size_t slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
  }
  return parts;
}

bool is_placeholder(std::string_view part) {
  return part.size() > 2 && part.front() == '{' && part.back() == '}';
}

// A trailing slash is a different resource; "/api/v1/builds/" does not match.
bool match_pattern(std::string_view pattern, std::string_view path, std::vector<std::string>& params) {
  if (path.empty() || (path.size() > 1 && path.back() == '/')) return false;
  const auto want = split_path(pattern);
  const auto have = split_path(path);
  if (want.size() != have.size()) return false;
  params.clear();
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (is_placeholder(want[i])) {
      params.emplace_back(have[i]);
    } else if (want[i] != have[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

void Router::add(Route route) {
  if (route.permission.empty()) {
    throw std::logic_error("route " + route.method + " " + route.pattern +
                           " names no permission (use kPublic for public routes)");
  }
  if (static_cast<bool>(route.handler) == static_cast<bool>(route.session_handler)) {
    throw std::logic_error("route " + route.method + " " + route.pattern +
                           " needs exactly one of handler and session_handler");
  }
  routes_.push_back(std::move(route));
}

RouteMatch Router::match(std::string_view method, std::string_view path) const {
  RouteMatch result;
  std::vector<std::string> params;
  for (const auto& route : routes_) {
    if (!match_pattern(route.pattern, path, params)) continue;
    if (route.method == method || (method == "HEAD" && route.method == "GET")) {
      result.route = &route;
      result.params = std::move(params);
      result.allowed_methods.clear();
      return result;
    }
    result.allowed_methods.push_back(route.method);
  }
  return result;
}

}  // namespace kiln::http
