#pragma once
// The part of an execution's log (sanitized UTF-8) that the API has not acknowledged yet.
// Offsets count bytes of the whole log since the execution began. Only acknowledge()
// moves the start, so after a failed send next_chunk() offers the same bytes again.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::agent {

inline constexpr std::size_t kMaxLogChunkBytes = 64 * 1024;  // docs/agent-protocol.md

struct LogChunk {
  std::int64_t offset = 0;
  std::string data;
};

class LogBuffer {
 public:
  void append(std::string_view utf8) { pending_.append(utf8); }
  // Up to max bytes from the acknowledged offset, cut before a UTF-8 lead byte so the
  // chunk stays valid UTF-8 on its own; nullopt when everything is acknowledged.
  std::optional<LogChunk> next_chunk(std::size_t max = kMaxLogChunkBytes) const;
  // The API holds the log up to next_offset. Values outside [acknowledged, end] are clamped:
  // the log cannot shrink, and bytes we never had cannot be acknowledged.
  void acknowledge(std::int64_t next_offset);

  std::int64_t acknowledged_offset() const { return acknowledged_; }
  std::int64_t end_offset() const { return acknowledged_ + static_cast<std::int64_t>(pending_.size()); }
  std::size_t pending_bytes() const { return pending_.size(); }

 private:
  std::int64_t acknowledged_ = 0;  // log offset of pending_[0]
  std::string pending_;
};

}  // namespace kiln::agent
