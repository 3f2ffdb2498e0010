#include "agent/utf8_sanitizer.hpp"

namespace kiln::agent {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// For a lead byte: how many continuation bytes follow and the allowed range of the first
// one. The narrowed ranges exclude overlong forms, surrogates and code points > U+10FFFF.
struct Lead {
  int continuation;  // 0 = not a valid lead byte
  unsigned char low;
  unsigned char high;
};

Lead classify(unsigned char b) {
  if (b >= 0xC2 && b <= 0xDF) return {1, 0x80, 0xBF};
  if (b == 0xE0) return {2, 0xA0, 0xBF};
  if (b == 0xED) return {2, 0x80, 0x9F};
  if (b >= 0xE1 && b <= 0xEF) return {2, 0x80, 0xBF};
  if (b == 0xF0) return {3, 0x90, 0xBF};
  if (b >= 0xF1 && b <= 0xF3) return {3, 0x80, 0xBF};
  if (b == 0xF4) return {3, 0x80, 0x8F};
  return {0, 0, 0};
}

}  // namespace

std::string Utf8Sanitizer::feed(std::string_view bytes) { return convert(bytes, false); }

std::string Utf8Sanitizer::finish() { return convert({}, true); }

std::string Utf8Sanitizer::convert(std::string_view bytes, bool final) {
  std::string input = std::move(held_);
  held_.clear();
  input.append(bytes);
  std::string out;
  out.reserve(input.size());
  std::size_t i = 0;
  while (i < input.size()) {
    const auto b = static_cast<unsigned char>(input[i]);
    if (b < 0x80) {
      out.push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    const Lead lead = classify(b);
    if (lead.continuation == 0) {
      out.append(kReplacement);
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    int seen = 0;
    while (seen < lead.continuation && j < input.size()) {
      const auto c = static_cast<unsigned char>(input[j]);
      const unsigned char low = seen == 0 ? lead.low : 0x80;
      const unsigned char high = seen == 0 ? lead.high : 0xBF;
      if (c < low || c > high) break;
      ++j;
      ++seen;
    }
    if (seen == lead.continuation) {
      out.append(input, i, j - i);
    } else if (j == input.size() && !final) {
      held_ = input.substr(i);  // may still complete with the next read
      break;
    } else {
      out.append(kReplacement);  // the valid prefix is one maximal subpart; input[j] is re-read
    }
    i = j;
  }
  return out;
}

}  // namespace kiln::agent
