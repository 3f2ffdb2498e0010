#include "dispatch/render.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace kiln::dispatch {
namespace {

const std::filesystem::path kTemplates = std::filesystem::path(KILN_SOURCE_DIR) / "pipelines" / "build-node";

// Values that would break out of naive quoting in every way a shell allows.
const char* const kHostile[] = {
    "a'b", "$(touch pwned)", "`touch pwned`", "x; touch pwned", "a\nb", "\"; touch pwned; \"",
    "{{SCRIPT}}", "$HOME", "--help", "-", " spaced  out ", "\\", "*",
};

struct RunResult {
  int status;
  std::string output;
};

// Runs a rendered script in a fresh directory whose PATH starts with fake tools that print
// each argument on its own line as <arg>.
RunResult run_script(const std::string& script) {
  const auto dir = std::filesystem::temp_directory_path() / ("kiln-render-" + std::to_string(::getpid()) + "-" +
                                                             std::to_string(std::rand()));
  std::filesystem::create_directories(dir / "bin");
  for (const char* tool : {"git", "docker", "packer", "nix", "pack"}) {
    std::ofstream fake(dir / "bin" / tool);
    fake << "#!/bin/sh\nprintf '" << tool << "'; for a in \"$@\"; do printf ' <%s>' \"$a\"; done; echo\n"
         << "[ \"$1\" = clone ] && mkdir -p \"$(eval echo \\${$#})\"; exit 0\n";
    fake.close();
    std::filesystem::permissions(dir / "bin" / tool, std::filesystem::perms::owner_all);
  }
  std::ofstream(dir / "build.sh") << script;
  const std::string cmd = "cd '" + dir.string() + "' && PATH='" + (dir / "bin").string() +
                          "':/usr/bin:/bin sh build.sh 2>&1; echo \"rc=$?\"; ls -a";
  std::string output;
  FILE* pipe = popen(cmd.c_str(), "r");
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
  const int status = pclose(pipe);
  std::filesystem::remove_all(dir);
  return {status, output};
}

TEST(ShellQuote, MakesOneWordOfAnything) {
  EXPECT_EQ(shell_quote("plain"), "'plain'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote(""), "''");
}

TEST(UnquotedVariables, FindsEveryVariableWithoutTheShellModifier) {
  EXPECT_EQ(unquoted_variables("echo {{A:x-shell}} {{#S}}x{{/S}} {{! c }}"), "");
  EXPECT_EQ(unquoted_variables("echo {{A}} {{B:h}} {{C:x-shell}}"), "{{A}}, {{B:h}}");
}

TEST(BuildNodeRenderer, RefusesATemplateWithAnUnquotedVariable) {
  const auto dir = std::filesystem::temp_directory_path() / "kiln-render-bad";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "script.sh") << "#!/bin/sh\nexec sh -c {{SCRIPT}}\n";
  EXPECT_THROW(BuildNodeRenderer{dir}, std::runtime_error);
  std::filesystem::remove_all(dir);
}

TEST(BuildNodeRenderer, UnknownMethodIsAnError) {
  const BuildNodeRenderer renderer(kTemplates);
  EXPECT_THROW(renderer.render("maven", nlohmann::json::object(), "b"), std::runtime_error);
}

TEST(BuildNodeRenderer, ScriptBuildRunsTheScriptAndStopsAtTheFirstFailure) {
  const BuildNodeRenderer renderer(kTemplates);
  const auto ok = run_script(renderer.render("script", {{"script", "echo one\necho \"it's two\""}}, "b-1"));
  EXPECT_NE(ok.output.find("==> kiln build b-1\none\nit's two\nrc=0"), std::string::npos) << ok.output;
  const auto failing = run_script(renderer.render("script", {{"script", "echo before\nfalse\necho after"}}, "b"));
  EXPECT_NE(failing.output.find("before\nrc=1"), std::string::npos) << failing.output;
  EXPECT_EQ(failing.output.find("after"), std::string::npos);
}

TEST(BuildNodeRenderer, HostileParametersReachEveryToolAsOneArgumentAndNeverRun) {
  const BuildNodeRenderer renderer(kTemplates);
  const std::pair<const char*, std::vector<const char*>> methods[] = {
      {"docker", {"git_url", "image", "git_revision", "dockerfile", "context"}},
      {"buildx", {"git_url", "image", "git_revision", "dockerfile", "context", "platforms"}},
      {"packer", {"git_url", "template", "git_revision", "vars"}},
      {"nix", {"flake_uri", "attributes", "git_url", "git_revision"}},
      {"paketo", {"git_url", "image", "git_revision", "builder"}},
  };
  for (const auto& [method, names] : methods) {
    for (const char* hostile : kHostile) {
      nlohmann::json params;
      for (const char* name : names) params[name] = hostile;
      const auto result = run_script(renderer.render(method, params, "b"));
      EXPECT_NE(result.output.find("rc=0"), std::string::npos) << method << " " << hostile << "\n" << result.output;
      if (params.contains("git_url")) {
        EXPECT_NE(result.output.find("git <clone> <--quiet> <--> <" + std::string(hostile) + "> <source>"),
                  std::string::npos) << method << " " << hostile << "\n" << result.output;
      }
      // The fake tools saw the value whole, as one <argument>.
      EXPECT_NE(result.output.find("<" + std::string(hostile)), std::string::npos) << method << " " << hostile
                                                                                     << "\n" << result.output;
      // Nothing was executed: no file named pwned exists in the listing.
      EXPECT_EQ(result.output.find("\npwned\n"), std::string::npos) << method << " " << hostile;
    }
  }
}

TEST(BuildNodeRenderer, TheSharedClonePartialChecksOutTheRevisionOnlyWhenGiven) {
  const BuildNodeRenderer renderer(kTemplates);
  const auto with = run_script(renderer.render("docker", {{"git_url", "u"}, {"image", "i"}, {"git_revision", "abc"}}, "b"));
  EXPECT_NE(with.output.find("git <clone> <--quiet> <--> <u> <source>\ngit <checkout> <--quiet> <abc>"),
            std::string::npos) << with.output;
  const auto without = run_script(renderer.render("docker", {{"git_url", "u"}, {"image", "i"}}, "b"));
  EXPECT_EQ(without.output.find("checkout"), std::string::npos) << without.output;
}

TEST(BuildNodeRenderer, AScriptCannotEscapeItsQuotingEither) {
  const BuildNodeRenderer renderer(kTemplates);
  const auto result = run_script(renderer.render("script", {{"script", "echo safe"}, {"workdir", "$(touch pwned)"}}, "b"));
  EXPECT_EQ(result.output.find("\npwned\n"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("rc=2"), std::string::npos) << result.output;  // cd to a dir that does not exist
}

}  // namespace
}  // namespace kiln::dispatch
