#pragma once
// Set once the server received SIGTERM/SIGINT. Requests that wait (an agent's long-poll, a
// log stream) check it and end early, so draining takes about a second instead of the
// longest wait in flight.
#include <atomic>

namespace kiln::http {

inline std::atomic<bool> g_draining{false};

inline bool draining() { return g_draining.load(std::memory_order_relaxed); }

}  // namespace kiln::http
