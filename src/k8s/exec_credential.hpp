#pragma once
// Exec credential plugins (client.authentication.k8s.io/v1 ExecCredential, as client-go
// runs them): the command runs with the parent environment plus exec.env plus
// KUBERNETES_EXEC_INFO, without a terminal, under a timeout; its stdout (secret, never
// logged) is an ExecCredential whose status holds a token or a client certificate + key.
// The credential is cached until expirationTimestamp minus a minute of skew, or, without
// one, until the server answers 401. Runs are serialized per process.
//
// A kubeconfig's exec command runs on the dispatcher host, so only commands on the
// dispatcher's allow list run (bare names resolved through PATH, or absolute paths).
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "k8s/kubeconfig.hpp"

namespace kiln::k8s {

struct ExecError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ExecCredential {
  std::string token;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::optional<std::chrono::system_clock::time_point> expires;
  std::uint64_t generation = 0;  // bumped by every run of the plugin for a key
};

struct ExecPolicy {
  std::vector<std::string> allowed;  // command names or absolute paths
  std::chrono::seconds timeout{30};
  std::chrono::seconds skew{60};
};

// The commands allowed when the operator names none: the vendors' plugins.
std::vector<std::string> default_exec_allow_list();

// Parses a plugin's stdout; throws ExecError naming what is wrong (never the content).
ExecCredential parse_exec_output(const std::string& stdout_text, const std::string& api_version);
// RFC 3339 (2026-08-21T10:14:00Z, fractions and offsets too); nullopt when malformed.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(const std::string& text);
// The KUBERNETES_EXEC_INFO value for a plugin.
std::string exec_info_json(const Credentials& credentials);

class ExecCredentialCache {
 public:
  explicit ExecCredentialCache(ExecPolicy policy) : policy_(std::move(policy)) {}

  // The credential for key (e.g. provider id + credentials fingerprint), from the cache
  // or by running the plugin. With stale set (after a 401 with that generation), the
  // plugin runs again unless another caller already replaced that credential.
  ExecCredential get(const std::string& key, const Credentials& credentials,
                     std::optional<std::uint64_t> stale = std::nullopt);
  int runs() const;

 private:
  ExecCredential run(const Credentials& credentials);

  ExecPolicy policy_;
  mutable std::mutex mutex_;
  std::map<std::string, ExecCredential> cache_;
  std::uint64_t generation_ = 0;
  int runs_ = 0;
};

}  // namespace kiln::k8s
