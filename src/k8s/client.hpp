#pragma once
// A Kubernetes API client over libcurl for one cluster and one identity.
//   - TLS is verified against the kubeconfig's CA (or the system store); tls-server-name
//     is honoured (connect to the server, verify and send SNI for the other name);
//     insecure-skip-tls-verify turns verification off, as kubectl does.
//   - Auth: bearer token (tokenFile re-read on every call), client certificate + key, or
//     an exec plugin's credential from the shared ExecCredentialCache, refreshed once on 401.
//   - 429 sleeps Retry-After (capped) and retries; 500/502/503/504 and connection failures
//     back off exponentially; other errors are thrown at once as KubeError.
//   - Secrets never reach an error message: anything that looks like the token or key is
//     scrubbed before a message leaves this class.
// Not thread-safe: one client per thread (it keeps one libcurl handle and its connections).
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "k8s/exec_credential.hpp"
#include "k8s/kubeconfig.hpp"
#include "k8s/status.hpp"

namespace kiln::k8s {

struct ClientOptions {
  std::chrono::seconds timeout{30};
  std::chrono::seconds connect_timeout{10};
  int max_retries = 4;                         // for 429 and 5xx
  std::chrono::seconds max_retry_after{30};    // a longer Retry-After is capped to this
  std::chrono::milliseconds first_backoff{500};
  std::function<void(std::chrono::milliseconds)> sleep;  // tests inject; default sleeps
};

struct KubeResponse {
  long status = 0;
  std::string body;
};

class KubeClient {
 public:
  // cache_key names this identity in the exec cache (provider id + credentials fingerprint).
  KubeClient(Credentials credentials, std::string cache_key, ExecCredentialCache* exec_cache,
             ClientOptions options = {});
  ~KubeClient();
  KubeClient(const KubeClient&) = delete;
  KubeClient& operator=(const KubeClient&) = delete;

  // One call with retries. Returns 2xx answers; throws KubeError otherwise. what names the
  // call in error messages. path includes the query string.
  KubeResponse call(const std::string& method, const std::string& path, const std::string& what,
                    const std::string& body = {}, const std::string& content_type = {},
                    const std::string& accept = "application/json");
  // One attempt, no retries and no throwing on HTTP errors (the provider test reports each).
  KubeResponse call_once(const std::string& method, const std::string& path, const std::string& body = {},
                         const std::string& content_type = {}, const std::string& accept = "application/json");

  // Obtains the credential now (runs the exec plugin if its token is not cached); throws
  // KubeError (reason ExecPlugin, TokenFile) when it cannot.
  void authenticate() { current_auth(); }
  const Credentials& credentials() const { return credentials_; }
  int attempts() const { return attempts_; }  // HTTP attempts made, for tests

 private:
  struct Auth {
    std::string token;
    std::string cert_pem;
    std::string key_pem;
    std::uint64_t generation = 0;
    bool from_exec = false;
  };
  Auth current_auth(std::optional<std::uint64_t> stale = std::nullopt);
  KubeResponse perform(const std::string& method, const std::string& path, const std::string& body,
                       const std::string& content_type, const std::string& accept, const Auth& auth,
                       std::string& retry_after);
  std::string scrub(std::string text) const;

  Credentials credentials_;
  std::string cache_key_;
  ExecCredentialCache* exec_cache_;
  ClientOptions options_;
  void* curl_ = nullptr;
  int attempts_ = 0;
  std::string last_token_;  // for scrubbing
};

}  // namespace kiln::k8s
