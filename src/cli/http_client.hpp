#pragma once
// The client's HTTP calls to the Kiln API (libcurl): JSON requests with the bearer token,
// and a streaming GET for Server-Sent Events.
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "cli/config.hpp"

namespace kiln::cli {

// The server could not be reached (DNS, refused, TLS, timeout): exit status 4.
class ConnectionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The API refused the request: body is the API's error JSON (or null when it sent none).
class ApiError : public std::runtime_error {
 public:
  ApiError(long status, nlohmann::json body, const std::string& text)
      : std::runtime_error(text), status_(status), body_(std::move(body)) {}
  long status() const { return status_; }
  const nlohmann::json& body() const { return body_; }

 private:
  long status_;
  nlohmann::json body_;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

class HttpClient {
 public:
  explicit HttpClient(Config config);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // method path [JSON body]; throws ApiError for a status >= 400 and ConnectionError.
  HttpResponse request(const std::string& method, const std::string& path,
                       const std::optional<nlohmann::json>& body = std::nullopt);
  // request() whose answer is parsed as JSON.
  nlohmann::json call(const std::string& method, const std::string& path,
                      const std::optional<nlohmann::json>& body = std::nullopt);

  // GET path as an event stream: on_bytes gets the body as it arrives (return false to
  // stop); on_idle is called about once a second while it runs. Returns the HTTP status;
  // a status >= 400 throws ApiError. A dropped connection returns normally.
  long stream(const std::string& path, const std::map<std::string, std::string>& headers,
              const std::function<bool(const std::string&)>& on_bytes, const std::function<void()>& on_idle);

  const Config& config() const { return config_; }

 private:
  Config config_;
};

}  // namespace kiln::cli
