#include "agent/agent_config.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace kiln::agent {

namespace {

int parse_int(const std::string& name, const std::string& text, int low, int high) {
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < low || value > high)
    throw std::invalid_argument("--" + name + " must be a whole number from " + std::to_string(low) + " to " +
                                std::to_string(high) + ", got '" + text + "'");
  return value;
}

std::pair<std::string, std::string> parse_pair(const std::string& name, const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw std::invalid_argument("--" + name + " must be key=value, got '" + text + "'");
  return {text.substr(0, eq), text.substr(eq + 1)};
}

int default_cpu() { return std::max(1, static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN))); }

int default_memory_gb() {
  const double bytes = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGESIZE));
  return std::max(1, static_cast<int>(bytes / (1024.0 * 1024 * 1024)));
}

}  // namespace

AgentConfig parse_agent_args(const std::vector<std::string>& args) {
  AgentConfig config;
  config.node.cpu = default_cpu();
  config.node.memory_gb = default_memory_gb();
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    if (name == "--help" || name == "-h") {
      config.help = true;
      continue;
    }
    if (name.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument '" + name + "'");
    name.erase(0, 2);
    std::string value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.erase(eq);
    } else {
      if (i + 1 >= args.size()) throw std::invalid_argument("--" + name + " needs a value");
      value = args[++i];
    }

    if (name == "url") {
      if (value.rfind("http://", 0) != 0 && value.rfind("https://", 0) != 0)
        throw std::invalid_argument("--url must start with http:// or https://");
      config.url = value;
    } else if (name == "token-file") {
      config.token_file = value;
    } else if (name == "work-dir") {
      config.work_dir = value;
    } else if (name == "concurrency") {
      config.node.concurrency = parse_int(name, value, 1, 256);
    } else if (name == "label") {
      auto [key, label] = parse_pair(name, value);
      if (!config.node.labels.emplace(key, label).second)
        throw std::invalid_argument("--label " + key + " given twice");
    } else if (name == "capability") {
      auto [key, flag] = parse_pair(name, value);
      if (flag != "true" && flag != "false")
        throw std::invalid_argument("--capability " + key + " must be true or false, got '" + flag + "'");
      if (!config.node.capabilities.emplace(key, flag == "true").second)
        throw std::invalid_argument("--capability " + key + " given twice");
    } else if (name == "cpu") {
      config.node.cpu = parse_int(name, value, 1, 4096);
    } else if (name == "memory-gb") {
      config.node.memory_gb = parse_int(name, value, 1, 1 << 20);
    } else if (name == "kill-grace-seconds") {
      config.kill_grace = std::chrono::seconds(parse_int(name, value, 0, 3600));
    } else if (name == "wait-seconds") {
      config.wait_seconds = parse_int(name, value, 0, 30);  // the API waits at most 30 s
    } else {
      throw std::invalid_argument("unknown option --" + name);
    }
  }
  if (config.help) return config;
  if (config.url.empty()) throw std::invalid_argument("--url is required");
  if (config.token_file.empty()) throw std::invalid_argument("--token-file is required");
  return config;
}

std::string agent_usage() {
  return "usage: kiln-agent --url URL --token-file PATH [options]\n"
         "Runs builds handed out by the Kiln API on this node (docs/agent-protocol.md).\n"
         "\n"
         "  --url URL                 the API, e.g. http://127.0.0.1:8080\n"
         "  --token-file PATH         file holding the node token (kiln_node_…)\n"
         "  --work-dir DIR            scratch directories go here (default /var/lib/kiln-agent)\n"
         "  --concurrency N           builds run at once (default 1)\n"
         "  --label KEY=VALUE         a node label, repeatable (--label arch=amd64)\n"
         "  --capability KEY=BOOL     a node capability, repeatable (--capability gpu=false)\n"
         "  --cpu N                   declared CPUs (default: online CPUs)\n"
         "  --memory-gb N             declared memory in GiB (default: physical memory)\n"
         "  --kill-grace-seconds N    SIGTERM to SIGKILL delay for timed-out builds (default 10)\n"
         "  --wait-seconds N          long-poll wait of a claim, at most 30 (default 25)\n"
         "  --help                    this text\n"
         "\n"
         "SIGTERM: stop claiming and let running builds finish; a second SIGTERM kills them.\n";
}

std::string read_token_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read the token file " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  const auto first = token.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) throw std::runtime_error("the token file " + path.string() + " is empty");
  token = token.substr(first, token.find_last_not_of(" \t\r\n") - first + 1);
  return token;
}

}  // namespace kiln::agent
