// Every page template and partial must start with the AUTOESCAPE pragma: without it (or
// with anything before it) ctemplate escapes nothing, and an included partial is not
// escaped by its parent's pragma either. This test fails for any templates/*.tpl that
// does not, and checks that the loaded pages escape what they show.
#include "http/html.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace kiln::http::html {
namespace {

const std::filesystem::path kTemplates = std::filesystem::path(KILN_SOURCE_DIR) / "templates";

std::string read(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(PageTemplates, EveryTemplateAndPartialStartsWithTheAutoescapePragma) {
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kTemplates)) {
    if (entry.path().extension() != ".tpl") continue;
    EXPECT_EQ(pragma_problem(read(entry.path())), "") << entry.path().filename();
    ++checked;
  }
  EXPECT_GE(checked, 10) << "expected the page templates in " << kTemplates;
}

TEST(PageTemplates, APragmaAfterABlankLineOrMissingIsRefused) {
  EXPECT_NE(pragma_problem("\n{{%AUTOESCAPE context=\"HTML\"}}\n<p>{{X}}</p>"), "");
  EXPECT_NE(pragma_problem("<p>{{X}}</p>"), "");
  EXPECT_NE(pragma_problem("{{%AUTOESCAPE context=\"JAVASCRIPT\"}}\n"), "");
  EXPECT_EQ(pragma_problem("{{%AUTOESCAPE context=\"HTML\"}}\n<p>{{X}}</p>"), "");
}

TEST(PageTemplates, LoadAndEscapeWhatTheyShow) {
  load_templates(kTemplates);
  ctemplate::TemplateDictionary dict("error");
  dict.SetValue("MESSAGE", "<script>alert(1)</script>");
  dict.SetValue("REQUEST_ID", "\"><img src=x onerror=alert(1)>");
  const std::string out = expand("error.tpl", dict);
  EXPECT_NE(out.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos) << out;
  EXPECT_EQ(out.find("<script>"), std::string::npos) << out;
  EXPECT_EQ(out.find("<img"), std::string::npos) << out;
}

TEST(LocalPath, OnlyPathsOfThisSiteAreAcceptedAfterSignIn) {
  EXPECT_TRUE(is_local_path("/admin/builds?status=failed"));
  EXPECT_TRUE(is_local_path("/"));
  EXPECT_FALSE(is_local_path("//evil.example/"));
  EXPECT_FALSE(is_local_path("/\\evil.example"));
  EXPECT_FALSE(is_local_path("https://evil.example/"));
  EXPECT_FALSE(is_local_path(""));
  EXPECT_FALSE(is_local_path("/a\r\nSet-Cookie: x=1"));
}

TEST(DisplayText, FormatsDurationsSharesAndTimes) {
  EXPECT_EQ(duration_text(42), "42s");
  EXPECT_EQ(duration_text(192), "3m 12s");
  EXPECT_EQ(duration_text(3 * 3600 + 120), "3h 2m");
  EXPECT_EQ(duration_text(-1), "—");
  EXPECT_EQ(percent_text(1, 3), "33%");
  EXPECT_EQ(percent_text(0, 0), "—");
  EXPECT_EQ(time_text("2026-11-21T14:35:12.123456+00:00"), "2026-11-21 14:35:12 UTC");
  EXPECT_EQ(time_text(nullptr), "—");
}

}  // namespace
}  // namespace kiln::http::html
