#include "cli/sse.hpp"

#include <cctype>

namespace kiln::cli {

std::vector<SseEvent> SseParser::feed(const std::string& bytes) {
  std::vector<SseEvent> out;
  std::size_t start = 0;
  std::string input = bytes;
  if (!bom_checked_ && !input.empty()) {
    if ((buffer_ + input).size() < 3 && std::string("\xEF\xBB\xBF").rfind(buffer_ + input, 0) == 0) {
      buffer_ += input;  // wait for enough bytes to tell
      return out;
    }
    input = buffer_ + input;
    buffer_.clear();
    if (input.rfind("\xEF\xBB\xBF", 0) == 0) input.erase(0, 3);
    bom_checked_ = true;
  }
  for (std::size_t i = 0; i < input.size(); ++i) {
    const char c = input[i];
    if (skip_lf_) {
      skip_lf_ = false;
      if (c == '\n') {
        start = i + 1;
        continue;
      }
    }
    if (c != '\n' && c != '\r') continue;
    buffer_.append(input, start, i - start);
    line(buffer_, out);
    buffer_.clear();
    start = i + 1;
    if (c == '\r') skip_lf_ = true;
  }
  buffer_.append(input, start, std::string::npos);
  return out;
}

void SseParser::reconnect() {
  buffer_.clear();
  skip_lf_ = false;
  bom_checked_ = false;
  pending_ = SseEvent{};
  has_data_ = false;
  id_buffer_ = last_event_id_;
}

void SseParser::line(const std::string& text, std::vector<SseEvent>& out) {
  if (text.empty()) {
    last_event_id_ = id_buffer_;  // an event's id counts once the event is complete
    if (has_data_) {
      if (pending_.event.empty()) pending_.event = "message";
      out.push_back(std::move(pending_));
    }
    pending_ = SseEvent{};
    has_data_ = false;
    return;
  }
  if (text[0] == ':') return;  // a comment (keep-alive)
  const auto colon = text.find(':');
  const std::string field = text.substr(0, colon);
  std::string value = colon == std::string::npos ? "" : text.substr(colon + 1);
  if (!value.empty() && value[0] == ' ') value.erase(0, 1);
  if (field == "event") {
    pending_.event = value;
  } else if (field == "data") {
    if (has_data_) pending_.data += '\n';
    pending_.data += value;
    has_data_ = true;
  } else if (field == "id") {
    if (value.find('\0') == std::string::npos) {
      pending_.id = value;
      id_buffer_ = value;
    }
  } else if (field == "retry") {
    bool digits = !value.empty();
    for (char c : value) digits = digits && std::isdigit(static_cast<unsigned char>(c));
    if (digits && value.size() < 10) retry_ms_ = std::stol(value);
  }
}

}  // namespace kiln::cli
