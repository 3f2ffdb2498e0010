// The pure parts of log shipping: UTF-8 sanitizing across reads, chunking, offsets, resends.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "agent/log_buffer.hpp"
#include "agent/log_stream.hpp"
#include "agent/utf8_sanitizer.hpp"

namespace kiln::agent {
namespace {

using std::chrono::milliseconds;

const std::string kFffd = "\xEF\xBF\xBD";
const std::string kEuro = "\xE2\x82\xAC";       // U+20AC, 3 bytes
const std::string kSmile = "\xF0\x9F\x98\x80";  // U+1F600, 4 bytes

std::string sanitize(std::string_view bytes) {
  Utf8Sanitizer s;
  return s.feed(bytes) + s.finish();
}

// Feeds bytes split at every position into two reads; all splits must agree.
void expect_split_invariant(const std::string& bytes, const std::string& expected) {
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
    Utf8Sanitizer s;
    std::string out = s.feed(std::string_view(bytes).substr(0, cut));
    out += s.feed(std::string_view(bytes).substr(cut));
    out += s.finish();
    EXPECT_EQ(out, expected) << "split at " << cut;
  }
}

TEST(AgentUtf8Sanitizer, AsciiAndValidMultibyteTextPassUnchanged) {
  const std::string text = "plain ascii\n" + kEuro + " caf\xC3\xA9 " + kSmile;
  EXPECT_EQ(sanitize(text), text);
}

TEST(AgentUtf8Sanitizer, AMultibyteCharacterSplitAcrossTwoReadsIsNotCorrupted) {
  expect_split_invariant("a" + kEuro + "b" + kSmile + "c", "a" + kEuro + "b" + kSmile + "c");
}

TEST(AgentUtf8Sanitizer, SplitsByteByByteGiveTheSameText) {
  const std::string text = kSmile + kEuro + "x\xC3\xA9";
  Utf8Sanitizer s;
  std::string out;
  for (char c : text) out += s.feed(std::string_view(&c, 1));
  EXPECT_EQ(out + s.finish(), text);
}

TEST(AgentUtf8Sanitizer, InvalidBytesBecomeOneReplacementCharacterEach) {
  EXPECT_EQ(sanitize(std::string("a\xFF") + "b"), "a" + kFffd + "b");
  EXPECT_EQ(sanitize("\x80\x80"), kFffd + kFffd);                          // lone continuation bytes
  EXPECT_EQ(sanitize("\xC0\xAF"), kFffd + kFffd);                          // overlong '/'
  EXPECT_EQ(sanitize("\xED\xA0\x80"), kFffd + kFffd + kFffd);              // a UTF-16 surrogate
  EXPECT_EQ(sanitize("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);  // above U+10FFFF
}

TEST(AgentUtf8Sanitizer, ATruncatedSequenceIsOneReplacementAndTheNextByteSurvives) {
  EXPECT_EQ(sanitize(std::string("\xE2\x82") + "A"), kFffd + "A");
  expect_split_invariant("x\xF0\x9F\x98" + std::string("y"), "x" + kFffd + "y");
}

TEST(AgentUtf8Sanitizer, AnIncompleteCharacterAtTheEndIsHeldBackUntilFinish) {
  Utf8Sanitizer s;
  EXPECT_EQ(s.feed("ok\xE2\x82"), "ok");
  EXPECT_EQ(s.finish(), kFffd);
}

TEST(AgentLogBuffer, ChunksStartAtTheAcknowledgedOffsetAndStayThereUntilAcknowledged) {
  LogBuffer buffer;
  buffer.append("hello world");
  auto first = buffer.next_chunk(5);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->offset, 0);
  EXPECT_EQ(first->data, "hello");
  auto resend = buffer.next_chunk(5);  // the send failed: the same bytes again
  ASSERT_TRUE(resend);
  EXPECT_EQ(resend->offset, 0);
  EXPECT_EQ(resend->data, "hello");
  buffer.acknowledge(5);
  auto second = buffer.next_chunk(100);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->offset, 5);
  EXPECT_EQ(second->data, " world");
  buffer.acknowledge(11);
  EXPECT_FALSE(buffer.next_chunk());
  EXPECT_EQ(buffer.acknowledged_offset(), 11);
}

TEST(AgentLogBuffer, ChunksAreAtMost64KiBAndNeverSplitACharacter) {
  LogBuffer buffer;
  std::string text(kMaxLogChunkBytes - 1, 'a');
  text += kEuro + "tail";  // the euro sign straddles the 64 KiB boundary
  buffer.append(text);
  auto chunk = buffer.next_chunk();
  ASSERT_TRUE(chunk);
  EXPECT_EQ(chunk->data.size(), kMaxLogChunkBytes - 1);
  buffer.acknowledge(chunk->offset + static_cast<std::int64_t>(chunk->data.size()));
  chunk = buffer.next_chunk();
  ASSERT_TRUE(chunk);
  EXPECT_EQ(chunk->offset, static_cast<std::int64_t>(kMaxLogChunkBytes - 1));
  EXPECT_EQ(chunk->data, kEuro + "tail");
}

TEST(AgentLogBuffer, AcknowledgementsOutsideTheBufferAreClamped) {
  LogBuffer buffer;
  buffer.append("abcdef");
  buffer.acknowledge(3);
  buffer.acknowledge(1);  // the log cannot shrink
  EXPECT_EQ(buffer.acknowledged_offset(), 3);
  buffer.acknowledge(100);  // bytes we never had cannot be stored
  EXPECT_EQ(buffer.acknowledged_offset(), 6);
  EXPECT_EQ(buffer.end_offset(), 6);
}

LogStreamOptions fast_options() {
  LogStreamOptions options;
  options.interval = milliseconds(20);
  options.backoff = Backoff(milliseconds(1), milliseconds(5));
  return options;
}

TEST(AgentLogStream, AFailedSendIsResentFromTheLastAcknowledgedOffset) {
  std::vector<LogChunk> attempts;
  int calls = 0;
  LogStream stream(
      [&](const LogChunk& chunk, std::int64_t&) {
        attempts.push_back(chunk);
        return ++calls == 2 ? SendResult::kRetry : SendResult::kSent;
      },
      fast_options());
  stream.write("first\n");
  std::stop_source stop;
  std::thread pump([&] { EXPECT_TRUE(stream.pump(stop.get_token())); });
  while (stream.acknowledged_offset() < 6) std::this_thread::sleep_for(milliseconds(5));
  stream.write("second\n");
  stream.close();
  pump.join();
  ASSERT_EQ(attempts.size(), 3u);
  EXPECT_EQ(attempts[0].offset, 0);
  EXPECT_EQ(attempts[1].offset, 6);  // failed
  EXPECT_EQ(attempts[2].offset, 6);  // the same bytes again
  EXPECT_EQ(attempts[2].data, "second\n");
  EXPECT_EQ(stream.acknowledged_offset(), 13);
}

TEST(AgentLogStream, OffsetsCountSanitizedBytesAndTheTailIsFlushedOnClose) {
  std::string shipped;
  LogStream stream(
      [&](const LogChunk& chunk, std::int64_t&) {
        EXPECT_EQ(chunk.offset, static_cast<std::int64_t>(shipped.size()));
        shipped += chunk.data;
        return SendResult::kSent;
      },
      fast_options());
  stream.write(std::string("a\xFF") + "b\xE2\x82");  // 0xFF becomes 3 bytes; the cut euro sign waits
  stream.close();                                    // and then becomes U+FFFD
  std::stop_source stop;
  EXPECT_TRUE(stream.pump(stop.get_token()));
  EXPECT_EQ(shipped, "a" + kFffd + "b" + kFffd);
  EXPECT_EQ(stream.end_offset(), 8);
}

TEST(AgentLogStream, ManyMegabytesGoOutInChunksOfAtMost64KiB) {
  std::size_t total = 0;
  std::size_t largest = 0;
  LogStream stream(
      [&](const LogChunk& chunk, std::int64_t&) {
        EXPECT_EQ(chunk.offset, static_cast<std::int64_t>(total));
        total += chunk.data.size();
        largest = std::max(largest, chunk.data.size());
        return SendResult::kSent;
      },
      fast_options());
  const std::string block(10000, 'x');
  for (int i = 0; i < 300; ++i) stream.write(block);
  stream.close();
  std::stop_source stop;
  EXPECT_TRUE(stream.pump(stop.get_token()));
  EXPECT_EQ(total, 3'000'000u);
  EXPECT_EQ(largest, kMaxLogChunkBytes);
}

TEST(AgentLogStream, OutputIsSentWhileItFlowsNotOnlyAtTheEnd) {
  std::atomic<int> sends{0};
  LogStreamOptions options = fast_options();
  options.interval = milliseconds(100);
  LogStream stream(
      [&](const LogChunk&, std::int64_t&) {
        ++sends;
        return SendResult::kSent;
      },
      options);
  std::stop_source stop;
  std::thread pump([&] { stream.pump(stop.get_token()); });
  stream.write("line\n");
  std::this_thread::sleep_for(milliseconds(400));
  EXPECT_EQ(sends.load(), 1);  // sent within one interval, while the stream is still open
  stream.close();
  pump.join();
}

TEST(AgentLogStream, GivingUpStopsThePumpAndDropsLaterOutput) {
  int calls = 0;
  LogStream stream(
      [&](const LogChunk&, std::int64_t&) {
        ++calls;
        return SendResult::kGiveUp;
      },
      fast_options());
  stream.write("x");
  stream.close();
  std::stop_source stop;
  EXPECT_FALSE(stream.pump(stop.get_token()));
  EXPECT_EQ(calls, 1);
}

TEST(AgentLogStream, AStopRequestEndsThePumpDuringRetries) {
  LogStream stream([&](const LogChunk&, std::int64_t&) { return SendResult::kRetry; }, fast_options());
  stream.write("x");
  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(milliseconds(50));
    stop.request_stop();
  });
  EXPECT_FALSE(stream.pump(stop.get_token()));
  stopper.join();
  EXPECT_EQ(stream.acknowledged_offset(), 0);
}

}  // namespace
}  // namespace kiln::agent
