#include "k8s/client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

namespace kiln::k8s {

namespace {

constexpr std::size_t kMaxBody = 64u << 20;

struct Received {
  std::string body;
  std::string retry_after;
  bool too_large = false;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* r = static_cast<Received*>(user);
  const size_t n = size * count;
  if (r->body.size() + n > kMaxBody) {
    r->too_large = true;
    return 0;
  }
  r->body.append(data, n);
  return n;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* r = static_cast<Received*>(user);
  const size_t n = size * count;
  std::string line(data, n);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size()) {
    std::string lower = line.substr(0, kName.size());
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == kName) {
      std::string value = line.substr(kName.size());
      while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) value.erase(0, 1);
      while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.pop_back();
      r->retry_after = value;
    }
  }
  return n;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// scheme://host[:port] and the rest of a server URL.
struct ServerParts {
  std::string scheme_host_port;
  std::string host;
  std::string port;
  std::string prefix;
};

ServerParts split_server(const std::string& server) {
  ServerParts p;
  const std::size_t start = server.find("://");
  const std::size_t host_start = start == std::string::npos ? 0 : start + 3;
  const std::size_t slash = server.find('/', host_start);
  p.scheme_host_port = server.substr(0, slash);
  p.prefix = slash == std::string::npos ? "" : server.substr(slash);
  std::string authority = server.substr(host_start, slash == std::string::npos ? std::string::npos : slash - host_start);
  const std::size_t colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']') == std::string::npos) {
    p.host = authority.substr(0, colon);
    p.port = authority.substr(colon + 1);
  } else {
    p.host = authority;
    p.port = "443";
  }
  return p;
}

std::string read_token_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw KubeError(0, "TokenFile", "cannot read the token file named by the kubeconfig");
  std::ostringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  return token;
}

}  // namespace


KubeClient::KubeClient(Credentials credentials, std::string cache_key, ExecCredentialCache* exec_cache,
                       ClientOptions options)
    : credentials_(std::move(credentials)), cache_key_(std::move(cache_key)), exec_cache_(exec_cache),
      options_(std::move(options)) {
  global_init();
  curl_ = curl_easy_init();
  if (!curl_) throw KubeError(0, "CurlInit", "cannot initialise libcurl");
  if (!options_.sleep) options_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
}

