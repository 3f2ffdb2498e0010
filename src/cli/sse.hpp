#pragma once
// Server-Sent Events parsing (the WHATWG event-stream format): feed it the bytes as they
// arrive, in chunks of any size, and take the complete events. Pure; no I/O.
#include <optional>
#include <string>
#include <vector>

namespace kiln::cli {

struct SseEvent {
  std::string event = "message";  // the "event:" field, "message" when absent
  std::string data;               // "data:" lines joined with '\n'
  std::optional<std::string> id;  // the "id:" field of this event, if it had one
};

class SseParser {
 public:
  // Appends bytes and returns the events completed by them (dispatched at a blank line).
  std::vector<SseEvent> feed(const std::string& bytes);

  // A new connection: drops any partial event, keeps the last event id and retry time.
  void reconnect();

  const std::string& last_event_id() const { return last_event_id_; }
  std::optional<long> retry_ms() const { return retry_ms_; }

 private:
  void line(const std::string& text, std::vector<SseEvent>& out);

  std::string buffer_;
  bool skip_lf_ = false;  // the previous chunk ended with '\r'
  bool bom_checked_ = false;
  SseEvent pending_;
  bool has_data_ = false;
  std::string id_buffer_;      // the id fields seen so far
  std::string last_event_id_;  // id_buffer_ as of the last complete event
  std::optional<long> retry_ms_;
};

}  // namespace kiln::cli
