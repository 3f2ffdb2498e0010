#pragma once
// Reading HTML forms (application/x-www-form-urlencoded bodies) into the JSON bodies the
// kiln_api functions take, and showing their errors next to the form. The functions stay
// the only judges of what is valid: a form value that is not a number is passed on as
// text, so the function's 400 names the field.
#include <ctemplate/template.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <string>

#include "error.hpp"
#include "http/query.hpp"
#include "http/router.hpp"

namespace kiln::handlers {

inline http::Query form_of(const http::Call& c) { return http::Query(c.request.body); }

// A form field's text, trimmed of surrounding blanks; empty when absent.
inline std::string form_text(const http::Query& form, std::string_view name) {
  std::string v = form.text(name).value_or("");
  const auto first = v.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return v.substr(first, v.find_last_not_of(" \t\r\n") - first + 1);
}

// "2", "0.5" → numbers; anything else stays text for the function to refuse by name.
inline nlohmann::json number_or_text(const std::string& text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return text;
  if (text.find_first_of(".eE") == std::string::npos) return static_cast<long long>(value);
  return value;
}

// The ERROR section a form template shows above the form, naming the field at fault.
inline void show_form_error(ctemplate::TemplateDictionary& dict, const Error& e) {
  auto* error = dict.AddSectionDictionary("FORM_ERROR");
  error->SetValue("MESSAGE", e.message);
  if (!e.field.empty()) error->SetValueAndShowSection("FIELD", e.field, "HAS_FIELD");
}

}  // namespace kiln::handlers

namespace kiln::handlers {

// The handler of an API route (method and a concrete path), so that a page's form is served
// by exactly the API's rules: the page turns the form into the API's JSON body and calls it.
// Empty when no such route is registered.
inline http::Handler api_handler(const http::Router& router, std::string_view method, std::string_view path) {
  const http::RouteMatch m = router.match(method, path);
  return m.route ? m.route->handler : http::Handler{};
}

// Calls an API handler inside the page's transaction, as the page's user; its JSON answer.
inline nlohmann::json call_api(const http::Call& c, const http::Handler& handler, const nlohmann::json& body,
                               const std::vector<std::string>& params = {}) {
  http::Request request = c.request;
  request.body = body.dump();
  request.content_type = "application/json";
  const http::Call api{request, params, c.tx, c.principal, c.token_sha256};
  return nlohmann::json::parse(handler(api).body);
}

}  // namespace kiln::handlers
