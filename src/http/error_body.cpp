#include "http/error_body.hpp"

#include <nlohmann/json.hpp>

namespace kiln::http {

Response error_response(const Error& error, const std::string& request_id) {
  nlohmann::ordered_json inner;
  inner["code"] = error.wire_code;
  inner["message"] = error.message;
  inner["field"] = error.field.empty() ? nlohmann::ordered_json(nullptr)
                                       : nlohmann::ordered_json(error.field);
  inner["request_id"] = request_id;
  nlohmann::ordered_json body;
  body["error"] = std::move(inner);
  Response response = Response::json(
      http_status(error.code),
      body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  if (error.code == Errc::kUnauthorized) {
    response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"kiln\"");
  }
  if (error.code == Errc::kUnavailable) response.headers.emplace_back("Retry-After", "1");
  return response;
}

}  // namespace kiln::http
