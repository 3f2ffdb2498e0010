#include "http/query.hpp"

#include <algorithm>
#include <charconv>

#include "error.hpp"

namespace kiln::http {

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hex_value(text[i + 1]);
      const int lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

Query::Query(std::string_view raw) {
  while (!raw.empty()) {
    const std::size_t amp = raw.find('&');
    const std::string_view pair = raw.substr(0, amp);
    raw = amp == std::string_view::npos ? std::string_view{} : raw.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    auto name = percent_decode(pair.substr(0, eq));
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (!name || !value) {
      throw Error(Errc::kBadRequest, "invalid_query", "the query string has a malformed % escape");
    }
    if (text(*name)) {
      throw Error(Errc::kBadRequest, "invalid_query", "query parameter " + *name + " is repeated", *name);
    }
    params_.emplace_back(std::move(*name), std::move(*value));
  }
}

std::optional<std::string> Query::text(std::string_view name) const {
  for (const auto& [key, value] : params_) {
    if (key == name) return value;
  }
  return std::nullopt;
}

std::optional<long long> Query::integer(std::string_view name) const {
  const auto value = text(name);
  if (!value) return std::nullopt;
  long long out = 0;
  const auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), out);
  if (ec != std::errc{} || end != value->data() + value->size() || value->empty()) {
    throw Error(Errc::kBadRequest, "invalid_value",
                std::string(name) + " must be an integer", std::string(name));
  }
  return out;
}

void Query::allow_only(std::initializer_list<std::string_view> allowed) const {
  for (const auto& [key, value] : params_) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      throw Error(Errc::kBadRequest, "unknown_field", "unknown query parameter " + key, key);
    }
  }
}

}  // namespace kiln::http
