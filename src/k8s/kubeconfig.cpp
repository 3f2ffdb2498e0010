#include "k8s/kubeconfig.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "k8s/base64.hpp"

namespace kiln::k8s {

namespace {

constexpr std::size_t kMaxFileBytes = 1 << 20;

// Strict UTF-8: no overlong forms, surrogates or code points above U+10FFFF. The stored form
// is JSON, which cannot carry anything else (nlohmann's dump throws on it).
bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    int n = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      n = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      n = 2;
      if (b == 0xE0) low = 0xA0;
      if (b == 0xED) high = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      n = 3;
      if (b == 0xF0) low = 0x90;
      if (b == 0xF4) high = 0x8F;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (int k = 1; k <= n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if (c < (k == 1 ? low : 0x80) || c > (k == 1 ? high : 0xBF)) return false;
    }
    i += static_cast<std::size_t>(n) + 1;
  }
  return true;
}

// PEM (RFC 7468) is printable ASCII and line breaks.
bool pem_text(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return (c >= 0x20 && c < 0x7F) || c == '\n' || c == '\r' || c == '\t';
  });
}

std::string scalar(const YAML::Node& node, const std::string& key, const std::string& path) {
  const YAML::Node value = node[key];
  if (!value || value.IsNull()) return {};
  if (!value.IsScalar()) throw KubeconfigError(path + "." + key + " must be a string", path + "." + key);
  std::string text = value.as<std::string>();
  if (!valid_utf8(text)) throw KubeconfigError(path + "." + key + " is not valid UTF-8", path + "." + key);
  return text;
}

bool boolean(const YAML::Node& node, const std::string& key, const std::string& path) {
  const YAML::Node value = node[key];
  if (!value || value.IsNull()) return false;
  try {
    return value.as<bool>();
  } catch (const YAML::Exception&) {
    throw KubeconfigError(path + "." + key + " must be true or false", path + "." + key);
  }
}

// The entry of a named list (clusters, users, contexts) called name, e.g. clusters[prod].cluster.
YAML::Node named(const YAML::Node& root, const std::string& list, const std::string& inner, const std::string& name) {
  const YAML::Node items = root[list];
  if (items && !items.IsSequence()) throw KubeconfigError(list + " must be a list", list);
  if (items) {
    for (const auto& item : items) {
      if (item.IsMap() && item["name"] && item["name"].IsScalar() && item["name"].as<std::string>() == name) {
        const YAML::Node body = item[inner];
        if (!body || !body.IsMap()) {
          throw KubeconfigError(list + "[" + name + "]." + inner + " is missing", list + "[" + name + "]." + inner);
        }
        return body;
      }
    }
  }
  throw KubeconfigError("the kubeconfig has no " + inner + " named \"" + name + "\" in " + list, list);
}

std::string read_file(const std::filesystem::path& path, const std::string& field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw KubeconfigError(field + " names a file that cannot be read: " + path.string(), field);
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > kMaxFileBytes) throw KubeconfigError(field + " names a file larger than 1 MiB", field);
  return text.str();
}

// A PEM value from FIELD-data (base64) or FIELD (a file), or empty when neither is set.
std::string pem(const YAML::Node& node, const std::string& field, const std::string& path,
                const KubeconfigOptions& options, std::string_view expect) {
  const std::string data = scalar(node, field + "-data", path);
  const std::string file = scalar(node, field, path);
  std::string out;
  if (!data.empty()) {
    auto decoded = base64_decode(data);
    if (!decoded) throw KubeconfigError(path + "." + field + "-data is not valid base64", path + "." + field + "-data");
    out = std::move(*decoded);
  } else if (!file.empty()) {
    if (!options.allow_files) {
      throw KubeconfigError(path + "." + field + " refers to a file; upload a self-contained kubeconfig "
                            "(kubectl config view --raw --flatten --minify)", path + "." + field);
    }
    std::filesystem::path p(file);
    if (p.is_relative()) p = options.base_dir / p;
    out = read_file(p, path + "." + field);
  } else {
    return {};
  }
  if (!pem_text(out) || out.find("-----BEGIN ") == std::string::npos ||
      out.find(std::string(expect)) == std::string::npos) {
    const std::string at = path + "." + field + (data.empty() ? "" : "-data");
    throw KubeconfigError(at + " does not hold a PEM " + std::string(expect), at);
  }
  return out;
}

