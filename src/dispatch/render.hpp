#pragma once
// Renders the build-node form of a method's pipeline template (pipelines/build-node/
// <method>.sh; files starting with _ are partials, e.g. _clone.sh included as {{>CLONE}})
// into the shell script an agent runs. Every variable must carry the
// :x-shell modifier, which quotes its value as one shell word; a template that has a
// variable without it is refused when loaded, so no parameter can ever reach the shell
// unquoted.
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace kiln::dispatch {

class BuildNodeRenderer {
 public:
  // Loads and checks every *.sh in dir. Throws std::runtime_error naming the file.
  explicit BuildNodeRenderer(const std::filesystem::path& dir);
  ~BuildNodeRenderer();

  // params: the build's parameters (strings, numbers, booleans), exposed as NAME and
  // HAS_NAME (uppercase). Throws std::runtime_error when the method has no template.
  std::string render(const std::string& method, const nlohmann::json& params, const std::string& build_id) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One shell word for any text: 'text' with each ' written as '\''.
std::string shell_quote(std::string_view text);

// The variables of a template that do not use :x-shell (empty when the template is safe).
std::string unquoted_variables(const std::string& template_text);

}  // namespace kiln::dispatch