KubeClient::~KubeClient() {
  if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

std::string KubeClient::scrub(std::string text) const {
  auto redact = [&text](const std::string& secret) {
    if (secret.size() < 8) return;
    for (std::size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
      text.replace(at, secret.size(), "[redacted]");
    }
  };
  redact(credentials_.token);
  redact(last_token_);
  redact(credentials_.client_key_pem);
  return text;
}

KubeClient::Auth KubeClient::current_auth(std::optional<std::uint64_t> stale) {
  Auth auth;
  auth.cert_pem = credentials_.client_cert_pem;
  auth.key_pem = credentials_.client_key_pem;
  switch (credentials_.auth) {
    case AuthKind::kToken: auth.token = credentials_.token; break;
    case AuthKind::kTokenFile: auth.token = read_token_file(credentials_.token_file); break;
    case AuthKind::kClientCertificate: break;
    case AuthKind::kExec: {
      if (!exec_cache_) throw KubeError(0, "ExecPlugin", "exec credential plugins are not enabled here");
      ExecCredential c;
      try {
        c = exec_cache_->get(cache_key_, credentials_, stale);
      } catch (const ExecError& e) {
        throw KubeError(0, "ExecPlugin", e.what());
      }
      auth.token = c.token;
      if (!c.client_cert_pem.empty()) {
        auth.cert_pem = c.client_cert_pem;
        auth.key_pem = c.client_key_pem;
      }
      auth.generation = c.generation;
      auth.from_exec = true;
      break;
    }
  }
  last_token_ = auth.token;
  return auth;
}

KubeResponse KubeClient::perform(const std::string& method, const std::string& path, const std::string& body,
                                 const std::string& content_type, const std::string& accept, const Auth& auth,
                                 std::string& retry_after) {
  CURL* curl = static_cast<CURL*>(curl_);
  curl_easy_reset(curl);  // keeps the connection cache
  ++attempts_;
  const ServerParts server = split_server(credentials_.server);
  std::string url;
  std::string connect_to;
  if (!credentials_.tls_server_name.empty()) {
    // Verify and send SNI for tls-server-name while connecting to the server's address.
    url = "https://" + credentials_.tls_server_name + ":" + server.port + server.prefix + path;
    connect_to = credentials_.tls_server_name + ":" + server.port + ":" + server.host + ":" + server.port;
  } else {
    url = credentials_.server + path;
  }
  curl_slist* connect_list = nullptr;
  if (!connect_to.empty()) connect_list = curl_slist_append(connect_list, connect_to.c_str());
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, ("Accept: " + accept).c_str());
  if (!content_type.empty()) headers = curl_slist_append(headers, ("Content-Type: " + content_type).c_str());
  std::string authorization;
  if (!auth.token.empty()) {
    authorization = "Authorization: Bearer " + auth.token;
    headers = curl_slist_append(headers, authorization.c_str());
  }
  headers = curl_slist_append(headers, "Expect:");
  Received received;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (connect_list) curl_easy_setopt(curl, CURLOPT_CONNECT_TO, connect_list);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "kiln-dispatch/0.1");
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &received);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &received);
  if (!credentials_.proxy_url.empty()) curl_easy_setopt(curl, CURLOPT_PROXY, credentials_.proxy_url.c_str());
  if (credentials_.insecure_skip_tls_verify) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  } else {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  }
  curl_blob ca{const_cast<char*>(credentials_.ca_pem.data()), credentials_.ca_pem.size(), CURL_BLOB_NOCOPY};
  if (!credentials_.ca_pem.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &ca);
  curl_blob cert{const_cast<char*>(auth.cert_pem.data()), auth.cert_pem.size(), CURL_BLOB_NOCOPY};
  curl_blob key{const_cast<char*>(auth.key_pem.data()), auth.key_pem.size(), CURL_BLOB_NOCOPY};
  if (!auth.cert_pem.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
    curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &key);
  }
  if (method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (method != "DELETE" || !body.empty()) {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
  }
  const CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_slist_free_all(connect_list);
  std::fill(authorization.begin(), authorization.end(), '\0');
  if (rc != CURLE_OK) {
    std::string why = curl_easy_strerror(rc);
    std::string reason = "Transport";
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) {
      reason = "TLSVerification";
      why = "the server's TLS certificate is not trusted by the kubeconfig's certificate authority (" + why + ")";
    } else if (rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_SSL_CERTPROBLEM) {
      reason = "TLS";
    } else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) {
      reason = "Unreachable";
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
      reason = "Timeout";
    } else if (received.too_large) {
      reason = "TooLarge";
      why = "the answer was larger than 64 MiB";
    }
    throw KubeError(0, reason, scrub(method + " " + credentials_.server + ": " + why));
  }
  retry_after = received.retry_after;
  return {status, std::move(received.body)};
}

KubeResponse KubeClient::call_once(const std::string& method, const std::string& path, const std::string& body,
                                   const std::string& content_type, const std::string& accept) {
  std::string retry_after;
  Auth auth = current_auth();
  return perform(method, path, body, content_type, accept, auth, retry_after);
}

KubeResponse KubeClient::call(const std::string& method, const std::string& path, const std::string& what,
                              const std::string& body, const std::string& content_type, const std::string& accept) {
  Auth auth = current_auth();
  bool refreshed = false;
  auto backoff = options_.first_backoff;
  for (int attempt = 0;; ++attempt) {
    std::string retry_after;
    KubeResponse r;
    try {
      r = perform(method, path, body, content_type, accept, auth, retry_after);
    } catch (const KubeError& e) {
      if (e.reason != "Unreachable" && e.reason != "Timeout" && e.reason != "Transport") throw;
      if (attempt >= 1) throw;  // one quick retry for a dropped connection; the next pass tries again
      options_.sleep(backoff);
      continue;
    }
    if (r.status >= 200 && r.status < 300) return r;
    if (r.status == 401 && auth.from_exec && !refreshed) {
      refreshed = true;  // client-go: re-run the plugin once, unless someone already rotated it
      auth = current_auth(auth.generation);
      continue;
    }
    KubeError error = status_error(r.status, r.body, what);
    const bool retryable = r.status == 429 || r.status == 500 || r.status == 502 || r.status == 503 || r.status == 504;
    if (!retryable || attempt >= options_.max_retries) {
      throw KubeError(error.status, error.reason, scrub(error.what()));
    }
    std::chrono::milliseconds wait = backoff;
    if (r.status == 429) {
      long seconds = error.retry_after_seconds;
      try {
        if (!retry_after.empty()) seconds = std::stol(retry_after);
      } catch (const std::exception&) {
        seconds = 1;  // an HTTP date: wait a second
      }
      seconds = std::clamp<long>(seconds, 1, options_.max_retry_after.count());
      wait = std::chrono::seconds(seconds);
    } else {
      backoff *= 2;
    }
    options_.sleep(wait);
  }
}

}  // namespace kiln::k8s
