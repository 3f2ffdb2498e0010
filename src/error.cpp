#include "error.hpp"

namespace kiln {

int http_status(Errc code) {
  switch (code) {
    case Errc::kBadRequest: return 400;
    case Errc::kUnauthorized: return 401;
    case Errc::kForbidden: return 403;
    case Errc::kNotFound: return 404;
    case Errc::kMethodNotAllowed: return 405;
    case Errc::kConflict: return 409;
    case Errc::kPayloadTooLarge: return 413;
    case Errc::kUnsupportedMediaType: return 415;
    case Errc::kUnprocessable: return 422;
    case Errc::kTooManyRequests: return 429;
    case Errc::kInternal: return 500;
    case Errc::kUnavailable: return 503;
  }
  return 500;
}

Errc errc_from_status(int status) {
  switch (status) {
    case 400: return Errc::kBadRequest;
    case 401: return Errc::kUnauthorized;
    case 403: return Errc::kForbidden;
    case 404: return Errc::kNotFound;
    case 405: return Errc::kMethodNotAllowed;
    case 409: return Errc::kConflict;
    case 413: return Errc::kPayloadTooLarge;
    case 415: return Errc::kUnsupportedMediaType;
    case 422: return Errc::kUnprocessable;
    case 429: return Errc::kTooManyRequests;
    case 503: return Errc::kUnavailable;
    default: return Errc::kInternal;
  }
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 303: return "See Other";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

}  // namespace kiln
