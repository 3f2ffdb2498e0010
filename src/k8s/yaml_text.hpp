#pragma once
// YAML as text for pipeline templates: the escaping every template value goes through, and
// the YAML → JSON conversion of a rendered template (Kubernetes takes JSON).
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace kiln::k8s {

// One YAML double-quoted scalar for any text: "…" with \" \\ and control characters
// escaped, YAML's extra line breaks (U+0085, U+2028, U+2029) and U+FEFF escaped, and
// invalid UTF-8 replaced by U+FFFD. Whatever the text holds (quotes, newlines, `---`,
// `...`, `{{`, `$(`, `: `, `#`, `&`, `*`, `!`), the result parses back to exactly that text.
std::string yaml_quote(std::string_view text);

struct YamlError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parses exactly one YAML document into JSON. Plain scalars resolve as YAML 1.2's core
// schema (null, true/false, integers, floats); quoted scalars stay strings. Throws
// YamlError for a syntax error, more than one document, or a duplicate key.
nlohmann::json yaml_to_json(const std::string& text);

}  // namespace kiln::k8s
