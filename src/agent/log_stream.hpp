#pragma once
// Carries a build's output from the pipe reader to the API: the runner thread write()s raw
// bytes, a sender thread runs pump(), which ships sanitized chunks of at most 64 KiB at
// least every 500 ms while output flows, and resends from the last acknowledged offset
// after a failed send. The transport is a callback so this logic is tested without HTTP.
//
// Unsent output is kept in memory without a bound: blocking the pipe instead would stall
// the build while the API is down. A build that prints gigabytes during an API outage is
// the accepted risk.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stop_token>
#include <string_view>

#include "agent/backoff.hpp"
#include "agent/log_buffer.hpp"
#include "agent/utf8_sanitizer.hpp"

namespace kiln::agent {

enum class SendResult {
  kSent,    // stored; next_offset says how far the API's copy of the log now reaches
  kRetry,   // transient failure: send the same bytes again after a backoff
  kGiveUp,  // permanent failure (cancelled, lease lost, refused): stop shipping
};

// Sends one chunk; on kSent sets next_offset (it arrives preset to the chunk's end).
using LogSender = std::function<SendResult(const LogChunk& chunk, std::int64_t& next_offset)>;

struct LogStreamOptions {
  std::chrono::milliseconds interval{500};
  std::size_t max_chunk = kMaxLogChunkBytes;
  Backoff backoff;
};

class LogStream {
 public:
  explicit LogStream(LogSender sender, LogStreamOptions options = {})
      : sender_(std::move(sender)), options_(std::move(options)) {}

  void write(std::string_view raw_bytes);
  // No more output: the held-back tail of an incomplete character becomes U+FFFD.
  void close();
  // Ships until closed and fully acknowledged (true), or until the sender gives up or
  // stop is requested (false). Run it on its own thread.
  bool pump(std::stop_token stop);

  std::int64_t acknowledged_offset() const;
  std::int64_t end_offset() const;

 private:
  LogSender sender_;
  LogStreamOptions options_;
  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  Utf8Sanitizer sanitizer_;  // guarded by mu_, like the fields below
  LogBuffer buffer_;
  bool closed_ = false;
  bool gave_up_ = false;  // later output is dropped rather than kept forever
};

}  // namespace kiln::agent
