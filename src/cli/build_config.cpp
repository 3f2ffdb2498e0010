#include "cli/build_config.hpp"

#include <cstdlib>

namespace kiln::cli {

std::vector<OptionSpec> build_config_options() {
  return {
      {"project", 0, true, false, "NAME", "the project (required)"},
      {"method", 'm', true, false, "METHOD", "docker, buildx, packer, nix, paketo or script (required)"},
      {"param", 'p', true, true, "KEY=VALUE", "a method parameter; KEY:=JSON for a list, object, number or boolean"},
      {"cpu", 0, true, false, "N", "CPUs (0.1-64)"},
      {"memory-gb", 0, true, false, "N", "memory in GiB (0.125-512)"},
      {"disk-gb", 0, true, false, "N", "disk in GiB (1-4096)"},
      {"time-budget-min", 0, true, false, "N", "time budget in minutes (1-1440)"},
      {"require", 'r', true, true, "KEY[=VALUE]",
       "a requirement: gpu, high_memory, airgapped, legacy_system (=true|false), arch=amd64,arm64, custom_hardware=TEXT"},
      {"infrastructure", 'i', true, false, "TYPE", "auto (default), kubernetes or build_nodes"},
      {"force-infrastructure", 0, false, false, "", "admins: run on --infrastructure whatever the selection says"},
      {"priority", 0, true, false, "N", "-100..100, higher is claimed first"},
  };
}

nlohmann::json number_or_text(const std::string& text) {
  if (text.empty()) return text;
  char* end = nullptr;
  const long long whole = std::strtoll(text.c_str(), &end, 10);
  if (end && *end == '\0') return whole;
  const double real = std::strtod(text.c_str(), &end);
  if (end && *end == '\0') return real;
  return text;
}

nlohmann::json build_config(const ParsedArgs& args) {
  nlohmann::json body = nlohmann::json::object();
  if (auto v = args.get("project")) body["project"] = *v;
  if (auto v = args.get("method")) body["method"] = *v;
  nlohmann::json params = nlohmann::json::object();
  for (const auto& p : args.all("param")) {
    auto [key, value] = split_key_value(p, "param");
    if (key.size() > 1 && key.back() == ':') {
      key.pop_back();
      auto parsed = nlohmann::json::parse(value, nullptr, false);
      if (parsed.is_discarded()) throw UsageError("--param " + key + ":= needs a JSON value, not \"" + value + "\"");
      params[key] = parsed;
    } else {
      params[key] = value;
    }
  }
  if (!params.empty()) body["params"] = params;
  nlohmann::json spec = nlohmann::json::object();
  for (const auto& [option, key] : {std::pair{"cpu", "cpu"}, {"memory-gb", "memory_gb"}, {"disk-gb", "disk_gb"},
                                    {"time-budget-min", "time_budget_min"}}) {
    if (auto v = args.get(option)) spec[key] = number_or_text(*v);
  }
  if (!spec.empty()) body["spec"] = spec;
  nlohmann::json requirements = nlohmann::json::object();
  for (const auto& r : args.all("require")) {
    const auto eq = r.find('=');
    const std::string key = r.substr(0, eq);
    if (key.empty()) throw UsageError("--require takes KEY or KEY=VALUE, not \"" + r + "\"");
    if (eq == std::string::npos) {
      requirements[key] = true;
      continue;
    }
    const std::string value = r.substr(eq + 1);
    if (key == "arch") {
      nlohmann::json list = nlohmann::json::array();
      for (std::size_t start = 0; start <= value.size();) {
        const auto comma = value.find(',', start);
        const std::string item = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!item.empty()) list.push_back(item);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      requirements[key] = list;
    } else if (value == "true" || value == "false") {
      requirements[key] = value == "true";
    } else {
      requirements[key] = value;
    }
  }
  if (!requirements.empty()) body["requirements"] = requirements;
  if (auto v = args.get("infrastructure")) body["infrastructure_type"] = *v;
  if (args.has("force-infrastructure")) body["force_infrastructure"] = true;
  if (auto v = args.get("priority")) body["priority"] = number_or_text(*v);
  return body;
}

}  // namespace kiln::cli
