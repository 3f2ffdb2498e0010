#include "http/cookies.hpp"

#include <stdexcept>

namespace kiln::http {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 6265 cookie-octet, minus the characters we never produce.
bool is_token(std::string_view s, bool allow_empty) {
  if (s.empty()) return allow_empty;
  for (const unsigned char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '~';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const std::size_t semi = header.find(';');
    const std::string_view pair = trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    if (trim(pair.substr(0, eq)) != name) continue;
    std::string_view value = trim(pair.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    return std::string(value);
  }
  return std::nullopt;
}

std::string set_cookie(std::string_view name, std::string_view value, const CookieOptions& options) {
  if (!is_token(name, false) || !is_token(value, true)) {
    throw std::invalid_argument("cookie name or value outside [A-Za-z0-9._~-]");
  }
  if (name.starts_with("__Host-") && (!options.secure || options.path != "/")) {
    throw std::invalid_argument("a __Host- cookie must be Secure with Path=/");
  }
  std::string out = std::string(name) + "=" + std::string(value) + "; Path=" + options.path;
  if (options.max_age_seconds >= 0) out += "; Max-Age=" + std::to_string(options.max_age_seconds);
  if (options.http_only) out += "; HttpOnly";
  if (options.secure) out += "; Secure";
  if (!options.same_site.empty()) out += "; SameSite=" + options.same_site;
  return out;
}

std::string clear_cookie(std::string_view name, const CookieOptions& options) {
  CookieOptions gone = options;
  gone.max_age_seconds = 0;
  return set_cookie(name, "", gone);
}

}  // namespace kiln::http
