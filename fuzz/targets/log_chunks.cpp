// A build's output on its way to the API (src/agent): raw pipe reads of any size and
// content → Utf8Sanitizer → LogBuffer → chunks of at most max bytes, acknowledged by the
// API at offsets it chooses. The input gives the bytes, where the reads split them, the
// chunk size and the acknowledged offsets. Properties:
//  - the sanitized log is valid UTF-8 and does not depend on where the reads split;
//  - valid UTF-8 passes unchanged;
//  - every chunk ends on a character boundary (when max holds at least one character), at most
//    max bytes, starts at the acknowledged offset and carries exactly the log's bytes there,
//    and shipping until everything is acknowledged reaches the log's end;
//  - acknowledging an offset outside [acknowledged, end] (the API's answer is not trusted)
//    is clamped into it. (An answer past the chunk's end is taken: the API may hold more
//    from an earlier send whose answer was lost.)
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <string>
#include <vector>

#include "agent/log_buffer.hpp"
#include "agent/utf8_sanitizer.hpp"
#include "check.hpp"

using kiln::agent::LogBuffer;
using kiln::agent::Utf8Sanitizer;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  const std::size_t max_chunk = fdp.ConsumeIntegralInRange<std::size_t>(1, 64);
  const std::uint64_t split_seed = fdp.ConsumeIntegral<std::uint64_t>();
  const std::uint64_t ack_seed = fdp.ConsumeIntegral<std::uint64_t>();
  const std::string raw = fdp.ConsumeRemainingBytesAsString();

  Utf8Sanitizer whole;
  const std::string expected = whole.feed(raw) + whole.finish();
  FUZZ_CHECK(kiln::fuzz::valid_utf8(expected), "the sanitized log is not valid UTF-8");
  if (kiln::fuzz::valid_utf8(raw)) FUZZ_CHECK(expected == raw, "valid UTF-8 was changed");

  // The same bytes in reads of 1..8 bytes, chunked and acknowledged as they come.
  Utf8Sanitizer pieces;
  LogBuffer buffer;
  std::string sanitized;
  std::uint64_t split = split_seed | 1;
  std::uint64_t ack = ack_seed;
  const auto ship = [&](bool drain) {
    while (auto chunk = buffer.next_chunk(max_chunk)) {
      FUZZ_CHECK(chunk->data.size() <= max_chunk && !chunk->data.empty(), "a chunk is empty or too big");
      FUZZ_CHECK(chunk->offset == buffer.acknowledged_offset(), "a chunk does not start at the acknowledged offset");
      // What a chunk carries is the log's bytes at its offset, whatever was acknowledged before.
      FUZZ_CHECK(sanitized.compare(static_cast<std::size_t>(chunk->offset), chunk->data.size(), chunk->data) == 0,
                 "a chunk does not carry the log's bytes at its offset");
      // A chunk ends on a character boundary. It can only start inside a character after an
      // answer that acknowledged part of one (the API never does; its offsets count stored
      // text): then the bytes after those leading continuation bytes are still whole.
      std::string_view whole = chunk->data;
      while (!whole.empty() && (static_cast<unsigned char>(whole.front()) & 0xC0) == 0x80) whole.remove_prefix(1);
      if (max_chunk >= 4) FUZZ_CHECK(kiln::fuzz::valid_utf8(whole), "a chunk cuts a character");
      const std::int64_t end = chunk->offset + static_cast<std::int64_t>(chunk->data.size());
      // The API's answer: usually the chunk's end, sometimes less, sometimes nonsense.
      std::int64_t answer = end;
      switch (ack & 7) {
        case 0: answer = chunk->offset; break;                       // stored nothing
        case 1: answer = chunk->offset - 100; break;                 // before the start
        case 2: answer = end + 1000; break;                          // past what we have
        case 3: answer = chunk->offset + static_cast<std::int64_t>(chunk->data.size() / 2); break;
        default: break;
      }
      ack = ack * 6364136223846793005ULL + 1442695040888963407ULL;
      const std::int64_t before = buffer.acknowledged_offset();
      buffer.acknowledge(answer);
      const std::int64_t after = buffer.acknowledged_offset();
      FUZZ_CHECK(after >= before && after <= buffer.end_offset(), "acknowledge left [acknowledged, end]");
      if (!drain && after == before) return;  // retry later, as the stream does after a backoff
    }
  };
  for (std::size_t i = 0; i < raw.size();) {
    const std::size_t n = std::min<std::size_t>(1 + (split & 7), raw.size() - i);
    split = split * 2862933555777941757ULL + 3037000493ULL;
    const std::string out = pieces.feed(std::string_view(raw).substr(i, n));
    sanitized += out;
    buffer.append(out);
    i += n;
    ship(false);
  }
  const std::string tail = pieces.finish();
  sanitized += tail;
  buffer.append(tail);
  FUZZ_CHECK(sanitized == expected, "the sanitized log depends on where the reads split");
  for (int round = 0; round < 1000 && buffer.pending_bytes() > 0; ++round) ship(true);
  // Drain whatever the nonsense answers left, acknowledging exactly.
  while (auto chunk = buffer.next_chunk(max_chunk)) {
    FUZZ_CHECK(expected.compare(static_cast<std::size_t>(chunk->offset), chunk->data.size(), chunk->data) == 0,
               "a chunk does not carry the log's bytes at its offset");
    buffer.acknowledge(chunk->offset + static_cast<std::int64_t>(chunk->data.size()));
  }
  FUZZ_CHECK(buffer.acknowledged_offset() == static_cast<std::int64_t>(expected.size()),
             "the whole log was not acknowledged");
  FUZZ_CHECK(buffer.end_offset() == static_cast<std::int64_t>(expected.size()), "the log's end offset is wrong");
  return 0;
}
