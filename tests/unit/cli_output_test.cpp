#include "cli/output.hpp"

#include <gtest/gtest.h>

#include "cli/status_line.hpp"

namespace kiln::cli {
namespace {

TEST(CliOutput, FormatsATablePaddedToTheWidestCell) {
  const nlohmann::json rows = {{{"id", "b1"}, {"status", "succeeded"}, {"project", "web"}},
                               {{"id", "b22"}, {"status", "queued"}, {"project", nullptr}}};
  EXPECT_EQ(format_table({{"ID", "id"}, {"STATUS", "status"}, {"PROJECT", "project"}}, rows),
            "ID   STATUS     PROJECT\n"
            "b1   succeeded  web\n"
            "b22  queued     -\n");
}

TEST(CliOutput, AnEmptyTableIsItsHeader) {
  EXPECT_EQ(format_table({{"ID", "id"}, {"NAME", "name"}}, nlohmann::json::array()), "ID  NAME\n");
}

TEST(CliOutput, CountsCharactersNotBytesWhenPadding) {
  const nlohmann::json rows = {{{"a", "é"}, {"b", "x"}}, {{"a", "ab"}, {"b", "y"}}};
  EXPECT_EQ(format_table({{"A", "a"}, {"B", "b"}}, rows), "A   B\né   x\nab  y\n");
}

TEST(CliOutput, RendersCellsOnOneLine) {
  EXPECT_EQ(cell_text(nullptr), "-");
  EXPECT_EQ(cell_text("two\nlines"), "two lines");
  EXPECT_EQ(cell_text(3.5), "3.5");
  EXPECT_EQ(cell_text(true), "true");
  EXPECT_EQ(cell_text({"amd64", "arm64"}), "amd64,arm64");
  EXPECT_EQ(cell_text(nlohmann::json::array()), "-");
  EXPECT_EQ(cell_text({{"arch", "amd64"}}), "{\"arch\":\"amd64\"}");
}

TEST(CliOutput, ReadsDottedPaths) {
  const nlohmann::json v = {{"target", {{"provider", "GKE"}}}, {"n", 1}};
  EXPECT_EQ(value_at(v, "target.provider"), "GKE");
  EXPECT_TRUE(value_at(v, "target.node_pool").is_null());
  EXPECT_TRUE(value_at(v, "n.deeper").is_null());
}

TEST(CliOutput, AlignsFields) {
  EXPECT_EQ(format_fields({{"id", "b1"}, {"status", "queued"}}, {{"id", "id"}, {"status", "status"}}),
            "id:     b1\nstatus: queued\n");
}

TEST(CliOutput, ErrorTextIsTheMessageAndTheField) {
  EXPECT_EQ(error_text({{"error", {{"code", "invalid_value"}, {"message", "cpu must be 0.1-64"}, {"field", "spec.cpu"}}}}),
            "cpu must be 0.1-64 (field: spec.cpu)");
  EXPECT_EQ(error_text({{"error", {{"code", "not_found"}, {"message", "build not found"}, {"field", nullptr}}}}),
            "build not found");
  EXPECT_EQ(error_text("nonsense"), "unexpected answer from the server");
}

TEST(CliStatusLine, ShowsPhaseAndElapsedTime) {
  EXPECT_EQ(status_line_text("1f0c2a9e-0000-4000-8000-000000000000", "queued", 5), "build 1f0c2a9e: queued, 5s elapsed");
  EXPECT_EQ(status_line_text("abc", "running", 65), "build abc: running, 1m05s elapsed");
  EXPECT_EQ(status_line_text("abc", "running", 3600 + 600 + 7), "build abc: running, 1h10m07s elapsed");
  EXPECT_EQ(status_line_text("abc", "running", -3), "build abc: running, 0s elapsed");
}

TEST(CliStatusLine, ParsesRfc3339Times) {
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:01:00Z"), 60);
  EXPECT_EQ(parse_rfc3339("2026-11-21T17:05:11.123456+00:00"), 1795280711);
  EXPECT_EQ(parse_rfc3339("2026-11-21T18:05:11+01:00"), 1795280711);
  EXPECT_EQ(parse_rfc3339("2026-11-21T16:35:11.5-00:30"), 1795280711);
  EXPECT_FALSE(parse_rfc3339("2026-11-21 17:05:11").has_value());
  EXPECT_FALSE(parse_rfc3339("2026-11-21T17:05:11").has_value());
  EXPECT_FALSE(parse_rfc3339("yesterday").has_value());
}

}  // namespace
}  // namespace kiln::cli
