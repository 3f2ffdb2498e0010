// /builds/new: the user's build form (build:create). GET shows it for a method and project
// (method tabs are plain links, so it works without JavaScript); POST either refreshes the
// infrastructure recommendation for what was typed (intent=recommend) or submits and
// starts the build (intent=submit) and goes to its page. The infrastructure tab shows the
// recommendation (infrastructure:view) with its confidence — green above 0.8, amber above
// 0.5, red otherwise — and reason, and the options the user may pick, Auto preselected.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>

#include "db/api.hpp"
#include "db/pages_api.hpp"
#include "http/html.hpp"
#include "page_forms.hpp"
#include "routes.hpp"

namespace kiln::handlers {

namespace {

using nlohmann::json;
namespace html = http::html;

constexpr const char* kFlags[] = {"gpu", "high_memory", "airgapped", "legacy_system"};
constexpr const char* kArches[] = {"amd64", "arm64", "ppc64le", "s390x", "riscv64"};
constexpr const char* kSpecs[] = {"cpu", "memory_gb", "disk_gb", "time_budget_min"};

std::string upper(std::string text) {
  for (auto& ch : text) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return text;
}

// The method's declared parameters: its default template's, else the method table's.
json declared_params(const json& page) {
  json out = json::array();
  for (const auto& p : page["template_parameters"]) {
    if (p.is_string()) out.push_back({{"name", p}, {"required", false}});
    if (p.is_object() && p.contains("name")) out.push_back(p);
  }
  std::stable_partition(out.begin(), out.end(), [](const json& p) { return p.value("required", false); });
  if (!out.empty()) return out;
  for (const auto& name : page["required_params"]) out.push_back({{"name", name}, {"required", true}});
  for (const auto& name : page["optional_params"]) out.push_back({{"name", name}, {"required", false}});
  return out;
}

// The build config of a posted form, as POST /api/v1/builds takes it.
json build_body(const http::Query& form, const json& params) {
  json body = {{"project", form_text(form, "project")}, {"method", form_text(form, "method")}};
  json values = json::object();
  for (const auto& p : params) {
    const std::string name = p["name"].get<std::string>();
    if (const auto v = form.text("param_" + name); v && !form_text(form, "param_" + name).empty()) values[name] = *v;
  }
  body["params"] = values;
  json spec = json::object();
  for (const char* key : kSpecs) {
    if (const auto v = form_text(form, std::string("spec_") + key); !v.empty()) spec[key] = number_or_text(v);
  }
  if (!spec.empty()) body["spec"] = spec;
  json req = json::object();
  for (const char* flag : kFlags) {
    if (form.text(std::string("req_") + flag)) req[flag] = true;
  }
  json arch = json::array();
  for (const char* a : kArches) {
    if (form.text(std::string("arch_") + a)) arch.push_back(a);
  }
  if (!arch.empty()) req["arch"] = arch;
  if (const auto hw = form_text(form, "req_custom_hardware"); !hw.empty()) req["custom_hardware"] = hw;
  if (!req.empty()) body["requirements"] = req;
  body["infrastructure_type"] = form_text(form, "infrastructure_type").empty() ? "auto"
                                                                               : form_text(form, "infrastructure_type");
  if (form.text("force_infrastructure")) body["force_infrastructure"] = true;
  return body;
}

void show_recommendation(const http::Call& c, json config, ctemplate::TemplateDictionary& dict) {
  if (!c.principal.has("infrastructure:view") || config["project"].get<std::string>().empty()) return;
  config.erase("params");  // the recommendation is about where, not about what runs
  config["infrastructure_type"] = "auto";
  config.erase("force_infrastructure");
  json rec;
  if (auto error = db::in_savepoint(c.tx, [&] { rec = json::parse(db::page_recommendation(c.tx, config.dump())); })) {
    dict.SetValueAndShowSection("REC_ERROR", error->message, "REC_FAILED");
    return;
  }
  if (rec.contains("error")) {
    dict.SetValueAndShowSection("REC_ERROR", html::text_of(rec["error"]), "REC_FAILED");
    return;
  }
  auto* r = dict.AddSectionDictionary("RECOMMENDATION");
  const double confidence = rec["confidence"].is_number() ? rec["confidence"].get<double>() : 0;
  r->SetValue("TYPE", html::text_of(rec["infrastructure_type"]));
  r->SetValue("REASON", html::text_of(rec["reason"]));
  r->SetValue("CONFIDENCE", std::to_string(std::lround(confidence * 100)) + "%");
  r->SetValue("LEVEL", confidence > 0.8 ? "high" : confidence > 0.5 ? "medium" : "low");
  r->SetValue("ICON", confidence > 0.8 ? "✓" : confidence > 0.5 ? "!" : "✗");
  for (const auto& alt : rec.value("alternatives", json::array())) {
    auto* a = r->AddSectionDictionary("ALTERNATIVE");
    std::string where = html::text_of(alt["infrastructure_type"]);
    if (alt.contains("node_pool")) where += " · " + html::text_of(alt["provider"]) + " / " + html::text_of(alt["node_pool"]);
    a->SetValue("WHERE", where);
    a->SetValue("WHY", html::text_of(alt.value("why", json())));
  }
}

using Typed = std::function<std::string(const std::string&)>;

// Method tabs, projects and the declared parameters with what was typed into them.
void what_to_build(const json& page, const Typed& value, ctemplate::TemplateDictionary& dict) {
  const std::string method = page["method"].get<std::string>();
  const std::string project = page["project"].is_string() ? page["project"].get<std::string>() : "";
  for (const auto& m : page["methods"]) {
    auto* tab = dict.AddSectionDictionary("METHOD_TAB");
    tab->SetValue("METHOD", m["method"].get<std::string>());
    tab->SetValue("PROJECT", project);
    if (m["method"] == method) tab->ShowSection("CURRENT");
  }
  dict.SetValue("METHOD", method);
  dict.SetValue("METHOD_DESCRIPTION", page["description"].get<std::string>());
  for (const auto& p : page["projects"]) {
    auto* o = dict.AddSectionDictionary("PROJECT_OPTION");
    o->SetValue("NAME", p["name"].get<std::string>());
    if (p["name"] == project) o->ShowSection("SELECTED");
  }
  if (page["projects"].empty()) dict.ShowSection("NO_PROJECTS");
  for (const auto& p : declared_params(page)) {
    const std::string name = p["name"].get<std::string>();
    auto* f = dict.AddSectionDictionary(name == "script" || name == "vars" ? "PARAM_TEXTAREA" : "PARAM_INPUT");
    f->SetValue("NAME", name);
    f->SetValue("VALUE", value("param_" + name));
    if (p.value("required", false)) f->ShowSection("REQUIRED");
    if (p.contains("description")) f->SetValueAndShowSection("DESCRIPTION", html::text_of(p["description"]), "HAS_DESCRIPTION");
  }
}

// Declared size (the default size as placeholders) and requirements.
void size_and_requirements(const json& page, const Typed& value, ctemplate::TemplateDictionary& dict) {
  for (const char* key : kSpecs) {
    dict.SetValue("SPEC_" + upper(key), value(std::string("spec_") + key));
    dict.SetValue("DEFAULT_" + upper(key), page["size_default"].is_object() ? html::text_of(page["size_default"][key]) : "");
  }
  for (const char* flag : kFlags) {
    if (!value(std::string("req_") + flag).empty()) dict.ShowSection("REQ_" + upper(flag));
  }
  for (const char* a : kArches) {
    auto* box = dict.AddSectionDictionary("ARCH");
    box->SetValue("ARCH", a);
    if (!value(std::string("arch_") + a).empty()) box->ShowSection("CHECKED");
  }
  dict.SetValue("CUSTOM_HARDWARE", value("req_custom_hardware"));
}

// The options the user may pick (Auto unless another was posted).
void infrastructure_options(const http::Call& c, const json& page, const Typed& value,
                            ctemplate::TemplateDictionary& dict) {
  const json& infra = page["infrastructure"];
  const bool can_pick = infra.value("can_select", false) && c.principal.has("build:create:with-infra");
  const std::string picked = value("infrastructure_type").empty() ? "auto" : value("infrastructure_type");
  for (const auto& t : infra["types"]) {
    const std::string type = t["type"].get<std::string>();
    if (type != "auto" && !can_pick && !infra.value("can_force", false)) continue;
    auto* o = dict.AddSectionDictionary("INFRA_OPTION");
    o->SetValue("TYPE", type);
    o->SetValue("NAME", t["name"].get<std::string>());
    o->SetValue("DESCRIPTION", t["description"].get<std::string>());
    if (type == picked) o->ShowSection("CHECKED");
    // An admin override is honoured whatever is available; a pick must be available.
    if (!t["available"].get<bool>() && !infra.value("can_force", false)) o->ShowSection("UNAVAILABLE");
  }
  if (!value("force_infrastructure").empty()) dict.ShowSection("FORCE_CHECKED");
}

http::Response render(const http::Call& c, const json& page, const http::Query* form, const Error* error) {
  ctemplate::TemplateDictionary dict("build_form");
  const Typed value = [&](const std::string& name) { return form ? form->text(name).value_or("") : std::string(); };
  what_to_build(page, value, dict);
  size_and_requirements(page, value, dict);
  infrastructure_options(c, page, value, dict);
  if (error) show_form_error(dict, *error);
  if (page["project"].is_string()) {
    const json config = form ? build_body(*form, declared_params(page))
                             : json{{"project", page["project"]}, {"method", page["method"]}};
    show_recommendation(c, config, dict);
  }
  return html::page(c, "build_form.tpl", "New build", dict, error ? http_status(error->code) : 200);
}

http::Response show(const http::Call& c) {
  const http::Query q(c.request.query_string);
  q.allow_only({"method", "project"});
  return render(c, json::parse(db::page_build_form(c.tx, q.text("method"), q.text("project"))), nullptr, nullptr);
}

http::Response post(const http::Call& c) {
  const http::Query form = form_of(c);
  const auto method = form_text(form, "method");
  const auto project = form_text(form, "project");
  const json page = json::parse(db::page_build_form(c.tx, method.empty() ? std::nullopt : std::optional(method),
                                                    project.empty() ? std::nullopt : std::optional(project)));
  if (form_text(form, "intent") != "submit") return render(c, page, &form, nullptr);
  std::string id;
  const auto error = db::in_savepoint(c.tx, [&] {
    id = json::parse(db::submit_build(c.tx, build_body(form, declared_params(page)).dump()))["id"].get<std::string>();
    db::start_build(c.tx, id);
  });
  if (error) return render(c, page, &form, &*error);
  return html::redirect("/admin/builds/" + id);
}

}  // namespace

void register_build_form_page(http::Router& router) {
  router.add({"GET", "/builds/new", "build:create", show, {}, http::Auth::kPageSession});
  router.add({"POST", "/builds/new", "build:create", post, {}, http::Auth::kPageSession});
}

}  // namespace kiln::handlers
