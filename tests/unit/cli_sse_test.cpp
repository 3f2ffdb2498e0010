#include "cli/sse.hpp"

#include <gtest/gtest.h>

namespace kiln::cli {
namespace {

TEST(CliSse, ParsesEventsWithIdsAndData) {
  SseParser p;
  const auto events = p.feed("retry: 2000\n\nid: 12\nevent: log\ndata: {\"offset\":0,\"text\":\"hi\\n\"}\n\n"
                             "event: end\ndata: {\"status\":\"succeeded\"}\n\n");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event, "log");
  EXPECT_EQ(events[0].id, "12");
  EXPECT_EQ(events[0].data, "{\"offset\":0,\"text\":\"hi\\n\"}");
  EXPECT_EQ(events[1].event, "end");
  EXPECT_FALSE(events[1].id.has_value());
  EXPECT_EQ(p.last_event_id(), "12");
  EXPECT_EQ(p.retry_ms(), 2000);
}

TEST(CliSse, AssemblesEventsSplitAcrossChunksAtAnyByte) {
  const std::string stream = "id: 7\r\nevent: log\r\ndata: a\r\ndata: b\r\n\r\n: keep-alive\n\ndata: plain\n\n";
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    SseParser p;
    auto events = p.feed(stream.substr(0, cut));
    for (auto& e : p.feed(stream.substr(cut))) events.push_back(e);
    ASSERT_EQ(events.size(), 2u) << "cut at " << cut;
    EXPECT_EQ(events[0].event, "log");
    EXPECT_EQ(events[0].data, "a\nb");
    EXPECT_EQ(events[0].id, "7");
    EXPECT_EQ(events[1].event, "message");
    EXPECT_EQ(events[1].data, "plain");
  }
}

TEST(CliSse, IgnoresCommentsAndEventsWithoutData) {
  SseParser p;
  EXPECT_TRUE(p.feed(": keep-alive\n\nevent: ping\n\n").empty());
}

TEST(CliSse, SkipsALeadingByteOrderMark) {
  SseParser p;
  auto events = p.feed("\xEF\xBB");
  for (auto& e : p.feed("\xBF" "data: x\n\n")) events.push_back(e);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "x");
}

TEST(CliSse, AReconnectDropsThePartialEventAndResumesAfterTheLastCompleteOne) {
  SseParser p;
  p.feed("id: 5\ndata: one\n\nid: 9\ndata: half");
  p.reconnect();
  EXPECT_EQ(p.last_event_id(), "5");  // event 9 never completed: resume after 5
  const auto events = p.feed("data: two\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "two");
  EXPECT_FALSE(events[0].id.has_value());
}

TEST(CliSse, TakesTheValueAfterTheFirstColonAndOneSpace) {
  SseParser p;
  const auto events = p.feed("data:  two spaces: and a colon\ndata\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, " two spaces: and a colon\n");
}

}  // namespace
}  // namespace kiln::cli
