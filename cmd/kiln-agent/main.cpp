// kiln-agent: runs builds on a build node (docs/agent-protocol.md).
#include <curl/curl.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "agent/agent.hpp"
#include "agent/agent_config.hpp"
#include "agent/signal_watch.hpp"
#include "log.hpp"

int main(int argc, char** argv) {
  using namespace kiln::agent;
  AgentConfig config;
  try {
    config = parse_agent_args(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "kiln-agent: %s\n\n%s", e.what(), agent_usage().c_str());
    return 2;
  }
  if (config.help) {
    std::fputs(agent_usage().c_str(), stdout);
    return 0;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);  // once, before any thread
  try {
    Agent agent(config);  // starts no thread: SignalWatch below still blocks signals for all
    SignalWatch signals([&agent](int count) { agent.request_stop(count >= 2); },
                        [&agent] { agent.request_token_reload(); });
    return agent.run();
  } catch (const std::exception& e) {
    kiln::log("error", "kiln-agent failed", {{"error", e.what()}});
    return 1;
  }
}
