#include "cli/status_line.hpp"

#include <cstdio>

namespace kiln::cli {

std::string status_line_text(const std::string& build_id, const std::string& phase, long elapsed_seconds) {
  if (elapsed_seconds < 0) elapsed_seconds = 0;
  std::string elapsed;
  if (elapsed_seconds >= 3600) elapsed += std::to_string(elapsed_seconds / 3600) + "h";
  if (elapsed_seconds >= 60) {
    const long minutes = elapsed_seconds / 60 % 60;
    elapsed += (elapsed.empty() || minutes >= 10 ? "" : "0") + std::to_string(minutes) + "m";
  }
  const long seconds = elapsed_seconds % 60;
  elapsed += (elapsed.empty() || seconds >= 10 ? "" : "0") + std::to_string(seconds) + "s";
  return "build " + build_id.substr(0, 8) + ": " + phase + ", " + elapsed + " elapsed";
}

std::optional<std::time_t> parse_rfc3339(const std::string& text) {
  std::tm tm{};
  int year, month, day, hour, minute, second;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute, &second,
                  &consumed) != 6 || consumed != 19) {
    return std::nullopt;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  std::time_t t = timegm(&tm);
  std::size_t i = 19;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  }
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    int oh = 0, om = 0;
    if (std::sscanf(text.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
    const long offset = (oh * 60L + om) * 60L;
    t -= text[i] == '+' ? offset : -offset;
  } else if (!(i < text.size() && (text[i] == 'Z' || text[i] == 'z'))) {
    return std::nullopt;
  }
  return t;
}

void StatusLine::show(const std::string& text) {
  if (!enabled_) return;
  std::fprintf(stderr, "\r\033[K%s", text.c_str());
  std::fflush(stderr);
  shown_ = true;
}

void StatusLine::clear() {
  if (!shown_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  shown_ = false;
}

}  // namespace kiln::cli
