#include "agent/signal_watch.hpp"

#include <signal.h>

#include <ctime>

namespace kiln::agent {

SignalWatch::SignalWatch(std::function<void(int count)> on_signal, std::function<void()> on_hangup) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  if (on_hangup) sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  thread_ = std::jthread([set, on_signal = std::move(on_signal), on_hangup = std::move(on_hangup)](std::stop_token stop) {
    int count = 0;
    const timespec poll_interval{0, 200'000'000};  // how soon the destructor is noticed
    while (!stop.stop_requested()) {
      const int sig = sigtimedwait(&set, nullptr, &poll_interval);
      if (sig == SIGHUP) {
        on_hangup();
      } else if (sig > 0) {
        on_signal(++count);
      }
    }
  });
}

}  // namespace kiln::agent