ExecConfig parse_exec(const YAML::Node& exec, const std::string& path) {
  if (!exec.IsMap()) throw KubeconfigError(path + " must be a map", path);
  ExecConfig e;
  e.api_version = scalar(exec, "apiVersion", path);
  if (e.api_version != "client.authentication.k8s.io/v1" && e.api_version != "client.authentication.k8s.io/v1beta1") {
    throw KubeconfigError(path + ".apiVersion must be client.authentication.k8s.io/v1 or /v1beta1",
                          path + ".apiVersion");
  }
  e.command = scalar(exec, "command", path);
  if (e.command.empty()) throw KubeconfigError(path + ".command is required", path + ".command");
  if (const YAML::Node args = exec["args"]; args && !args.IsNull()) {
    if (!args.IsSequence()) throw KubeconfigError(path + ".args must be a list", path + ".args");
    for (const auto& a : args) {
      if (!a.IsScalar() || !valid_utf8(a.Scalar())) {
        throw KubeconfigError(path + ".args must be strings (UTF-8)", path + ".args");
      }
      e.args.push_back(a.Scalar());
    }
  }
  if (const YAML::Node env = exec["env"]; env && !env.IsNull()) {
    if (!env.IsSequence()) throw KubeconfigError(path + ".env must be a list", path + ".env");
    for (const auto& item : env) {
      if (!item.IsMap()) throw KubeconfigError(path + ".env items are {name, value}", path + ".env");
      const std::string name = scalar(item, "name", path + ".env");
      if (name.empty()) throw KubeconfigError(path + ".env items need a name", path + ".env");
      e.env.emplace_back(name, scalar(item, "value", path + ".env"));
    }
  }
  e.provide_cluster_info = boolean(exec, "provideClusterInfo", path);
  e.interactive_mode = scalar(exec, "interactiveMode", path);
  if (e.interactive_mode.empty()) {
    if (e.api_version.ends_with("/v1")) {
      throw KubeconfigError(path + ".interactiveMode is required for client.authentication.k8s.io/v1 (use Never)",
                            path + ".interactiveMode");
    }
    e.interactive_mode = "IfAvailable";
  }
  if (e.interactive_mode == "Always") {
    throw KubeconfigError(path + ".interactiveMode is Always, but the dispatcher runs plugins without a terminal; "
                          "use a non-interactive login (a service principal, workload identity, an access key)",
                          path + ".interactiveMode");
  }
  if (e.interactive_mode != "Never" && e.interactive_mode != "IfAvailable") {
    throw KubeconfigError(path + ".interactiveMode must be Never, IfAvailable or Always", path + ".interactiveMode");
  }
  e.install_hint = scalar(exec, "installHint", path);
  return e;
}

