#include "agent/log_buffer.hpp"

#include <algorithm>

namespace kiln::agent {

std::optional<LogChunk> LogBuffer::next_chunk(std::size_t max) const {
  if (pending_.empty() || max == 0) return std::nullopt;
  std::size_t size = std::min(max, pending_.size());
  if (size < pending_.size()) {
    // pending_[size] is the first byte left out; if it continues a character, end earlier.
    while (size > 0 && (static_cast<unsigned char>(pending_[size]) & 0xC0) == 0x80) --size;
    if (size == 0) size = std::min(max, pending_.size());  // max smaller than one character
  }
  return LogChunk{acknowledged_, pending_.substr(0, size)};
}

void LogBuffer::acknowledge(std::int64_t next_offset) {
  const std::int64_t target = std::clamp(next_offset, acknowledged_, end_offset());
  pending_.erase(0, static_cast<std::size_t>(target - acknowledged_));
  acknowledged_ = target;
}

}  // namespace kiln::agent
