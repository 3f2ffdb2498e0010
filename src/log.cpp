#include "log.hpp"

#include <sys/time.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace kiln {

namespace {
std::string utc_now() {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  std::tm tm{};
  gmtime_r(&tv.tv_sec, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03ldZ", static_cast<long>(tv.tv_usec / 1000));
  return buf;
}
}  // namespace

void log(std::string_view level, std::string_view msg, std::initializer_list<LogField> fields) {
  nlohmann::ordered_json line;
  line["ts"] = utc_now();
  line["level"] = level;
  line["msg"] = msg;
  for (const auto& [key, value] : fields) line[std::string(key)] = value;
  const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::fwrite(text.data(), 1, text.size(), stderr);  // one write: lines do not interleave
}

}  // namespace kiln
