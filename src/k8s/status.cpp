#include "k8s/status.hpp"

#include <nlohmann/json.hpp>

namespace kiln::k8s {

namespace {

std::string reason_for(long status) {
  switch (status) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return "HTTP" + std::to_string(status);
  }
}

// A short, printable excerpt of a body that is not a Status (a proxy's HTML page).
std::string excerpt(const std::string& body) {
  std::string out;
  for (char c : body) {
    if (out.size() >= 160) {
      out += "…";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  return out;
}

}  // namespace

KubeError status_error(long http_status, const std::string& body, const std::string& what) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.value("kind", "") == "Status") {
    std::string reason = j.contains("reason") && j["reason"].is_string() ? j["reason"].get<std::string>() : "";
    if (reason.empty()) reason = reason_for(http_status);
    const std::string message = j.contains("message") && j["message"].is_string() ? j["message"].get<std::string>() : reason;
    KubeError e(http_status, reason, what + ": " + message + " (" + reason + ", HTTP " + std::to_string(http_status) + ")");
    if (j.contains("details") && j["details"].is_object()) {
      const auto& d = j["details"];
      if (d.contains("name") && d["name"].is_string()) e.details_name = d["name"].get<std::string>();
      if (d.contains("retryAfterSeconds") && d["retryAfterSeconds"].is_number_integer()) {
        e.retry_after_seconds = d["retryAfterSeconds"].get<long>();
      }
      if (d.contains("causes") && d["causes"].is_array()) {
        for (const auto& c : d["causes"]) {
          if (!c.is_object()) continue;
          e.causes.push_back({c.value("reason", ""), c.value("message", ""), c.value("field", "")});
        }
      }
    }
    return e;
  }
  const std::string reason = reason_for(http_status);
  std::string message = what + ": the API server answered HTTP " + std::to_string(http_status);
  if (!body.empty()) message += " (" + excerpt(body) + ")";
  return KubeError(http_status, reason, message);
}

}  // namespace kiln::k8s
