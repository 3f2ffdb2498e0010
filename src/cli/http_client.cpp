#include "cli/http_client.hpp"

#include <curl/curl.h>

#include <cctype>
#include <chrono>
#include <memory>

#include "cli/output.hpp"

namespace kiln::cli {

namespace {

constexpr long kConnectTimeoutSeconds = 10;
constexpr long kRequestTimeoutSeconds = 120;  // provider tests wait up to 25 s on the server

using Easy = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;
using Headers = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;

std::size_t append_body(char* data, std::size_t size, std::size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

std::size_t append_header(char* data, std::size_t size, std::size_t count, void* user) {
  const std::string line(data, size * count);
  const auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    const auto first = value.find_first_not_of(" \t");
    const auto last = value.find_last_not_of(" \t\r\n");
    value = first == std::string::npos ? "" : value.substr(first, last - first + 1);
    (*static_cast<std::map<std::string, std::string>*>(user))[name] = value;
  }
  return size * count;
}

Easy new_easy() {
  static const bool initialised = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  if (!initialised) throw ConnectionError("libcurl could not be initialised");
  Easy easy(curl_easy_init(), curl_easy_cleanup);
  if (!easy) throw ConnectionError("libcurl could not be initialised");
  return easy;
}

Headers header_list(const Config& config, const std::map<std::string, std::string>& extra) {
  curl_slist* list = nullptr;
  list = curl_slist_append(list, ("Authorization: Bearer " + config.token).c_str());
  for (const auto& [name, value] : extra) list = curl_slist_append(list, (name + ": " + value).c_str());
  return Headers(list, curl_slist_free_all);
}

[[noreturn]] void connection_failed(const Config& config, CURLcode code, const char* detail) {
  throw ConnectionError("cannot reach the Kiln server at " + config.url + ": " +
                        (detail && *detail ? detail : curl_easy_strerror(code)) +
                        (config.source.empty() ? "" : " (the URL comes from " + config.source + ")"));
}

[[noreturn]] void refused(long status, const std::string& body) {
  auto json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("error")) {
    throw ApiError(status, nullptr, "the server answered HTTP " + std::to_string(status) + " without an error body");
  }
  throw ApiError(status, json, error_text(json));
}

}  // namespace

HttpClient::HttpClient(Config config) : config_(std::move(config)) {}
HttpClient::~HttpClient() = default;

HttpResponse HttpClient::request(const std::string& method, const std::string& path,
                                 const std::optional<nlohmann::json>& body) {
  Easy easy = new_easy();
  CURL* h = easy.get();
  HttpResponse out;
  std::string payload = body ? body->dump() : "";
  std::map<std::string, std::string> extra{{"Accept", "application/json"}};
  if (body) extra["Content-Type"] = "application/json";
  Headers headers = header_list(config_, extra);
  char error[CURL_ERROR_SIZE] = {0};
  const std::string url = config_.url + path;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  if (body || method == "POST") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
  }
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &out.body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, append_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &out.headers);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutSeconds);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, kRequestTimeoutSeconds);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "kiln-cli");
  const CURLcode code = curl_easy_perform(h);
  if (code != CURLE_OK) connection_failed(config_, code, error);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out.status);
  if (out.status >= 400) refused(out.status, out.body);
  return out;
}

nlohmann::json HttpClient::call(const std::string& method, const std::string& path,
                                const std::optional<nlohmann::json>& body) {
  const HttpResponse r = request(method, path, body);
  auto json = nlohmann::json::parse(r.body, nullptr, false);
  if (json.is_discarded()) {
    throw ApiError(r.status, nullptr, "the server's answer to " + method + " " + path + " is not JSON");
  }
  return json;
}

namespace {

struct StreamState {
  const std::function<bool(const std::string&)>* on_bytes;
  const std::function<void()>* on_idle;
  std::string error_body;  // collected instead of streamed when the status is >= 400
  CURL* easy;
  std::chrono::steady_clock::time_point last_idle;
};

std::size_t stream_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* s = static_cast<StreamState*>(user);
  long status = 0;
  curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 400) {
    s->error_body.append(data, size * count);
    return size * count;
  }
  return (*s->on_bytes)(std::string(data, size * count)) ? size * count : 0;
}

int stream_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* s = static_cast<StreamState*>(user);
  const auto now = std::chrono::steady_clock::now();
  if (now - s->last_idle >= std::chrono::seconds(1)) {
    s->last_idle = now;
    (*s->on_idle)();
  }
  return 0;
}

}  // namespace

long HttpClient::stream(const std::string& path, const std::map<std::string, std::string>& headers,
                        const std::function<bool(const std::string&)>& on_bytes,
                        const std::function<void()>& on_idle) {
  Easy easy = new_easy();
  CURL* h = easy.get();
  std::map<std::string, std::string> extra = headers;
  extra["Accept"] = "text/event-stream";
  Headers list = header_list(config_, extra);
  StreamState state{&on_bytes, &on_idle, {}, h, std::chrono::steady_clock::now()};
  char error[CURL_ERROR_SIZE] = {0};
  const std::string url = config_.url + path;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, stream_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, stream_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &state);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutSeconds);
  // The server sends a keep-alive comment every 15 s: a minute of silence is a dead peer.
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "kiln-cli");
  const CURLcode code = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 400) refused(status, state.error_body);
  if (code == CURLE_WRITE_ERROR) return status;  // on_bytes asked to stop
  if (code != CURLE_OK && status == 0) connection_failed(config_, code, error);
  return status;  // a stream cut short after its headers: the caller resumes
}


}  // namespace kiln::cli