void parse_user(const YAML::Node& user, const std::string& path, const KubeconfigOptions& options, Credentials& c) {
  if (user["auth-provider"]) {
    std::string name;
    if (user["auth-provider"].IsMap()) name = scalar(user["auth-provider"], "name", path + ".auth-provider");
    throw KubeconfigError(path + ".auth-provider (" + name + ") is not supported: the gcp and azure providers "
                          "were removed from Kubernetes 1.26; use the exec plugin (gke-gcloud-auth-plugin, kubelogin)",
                          path + ".auth-provider");
  }
  if (user["username"] || user["password"]) {
    throw KubeconfigError(path + " uses basic auth (username/password), which is not supported; "
                          "use a service account token or a client certificate", path + ".username");
  }
  for (const char* key : {"as", "as-uid", "as-groups", "as-user-extra"}) {
    if (user[key]) throw KubeconfigError(path + "." + key + ": impersonation is not supported", path + "." + key);
  }
  c.token = scalar(user, "token", path);
  const std::string token_file = scalar(user, "tokenFile", path);
  c.client_cert_pem = pem(user, "client-certificate", path, options, "CERTIFICATE");
  c.client_key_pem = pem(user, "client-key", path, options, "PRIVATE KEY");
  if (c.client_cert_pem.empty() != c.client_key_pem.empty()) {
    const std::string missing = c.client_cert_pem.empty() ? "client-certificate-data" : "client-key-data";
    throw KubeconfigError(path + " has a client certificate or key but not both (" + missing + " is missing)",
                          path + "." + missing);
  }
  if (const YAML::Node exec = user["exec"]; exec && !exec.IsNull()) c.exec = parse_exec(exec, path + ".exec");
  if (!token_file.empty() && c.token.empty()) {
    if (!options.allow_files) {
      throw KubeconfigError(path + ".tokenFile refers to a file; put the token itself in token", path + ".tokenFile");
    }
    std::filesystem::path p(token_file);
    c.token_file = (p.is_relative() ? options.base_dir / p : p).string();
  }
  // client-go's order: a static token wins over exec; a client certificate may accompany either.
  if (!c.token.empty()) {
    c.auth = AuthKind::kToken;
  } else if (!c.token_file.empty()) {
    c.auth = AuthKind::kTokenFile;
  } else if (c.exec) {
    c.auth = AuthKind::kExec;
  } else if (!c.client_cert_pem.empty()) {
    c.auth = AuthKind::kClientCertificate;
  } else {
    throw KubeconfigError(path + " has no credentials: give a token, a client certificate and key, or an exec plugin",
                          path);
  }
}

}  // namespace

std::string_view auth_kind_name(AuthKind kind) {
  switch (kind) {
    case AuthKind::kToken: return "token";
    case AuthKind::kTokenFile: return "token_file";
    case AuthKind::kClientCertificate: return "client_certificate";
    case AuthKind::kExec: return "exec";
  }
  return "token";
}

Credentials parse_kubeconfig(std::string_view yaml, const KubeconfigOptions& options) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::ParserException& e) {
    throw KubeconfigError("the kubeconfig is not valid YAML (line " + std::to_string(e.mark.line + 1) + ", column " +
                          std::to_string(e.mark.column + 1) + ")", "kubeconfig");
  }
  if (!root.IsMap()) throw KubeconfigError("the kubeconfig must be a YAML map (kind: Config)", "kubeconfig");
  try {
    const std::string kind = scalar(root, "kind", "kubeconfig");
    if (!kind.empty() && kind != "Config") throw KubeconfigError("kubeconfig kind must be Config", "kind");
    Credentials c;
    c.context = options.context.empty() ? scalar(root, "current-context", "kubeconfig") : options.context;
    if (c.context.empty()) {
      const YAML::Node contexts = root["contexts"];
      if (contexts && contexts.IsSequence() && contexts.size() == 1 && contexts[0].IsMap()) {
        c.context = scalar(contexts[0], "name", "contexts[0]");
      }
      if (c.context.empty()) {
        throw KubeconfigError("the kubeconfig sets no current-context; name the context to use", "context");
      }
    }
    const YAML::Node context = named(root, "contexts", "context", c.context);
    const std::string cpath = "contexts[" + c.context + "].context";
    c.cluster_name = scalar(context, "cluster", cpath);
    c.user_name = scalar(context, "user", cpath);
    c.namespace_name = scalar(context, "namespace", cpath);
    if (c.cluster_name.empty()) throw KubeconfigError(cpath + ".cluster is required", cpath + ".cluster");
    if (c.user_name.empty()) throw KubeconfigError(cpath + ".user is required", cpath + ".user");

    const YAML::Node cluster = named(root, "clusters", "cluster", c.cluster_name);
    const std::string kpath = "clusters[" + c.cluster_name + "].cluster";
    c.server = scalar(cluster, "server", kpath);
    if (!c.server.starts_with("https://")) {
      throw KubeconfigError(kpath + ".server must be an https:// URL", kpath + ".server");
    }
    while (c.server.ends_with("/")) c.server.pop_back();
    c.ca_pem = pem(cluster, "certificate-authority", kpath, options, "CERTIFICATE");
    c.tls_server_name = scalar(cluster, "tls-server-name", kpath);
    c.insecure_skip_tls_verify = boolean(cluster, "insecure-skip-tls-verify", kpath);
    c.proxy_url = scalar(cluster, "proxy-url", kpath);

    const YAML::Node user = named(root, "users", "user", c.user_name);
    parse_user(user, "users[" + c.user_name + "].user", options, c);
    return c;
  } catch (const YAML::Exception& e) {
    throw KubeconfigError("the kubeconfig has an unexpected shape near line " + std::to_string(e.mark.line + 1),
                          "kubeconfig");
  }
}

