// Request bytes → what a handler hands to SQL. The input is used as a JSON request body
// (the typed readers of handlers/json_fields.hpp as the agent routes call them), as a query
// string or form body (http::Query, percent_decode), as a path segment (uuid_param), as an
// Authorization header (core::bearer_token) and as a Cookie header (http::cookie_value). Properties: only kiln::Error escapes, every Error is a 4xx with a
// code and a message, and its wire body (http::error_response) is valid JSON in the
// one error shape, whatever bytes the field or message carry.
#include <cctype>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "check.hpp"
#include "core/token.hpp"
#include "http/cookies.hpp"
#include "http/error_body.hpp"
#include "http/query.hpp"
#include "json_fields.hpp"
#include "path_params.hpp"

using kiln::Error;

namespace {

void check_error(const Error& e) {
  const int status = kiln::http_status(e.code);
  FUZZ_CHECK(status >= 400 && status < 500, "a request parser raised a non-4xx error");
  FUZZ_CHECK(!e.wire_code.empty() && !e.message.empty(), "an error without code or message");
  const kiln::http::Response r = kiln::http::error_response(e, "0123456789abcdef0123456789abcdef");
  FUZZ_CHECK(r.status == status, "the error body's status differs from the error's");
  const auto body = nlohmann::json::parse(r.body, nullptr, false);
  FUZZ_CHECK(!body.is_discarded(), "the error body is not valid JSON");
  FUZZ_CHECK(body.is_object() && body.size() == 1 && body.contains("error"), "the error body is not {error}");
  const auto& inner = body["error"];
  FUZZ_CHECK(inner.size() == 4 && inner["code"] == e.wire_code, "the error object lost its code");
  FUZZ_CHECK(inner["field"].is_null() == e.field.empty(), "the error object lost its field");
}

// What a handler does with a body json_object_body accepted (any JSON object): the agent
// routes' allowed fields and typed reads, and the claim route's re-serialized body.
// (json_object_body itself lives in src/http/app.cpp with the whole request pipeline and
// its database calls, so it is not linked here; it is nlohmann::json::parse plus an
// is_object check, and its 400s are covered by tests/http.)
void body_path(const std::string& bytes) {
  const nlohmann::json body = nlohmann::json::parse(bytes, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return;
  try {
    kiln::handlers::allow_fields(body, {"epoch", "offset", "data"});
  } catch (const Error& e) {
    check_error(e);
  }
  try {
    (void)kiln::handlers::integer_field(body, "epoch");
  } catch (const Error& e) {
    check_error(e);
    FUZZ_CHECK(e.field == "epoch", "an integer field error does not name the field");
  }
  try {
    (void)kiln::handlers::string_field(body, "data");
  } catch (const Error& e) {
    check_error(e);
    FUZZ_CHECK(e.field == "data", "a string field error does not name the field");
  }
  const std::string again = body.dump();
  FUZZ_CHECK(nlohmann::json::parse(again) == body, "a body does not survive dump and parse");
}


void query_path(const std::string& bytes) {
  try {
    const kiln::http::Query q(bytes);
    for (const char* name : {"offset", "limit", "status", "o"}) {
      try {
        (void)q.integer(name);
      } catch (const Error& e) {
        check_error(e);
        FUZZ_CHECK(e.field == name, "an invalid_value error does not name its parameter");
      }
    }
    try {
      q.allow_only({"offset", "limit", "status"});
    } catch (const Error& e) {
      check_error(e);
    }
  } catch (const Error& e) {
    check_error(e);
  }
  // Any bytes survive percent-encoding and decoding, as a name and as a value.
  const auto decoded = kiln::http::percent_decode(kiln::http::percent_encode(bytes));
  FUZZ_CHECK(decoded && *decoded == bytes, "percent_decode(percent_encode(x)) != x");
  const kiln::http::Query one("k=" + kiln::http::percent_encode(bytes));
  FUZZ_CHECK(one.text("k") == bytes, "a query value does not round-trip");
}

void path_param(const std::string& bytes) {
  try {
    const std::string& id = kiln::handlers::uuid_param(bytes, "id");
    FUZZ_CHECK(id.size() == 36, "a UUID path parameter is not 36 characters");
  } catch (const Error& e) {
    check_error(e);
    FUZZ_CHECK(e.field == "id", "invalid_uuid does not name the parameter");
  }
}

// The credential headers: what comes out is a piece of what went in, without the
// separators that would let one header smuggle a second value.
void credential_headers(const std::string& bytes) {
  const std::string_view token = kiln::core::bearer_token(bytes);
  FUZZ_CHECK(token.empty() || bytes.find(token) != std::string::npos, "bearer_token invented a token");
  FUZZ_CHECK(token.find(' ') == std::string_view::npos, "a bearer token holds a space");
  for (const char* name : {"__Host-kiln_session", "kiln_login_csrf"}) {
    const auto value = kiln::http::cookie_value(bytes, name);
    if (value) FUZZ_CHECK(value->find(';') == std::string::npos, "a cookie value holds a ;");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  body_path(bytes);
  query_path(bytes);
  path_param(bytes);
  credential_headers(bytes);
  return 0;
}
