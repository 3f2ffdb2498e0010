#include "agent/backoff.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>

namespace kiln::agent {

std::chrono::milliseconds Backoff::next() {
  const auto delay = next_;
  next_ = std::min(next_ * 2, cap_);
  return delay;
}

bool sleep_unless_stopped(std::stop_token stop, std::chrono::milliseconds delay) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  cv.wait_for(lock, stop, delay, [] { return false; });
  return !stop.stop_requested();
}

}  // namespace kiln::agent
