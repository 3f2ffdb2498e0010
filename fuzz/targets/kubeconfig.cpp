// kubeconfig uploads (POST /api/v1/admin/providers): k8s::parse_kubeconfig as kiln-api
// calls it (no file references), then the storage form that is encrypted. Properties:
// only KubeconfigError escapes, and always names a field; an accepted kubeconfig has an
// https server and credentials of its kind; credentials_to_json never throws and
// credentials_from_json gives back every field.
#include <cstdint>
#include <string>

#include "check.hpp"
#include "k8s/kubeconfig.hpp"

using kiln::k8s::AuthKind;
using kiln::k8s::Credentials;

namespace {

bool same(const Credentials& a, const Credentials& b) {
  if (a.context != b.context || a.cluster_name != b.cluster_name || a.user_name != b.user_name ||
      a.namespace_name != b.namespace_name || a.server != b.server || a.ca_pem != b.ca_pem ||
      a.tls_server_name != b.tls_server_name || a.insecure_skip_tls_verify != b.insecure_skip_tls_verify ||
      a.proxy_url != b.proxy_url || a.auth != b.auth || a.token != b.token || a.token_file != b.token_file ||
      a.client_cert_pem != b.client_cert_pem || a.client_key_pem != b.client_key_pem ||
      a.exec.has_value() != b.exec.has_value()) {
    return false;
  }
  if (!a.exec) return true;
  const auto& x = *a.exec;
  const auto& y = *b.exec;
  return x.api_version == y.api_version && x.command == y.command && x.args == y.args && x.env == y.env &&
         x.provide_cluster_info == y.provide_cluster_info && x.interactive_mode == y.interactive_mode &&
         x.install_hint == y.install_hint;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  Credentials c;
  try {
    c = kiln::k8s::parse_kubeconfig(text);
  } catch (const kiln::k8s::KubeconfigError& e) {
    FUZZ_CHECK(!e.field.empty(), "a KubeconfigError names no field");
    return 0;
  }
  FUZZ_CHECK(c.server.starts_with("https://") && !c.server.ends_with("/"), "an accepted server is not https://…");
  FUZZ_CHECK(c.token_file.empty(), "a token file was accepted without allow_files");
  switch (c.auth) {
    case AuthKind::kToken: FUZZ_CHECK(!c.token.empty(), "token auth without a token"); break;
    case AuthKind::kTokenFile: FUZZ_CHECK(false, "token_file auth without allow_files"); break;
    case AuthKind::kExec: FUZZ_CHECK(c.exec && !c.exec->command.empty(), "exec auth without a command"); break;
    case AuthKind::kClientCertificate:
      FUZZ_CHECK(!c.client_cert_pem.empty() && !c.client_key_pem.empty(), "client certificate auth without both");
      break;
  }
  const std::string stored = kiln::k8s::credentials_to_json(c);
  FUZZ_CHECK(same(kiln::k8s::credentials_from_json(stored), c), "the storage form lost a field");
  return 0;
}