std::string credentials_to_json(const Credentials& c) {
  nlohmann::json j = {{"context", c.context},
                      {"cluster_name", c.cluster_name},
                      {"user_name", c.user_name},
                      {"namespace", c.namespace_name},
                      {"server", c.server},
                      {"ca_pem", c.ca_pem},
                      {"tls_server_name", c.tls_server_name},
                      {"insecure_skip_tls_verify", c.insecure_skip_tls_verify},
                      {"proxy_url", c.proxy_url},
                      {"auth", auth_kind_name(c.auth)},
                      {"token", c.token},
                      {"token_file", c.token_file},
                      {"client_cert_pem", c.client_cert_pem},
                      {"client_key_pem", c.client_key_pem}};
  if (c.exec) {
    nlohmann::json env = nlohmann::json::array();
    for (const auto& [k, v] : c.exec->env) env.push_back({{"name", k}, {"value", v}});
    j["exec"] = {{"api_version", c.exec->api_version}, {"command", c.exec->command}, {"args", c.exec->args},
                 {"env", env}, {"provide_cluster_info", c.exec->provide_cluster_info},
                 {"interactive_mode", c.exec->interactive_mode}, {"install_hint", c.exec->install_hint}};
  }
  return j.dump();
}

Credentials credentials_from_json(std::string_view text) {
  const auto j = nlohmann::json::parse(text);
  Credentials c;
  c.context = j.value("context", "");
  c.cluster_name = j.value("cluster_name", "");
  c.user_name = j.value("user_name", "");
  c.namespace_name = j.value("namespace", "");
  c.server = j.value("server", "");
  c.ca_pem = j.value("ca_pem", "");
  c.tls_server_name = j.value("tls_server_name", "");
  c.insecure_skip_tls_verify = j.value("insecure_skip_tls_verify", false);
  c.proxy_url = j.value("proxy_url", "");
  const std::string auth = j.value("auth", "token");
  c.auth = auth == "exec"                 ? AuthKind::kExec
           : auth == "client_certificate" ? AuthKind::kClientCertificate
           : auth == "token_file"         ? AuthKind::kTokenFile
                                          : AuthKind::kToken;
  c.token = j.value("token", "");
  c.token_file = j.value("token_file", "");
  c.client_cert_pem = j.value("client_cert_pem", "");
  c.client_key_pem = j.value("client_key_pem", "");
  if (j.contains("exec") && j["exec"].is_object()) {
    const auto& e = j["exec"];
    ExecConfig x;
    x.api_version = e.value("api_version", "");
    x.command = e.value("command", "");
    x.args = e.value("args", std::vector<std::string>{});
    for (const auto& item : e.value("env", nlohmann::json::array())) {
      x.env.emplace_back(item.value("name", ""), item.value("value", ""));
    }
    x.provide_cluster_info = e.value("provide_cluster_info", false);
    x.interactive_mode = e.value("interactive_mode", "Never");
    x.install_hint = e.value("install_hint", "");
    c.exec = std::move(x);
  }
  return c;
}

}  // namespace kiln::k8s
