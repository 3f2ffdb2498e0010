#pragma once
// The one error type of Kiln. Handlers throw it; src/db turns pqxx errors into it;
// src/http renders it as {"error":{"code","message","field","request_id"}}.
#include <exception>
#include <string>
#include <string_view>

namespace kiln {

enum class Errc {
  kBadRequest,
  kUnauthorized,
  kForbidden,
  kNotFound,
  kMethodNotAllowed,
  kConflict,
  kPayloadTooLarge,
  kUnsupportedMediaType,
  kUnprocessable,
  kTooManyRequests,
  kInternal,
  kUnavailable,
};

struct Error : std::exception {
  Errc code;
  std::string wire_code;  // stable machine-readable code, listed in docs/errors.md
  std::string message;    // safe to show to the client
  std::string field;      // the request field at fault, or empty
  std::string internal;   // for the log only, never sent

  Error(Errc c, std::string wire, std::string msg, std::string fld = {}, std::string intern = {})
      : code(c), wire_code(std::move(wire)), message(std::move(msg)), field(std::move(fld)),
        internal(std::move(intern)) {}
  const char* what() const noexcept override { return message.c_str(); }
};

// The only status table.
int http_status(Errc code);
// The errc of an HTTP status (for errors raised in SQL as QCnnn).
Errc errc_from_status(int status);
// "404 Not Found" style reason phrase for a status line.
std::string_view reason_phrase(int status);

}  // namespace kiln
