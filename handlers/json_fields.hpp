#pragma once
// Reading small C++-side request bodies (agent calls, cancel): typed fields with 400s that
// name the field. Bodies of business objects go to SQL whole and are validated there.
#include <nlohmann/json.hpp>
#include <string>

#include "error.hpp"
#include "http/app.hpp"

namespace kiln::handlers {

inline nlohmann::json object_body(const http::Request& request) {
  return nlohmann::json::parse(http::json_object_body(request));
}

inline long long integer_field(const nlohmann::json& body, const char* name) {
  if (!body.contains(name)) throw Error(Errc::kBadRequest, "missing_field", std::string(name) + " is required", name);
  const auto& v = body[name];
  if (!v.is_number_integer()) {
    throw Error(Errc::kBadRequest, "invalid_type", std::string(name) + " must be an integer", name);
  }
  return v.get<long long>();
}

inline std::string string_field(const nlohmann::json& body, const char* name) {
  if (!body.contains(name)) throw Error(Errc::kBadRequest, "missing_field", std::string(name) + " is required", name);
  const auto& v = body[name];
  if (!v.is_string()) throw Error(Errc::kBadRequest, "invalid_type", std::string(name) + " must be a string", name);
  return v.get<std::string>();
}

inline void allow_fields(const nlohmann::json& body, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : body.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      throw Error(Errc::kBadRequest, "unknown_field", "unknown field " + key, key);
    }
  }
}

}  // namespace kiln::handlers
