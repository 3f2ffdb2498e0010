// Exec credential plugins: the ExecCredential protocol, caching until expirationTimestamp,
// one refresh after a 401, the allow list, and errors that never show the plugin's output.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "k8s/exec_credential.hpp"

namespace kiln::k8s {
namespace {

struct Plugin {
  std::filesystem::path dir;
  std::filesystem::path script;
  std::filesystem::path count;

  // A plugin that prints a token valid for `seconds` (no expiry when negative) and counts
  // its runs in a file; it echoes KUBERNETES_EXEC_INFO and an env var into files.
  Plugin(const std::string& name, int seconds, const std::string& api = "client.authentication.k8s.io/v1") {
    dir = std::filesystem::temp_directory_path() / ("kiln-exec-" + std::to_string(::getpid()) + "-" + name);
    std::filesystem::create_directories(dir);
    script = dir / "plugin";
    count = dir / "count";
    std::ofstream s(script);
    s << "#!/bin/sh\n"
      << "echo run >> '" << count.string() << "'\n"
      << "printf '%s' \"$KUBERNETES_EXEC_INFO\" > '" << (dir / "info").string() << "'\n"
      << "printf '%s' \"$KILN_TEST_VAR\" > '" << (dir / "env").string() << "'\n"
      << "n=$(wc -l < '" << count.string() << "' | tr -d ' ')\n";
    if (seconds >= 0) {
      s << "exp=$(date -u -d @$(( $(date +%s) + " << seconds << " )) +%Y-%m-%dT%H:%M:%SZ)\n"
        << "printf '{\"apiVersion\":\"" << api << "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"tok-%s\","
        << "\"expirationTimestamp\":\"%s\"}}' \"$n\" \"$exp\"\n";
    } else {
      s << "printf '{\"apiVersion\":\"" << api << "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"tok-%s\"}}' \"$n\"\n";
    }
    s.close();
    chmod(script.c_str(), 0755);
  }
  ~Plugin() { std::filesystem::remove_all(dir); }
  int runs() const {
    std::ifstream in(count);
    int n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
  }
  std::string read(const char* file) const {
    std::ifstream in(dir / file);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  Credentials credentials(bool cluster_info = false) const {
    Credentials c;
    c.server = "https://api.example";
    c.ca_pem = "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n";
    c.auth = AuthKind::kExec;
    c.exec = ExecConfig{"client.authentication.k8s.io/v1", script.string(), {"get-token"}, {{"KILN_TEST_VAR", "from-kubeconfig"}},
                        cluster_info, "Never", "install the plugin"};
    return c;
  }
  ExecPolicy policy() const { return {{script.string()}, std::chrono::seconds(5), std::chrono::seconds(60)}; }
};

TEST(ExecCredential, RunsThePluginAndCachesTheTokenUntilItExpires) {
  Plugin p("cache", 3600);
  ExecCredentialCache cache(p.policy());
  const auto first = cache.get("prov:fp", p.credentials());
  EXPECT_EQ(first.token, "tok-1");
  ASSERT_TRUE(first.expires);
  EXPECT_EQ(cache.get("prov:fp", p.credentials()).token, "tok-1");
  EXPECT_EQ(cache.get("prov:fp", p.credentials()).token, "tok-1");
  EXPECT_EQ(p.runs(), 1);
  EXPECT_EQ(p.read("env"), "from-kubeconfig");
  const auto info = nlohmann::json::parse(p.read("info"));
  EXPECT_EQ(info["kind"], "ExecCredential");
  EXPECT_EQ(info["spec"]["interactive"], false);
  EXPECT_FALSE(info["spec"].contains("cluster"));
}

TEST(ExecCredential, RunsAgainWhenTheTokenIsAboutToExpire) {
  Plugin p("expiring", 30);  // inside the minute of skew
  ExecCredentialCache cache(p.policy());
  EXPECT_EQ(cache.get("k", p.credentials()).token, "tok-1");
  EXPECT_EQ(cache.get("k", p.credentials()).token, "tok-2");
  EXPECT_EQ(p.runs(), 2);
}

TEST(ExecCredential, WithoutAnExpiryRefreshesOnceAfterA401) {
  Plugin p("noexpiry", -1);
  ExecCredentialCache cache(p.policy());
  const auto a = cache.get("k", p.credentials());
  EXPECT_EQ(cache.get("k", p.credentials()).token, "tok-1");
  const auto b = cache.get("k", p.credentials(), a.generation);  // the server said 401 to a
  EXPECT_EQ(b.token, "tok-2");
  EXPECT_EQ(cache.get("k", p.credentials(), a.generation).token, "tok-2");  // already rotated
  EXPECT_EQ(p.runs(), 2);
}

TEST(ExecCredential, PassesClusterInfoWhenAsked) {
  Plugin p("info", 3600);
  ExecCredentialCache cache(p.policy());
  cache.get("k", p.credentials(true));
  const auto info = nlohmann::json::parse(p.read("info"));
  EXPECT_EQ(info["spec"]["cluster"]["server"], "https://api.example");
  EXPECT_TRUE(info["spec"]["cluster"].contains("certificate-authority-data"));
}

TEST(ExecCredential, RunsOnlyAllowedCommands) {
  Plugin p("allow", 3600);
  ExecCredentialCache cache(ExecPolicy{{"aws"}, std::chrono::seconds(5), std::chrono::seconds(60)});
  try {
    cache.get("k", p.credentials());
    FAIL();
  } catch (const ExecError& e) {
    EXPECT_NE(std::string(e.what()).find("--exec-allow"), std::string::npos);
  }
  EXPECT_EQ(p.runs(), 0);
}

TEST(ExecCredential, ExplainsFailuresWithoutShowingStdout) {
  Plugin p("fail", 3600);
  std::ofstream(p.script) << "#!/bin/sh\necho 'secret-on-stdout'\necho 'error: not logged in' >&2\nexit 3\n";
  ExecCredentialCache cache(p.policy());
  try {
    cache.get("k", p.credentials());
    FAIL();
  } catch (const ExecError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("exit status 3"), std::string::npos) << m;
    EXPECT_NE(m.find("not logged in"), std::string::npos) << m;
    EXPECT_EQ(m.find("secret-on-stdout"), std::string::npos) << m;
  }
  Credentials missing = p.credentials();
  missing.exec->command = "/nonexistent/kiln-plugin";
  ExecCredentialCache cache2(ExecPolicy{{"/nonexistent/kiln-plugin"}, std::chrono::seconds(5), std::chrono::seconds(60)});
  try {
    cache2.get("k", missing);
    FAIL();
  } catch (const ExecError& e) {
    EXPECT_NE(std::string(e.what()).find("not found"), std::string::npos) << e.what();
  }
}

TEST(ExecCredential, KillsAPluginThatHangs) {
  Plugin p("hang", 3600);
  std::ofstream(p.script) << "#!/bin/sh\nsleep 30\n";
  ExecCredentialCache cache(ExecPolicy{{p.script.string()}, std::chrono::seconds(1), std::chrono::seconds(60)});
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(cache.get("k", p.credentials()), ExecError);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(ExecCredential, ParsesTheOutputStrictly) {
  const std::string v1 = "client.authentication.k8s.io/v1";
  EXPECT_EQ(parse_exec_output(R"({"apiVersion":")" + v1 + R"(","kind":"ExecCredential","status":{"token":"t"}})", v1).token, "t");
  const auto cert = parse_exec_output(R"({"apiVersion":")" + v1 +
                                          R"(","kind":"ExecCredential","status":{"clientCertificateData":"C","clientKeyData":"K"}})",
                                      v1);
  EXPECT_EQ(cert.client_cert_pem, "C");
  EXPECT_THROW(parse_exec_output("not json", v1), ExecError);
  EXPECT_THROW(parse_exec_output(R"({"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"t"}})", v1),
               ExecError);
  EXPECT_THROW(parse_exec_output(R"({"apiVersion":")" + v1 + R"(","kind":"ExecCredential"})", v1), ExecError);
  EXPECT_THROW(parse_exec_output(R"({"apiVersion":")" + v1 + R"(","kind":"ExecCredential","status":{"clientKeyData":"K"}})", v1),
               ExecError);
  EXPECT_THROW(parse_exec_output(R"({"apiVersion":")" + v1 +
                                     R"(","kind":"ExecCredential","status":{"token":"t","expirationTimestamp":"soon"}})",
                                 v1),
               ExecError);
}

TEST(Rfc3339, ParsesUtcFractionsAndOffsets) {
  const auto a = parse_rfc3339("2026-08-21T10:14:00Z");
  const auto b = parse_rfc3339("2026-08-21T12:14:00.123+02:00");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(std::chrono::system_clock::to_time_t(*a), std::chrono::system_clock::to_time_t(*b));
  EXPECT_FALSE(parse_rfc3339("2026-08-21 10:14"));
  EXPECT_FALSE(parse_rfc3339("2026-08-21T10:14:00"));
}

}  // namespace
}  // namespace kiln::k8s
