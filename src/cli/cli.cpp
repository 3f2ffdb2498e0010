#include "cli/cli.hpp"

#include <algorithm>
#include <iostream>

#include "cli/command.hpp"
#include "cli/exit_codes.hpp"
#include "cli/output.hpp"

namespace kiln::cli {

namespace {

std::vector<Command> all_commands() {
  std::vector<Command> all;
  for (auto group : {build_commands, recommend_commands, provider_commands, node_commands, token_commands}) {
    for (auto& c : group()) all.push_back(std::move(c));
  }
  return all;
}

std::string first_word(const std::string& path) { return path.substr(0, path.find(' ')); }

// The commands of a group ("kiln token --help").
std::string group_help(const std::vector<Command>& commands, const std::string& group) {
  std::string text = "usage: kiln " + group + " COMMAND [options]\n\ncommands:\n";
  for (const auto& c : commands) {
    if (first_word(c.spec.path) == group) text += "  kiln " + c.spec.path + (c.spec.positionals.empty() ? "" : " " + c.spec.positionals) + "\n      " + c.spec.summary + "\n";
  }
  return text + "\nrun \"kiln " + group + " COMMAND --help\" for a command's options\n";
}

bool is_help(const std::string& word) { return word == "--help" || word == "-h" || word == "help"; }

}  // namespace

HttpClient& Context::client() {
  if (!client_) client_ = std::make_unique<HttpClient>(load_config_());
  return *client_;
}

void Context::print_json(const nlohmann::json& value) const {
  out << value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

bool is_client_command(const std::string& word) {
  for (const auto& c : all_commands()) {
    if (first_word(c.spec.path) == word) return true;
  }
  return false;
}

std::string overview() {
  std::string text;
  for (const auto& c : all_commands()) text += "  kiln " + c.spec.path + (c.spec.positionals.empty() ? "" : " " + c.spec.positionals) + "\n      " + c.spec.summary + "\n";
  return text;
}

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, const Getenv& env) {
  const auto commands = all_commands();
  if (args.empty()) return kExitUsage;
  // The longest command path that prefixes args ("build submit", or "recommend").
  const Command* found = nullptr;
  std::size_t words = 0;
  for (const auto& c : commands) {
    std::vector<std::string> path;
    for (std::size_t start = 0;;) {
      const auto space = c.spec.path.find(' ', start);
      path.push_back(c.spec.path.substr(start, space == std::string::npos ? std::string::npos : space - start));
      if (space == std::string::npos) break;
      start = space + 1;
    }
    if (path.size() <= args.size() && std::equal(path.begin(), path.end(), args.begin()) && path.size() > words) {
      found = &c;
      words = path.size();
    }
  }
  if (!found) {
    const std::string& group = args[0];
    if (args.size() == 1 || is_help(args[1])) {
      (args.size() == 1 ? err : out) << group_help(commands, group);
      return args.size() == 1 ? kExitUsage : kExitOk;
    }
    err << "kiln " << group << ": unknown command \"" << args[1] << "\"\n\n" << group_help(commands, group);
    return kExitUsage;
  }
  const std::vector<std::string> rest(args.begin() + static_cast<long>(words), args.end());
  const std::string name = "kiln " + found->spec.path;
  bool json = false;
  try {
    ParsedArgs parsed = parse_args(found->spec, rest);
    json = parsed.get("output").value_or("text") == "json";
    if (parsed.help) {
      out << help_text(found->spec);
      return kExitOk;
    }
    Context ctx(std::move(parsed), out, err, [&env] { return load_config(env); });
    return found->run(ctx);
  } catch (const UsageError& e) {
    err << name << ": " << e.what() << "\n\n" << help_text(found->spec);
    return kExitUsage;
  } catch (const ConfigError& e) {
    err << name << ": " << e.what() << "\n";
    return kExitConfig;
  } catch (const ConnectionError& e) {
    err << name << ": " << e.what() << "\n";
    return kExitConnection;
  } catch (const ApiError& e) {
    if (json && !e.body().is_null()) out << e.body().dump() << std::endl;
    err << name << ": error: " << e.what();
    if (e.body().is_object()) err << " [" << e.body()["error"].value("code", "") << ", HTTP " << e.status() << "]";
    err << "\n";
    return kExitApi;
  } catch (const std::exception& e) {
    err << name << ": " << e.what() << "\n";
    return kExitApi;
  }
}

}  // namespace kiln::cli
