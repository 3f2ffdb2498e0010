// /admin/providers: the Kubernetes providers (infrastructure:monitor) with health, node
// pools and credential kind — never the credentials; add one from a kubeconfig
// (infrastructure:configure), edit display name, capabilities and node pools, delete
// (infrastructure:manage), and ask a dispatcher to test the connection (configure). Adding
// and editing go through the API's own handlers (handlers/providers.cpp), which parse and
// encrypt the kubeconfig: the page only turns its form into their JSON body.
#include <cctype>
#include <map>
#include <vector>

#include "db/k8s_api.hpp"
#include "http/html.hpp"
#include "page_forms.hpp"
#include "path_params.hpp"
#include "routes.hpp"

namespace kiln::handlers {

namespace {

using nlohmann::json;
namespace html = http::html;

constexpr const char* kCapabilities[] = {"gpu", "high_memory", "arm64", "airgapped", "legacy_system"};
constexpr const char* kTypes[] = {"eks", "gke", "aks", "oke", "vks", "openshift", "rancher", "kubernetes"};
const std::string kAnyId = "00000000-0000-0000-0000-000000000000";

struct ApiHandlers {
  http::Handler create, update, remove;
};

std::string upper(std::string text) {
  for (auto& ch : text) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return text;
}

std::string pools_text(const json& pools) {
  json out = json::array();
  for (const auto& p : pools) {
    json pool = {{"name", p["name"]}, {"capabilities", p["capabilities"]}};
    if (!p["labels"].empty()) pool["labels"] = p["labels"];
    if (!p["capacity"].empty()) pool["capacity"] = p["capacity"];
    out.push_back(pool);
  }
  return out.dump(2);
}

void provider_rows(const http::Call& c, const json& list, ctemplate::TemplateDictionary& dict) {
  for (const auto& p : list["items"]) {
    auto* row = dict.AddSectionDictionary("PROVIDER");
    html::show_permissions(*row, c.principal);
    for (const char* key : {"id", "name", "display_name", "provider_type", "api_server"}) {
      row->SetValue(upper(key), html::text_of(p[key]));
    }
    row->SetValue("HEALTH", html::text_of(p["health"]["status"]));
    row->SetValue("CHECKED_AT", html::time_text(p["health"]["checked_at"]));
    for (const auto& check : p["health"]["checks"]) {
      auto* ck = row->AddSectionDictionary("CHECK");
      ck->SetValue("NAME", html::text_of(check.value("name", json())));
      ck->SetValue("OK", check.value("ok", false) ? "ok" : "failed");
      ck->SetValue("DETAIL", html::text_of(check.value("message", json(""))));
    }
    row->SetValue("ENABLED", p["enabled"].get<bool>() ? "enabled" : "disabled");
    const json& cred = p["credentials"];
    row->SetValue("CREDENTIALS", cred["configured"].get<bool>() ? html::text_of(cred["kind"]) + " · " +
                                                                      html::text_of(cred["fingerprint"]).substr(0, 23)
                                                                : "none");
    std::string caps;
    for (const char* cap : kCapabilities) {
      const bool on = p["capabilities"].value(cap, false);
      if (on) caps += (caps.empty() ? "" : ", ") + std::string(cap);
      if (on) row->ShowSection("CAP_" + upper(cap));
    }
    row->SetValue("CAPABILITIES", caps.empty() ? "—" : caps);
    for (const auto& pool : p["node_pools"]) {
      auto* np = row->AddSectionDictionary("POOL");
      np->SetValue("NAME", pool["name"].get<std::string>());
      std::string pc;
      for (const auto& cap : pool["capabilities"]) pc += (pc.empty() ? "" : ", ") + cap.get<std::string>();
      np->SetValue("CAPABILITIES", pc.empty() ? "—" : pc);
    }
    row->SetValue("POOLS_JSON", pools_text(p["node_pools"]));
    row->SetIntValue("RUNNING", p["running"].get<long long>());
    if (!p["shared"].get<bool>()) row->ShowSection("OWN");
  }
  if (list["items"].empty()) dict.ShowSection("NO_PROVIDERS");
}

http::Response providers_page(const http::Call& c, ctemplate::TemplateDictionary& dict, int status) {
  provider_rows(c, json::parse(db::list_providers(c.tx)), dict);
  for (const char* type : kTypes) dict.AddSectionDictionary("TYPE_OPTION")->SetValue("VALUE", type);
  return html::page(c, "providers.tpl", "Kubernetes providers", dict, status);
}

// The JSON body of the add or edit form: text fields, capability checkboxes, node pools as
// JSON text (an unreadable one is passed as text so that the API names node_pools).
json provider_body(const http::Query& form, bool create) {
  json body = json::object();
  for (const char* key : create ? std::vector<const char*>{"name", "display_name", "provider_type", "kubeconfig",
                                                            "context", "namespace"}
                                : std::vector<const char*>{"display_name"}) {
    if (const auto v = form_text(form, key); !v.empty()) body[key] = v;
  }
  json caps = json::object();
  for (const char* cap : kCapabilities) caps[cap] = form.text(std::string("cap_") + cap).has_value();
  body["capabilities"] = caps;
  if (const auto pools = form_text(form, "node_pools"); !pools.empty()) {
    const json parsed = json::parse(pools, nullptr, false);
    body["node_pools"] = parsed.is_discarded() ? json(pools) : parsed;
  }
  if (!create) body["enabled"] = form.text("enabled").has_value();
  return body;
}

http::Response list(const http::Call& c) {
  const http::Query q(c.request.query_string);
  q.allow_only({"notice"});
  ctemplate::TemplateDictionary dict("providers");
  static const std::map<std::string, std::string> kNotices = {
      {"created", "The provider was added; its credentials are stored encrypted and are never shown."},
      {"updated", "The provider was updated."},
      {"deleted", "The provider was deleted."},
      {"test", "A connection test was requested: a dispatcher runs it and the health column shows its result."}};
  if (const auto n = q.text("notice"); n && kNotices.contains(*n)) {
    dict.SetValueAndShowSection("NOTICE", kNotices.at(*n), "HAS_NOTICE");
  }
  return providers_page(c, dict, 200);
}

http::Handler create(const ApiHandlers& api) {
  return [api](const http::Call& c) {
    const http::Query form = form_of(c);
    if (auto error = db::in_savepoint(c.tx, [&] { call_api(c, api.create, provider_body(form, true)); })) {
      ctemplate::TemplateDictionary dict("providers");
      show_form_error(dict, *error);
      for (const char* key : {"name", "display_name", "context", "namespace", "node_pools"}) {
        dict.SetValue("FORM_" + upper(key), form_text(form, key));
      }
      return providers_page(c, dict, http_status(error->code));
    }
    return html::redirect("/admin/providers?notice=created");
  };
}

http::Handler update(const ApiHandlers& api) {
  return [api](const http::Call& c) {
    const std::string& id = uuid_param(c.params[0], "id");
    const http::Query form = form_of(c);
    if (auto error = db::in_savepoint(c.tx, [&] { call_api(c, api.update, provider_body(form, false), {id}); })) {
      ctemplate::TemplateDictionary dict("providers");
      show_form_error(dict, *error);
      return providers_page(c, dict, http_status(error->code));
    }
    return html::redirect("/admin/providers?notice=updated");
  };
}

}  // namespace

void register_provider_pages(http::Router& router) {
  const ApiHandlers api{api_handler(router, "POST", "/api/v1/admin/providers"),
                        api_handler(router, "PATCH", "/api/v1/admin/providers/" + kAnyId),
                        api_handler(router, "DELETE", "/api/v1/admin/providers/" + kAnyId)};
  if (!api.create || !api.update || !api.remove) return;  // no provider API in this build
  router.add({"GET", "/admin/providers", "infrastructure:monitor", list, {}, http::Auth::kPageSession});
  router.add({"POST", "/admin/providers", "infrastructure:configure", create(api), {}, http::Auth::kPageSession});
  router.add({"POST", "/admin/providers/{id}", "infrastructure:manage", update(api), {}, http::Auth::kPageSession});
  router.add({"POST", "/admin/providers/{id}/delete", "infrastructure:manage", [api](const http::Call& c) {
                call_api(c, api.remove, json::object(), {uuid_param(c.params[0], "id")});
                return html::redirect("/admin/providers?notice=deleted");
              }, {}, http::Auth::kPageSession});
  router.add({"POST", "/admin/providers/{id}/test", "infrastructure:configure", [](const http::Call& c) {
                db::request_provider_check(c.tx, uuid_param(c.params[0], "id"));
                return html::redirect("/admin/providers?notice=test");
              }, {}, http::Auth::kPageSession});
}

}  // namespace kiln::handlers
