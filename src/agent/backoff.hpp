#pragma once
// Exponential backoff for API retries, and a sleep that a stop request ends early.
#include <chrono>
#include <stop_token>

namespace kiln::agent {

class Backoff {
 public:
  // 0.5 s, 1 s, 2 s … capped at 10 s: an API restart takes a few seconds, and a node
  // should notice a recovered API within 10 s without hammering one that is down.
  Backoff() : Backoff(std::chrono::milliseconds(500), std::chrono::seconds(10)) {}
  Backoff(std::chrono::milliseconds first, std::chrono::milliseconds cap) : first_(first), cap_(cap), next_(first) {}

  std::chrono::milliseconds next();  // the delay to wait now; doubles the following one
  void reset() { next_ = first_; }

 private:
  std::chrono::milliseconds first_;
  std::chrono::milliseconds cap_;
  std::chrono::milliseconds next_;
};

// Sleeps for delay; returns false at once if stop is (or becomes) requested.
bool sleep_unless_stopped(std::stop_token stop, std::chrono::milliseconds delay);

}  // namespace kiln::agent
