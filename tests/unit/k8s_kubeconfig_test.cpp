// kubeconfig parsing: inline and file certificates, tokens, client certificates, exec
// plugins, the context rules, and the refusals that say what to do instead.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "k8s/base64.hpp"
#include "k8s/kubeconfig.hpp"

namespace kiln::k8s {
namespace {

const std::string kCa = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
const std::string kCert = "-----BEGIN CERTIFICATE-----\nMIIBclient\n-----END CERTIFICATE-----\n";
const std::string kKey = "-----BEGIN EC PRIVATE KEY-----\nMHcfake\n-----END EC PRIVATE KEY-----\n";

std::string config(const std::string& user, const std::string& cluster_extra = "",
                   const std::string& context_extra = "") {
  return "apiVersion: v1\nkind: Config\ncurrent-context: prod\n"
         "clusters:\n- name: c1\n  cluster:\n    server: https://api.example:6443/\n"
         "    certificate-authority-data: " + base64_encode(kCa) + "\n" + cluster_extra +
         "users:\n- name: u1\n  user:\n" + user +
         "contexts:\n- name: prod\n  context:\n    cluster: c1\n    user: u1\n" + context_extra;
}

TEST(Kubeconfig, ReadsABearerTokenAndTheInlineCa) {
  const Credentials c = parse_kubeconfig(config("    token: abc.def\n", "", "    namespace: ci\n"));
  EXPECT_EQ(c.server, "https://api.example:6443");
  EXPECT_EQ(c.ca_pem, kCa);
  EXPECT_EQ(c.auth, AuthKind::kToken);
  EXPECT_EQ(c.token, "abc.def");
  EXPECT_EQ(c.namespace_name, "ci");
  EXPECT_EQ(c.context, "prod");
}

TEST(Kubeconfig, ReadsAClientCertificateAndKey) {
  const Credentials c = parse_kubeconfig(config("    client-certificate-data: " + base64_encode(kCert) +
                                                "\n    client-key-data: " + base64_encode(kKey) + "\n"));
  EXPECT_EQ(c.auth, AuthKind::kClientCertificate);
  EXPECT_EQ(c.client_cert_pem, kCert);
  EXPECT_EQ(c.client_key_pem, kKey);
}

TEST(Kubeconfig, ReadsCertificateFilesOnlyWhenAllowed) {
  const auto dir = std::filesystem::temp_directory_path() / ("kiln-kc-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "client.crt") << kCert;
  std::ofstream(dir / "client.key") << kKey;
  std::ofstream(dir / "ca.crt") << kCa;
  const std::string text =
      "apiVersion: v1\nkind: Config\ncurrent-context: x\nclusters:\n- name: c\n  cluster:\n"
      "    server: https://10.0.0.1\n    certificate-authority: ca.crt\n"
      "users:\n- name: u\n  user:\n    client-certificate: client.crt\n    client-key: " + (dir / "client.key").string() +
      "\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n";
  try {
    parse_kubeconfig(text);
    FAIL() << "a file reference was read without allow_files";
  } catch (const KubeconfigError& e) {
    EXPECT_EQ(e.field, "clusters[c].cluster.certificate-authority");
    EXPECT_NE(std::string(e.what()).find("--flatten"), std::string::npos);
  }
  KubeconfigOptions o;
  o.allow_files = true;
  o.base_dir = dir;
  const Credentials c = parse_kubeconfig(text, o);
  EXPECT_EQ(c.ca_pem, kCa);
  EXPECT_EQ(c.client_cert_pem, kCert);
  EXPECT_EQ(c.client_key_pem, kKey);
  std::filesystem::remove_all(dir);
}

TEST(Kubeconfig, ReadsAnExecPluginAsEksWritesIt) {
  const Credentials c = parse_kubeconfig(config(
      "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: aws\n"
      "      args: [eks, get-token, --cluster-name, prod]\n      env:\n      - name: AWS_PROFILE\n        value: ci\n"
      "      provideClusterInfo: true\n"));
  EXPECT_EQ(c.auth, AuthKind::kExec);
  ASSERT_TRUE(c.exec);
  EXPECT_EQ(c.exec->command, "aws");
  EXPECT_EQ(c.exec->args, (std::vector<std::string>{"eks", "get-token", "--cluster-name", "prod"}));
  EXPECT_EQ(c.exec->env.at(0), (std::pair<std::string, std::string>{"AWS_PROFILE", "ci"}));
  EXPECT_TRUE(c.exec->provide_cluster_info);
  EXPECT_EQ(c.exec->interactive_mode, "IfAvailable");
}

TEST(Kubeconfig, V1ExecNeedsInteractiveModeAndNeverAlways) {
  EXPECT_THROW(parse_kubeconfig(config("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
                                       "      command: kubelogin\n")),
               KubeconfigError);
  EXPECT_THROW(parse_kubeconfig(config("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
                                       "      command: kubelogin\n      interactiveMode: Always\n")),
               KubeconfigError);
  EXPECT_NO_THROW(parse_kubeconfig(config("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
                                          "      command: kubelogin\n      interactiveMode: Never\n")));
}

TEST(Kubeconfig, AStaticTokenWinsOverExec) {
  const Credentials c = parse_kubeconfig(config("    token: t\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
                                                "      command: aws\n"));
  EXPECT_EQ(c.auth, AuthKind::kToken);
}

TEST(Kubeconfig, PicksTheNamedContext) {
  const std::string two =
      config("    token: t\n") + "- name: other\n  context:\n    cluster: c1\n    user: u1\n    namespace: other-ns\n";
  KubeconfigOptions o;
  o.context = "other";
  EXPECT_EQ(parse_kubeconfig(two, o).namespace_name, "other-ns");
  o.context = "missing";
  EXPECT_THROW(parse_kubeconfig(two, o), KubeconfigError);
}

TEST(Kubeconfig, RefusesWhatItCannotUseNamingTheField) {
  const auto field_of = [](const std::string& text) {
    try {
      parse_kubeconfig(text);
    } catch (const KubeconfigError& e) {
      return e.field;
    }
    return std::string("(accepted)");
  };
  EXPECT_EQ(field_of(config("    auth-provider:\n      name: gcp\n")), "users[u1].user.auth-provider");
  EXPECT_EQ(field_of(config("    username: a\n    password: b\n")), "users[u1].user.username");
  EXPECT_EQ(field_of(config("    token: t\n    as: admin\n")), "users[u1].user.as");
  EXPECT_EQ(field_of(config("    client-certificate-data: " + base64_encode(kCert) + "\n")),
            "users[u1].user.client-key-data");
  EXPECT_EQ(field_of(config("    client-key-data: not*base64\n    client-certificate-data: x\n")),
            "users[u1].user.client-certificate-data");
  EXPECT_EQ(field_of(config("    {}\n")), "users[u1].user");
  EXPECT_EQ(field_of(config("    foo: bar\n")), "users[u1].user");
  EXPECT_EQ(field_of("apiVersion: v1\nclusters: [\n"), "kubeconfig");
  EXPECT_EQ(field_of("- a list\n"), "kubeconfig");
  std::string http = config("    token: t\n");
  http.replace(http.find("https://"), 8, "http://");
  EXPECT_EQ(field_of(http), "clusters[c1].cluster.server");
}

TEST(Kubeconfig, RoundTripsThroughItsStorageForm) {
  const Credentials c = parse_kubeconfig(config(
      "    token: t\n    client-certificate-data: " + base64_encode(kCert) + "\n    client-key-data: " +
          base64_encode(kKey) + "\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
          "      command: kubelogin\n      args: [get-token]\n      interactiveMode: Never\n",
      "    tls-server-name: api.internal\n    proxy-url: http://proxy:3128\n"));
  const Credentials back = credentials_from_json(credentials_to_json(c));
  EXPECT_EQ(back.server, c.server);
  EXPECT_EQ(back.ca_pem, c.ca_pem);
  EXPECT_EQ(back.tls_server_name, "api.internal");
  EXPECT_EQ(back.proxy_url, "http://proxy:3128");
  EXPECT_EQ(back.token, "t");
  EXPECT_EQ(back.client_key_pem, kKey);
  ASSERT_TRUE(back.exec);
  EXPECT_EQ(back.exec->args, std::vector<std::string>{"get-token"});
  EXPECT_EQ(back.auth, c.auth);
}

TEST(Base64, DecodesPaddedTextWithNewlinesAndRefusesGarbage) {
  EXPECT_EQ(base64_decode("aGVsbG8=").value(), "hello");
  EXPECT_EQ(base64_decode("aGVs\nbG8h").value(), "hello!");
  EXPECT_EQ(base64_decode("").value(), "");
  EXPECT_FALSE(base64_decode("a*b="));
  EXPECT_FALSE(base64_decode("abc"));
  EXPECT_EQ(base64_encode(std::string("\0\xff", 2)), "AP8=");
}

}  // namespace
}  // namespace kiln::k8s
