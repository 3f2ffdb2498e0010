#pragma once
// Server-rendered pages: the ctemplate cache (every templates/*.tpl, loaded and checked once
// at start, then frozen), the page layout (navigation by permission, the sign-out form with
// the session's CSRF token), redirects and HTML error pages, and the few formatting rules
// pages share. Every template starts with {{%AUTOESCAPE context="HTML"}}: a value such as
// "<script>" is shown, never run.
#include <ctemplate/template.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "error.hpp"
#include "http/request.hpp"
#include "http/router.hpp"

namespace kiln::http::html {

// The page session cookie: __Host- makes browsers refuse it unless Secure, Path=/ and
// without Domain, so no sibling host or plain-HTTP page can plant or overwrite it.
inline constexpr std::string_view kSessionCookie = "__Host-kiln_session";
inline constexpr std::string_view kLoginCsrfCookie = "kiln_login_csrf";
inline constexpr std::string_view kPragma = "{{%AUTOESCAPE context=\"HTML\"}}";

// KILN_TEMPLATES_DIR, else the source tree's templates/.
std::filesystem::path default_templates_dir();

// Why a template's text may not be used (the pragma is not its very first bytes), or empty.
std::string pragma_problem(std::string_view text);

// Loads every *.tpl of dir into the page cache and freezes it. The first call does the work;
// later calls return at once. Throws std::runtime_error naming the file that lacks the
// pragma or does not parse.
void load_templates(const std::filesystem::path& dir);

// Expands a loaded template (file name, e.g. "builds.tpl"). Throws Error(500) when missing.
std::string expand(const std::string& name, const ctemplate::TemplateDictionary& dict);

// A whole page: `content` expanded with dict, inside layout.tpl with title and navigation.
Response page(const Call& call, const std::string& content, const std::string& title,
              ctemplate::TemplateDictionary& dict, int status = 200);

// Shows one CAN_<PERMISSION> section per permission held ("infrastructure:manage" →
// CAN_INFRASTRUCTURE_MANAGE). page() does it for the page; a row whose own values appear
// inside such a section needs it too (a section found in a parent dictionary expands with
// that parent's values, not the row's).
void show_permissions(ctemplate::TemplateDictionary& dict, const db::Principal& principal);

// 303 See Other to a path of this site.
Response redirect(const std::string& location);
// 303 to /admin/login?next=<this page>; clear_cookie drops a dead session cookie.
Response sign_in_redirect(const Request& request, bool clear_cookie);
// An error as an HTML page with the error's status.
Response error_page(const Error& error, const Request& request);

// Whether a "next" target after sign-in is a local path (not //host or a scheme).
bool is_local_path(std::string_view path);

// Display helpers: a JSON scalar as text ("—" for null), seconds as "3m 12s", a share as
// "42%", an RFC 3339 time as "2026-11-21 14:35:12 UTC".
std::string text_of(const nlohmann::json& value);
std::string duration_text(double seconds);
std::string percent_text(long long part, long long whole);
std::string time_text(const nlohmann::json& value);

}  // namespace kiln::http::html
