#pragma once
// Command-line parsing for the kiln client commands: "--name value", "--name=value",
// "-x value", repeatable options, flags and positional arguments. Pure; no I/O.
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln::cli {

// Bad command-line input: printed with the command's usage, exit status 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct OptionSpec {
  std::string name;         // long name without the dashes: "project"
  char short_name = 0;      // 'p' for -p, or 0
  bool takes_value = true;  // false: a flag
  bool repeatable = false;
  std::string value_name;   // "NAME" in the help text
  std::string help;
};

struct CommandSpec {
  std::string path;         // "build submit"
  std::string summary;      // one line
  std::string positionals;  // "ID" in the usage line, or empty
  std::size_t min_positionals = 0;
  std::size_t max_positionals = 0;
  std::vector<OptionSpec> options;
  std::string examples;     // appended to the help text
};

class ParsedArgs {
 public:
  std::vector<std::string> positionals;
  std::map<std::string, std::vector<std::string>> values;  // by long name; flags hold ""
  bool help = false;

  bool has(const std::string& name) const { return values.count(name) > 0; }
  std::optional<std::string> get(const std::string& name) const;
  std::string require(const std::string& name) const;  // throws UsageError when missing
  const std::vector<std::string>& all(const std::string& name) const;
};

// The options every client command takes (--output, --help).
std::vector<OptionSpec> common_options();

// Parses args (everything after the command path) against spec plus common_options().
ParsedArgs parse_args(const CommandSpec& spec, const std::vector<std::string>& args);

// The --help text of a command.
std::string help_text(const CommandSpec& spec);

// "key=value" split at the first '='; throws UsageError naming option when there is none
// or the key is empty.
std::pair<std::string, std::string> split_key_value(const std::string& text, const std::string& option);

}  // namespace kiln::cli
