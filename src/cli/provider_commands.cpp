// kiln provider import|list: Kubernetes clusters (admins; docs/kubernetes.md).
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/command.hpp"
#include "cli/exit_codes.hpp"
#include "cli/output.hpp"

namespace kiln::cli {

namespace {

constexpr const char* kTypes[] = {"eks", "gke", "aks", "oke", "vks", "openshift", "rancher", "kubernetes"};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot read the kubeconfig " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The file's name without its extension, lower-cased, as a DNS label: "Prod_EKS.yaml" -> "prod-eks".
std::string name_from_file(const std::string& path) {
  std::string stem = std::filesystem::path(path).stem().string();
  std::string name;
  for (char c : stem) {
    const char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    name += std::isalnum(static_cast<unsigned char>(lower)) ? lower : '-';
  }
  while (!name.empty() && name.front() == '-') name.erase(0, 1);
  while (!name.empty() && name.back() == '-') name.pop_back();
  return name.substr(0, 63);
}

int import(Context& ctx) {
  const std::string file = ctx.args.require("kubeconfig");
  const std::string type = ctx.args.require("type");
  bool known = false;
  for (const char* t : kTypes) known = known || type == t;
  if (!known) throw UsageError("--type must be one of eks, gke, aks, oke, vks, openshift, rancher, kubernetes");
  nlohmann::json body{{"name", ctx.args.get("name").value_or(name_from_file(file))},
                      {"provider_type", type},
                      {"kubeconfig", read_file(file)}};
  for (const auto& [option, key] : {std::pair{"context", "context"}, {"display-name", "display_name"},
                                    {"description", "description"}, {"namespace", "namespace"},
                                    {"namespace-prefix", "namespace_prefix"}}) {
    if (auto v = ctx.args.get(option)) body[key] = *v;
  }
  nlohmann::json capabilities = nlohmann::json::object();
  for (const auto& c : ctx.args.all("capability")) {
    const auto eq = c.find('=');
    capabilities[c.substr(0, eq)] = eq == std::string::npos || c.substr(eq + 1) == "true";
  }
  if (!capabilities.empty()) body["capabilities"] = capabilities;
  if (ctx.args.has("disabled")) body["enabled"] = false;
  const auto provider = ctx.client().call("POST", "/api/v1/admin/providers", body);
  if (ctx.json()) {
    ctx.print_json(provider);
    return kExitOk;
  }
  ctx.out << format_fields(provider, {{"id", "id"}, {"name", "name"}, {"type", "provider_type"},
                                      {"api server", "api_server"}, {"enabled", "enabled"}, {"health", "health.status"}});
  return kExitOk;
}

int list(Context& ctx) {
  const auto answer = ctx.client().call("GET", "/api/v1/admin/providers");
  if (ctx.json()) {
    ctx.print_json(answer);
    return kExitOk;
  }
  ctx.out << format_table({{"ID", "id"}, {"NAME", "name"}, {"TYPE", "provider_type"}, {"ENABLED", "enabled"},
                           {"HEALTH", "health.status"}, {"API SERVER", "api_server"}},
                          answer.value("items", nlohmann::json::array()));
  return kExitOk;
}

}  // namespace

std::vector<Command> provider_commands() {
  return {
      {{"provider import",
        "Add a Kubernetes cluster from a kubeconfig (admins: infrastructure:configure). The kubeconfig is "
        "encrypted by the server and never shown again.",
        "", 0, 0,
        {{"kubeconfig", 0, true, false, "FILE", "the cluster's kubeconfig (required)"},
         {"type", 't', true, false, "TYPE", "eks, gke, aks, oke, vks, openshift, rancher or kubernetes (required)"},
         {"name", 0, true, false, "NAME", "a DNS label (default: the file's name without extension)"},
         {"context", 0, true, false, "CONTEXT", "the kubeconfig context (default: its current-context)"},
         {"display-name", 0, true, false, "TEXT", "the name people see"},
         {"description", 0, true, false, "TEXT", "what the cluster is for"},
         {"namespace", 0, true, false, "NS", "run every build in this namespace (a tenant's own cluster)"},
         {"namespace-prefix", 0, true, false, "PREFIX", "builds run in PREFIX<tenant> (default kiln-)"},
         {"capability", 'c', true, true, "NAME[=true|false]", "gpu, high_memory, arm64, airgapped, legacy_system"},
         {"disabled", 0, false, false, "", "add it disabled"}},
        "  kiln provider import --kubeconfig ~/.kube/prod-eks.yaml --type eks --display-name 'Production (EKS)'\n"},
       import},
      {{"provider list", "List the Kubernetes providers (admins: infrastructure:monitor).", "", 0, 0, {},
        "  kiln provider list\n"},
       list},
  };
}

}  // namespace kiln::cli
