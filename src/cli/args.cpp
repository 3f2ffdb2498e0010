#include "cli/args.hpp"

#include <algorithm>

namespace kiln::cli {

namespace {

const OptionSpec* find_long(const std::vector<OptionSpec>& options, const std::string& name) {
  for (const auto& o : options) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

const OptionSpec* find_short(const std::vector<OptionSpec>& options, char c) {
  for (const auto& o : options) {
    if (o.short_name != 0 && o.short_name == c) return &o;
  }
  return nullptr;
}

void store(ParsedArgs& out, const OptionSpec& spec, std::string value) {
  auto& slot = out.values[spec.name];
  if (!slot.empty() && !spec.repeatable) throw UsageError("--" + spec.name + " is given more than once");
  slot.push_back(std::move(value));
}

}  // namespace

std::optional<std::string> ParsedArgs::get(const std::string& name) const {
  const auto it = values.find(name);
  if (it == values.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::string ParsedArgs::require(const std::string& name) const {
  auto value = get(name);
  if (!value || value->empty()) throw UsageError("--" + name + " is required");
  return *value;
}

const std::vector<std::string>& ParsedArgs::all(const std::string& name) const {
  static const std::vector<std::string> kNone;
  const auto it = values.find(name);
  return it == values.end() ? kNone : it->second;
}

std::vector<OptionSpec> common_options() {
  return {{"output", 'o', true, false, "FORMAT", "text (default) or json: the API's JSON as it was answered"},
          {"help", 'h', false, false, "", "show this help"}};
}

ParsedArgs parse_args(const CommandSpec& spec, const std::vector<std::string>& args) {
  std::vector<OptionSpec> options = spec.options;
  for (auto& o : common_options()) options.push_back(std::move(o));
  ParsedArgs out;
  bool only_positionals = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (only_positionals || arg.size() < 2 || arg[0] != '-') {
      out.positionals.push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_positionals = true;
      continue;
    }
    const OptionSpec* option = nullptr;
    std::optional<std::string> inline_value;
    if (arg.rfind("--", 0) == 0) {
      std::string name = arg.substr(2);
      if (const auto eq = name.find('='); eq != std::string::npos) {
        inline_value = name.substr(eq + 1);
        name.resize(eq);
      }
      option = find_long(options, name);
      if (!option) throw UsageError("unknown option --" + name);
    } else {
      option = find_short(options, arg[1]);
      if (!option) throw UsageError("unknown option " + arg.substr(0, 2));
      if (arg.size() > 2) inline_value = arg.substr(2);
    }
    if (!option->takes_value) {
      if (inline_value) throw UsageError("--" + option->name + " takes no value");
      store(out, *option, "");
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) throw UsageError("--" + option->name + " needs a value");
      inline_value = args[++i];
    }
    store(out, *option, *inline_value);
  }
  out.help = out.has("help");
  if (out.help) return out;
  if (const auto format = out.get("output"); format && *format != "json" && *format != "text") {
    throw UsageError("--output must be text or json");
  }
  if (out.positionals.size() < spec.min_positionals) {
    throw UsageError(spec.positionals.empty() ? "missing argument" : "missing " + spec.positionals);
  }
  if (out.positionals.size() > spec.max_positionals) {
    throw UsageError("unexpected argument " + out.positionals[spec.max_positionals]);
  }
  return out;
}

std::string help_text(const CommandSpec& spec) {
  std::string text = "usage: kiln " + spec.path;
  if (!spec.positionals.empty()) text += " " + spec.positionals;
  text += " [options]\n\n" + spec.summary + "\n\noptions:\n";
  std::vector<OptionSpec> options = spec.options;
  for (auto& o : common_options()) options.push_back(std::move(o));
  std::vector<std::pair<std::string, std::string>> rows;
  std::size_t width = 0;
  for (const auto& o : options) {
    std::string left = "  ";
    left += o.short_name ? std::string("-") + o.short_name + ", " : "    ";
    left += "--" + o.name;
    if (o.takes_value) left += " " + (o.value_name.empty() ? std::string("VALUE") : o.value_name);
    width = std::max(width, left.size());
    rows.emplace_back(std::move(left), o.help + (o.repeatable ? " (repeatable)" : ""));
  }
  for (const auto& [left, help] : rows) text += left + std::string(width - left.size() + 2, ' ') + help + "\n";
  if (!spec.examples.empty()) text += "\nexamples:\n" + spec.examples;
  return text;
}

std::pair<std::string, std::string> split_key_value(const std::string& text, const std::string& option) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw UsageError("--" + option + " takes KEY=VALUE, not \"" + text + "\"");
  }
  return {text.substr(0, eq), text.substr(eq + 1)};
}

}  // namespace kiln::cli
