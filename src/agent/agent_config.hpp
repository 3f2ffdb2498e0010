#pragma once
// kiln-agent's command line (docs/agent-protocol.md, "Agent command line"). kiln::Args
// has no repeated options (--label, --capability), hence this small parser of its own.
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "agent/protocol.hpp"

namespace kiln::agent {

struct AgentConfig {
  std::string url;
  std::string token_file;
  std::filesystem::path work_dir = "/var/lib/kiln-agent";
  NodeDescription node;  // labels, capabilities, cpu, memory_gb, concurrency
  std::chrono::seconds kill_grace{10};
  int wait_seconds = 25;
  bool help = false;
};

// args excludes the program name. Throws std::invalid_argument with a message for the user.
AgentConfig parse_agent_args(const std::vector<std::string>& args);
std::string agent_usage();

// The node token: the file's content without surrounding whitespace. Throws std::runtime_error.
std::string read_token_file(const std::filesystem::path& path);

}  // namespace kiln::agent
