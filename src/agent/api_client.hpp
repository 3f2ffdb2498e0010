#pragma once
// The agent's HTTP calls (docs/agent-protocol.md) over libcurl. One ApiClient per thread:
// a CURL handle must not be shared, and keeping one per thread reuses its connection.
// curl_global_init must have been called once, before any thread started (main does it).
#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <stop_token>
#include <string>
#include <string_view>

#include "agent/backoff.hpp"
#include "agent/log_buffer.hpp"
#include "agent/protocol.hpp"

typedef void CURL;  // NOLINT: as <curl/curl.h> declares it, without including it everywhere

namespace kiln::agent {

enum class ApiStatus {
  kOk,
  kCancelled,   // 409 execution_cancelled: kill the build, send nothing more for it
  kStaleLease,  // 409 stale_lease: the execution was given away; kill it and drop it
  kEnded,       // 401 job_token_expired: the execution ended on the server; kill it and drop it
  kUnauthorized,  // any other 401: the credential is unknown or expired (the node token: reload it)
  kTransient,   // unreachable, timed out, 502/503/504/429: try again later
  kFailed,      // any other error: retrying the same request will not help
};

struct ApiResult {
  ApiStatus status = ApiStatus::kFailed;
  long http_status = 0;       // 0 when no HTTP answer arrived
  nlohmann::json body;        // the parsed answer of a 2xx
  std::string error_code;     // error.code of the API's error body, or the transport error
  std::string error_message;  // error.message, or curl's description
  std::string error_field;    // error.field

  bool ok() const { return status == ApiStatus::kOk; }
  // For log lines: "503 unavailable: database restarting" or "connect: Connection refused".
  std::string describe() const;
};

// How an HTTP answer is taken (pure: tested without a server).
ApiResult classify_http(long http_status, std::string_view body);

class ApiClient {
 public:
  // abort: a stop request cuts a transfer in flight (shutdown must not wait for a long poll).
  // token: the node token (claim) or an execution's job token (renew, logs, finish).
  ApiClient(std::string base_url, std::string token, std::stop_token abort = {});
  // Sends token from the next call on (a reloaded node token).
  void set_token(const std::string& token);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  ApiResult claim(const NodeDescription& node, int running, int wait_seconds);
  ApiResult renew(const std::string& execution_id, std::int64_t epoch);
  ApiResult send_logs(const std::string& execution_id, std::int64_t epoch, const LogChunk& chunk);
  ApiResult finish(const std::string& execution_id, std::int64_t epoch, const FinishReport& report);

 private:
  ApiResult post(const std::string& path, const nlohmann::json& body, std::chrono::seconds timeout);

  std::string base_url_;
  std::string authorization_;  // "Authorization: Bearer …"; never logged
  std::stop_token abort_;
  CURL* curl_ = nullptr;
};

// Repeats call while it answers kTransient, waiting per backoff and logging each wait,
// until it answers otherwise or stop is requested (then the last result is returned).
ApiResult with_retries(std::string_view what, std::stop_token stop, Backoff& backoff,
                       const std::function<ApiResult()>& call);

}  // namespace kiln::agent
