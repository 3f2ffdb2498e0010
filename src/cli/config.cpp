#include "cli/config.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace kiln::cli {

namespace {

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  const auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

std::string unquote(const std::string& s) {
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front()) {
    return s.substr(1, s.size() - 2);
  }
  return s;
}

std::string first_line_of(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot read the token file " + path);
  std::string line;
  std::getline(in, line);
  return trim(line);
}

}  // namespace

std::map<std::string, std::string> parse_config_text(const std::string& text, const std::string& path) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string content = trim(line);
    if (content.empty() || content[0] == '#') continue;
    const auto eq = content.find('=');
    const std::string where = path + ":" + std::to_string(number);
    if (eq == std::string::npos) throw ConfigError(where + ": expected \"key = value\"");
    const std::string key = trim(content.substr(0, eq));
    if (key != "url" && key != "token" && key != "token_file") {
      throw ConfigError(where + ": unknown key \"" + key + "\" (known: url, token, token_file)");
    }
    out[key] = unquote(trim(content.substr(eq + 1)));
  }
  return out;
}

std::string config_path(const Getenv& env) {
  if (auto explicit_path = env("KILN_CONFIG"); explicit_path && !explicit_path->empty()) return *explicit_path;
  if (auto xdg = env("XDG_CONFIG_HOME"); xdg && !xdg->empty()) return *xdg + "/kiln/config";
  if (auto home = env("HOME"); home && !home->empty()) return *home + "/.config/kiln/config";
  return "";
}

Config load_config(const Getenv& env) {
  Config config;
  std::map<std::string, std::string> file;
  const std::string path = config_path(env);
  if (!path.empty()) {
    if (std::ifstream in(path); in) {
      std::stringstream text;
      text << in.rdbuf();
      file = parse_config_text(text.str(), path);
    } else if (env("KILN_CONFIG")) {
      throw ConfigError("cannot read the config file " + path + " (named by KILN_CONFIG)");
    }
  }
  if (auto url = env("KILN_URL"); url && !url->empty()) {
    config.url = *url;
    config.source = "KILN_URL";
  } else if (file.count("url") && !file["url"].empty()) {
    config.url = file["url"];
    config.source = path;
  }
  if (auto token = env("KILN_TOKEN"); token && !token->empty()) {
    config.token = *token;
  } else if (file.count("token") && !file["token"].empty()) {
    config.token = file["token"];
  } else if (file.count("token_file") && !file["token_file"].empty()) {
    config.token = first_line_of(file["token_file"]);
  }
  const std::string where = path.empty() ? "a config file" : path;
  if (config.url.empty()) {
    throw ConfigError("no Kiln server configured: set KILN_URL or put \"url = https://kiln.example\" in " + where);
  }
  if (config.token.empty()) {
    throw ConfigError("no API token configured: set KILN_TOKEN or put \"token = ...\" in " + where);
  }
  while (!config.url.empty() && config.url.back() == '/') config.url.pop_back();
  return config;
}

Getenv process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (!value) return std::nullopt;
    return std::string(value);
  };
}

}  // namespace kiln::cli
