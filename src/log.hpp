#pragma once
// One JSON object per line on stderr: {"ts","level","msg",...fields}.
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace kiln {

using LogField = std::pair<std::string_view, std::string>;
void log(std::string_view level, std::string_view msg, std::initializer_list<LogField> fields = {});

}  // namespace kiln
