#include "cli/config.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace kiln::cli {
namespace {

Getenv env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

class CliConfigFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kiln-cli-config-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_ / "xdg" / "kiln");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::filesystem::path& path, const std::string& text) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  std::filesystem::path dir_;
};

TEST(CliConfig, ParsesKeyValueLinesCommentsAndQuotes) {
  const auto values = parse_config_text("# Kiln\n\nurl = https://kiln.example/\n  token=\"kiln_abc\"  \n", "f");
  EXPECT_EQ(values, (std::map<std::string, std::string>{{"url", "https://kiln.example/"}, {"token", "kiln_abc"}}));
}

TEST(CliConfig, NamesTheLineOfABadOrUnknownEntry) {
  try {
    parse_config_text("url = x\nserver = y\n", "/home/u/.config/kiln/config");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "/home/u/.config/kiln/config:2: unknown key \"server\" (known: url, token, token_file)");
  }
  EXPECT_THROW(parse_config_text("just words\n", "f"), ConfigError);
}

TEST(CliConfig, FindsTheFileUnderXdgConfigHomeThenHome) {
  EXPECT_EQ(config_path(env_of({{"XDG_CONFIG_HOME", "/x"}, {"HOME", "/h"}})), "/x/kiln/config");
  EXPECT_EQ(config_path(env_of({{"HOME", "/h"}})), "/h/.config/kiln/config");
  EXPECT_EQ(config_path(env_of({{"KILN_CONFIG", "/etc/k"}, {"HOME", "/h"}})), "/etc/k");
  EXPECT_EQ(config_path(env_of({})), "");
}

TEST(CliConfig, TheEnvironmentNeedsNoFile) {
  const Config c = load_config(env_of({{"KILN_URL", "http://127.0.0.1:8080/"}, {"KILN_TOKEN", "t"}}));
  EXPECT_EQ(c.url, "http://127.0.0.1:8080");
  EXPECT_EQ(c.token, "t");
  EXPECT_EQ(c.source, "KILN_URL");
}

TEST(CliConfig, SaysWhatIsMissing) {
  try {
    load_config(env_of({{"HOME", "/nonexistent-home"}}));
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("set KILN_URL"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("/nonexistent-home/.config/kiln/config"), std::string::npos) << e.what();
  }
  try {
    load_config(env_of({{"KILN_URL", "http://x"}}));
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("set KILN_TOKEN"), std::string::npos) << e.what();
  }
}

TEST_F(CliConfigFiles, ReadsTheFileAndLetsTheEnvironmentOverrideIt) {
  write(dir_ / "xdg" / "kiln" / "config", "url = https://file.example\ntoken = from-file\n");
  const auto xdg = (dir_ / "xdg").string();
  Config c = load_config(env_of({{"XDG_CONFIG_HOME", xdg}}));
  EXPECT_EQ(c.url, "https://file.example");
  EXPECT_EQ(c.token, "from-file");
  EXPECT_EQ(c.source, xdg + "/kiln/config");
  c = load_config(env_of({{"XDG_CONFIG_HOME", xdg}, {"KILN_TOKEN", "from-env"}}));
  EXPECT_EQ(c.url, "https://file.example");
  EXPECT_EQ(c.token, "from-env");
}

TEST_F(CliConfigFiles, ReadsTheTokenFromTokenFile) {
  write(dir_ / "token", "kiln_secret\n");
  write(dir_ / "xdg" / "kiln" / "config", "url = https://k\ntoken_file = " + (dir_ / "token").string() + "\n");
  EXPECT_EQ(load_config(env_of({{"XDG_CONFIG_HOME", (dir_ / "xdg").string()}})).token, "kiln_secret");
}

TEST_F(CliConfigFiles, AnUnreadableKilnConfigIsAnError) {
  EXPECT_THROW(load_config(env_of({{"KILN_CONFIG", (dir_ / "missing").string()}, {"KILN_URL", "u"}, {"KILN_TOKEN", "t"}})),
               ConfigError);
}

}  // namespace
}  // namespace kiln::cli
