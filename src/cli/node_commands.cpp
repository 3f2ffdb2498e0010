// kiln node register|list: build nodes (admins; docs/dispatching.md).
#include <sys/stat.h>

#include <fstream>

#include "cli/build_config.hpp"
#include "cli/command.hpp"
#include "cli/exit_codes.hpp"
#include "cli/output.hpp"

namespace kiln::cli {

namespace {

void write_secret(const std::string& path, const std::string& text) {
  const mode_t old_mask = umask(077);
  std::ofstream out(path, std::ios::trunc);
  umask(old_mask);
  out << text << "\n";
  if (!out) throw std::runtime_error("cannot write " + path);
}

int register_node(Context& ctx) {
  nlohmann::json body{{"name", ctx.args.positionals.empty() ? ctx.args.require("name") : ctx.args.positionals[0]}};
  nlohmann::json labels = nlohmann::json::object();
  for (const auto& l : ctx.args.all("label")) {
    auto [key, value] = split_key_value(l, "label");
    labels[key] = value;
  }
  if (!labels.empty()) body["labels"] = labels;
  nlohmann::json capabilities = nlohmann::json::object();
  for (const auto& c : ctx.args.all("capability")) {
    const auto eq = c.find('=');
    capabilities[c.substr(0, eq)] = eq == std::string::npos || c.substr(eq + 1) == "true";
  }
  if (!capabilities.empty()) body["capabilities"] = capabilities;
  nlohmann::json capacity = nlohmann::json::object();
  for (const auto& [option, key] : {std::pair{"cpu", "cpu"}, {"memory-gb", "memory_gb"}, {"disk-gb", "disk_gb"}}) {
    if (auto v = ctx.args.get(option)) capacity[key] = number_or_text(*v);
  }
  if (!capacity.empty()) body["capacity"] = capacity;
  for (const auto& [option, key] : {std::pair{"concurrency", "concurrency"}, {"cost-per-cpu-hour", "cost_per_cpu_hour"},
                                    {"cost-per-gib-hour", "cost_per_gib_hour"}, {"cost-per-gpu-hour", "cost_per_gpu_hour"}}) {
    if (auto v = ctx.args.get(option)) body[key] = number_or_text(*v);
  }
  const auto node = ctx.client().call("POST", "/api/v1/admin/build-nodes", body);
  if (auto file = ctx.args.get("token-file")) write_secret(*file, node.value("token", ""));
  if (ctx.json()) {
    ctx.print_json(node);
    return kExitOk;
  }
  ctx.out << format_fields(node, {{"id", "id"}, {"name", "name"}, {"status", "status"}, {"labels", "labels"},
                                  {"concurrency", "concurrency"}});
  if (auto file = ctx.args.get("token-file")) {
    ctx.out << "token:       written to " << *file << " (mode 0600)\n";
  } else {
    ctx.out << "token:       " << node.value("token", "") << "\n"
            << "(shown once: give it to the node's kiln-agent with --token-file)\n";
  }
  return kExitOk;
}

int list(Context& ctx) {
  const auto answer = ctx.client().call("GET", "/api/v1/admin/build-nodes");
  if (ctx.json()) {
    ctx.print_json(answer);
    return kExitOk;
  }
  ctx.out << format_table({{"ID", "id"}, {"NAME", "name"}, {"STATUS", "status"}, {"ONLINE", "online"},
                           {"RUNNING", "running"}, {"CONCURRENCY", "concurrency"}, {"LABELS", "labels"}},
                          answer.value("items", nlohmann::json::array()));
  return kExitOk;
}

}  // namespace

std::vector<Command> node_commands() {
  return {
      {{"node register",
        "Register a build node (admins: infrastructure:configure). Its token is shown once, or written to "
        "--token-file.",
        "[NAME]", 0, 1,
        {{"name", 0, true, false, "NAME", "the node's name (or give it as the argument)"},
         {"label", 'l', true, true, "KEY=VALUE", "a label builds can require (arch=amd64)"},
         {"capability", 'c', true, true, "NAME[=true|false]", "gpu, high_memory, airgapped, legacy_system"},
         {"cpu", 0, true, false, "N", "CPUs it offers"},
         {"memory-gb", 0, true, false, "N", "memory it offers in GiB"},
         {"disk-gb", 0, true, false, "N", "disk it offers in GiB"},
         {"concurrency", 0, true, false, "N", "builds at once (1-256, default 1)"},
         {"cost-per-cpu-hour", 0, true, false, "AMOUNT", "for usage reports"},
         {"cost-per-gib-hour", 0, true, false, "AMOUNT", "for usage reports"},
         {"cost-per-gpu-hour", 0, true, false, "AMOUNT", "for usage reports"},
         {"token-file", 0, true, false, "FILE", "write the node token to FILE (mode 0600) instead of printing it"}},
        "  kiln node register builder-1 --label arch=amd64 --concurrency 4 --token-file builder-1.token\n"},
       register_node},
      {{"node list", "List build nodes (admins: infrastructure:monitor).", "", 0, 0, {}, "  kiln node list\n"}, list},
  };
}

}  // namespace kiln::cli
