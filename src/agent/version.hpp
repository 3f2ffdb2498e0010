#pragma once
// The agent's version as sent in every claim (docs/agent-protocol.md).
namespace kiln::agent {

inline constexpr const char* kAgentVersion = "0.1.0";

}  // namespace kiln::agent
