#pragma once
#include "error.hpp"
#include "http/request.hpp"

namespace kiln::http {

// The only place the wire error shape is built:
// {"error":{"code":"…","message":"…","field":"…"|null,"request_id":"…"}}
// with the headers the status calls for (WWW-Authenticate on 401, Retry-After on 503).
Response error_response(const Error& error, const std::string& request_id);

}  // namespace kiln::http
