#pragma once
// The line on stderr while "kiln build logs --follow" waits for output: the build's phase
// and the time since it was submitted, redrawn in place; only when stderr is a terminal.
#include <ctime>
#include <optional>
#include <string>

namespace kiln::cli {

// "build 1f0c2a9e: queued, 1m05s elapsed" (the id shortened to 8 characters).
std::string status_line_text(const std::string& build_id, const std::string& phase, long elapsed_seconds);

// "2026-11-21T17:05:11.123+00:00" / "...Z" -> seconds since the epoch; nullopt if malformed.
std::optional<std::time_t> parse_rfc3339(const std::string& text);

class StatusLine {
 public:
  explicit StatusLine(bool enabled) : enabled_(enabled) {}
  ~StatusLine() { clear(); }
  StatusLine(const StatusLine&) = delete;
  StatusLine& operator=(const StatusLine&) = delete;

  void show(const std::string& text);  // replaces what is shown
  void clear();                        // erases it (before log text is written)

 private:
  bool enabled_;
  bool shown_ = false;
};

}  // namespace kiln::cli
