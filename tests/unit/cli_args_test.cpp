#include "cli/args.hpp"

#include <gtest/gtest.h>

#include "cli/build_config.hpp"

namespace kiln::cli {
namespace {

CommandSpec submit_spec() {
  CommandSpec spec{"build submit", "Submit a build.", "", 0, 0, build_config_options(), ""};
  spec.options.push_back({"follow", 'f', false, false, "", "follow"});
  return spec;
}

TEST(CliArgs, ReadsLongShortInlineAndRepeatedOptions) {
  const auto a = parse_args(submit_spec(), {"--project", "web", "--method=script", "-p", "script=make test",
                                            "-pimage=alpine", "--follow", "-o", "json"});
  EXPECT_EQ(a.get("project"), "web");
  EXPECT_EQ(a.get("method"), "script");
  EXPECT_EQ(a.all("param"), (std::vector<std::string>{"script=make test", "image=alpine"}));
  EXPECT_TRUE(a.has("follow"));
  EXPECT_EQ(a.get("output"), "json");
  EXPECT_FALSE(a.help);
}

TEST(CliArgs, RefusesUnknownOptionsNamingThem) {
  try {
    parse_args(submit_spec(), {"--projct", "web"});
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "unknown option --projct");
  }
  EXPECT_THROW(parse_args(submit_spec(), {"-x"}), UsageError);
}

TEST(CliArgs, RefusesAMissingValueARepeatedSingleOptionAndAValueOnAFlag) {
  EXPECT_THROW(parse_args(submit_spec(), {"--project"}), UsageError);
  EXPECT_THROW(parse_args(submit_spec(), {"--project", "a", "--project", "b"}), UsageError);
  EXPECT_THROW(parse_args(submit_spec(), {"--follow=yes"}), UsageError);
}

TEST(CliArgs, ChecksTheOutputFormat) {
  EXPECT_THROW(parse_args(submit_spec(), {"--output", "yaml"}), UsageError);
  EXPECT_EQ(parse_args(submit_spec(), {"--output", "text"}).get("output"), "text");
}

TEST(CliArgs, CountsPositionals) {
  const CommandSpec show{"build show", "Show.", "ID", 1, 1, {}, ""};
  EXPECT_EQ(parse_args(show, {"abc"}).positionals, std::vector<std::string>{"abc"});
  EXPECT_THROW(parse_args(show, {}), UsageError);
  EXPECT_THROW(parse_args(show, {"a", "b"}), UsageError);
  EXPECT_EQ(parse_args(show, {"--", "-weird"}).positionals, std::vector<std::string>{"-weird"});
}

TEST(CliArgs, HelpWinsOverMissingArguments) {
  const CommandSpec show{"build show", "Show.", "ID", 1, 1, {}, ""};
  EXPECT_TRUE(parse_args(show, {"--help"}).help);
  EXPECT_TRUE(parse_args(show, {"-h"}).help);
}

TEST(CliArgs, RequireNamesTheMissingOption) {
  const auto a = parse_args(submit_spec(), {});
  try {
    (void)a.require("project");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "--project is required");
  }
}

TEST(CliArgs, HelpTextListsEveryOptionAndTheExamples) {
  CommandSpec spec = submit_spec();
  spec.examples = "  kiln build submit --project web\n";
  const std::string text = help_text(spec);
  EXPECT_EQ(text.rfind("usage: kiln build submit [options]\n", 0), 0u) << text;
  for (const auto& o : spec.options) EXPECT_NE(text.find("--" + o.name), std::string::npos) << o.name;
  EXPECT_NE(text.find("-p, --param KEY=VALUE"), std::string::npos) << text;
  EXPECT_NE(text.find("--output FORMAT"), std::string::npos);
  EXPECT_NE(text.find("examples:\n  kiln build submit --project web\n"), std::string::npos);
}

TEST(CliArgs, SplitsKeyValueAtTheFirstEquals) {
  EXPECT_EQ(split_key_value("a=b=c", "label"), (std::pair<std::string, std::string>{"a", "b=c"}));
  EXPECT_EQ(split_key_value("a=", "label"), (std::pair<std::string, std::string>{"a", ""}));
  EXPECT_THROW(split_key_value("novalue", "label"), UsageError);
  EXPECT_THROW(split_key_value("=x", "label"), UsageError);
}

TEST(CliBuildConfig, MapsOptionsToTheBuildConfigBody) {
  const auto a = parse_args(submit_spec(), {"--project", "web", "-m", "buildx", "-p", "git_url=https://g/x.git",
                                            "-p", "platforms:=[\"linux/amd64\"]", "--cpu", "2", "--memory-gb", "0.5",
                                            "--time-budget-min", "10", "-r", "gpu", "-r", "airgapped=false",
                                            "-r", "arch=amd64,arm64", "-r", "custom_hardware=fpga",
                                            "-i", "build_nodes", "--force-infrastructure", "--priority", "-5"});
  const nlohmann::json expected = {
      {"project", "web"}, {"method", "buildx"},
      {"params", {{"git_url", "https://g/x.git"}, {"platforms", {"linux/amd64"}}}},
      {"spec", {{"cpu", 2}, {"memory_gb", 0.5}, {"time_budget_min", 10}}},
      {"requirements", {{"gpu", true}, {"airgapped", false}, {"arch", {"amd64", "arm64"}}, {"custom_hardware", "fpga"}}},
      {"infrastructure_type", "build_nodes"}, {"force_infrastructure", true}, {"priority", -5}};
  EXPECT_EQ(build_config(a), expected);
}

TEST(CliBuildConfig, LeavesNonNumbersForTheApiToName) {
  const auto a = parse_args(submit_spec(), {"--cpu", "lots"});
  EXPECT_EQ(build_config(a), (nlohmann::json{{"spec", {{"cpu", "lots"}}}}));
}

TEST(CliBuildConfig, RefusesABadParam) {
  EXPECT_THROW(build_config(parse_args(submit_spec(), {"-p", "noequals"})), UsageError);
  EXPECT_THROW(build_config(parse_args(submit_spec(), {"-p", "vars:={bad"})), UsageError);
}

}  // namespace
}  // namespace kiln::cli
