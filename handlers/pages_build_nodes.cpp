// /admin/build-nodes: the nodes with their state from heartbeat age, capacity and running
// work (infrastructure:monitor); register a node, whose one-time token is shown once on the
// answer page (infrastructure:configure); drain, resume, deprecate (infrastructure:manage).
#include <algorithm>
#include <cctype>
#include <map>

#include "core/token.hpp"
#include "db/nodes_api.hpp"
#include "db/pages_api.hpp"
#include "http/html.hpp"
#include "page_forms.hpp"
#include "path_params.hpp"
#include "routes.hpp"

namespace kiln::handlers {

namespace {

using nlohmann::json;
namespace html = http::html;

std::string joined(const json& object) {
  std::string out;
  for (const auto& [key, value] : object.items()) {
    out += (out.empty() ? "" : ", ") + key + (value.is_boolean() ? "" : "=" + html::text_of(value));
  }
  return out.empty() ? "—" : out;
}

void node_rows(const http::Call& c, const json& nodes, ctemplate::TemplateDictionary& dict) {
  for (const auto& n : nodes["items"]) {
    auto* row = dict.AddSectionDictionary("NODE");
    html::show_permissions(*row, c.principal);  // the actions cell uses the row's values
    row->SetValue("ID", n["id"].get<std::string>());
    row->SetValue("NAME", n["name"].get<std::string>());
    row->SetValue("STATUS", n["status"].get<std::string>());
    row->SetValue("STATE", n["state"].get<std::string>());
    row->SetValue("HEARTBEAT", n["heartbeat_age_seconds"].is_number()
                                   ? html::duration_text(n["heartbeat_age_seconds"].get<double>()) + " ago"
                                   : "never");
    row->SetValue("CAPACITY", joined(n["capacity"]));
    row->SetValue("LABELS", joined(n["labels"]));
    row->SetValue("CAPABILITIES", joined(n["capabilities"]));
    row->SetIntValue("RUNNING", n["running"].get<long long>());
    row->SetIntValue("CONCURRENCY", n["concurrency"].get<long long>());
    row->SetValue("AGENT_VERSION", html::text_of(n["agent_version"]));
    row->SetValue("DEPRECATED_AT", html::time_text(n["deprecated_at"]));
    for (const auto& build : n["running_builds"]) {
      row->AddSectionDictionary("RUNNING_BUILD")->SetValue("BUILD_ID", build.get<std::string>());
    }
    // Shared nodes belong to no tenant: only a DBA changes them.
    if (!n["shared"].get<bool>()) {
      row->ShowSection(n["status"] == "active" ? "CAN_DRAIN" : "CAN_RESUME");
      if (n["status"] != "deprecated") row->ShowSection("CAN_DEPRECATE");
    } else {
      row->ShowSection("SHARED");
    }
  }
  if (nodes["items"].empty()) dict.ShowSection("NO_NODES");
}

// "arch=amd64, region=eu" → {"arch":"amd64","region":"eu"}; a pair without "=" keeps its
// text as the key so the function names it.
json labels_of(const std::string& text) {
  json labels = json::object();
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string pair = text.substr(start, comma - start);
    const std::size_t eq = pair.find('=');
    const auto trim = [](std::string s) {
      s.erase(0, s.find_first_not_of(' '));
      s.erase(s.find_last_not_of(' ') + 1);
      return s;
    };
    if (!trim(pair).empty()) labels[trim(pair.substr(0, eq))] = eq == std::string::npos ? "" : trim(pair.substr(eq + 1));
    start = comma + 1;
  }
  return labels;
}

json registration_body(const http::Query& form) {
  json body = {{"name", form_text(form, "name")}};
  if (const auto labels = form_text(form, "labels"); !labels.empty()) body["labels"] = labels_of(labels);
  json capabilities = json::object();
  for (const char* cap : {"gpu", "high_memory", "airgapped", "legacy_system"}) {
    if (form.text(std::string("cap_") + cap)) capabilities[cap] = true;
  }
  if (!capabilities.empty()) body["capabilities"] = capabilities;
  json capacity = json::object();
  for (const char* key : {"cpu", "memory_gb", "disk_gb"}) {
    if (const auto v = form_text(form, std::string("capacity_") + key); !v.empty()) capacity[key] = number_or_text(v);
  }
  if (!capacity.empty()) body["capacity"] = capacity;
  if (const auto v = form_text(form, "concurrency"); !v.empty()) body["concurrency"] = number_or_text(v);
  return body;
}

http::Response nodes_page(const http::Call& c, ctemplate::TemplateDictionary& dict, int status) {
  node_rows(c, json::parse(db::page_build_nodes(c.tx)), dict);
  return html::page(c, "build_nodes.tpl", "Build nodes", dict, status);
}

http::Response list(const http::Call& c) {
  ctemplate::TemplateDictionary dict("build_nodes");
  const http::Query q(c.request.query_string);
  q.allow_only({"notice"});
  if (const auto notice = q.text("notice")) {
    static const std::map<std::string, std::string> kNotices = {
        {"drain", "The node is draining: it finishes its running work and takes no new builds."},
        {"resume", "The node is active again."},
        {"deprecate", "The node is deprecated: it takes no new builds."}};
    if (const auto it = kNotices.find(*notice); it != kNotices.end()) dict.SetValueAndShowSection("NOTICE", it->second, "HAS_NOTICE");
  }
  return nodes_page(c, dict, 200);
}

http::Response register_node(const http::Call& c) {
  const http::Query form = form_of(c);
  ctemplate::TemplateDictionary dict("build_nodes");
  const json body = registration_body(form);
  const std::string token = "kiln_node_" + core::generate_token().substr(5);
  json node;
  if (auto error = db::in_savepoint(c.tx, [&] {
        node = json::parse(db::register_build_node(c.tx, body.dump(), core::sha256_hex(token)));
      })) {
    show_form_error(dict, *error);
    for (const char* f : {"name", "labels", "capacity_cpu", "capacity_memory_gb", "capacity_disk_gb", "concurrency"}) {
      std::string key = std::string("FORM_") + f;
      std::transform(key.begin(), key.end(), key.begin(), [](unsigned char ch) { return std::toupper(ch); });
      dict.SetValue(key, form_text(form, f));
    }
    return nodes_page(c, dict, http_status(error->code));
  }
  auto* created = dict.AddSectionDictionary("CREATED");
  created->SetValue("NAME", node["name"].get<std::string>());
  created->SetValue("TOKEN", token);  // shown once; only its hash is stored
  return nodes_page(c, dict, 201);
}

http::Handler node_action(std::string action) {
  return [action](const http::Call& c) {
    const http::Query form = form_of(c);
    json body = json::object();
    if (const auto date = form_text(form, "deprecated_at"); action == "deprecate" && !date.empty()) {
      body["deprecated_at"] = date;
    }
    db::set_build_node_status(c.tx, uuid_param(c.params[0], "id"), action, body.dump());
    return html::redirect("/admin/build-nodes?notice=" + action);
  };
}

}  // namespace

void register_build_node_pages(http::Router& router) {
  router.add({"GET", "/admin/build-nodes", "infrastructure:monitor", list, {}, http::Auth::kPageSession});
  router.add({"POST", "/admin/build-nodes", "infrastructure:configure", register_node, {}, http::Auth::kPageSession});
  for (const char* action : {"drain", "resume", "deprecate"}) {
    router.add({"POST", std::string("/admin/build-nodes/{id}/") + action, "infrastructure:manage", node_action(action),
                {}, http::Auth::kPageSession});
  }
}

}  // namespace kiln::handlers
