#include "http/html.hpp"

#include <ctemplate/template_cache.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include "http/cookies.hpp"
#include "http/query.hpp"

#ifndef KILN_DEFAULT_TEMPLATES_DIR
#define KILN_DEFAULT_TEMPLATES_DIR "templates"
#endif

namespace kiln::http::html {

namespace {

// Frozen after load: ExpandNoLoad is then safe from every server thread at once.
ctemplate::TemplateCache& cache() {
  static ctemplate::TemplateCache instance;
  return instance;
}
std::once_flag g_loaded;

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// "infrastructure:manage" → "CAN_INFRASTRUCTURE_MANAGE"
std::string permission_section(std::string_view permission) {
  std::string out = "CAN_";
  for (const char c : permission) {
    out += (c == ':' || c == '-') ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

Response html_response(int status, std::string body) {
  Response r{status, "text/html; charset=utf-8", std::move(body), {}, {}};
  r.headers = {{"X-Content-Type-Options", "nosniff"},
               {"X-Frame-Options", "DENY"},
               {"Referrer-Policy", "same-origin"}};
  return r;
}

// The bare layout for pages that have no session (sign-in, errors before sign-in).
void fill_layout(ctemplate::TemplateDictionary& layout, const std::string& title, const std::string& content) {
  layout.SetValue("TITLE", title);
  layout.SetValue("CONTENT", content);
}

}  // namespace

std::filesystem::path default_templates_dir() {
  const char* env = std::getenv("KILN_TEMPLATES_DIR");
  return env && *env ? std::filesystem::path(env) : std::filesystem::path(KILN_DEFAULT_TEMPLATES_DIR);
}

std::string pragma_problem(std::string_view text) {
  if (text.substr(0, kPragma.size()) != kPragma) {
    return "the first line must be exactly " + std::string(kPragma) +
           " (without it, or after anything else, nothing in the template is escaped)";
  }
  return {};
}

void load_templates(const std::filesystem::path& dir) {
  std::call_once(g_loaded, [&dir] {
    if (!std::filesystem::is_directory(dir)) {
      throw std::runtime_error(dir.string() + " is not a directory of page templates (set KILN_TEMPLATES_DIR)");
    }
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.is_regular_file() && entry.path().extension() == ".tpl") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& path : files) {
      const std::string text = read_file(path);
      if (const auto problem = pragma_problem(text); !problem.empty()) {
        throw std::runtime_error(path.string() + ": " + problem);
      }
      if (!cache().StringToTemplateCache(path.filename().string(), text, ctemplate::STRIP_BLANK_LINES)) {
        throw std::runtime_error(path.string() + ": ctemplate cannot parse it (details above)");
      }
    }
    cache().Freeze();
  });
}

std::string expand(const std::string& name, const ctemplate::TemplateDictionary& dict) {
  std::string out;
  if (!cache().ExpandNoLoad(name, ctemplate::STRIP_BLANK_LINES, &dict, nullptr, &out)) {
    throw Error(Errc::kInternal, "internal", "internal error", {}, "template " + name + " is not loaded");
  }
  return out;
}

Response page(const Call& call, const std::string& content, const std::string& title,
              ctemplate::TemplateDictionary& dict, int status) {
  ctemplate::TemplateDictionary layout("layout");
  // Page templates see the session's CSRF token and one CAN_<PERMISSION> section per
  // permission held, so an action the user may not take is not rendered at all.
  for (auto* d : {&dict, &layout}) {
    if (call.page) d->SetValue("CSRF_TOKEN", call.page->csrf_token);
    show_permissions(*d, call.principal);
  }
  fill_layout(layout, title, expand(content, dict));
  if (call.page) {
    auto* nav = layout.AddIncludeDictionary("NAV");
    nav->SetFilename("_nav.tpl");
    nav->SetValue("USER_NAME", call.page->user_name);
    nav->SetValue("TENANT_NAME", call.page->tenant_name);
    nav->SetValue("CSRF_TOKEN", call.page->csrf_token);
    show_permissions(*nav, call.principal);
  }
  return html_response(status, expand("layout.tpl", layout));
}

void show_permissions(ctemplate::TemplateDictionary& dict, const db::Principal& principal) {
  for (const auto& p : principal.permissions) dict.ShowSection(permission_section(p));
}

Response redirect(const std::string& location) {
  Response r = html_response(303, {});
  r.headers.emplace_back("Location", location);
  return r;
}

Response sign_in_redirect(const Request& request, bool clear) {
  std::string next = request.path;
  if (!request.query_string.empty()) next += "?" + request.query_string;
  std::string encoded;
  for (const unsigned char c : next) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      encoded += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      encoded += '%';
      encoded += kHex[c >> 4];
      encoded += kHex[c & 15];
    }
  }
  // After a POST the form is gone anyway: come back to a page, not to an action.
  Response r = redirect(request.method == "GET" ? "/admin/login?next=" + encoded : "/admin/login");
  if (clear) r.headers.emplace_back("Set-Cookie", clear_cookie(kSessionCookie, host_cookie()));
  return r;
}

Response error_page(const Error& error, const Request& request) {
  if (error.code == Errc::kUnauthorized) return sign_in_redirect(request, false);
  ctemplate::TemplateDictionary dict("error");
  const int status = http_status(error.code);
  dict.SetIntValue("STATUS", status);
  dict.SetValue("REASON", std::string(reason_phrase(status)));
  dict.SetValue("MESSAGE", error.message);
  if (!error.field.empty()) dict.SetValueAndShowSection("FIELD", error.field, "HAS_FIELD");
  dict.SetValue("REQUEST_ID", request.request_id);
  ctemplate::TemplateDictionary layout("layout");
  fill_layout(layout, std::to_string(status) + " " + std::string(reason_phrase(status)), expand("error.tpl", dict));
  Response r = html_response(status, expand("layout.tpl", layout));
  if (error.code == Errc::kUnavailable) r.headers.emplace_back("Retry-After", "1");
  return r;
}

bool is_local_path(std::string_view path) {
  return !path.empty() && path.front() == '/' && (path.size() == 1 || (path[1] != '/' && path[1] != '\\')) &&
         path.find_first_of("\r\n") == std::string_view::npos;
}

std::string text_of(const nlohmann::json& value) {
  if (value.is_null()) return "—";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "yes" : "no";
  if (value.is_number_float()) {
    std::ostringstream out;
    out << value.get<double>();
    return out.str();
  }
  return value.dump();
}

std::string duration_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "—";
  const long long s = std::llround(seconds);
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m " + std::to_string(s % 60) + "s";
  if (s < 86400) return std::to_string(s / 3600) + "h " + std::to_string(s % 3600 / 60) + "m";
  return std::to_string(s / 86400) + "d " + std::to_string(s % 86400 / 3600) + "h";
}

std::string percent_text(long long part, long long whole) {
  if (whole <= 0) return "—";
  return std::to_string(std::llround(100.0 * static_cast<double>(part) / static_cast<double>(whole))) + "%";
}

std::string time_text(const nlohmann::json& value) {
  if (!value.is_string()) return "—";
  std::string t = value.get<std::string>();  // 2026-11-21T14:35:12.123456+00:00
  if (t.size() < 19) return t;
  t[10] = ' ';
  return t.substr(0, 19) + " UTC";
}

}  // namespace kiln::http::html
