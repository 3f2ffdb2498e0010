#pragma once
// Cookies for the page session: reading one value from a Cookie header and building
// Set-Cookie values. Names and values are ours (base64url tokens), so no quoting is needed;
// a value that is not a plain token is refused rather than escaped.
#include <optional>
#include <string>
#include <string_view>

namespace kiln::http {

// The value of cookie `name` in a Cookie request header ("a=1; b=2"), or std::nullopt.
// The first occurrence wins (browsers send the most specific path first).
std::optional<std::string> cookie_value(std::string_view header, std::string_view name);

struct CookieOptions {
  std::string path = "/";
  long long max_age_seconds = -1;  // -1: a browser-session cookie; 0: delete it now
  bool secure = false;             // set when the page was served over TLS
  bool http_only = true;
  std::string same_site = "Strict";
};

// The options a "__Host-" cookie must have: Secure, Path=/, no Domain (set_cookie never
// writes one); HttpOnly and SameSite=Strict as for every cookie of ours. Browsers take
// Secure cookies on http://localhost and 127.0.0.1 too.
inline CookieOptions host_cookie() { return {.path = "/", .secure = true}; }

// "name=value; Path=/; Max-Age=…; HttpOnly; Secure; SameSite=Strict".
// Throws std::invalid_argument for a name or value outside the cookie-token characters,
// and for a "__Host-" name without Secure or with a Path other than /.
std::string set_cookie(std::string_view name, std::string_view value, const CookieOptions& options);

// A Set-Cookie value that removes the cookie (empty value, Max-Age=0).
std::string clear_cookie(std::string_view name, const CookieOptions& options);

}  // namespace kiln::http
