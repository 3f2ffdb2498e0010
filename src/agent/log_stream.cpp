#include "agent/log_stream.hpp"

namespace kiln::agent {

void LogStream::write(std::string_view raw_bytes) {
  std::lock_guard lock(mu_);
  if (closed_ || gave_up_) return;
  buffer_.append(sanitizer_.feed(raw_bytes));
  if (buffer_.pending_bytes() >= options_.max_chunk) cv_.notify_all();
}

void LogStream::close() {
  std::lock_guard lock(mu_);
  if (closed_) return;
  if (!gave_up_) buffer_.append(sanitizer_.finish());
  closed_ = true;
  cv_.notify_all();
}

bool LogStream::pump(std::stop_token stop) {
  Backoff backoff = options_.backoff;
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait_for(lock, stop, options_.interval,
                 [&] { return closed_ || buffer_.pending_bytes() >= options_.max_chunk; });
    if (stop.stop_requested()) return false;
    while (auto chunk = buffer_.next_chunk(options_.max_chunk)) {
      lock.unlock();  // never hold the lock across HTTP: the pipe reader must not wait on it
      std::int64_t next_offset = chunk->offset + static_cast<std::int64_t>(chunk->data.size());
      const SendResult result = sender_(*chunk, next_offset);
      if (result == SendResult::kRetry && !sleep_unless_stopped(stop, backoff.next())) return false;
      lock.lock();
      if (result == SendResult::kSent) {
        buffer_.acknowledge(next_offset);
        if (next_offset > chunk->offset) {
          backoff.reset();
        } else {
          // The API stored nothing new: resending at once would spin.
          lock.unlock();
          if (!sleep_unless_stopped(stop, backoff.next())) return false;
          lock.lock();
        }
      } else if (result == SendResult::kGiveUp) {
        gave_up_ = true;
        return false;
      }
      if (stop.stop_requested()) return false;
    }
    if (closed_) return true;
  }
}

std::int64_t LogStream::acknowledged_offset() const {
  std::lock_guard lock(mu_);
  return buffer_.acknowledged_offset();
}

std::int64_t LogStream::end_offset() const {
  std::lock_guard lock(mu_);
  return buffer_.end_offset();
}

}  // namespace kiln::agent
