#pragma once
// SIGTERM and SIGINT, taken synchronously: the constructor blocks them in the calling
// thread (so in every thread started afterwards, which must be all of them) and a thread of
// its own waits for them and calls on_signal with how many have arrived so far. SIGHUP,
// when on_hangup is given, is taken the same way and calls on_hangup (reload the token). SIGPIPE is
// ignored: a peer closing a TLS connection must not kill the agent. Build processes get
// default dispositions back before exec (shepherd.cpp).
#include <functional>
#include <thread>

namespace kiln::agent {

class SignalWatch {
 public:
  explicit SignalWatch(std::function<void(int count)> on_signal, std::function<void()> on_hangup = {});
  ~SignalWatch() = default;  // the jthread stops and joins

 private:
  std::jthread thread_;
};

}  // namespace kiln::agent
