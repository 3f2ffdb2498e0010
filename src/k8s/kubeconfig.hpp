#pragma once
// kubeconfig (clientcmd/api/v1) → the one cluster + user a provider connects with.
//
// Supported users: token, tokenFile, client-certificate(-data) + client-key(-data), and exec
// credential plugins (client.authentication.k8s.io/v1 and v1beta1). Refused with a message
// that says what to do instead: the legacy auth-provider (gcp, azure, oidc), basic auth and
// impersonation. *-data fields are base64 of PEM and are decoded here; file references are
// read relative to base_dir only when allow_files is set (never for uploads through the API,
// whose server must not read its own files on an uploader's behalf).
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::k8s {

// field is the kubeconfig path at fault, e.g. "users[admin].user.client-key-data".
struct KubeconfigError : std::runtime_error {
  std::string field;
  KubeconfigError(const std::string& message, std::string fld) : std::runtime_error(message), field(std::move(fld)) {}
};

struct ExecConfig {
  std::string api_version;  // client.authentication.k8s.io/v1 or /v1beta1
  std::string command;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  bool provide_cluster_info = false;
  std::string interactive_mode;  // Never, IfAvailable (we never attach a terminal), Always is refused
  std::string install_hint;
};

enum class AuthKind { kToken, kTokenFile, kClientCertificate, kExec };

struct Credentials {
  std::string context;
  std::string cluster_name;
  std::string user_name;
  std::string namespace_name;  // the context's namespace, may be empty
  std::string server;          // https://host[:port][/path prefix], no trailing slash
  std::string ca_pem;          // empty: the system trust store
  std::string tls_server_name;
  bool insecure_skip_tls_verify = false;
  std::string proxy_url;
  AuthKind auth = AuthKind::kToken;
  std::string token;
  std::string token_file;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::optional<ExecConfig> exec;
};

struct KubeconfigOptions {
  std::string context;  // empty: current-context (or the only context)
  bool allow_files = false;
  std::filesystem::path base_dir;
};

Credentials parse_kubeconfig(std::string_view yaml, const KubeconfigOptions& options = {});

// Storage form (the plaintext that is encrypted). Round-trips every field.
std::string credentials_to_json(const Credentials& credentials);
Credentials credentials_from_json(std::string_view json);

std::string_view auth_kind_name(AuthKind kind);  // token, token_file, client_certificate, exec

}  // namespace kiln::k8s
