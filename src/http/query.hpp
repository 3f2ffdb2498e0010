#pragma once
// Query strings: parse, percent-decode, and typed access that throws kiln::Error(400)
// naming the parameter.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::http {

// Percent-decoding with '+' as space; std::nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view text);

// Percent-encoding of everything but RFC 3986's unreserved characters: a value that is
// safe in a URL path segment and in a query string. Inline so that the CLI, which links
// no database code, shares it.
inline std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

class Query {
 public:
  // Throws Error(400, invalid_query) on a malformed escape or a repeated parameter.
  explicit Query(std::string_view raw);

  std::optional<std::string> text(std::string_view name) const;
  // An integer parameter; Error(400, invalid_value, field=name) when not one.
  std::optional<long long> integer(std::string_view name) const;
  // Error(400, unknown_field) for any parameter not in allowed.
  void allow_only(std::initializer_list<std::string_view> allowed) const;

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

}  // namespace kiln::http
