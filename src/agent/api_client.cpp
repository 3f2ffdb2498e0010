#include "agent/api_client.hpp"

#include <curl/curl.h>

#include <stdexcept>

#include "agent/version.hpp"
#include "log.hpp"

namespace kiln::agent {

namespace {

using nlohmann::json;

constexpr long kConnectTimeoutSeconds = 5;
constexpr auto kCallTimeout = std::chrono::seconds(15);
constexpr int kClaimTimeoutSlackSeconds = 10;  // a long poll answers after wait_seconds, plus transfer

std::size_t append_body(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

int check_abort(void* token, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<std::stop_token*>(token)->stop_requested() ? 1 : 0;
}

ApiResult transport_error(CURLcode code, const char* detail) {
  ApiResult r;
  // A bad URL or an abort will not get better by retrying; everything else on the way
  // (refused, reset, timed out, DNS, TLS handshake) may.
  const bool permanent = code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL ||
                         code == CURLE_ABORTED_BY_CALLBACK || code == CURLE_BAD_FUNCTION_ARGUMENT;
  r.status = permanent ? ApiStatus::kFailed : ApiStatus::kTransient;
  r.error_code = code == CURLE_ABORTED_BY_CALLBACK ? "aborted" : "transport";
  r.error_message = detail[0] != '\0' ? detail : curl_easy_strerror(code);
  return r;
}

std::string execution_path(const std::string& execution_id, const char* action) {
  return "/api/v1/agent/executions/" + execution_id + "/" + action;
}

}  // namespace

std::string ApiResult::describe() const {
  std::string text = http_status != 0 ? std::to_string(http_status) : std::string();
  if (!error_code.empty()) text += (text.empty() ? "" : " ") + error_code;
  if (!error_message.empty()) text += ": " + error_message;
  if (!error_field.empty()) text += " (field " + error_field + ")";
  return text.empty() ? "ok" : text;
}

ApiResult classify_http(long http_status, std::string_view body) {
  ApiResult r;
  r.http_status = http_status;
  const json parsed = json::parse(body.empty() ? std::string_view("{}") : body, nullptr, false);
  if (http_status >= 200 && http_status < 300) {
    if (parsed.is_discarded() || !parsed.is_object()) {
      r.status = ApiStatus::kFailed;
      r.error_code = "invalid_response";
      r.error_message = "the answer is not a JSON object";
      return r;
    }
    r.status = ApiStatus::kOk;
    r.body = parsed;
    return r;
  }
  if (!parsed.is_discarded() && parsed.is_object() && parsed.contains("error") && parsed["error"].is_object()) {
    const json& error = parsed["error"];
    const auto text = [&](const char* key) {
      return error.contains(key) && error[key].is_string() ? error[key].get<std::string>() : std::string();
    };
    r.error_code = text("code");
    r.error_message = text("message");
    r.error_field = text("field");
  }
  if (http_status == 409 && r.error_code == "execution_cancelled") {
    r.status = ApiStatus::kCancelled;
  } else if (http_status == 409 && r.error_code == "stale_lease") {
    r.status = ApiStatus::kStaleLease;
  } else if (http_status == 401 && r.error_code == "job_token_expired") {
    r.status = ApiStatus::kEnded;
  } else if (http_status == 401) {
    r.status = ApiStatus::kUnauthorized;
  } else if (http_status == 502 || http_status == 503 || http_status == 504 || http_status == 429) {
    r.status = ApiStatus::kTransient;  // nginx without kiln-api, a restarting API, a database failover
  } else {
    r.status = ApiStatus::kFailed;
  }
  return r;
}

ApiClient::ApiClient(std::string base_url, std::string token, std::stop_token abort)
    : base_url_(std::move(base_url)), authorization_("Authorization: Bearer " + token), abort_(std::move(abort)) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  curl_ = curl_easy_init();
  if (curl_ == nullptr) throw std::runtime_error("curl_easy_init failed");
}

ApiClient::~ApiClient() { curl_easy_cleanup(curl_); }

void ApiClient::set_token(const std::string& token) { authorization_ = "Authorization: Bearer " + token; }

ApiResult ApiClient::post(const std::string& path, const json& body, std::chrono::seconds timeout) {
  const std::string url = base_url_ + path;
  const std::string payload = body.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string answer;
  char error[CURL_ERROR_SIZE] = "";
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, authorization_.c_str());
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Accept: application/json");
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip for log chunks

  curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, payload.data());
  curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
  curl_easy_setopt(curl_, CURLOPT_USERAGENT, (std::string("kiln-agent/") + kAgentVersion).c_str());
  curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM-based DNS timeouts
  curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutSeconds);
  curl_easy_setopt(curl_, CURLOPT_TIMEOUT, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl_, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl_, CURLOPT_XFERINFOFUNCTION, check_abort);
  curl_easy_setopt(curl_, CURLOPT_XFERINFODATA, &abort_);

  const CURLcode code = curl_easy_perform(curl_);
  long status = 0;
  curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
  // The handle outlives this call: it must not keep pointers to our locals.
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl_, CURLOPT_WRITEDATA, nullptr);
  curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, nullptr);
  curl_slist_free_all(headers);
  if (code != CURLE_OK) return transport_error(code, error);
  return classify_http(status, answer);
}

ApiResult ApiClient::claim(const NodeDescription& node, int running, int wait_seconds) {
  return post("/api/v1/agent/claim", claim_body(node, running, wait_seconds),
              std::chrono::seconds(wait_seconds + kClaimTimeoutSlackSeconds));
}

ApiResult ApiClient::renew(const std::string& execution_id, std::int64_t epoch) {
  return post(execution_path(execution_id, "renew"), json{{"epoch", epoch}}, kCallTimeout);
}

ApiResult ApiClient::send_logs(const std::string& execution_id, std::int64_t epoch, const LogChunk& chunk) {
  return post(execution_path(execution_id, "logs"), logs_body(epoch, chunk.offset, chunk.data), kCallTimeout);
}

ApiResult ApiClient::finish(const std::string& execution_id, std::int64_t epoch, const FinishReport& report) {
  return post(execution_path(execution_id, "finish"), finish_body(epoch, report), kCallTimeout);
}

ApiResult with_retries(std::string_view what, std::stop_token stop, Backoff& backoff,
                       const std::function<ApiResult()>& call) {
  while (true) {
    ApiResult result = call();
    if (result.status != ApiStatus::kTransient || stop.stop_requested()) return result;
    const auto delay = backoff.next();
    kiln::log(
        "warn", "API unreachable, backing off",
        {{"call", std::string(what)}, {"error", result.describe()}, {"retry_in_ms", std::to_string(delay.count())}});
    if (!sleep_unless_stopped(stop, delay)) return result;
  }
}

}  // namespace kiln::agent
