#pragma once
// Where the client finds its server and token: KILN_URL and KILN_TOKEN, else the config
// file $KILN_CONFIG, else $XDG_CONFIG_HOME/kiln/config, else ~/.config/kiln/config.
// The file holds "key = value" lines (url, token, token_file); '#' starts a comment.
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

namespace kiln::cli {

// Missing or unusable configuration: exit status 3.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Config {
  std::string url;    // base URL, without a trailing slash
  std::string token;  // API token
  std::string source; // where url came from, for messages
};

using Getenv = std::function<std::optional<std::string>(const std::string&)>;

// Parses the file's text; throws ConfigError naming the line for a line that is not
// "key = value" or an unknown key.
std::map<std::string, std::string> parse_config_text(const std::string& text, const std::string& path);

// The config file's path from the environment (may not exist).
std::string config_path(const Getenv& env);

// Reads the environment and the config file; throws ConfigError when no URL or token is set.
Config load_config(const Getenv& env);

// The process environment as a Getenv.
Getenv process_env();

}  // namespace kiln::cli
