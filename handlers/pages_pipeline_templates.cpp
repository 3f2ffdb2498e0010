// /admin/pipeline-templates: the Tekton PipelineRun templates per method and version
// (infrastructure:monitor), which one is each method's default (set: infrastructure:manage);
// one template's page with its parameters and YAML, a render preview and a form for a new
// version, whose validation errors are shown next to it (infrastructure:configure). Adding
// and previewing go through the API's own handlers (handlers/pipeline_templates.cpp).
#include <cctype>

#include "db/k8s_api.hpp"
#include "http/html.hpp"
#include "page_forms.hpp"
#include "path_params.hpp"
#include "routes.hpp"

namespace kiln::handlers {

namespace {

using nlohmann::json;
namespace html = http::html;

const std::string kAnyId = "00000000-0000-0000-0000-000000000000";

struct ApiHandlers {
  http::Handler create, render;
};

http::Response list(const http::Call& c) {
  const json all = json::parse(db::list_pipeline_templates(c.tx, std::nullopt));
  ctemplate::TemplateDictionary dict("pipeline_templates");
  for (const auto& t : all["items"]) {
    auto* row = dict.AddSectionDictionary("TEMPLATE");
    html::show_permissions(*row, c.principal);
    row->SetValue("ID", t["id"].get<std::string>());
    row->SetValue("METHOD", t["method"].get<std::string>());
    row->SetValue("NAME", t["name"].get<std::string>());
    row->SetValue("VERSION", t["version"].get<std::string>());
    row->SetValue("DESCRIPTION", html::text_of(t.value("description", json())));
    row->SetValue("SOURCE", html::text_of(t.value("source", json())));
    row->SetValue("CREATED", html::time_text(t["created_at"]));
    row->SetIntValue("PARAMETERS", static_cast<long>(t["parameters"].size()));
    row->ShowSection(t["is_default"].get<bool>() ? "DEFAULT" : "NOT_DEFAULT");
  }
  if (all["items"].empty()) dict.ShowSection("NO_TEMPLATES");
  return html::page(c, "pipeline_templates.tpl", "Pipeline templates", dict);
}

// One template's page; form (the posted preview or new-version form) keeps what was typed.
http::Response show_page(const http::Call& c, const std::string& id, const http::Query* form, const Error* error,
                         const json* rendered) {
  const json t = json::parse(db::get_pipeline_template(c.tx, id));
  ctemplate::TemplateDictionary dict("pipeline_template");
  const auto typed = [&](const std::string& name, const std::string& fallback) {
    return form && form->text(name) ? form->text(name).value() : fallback;
  };
  dict.SetValue("ID", id);
  dict.SetValue("NAME", t["name"].get<std::string>());
  dict.SetValue("METHOD", t["method"].get<std::string>());
  dict.SetValue("VERSION", t["version"].get<std::string>());
  dict.SetValue("DESCRIPTION", html::text_of(t.value("description", json(""))));
  if (t["is_default"].get<bool>()) dict.ShowSection("DEFAULT");
  dict.SetValue("YAML", t["template_yaml"].get<std::string>());
  for (const auto& p : t["parameters"]) {
    auto* row = dict.AddSectionDictionary("PARAMETER");
    const std::string name = p["name"].get<std::string>();
    row->SetValue("NAME", name);
    row->SetValue("TYPE", html::text_of(p.value("type", json("string"))));
    row->SetValue("REQUIRED", p.value("required", false) ? "required" : "optional");
    row->SetValue("DESCRIPTION", html::text_of(p.value("description", json(""))));
    row->SetValue("VALUE", typed("param_" + name, ""));
  }
  dict.SetValue("NEW_NAME", typed("name", t["name"].get<std::string>()));
  dict.SetValue("NEW_VERSION", typed("version", ""));
  dict.SetValue("NEW_DESCRIPTION", typed("description", html::text_of(t.value("description", json("")))));
  dict.SetValue("NEW_YAML", typed("template_yaml", t["template_yaml"].get<std::string>()));
  if (error) show_form_error(dict, *error);
  if (rendered) dict.SetValueAndShowSection("RENDERED", (*rendered)["yaml"].get<std::string>(), "HAS_RENDERED");
  return html::page(c, "pipeline_template.tpl", t["name"].get<std::string>() + " " + t["version"].get<std::string>(),
                    dict, error ? http_status(error->code) : 200);
}

http::Handler render(const ApiHandlers& api) {
  return [api](const http::Call& c) {
    const std::string& id = uuid_param(c.params[0], "id");
    const http::Query form = form_of(c);
    const json t = json::parse(db::get_pipeline_template(c.tx, id));
    json params = json::object();
    for (const auto& p : t["parameters"]) {
      const std::string name = p["name"].get<std::string>();
      if (const auto v = form_text(form, "param_" + name); !v.empty()) {
        params[name] = p.value("type", "string") == "string" ? json(v) : number_or_text(v);
      }
    }
    json rendered;
    if (auto error = db::in_savepoint(c.tx, [&] {
          rendered = call_api(c, api.render, {{"params", params}}, {id});
        })) {
      return show_page(c, id, &form, &*error, nullptr);
    }
    return show_page(c, id, &form, nullptr, &rendered);
  };
}

http::Handler create(const ApiHandlers& api) {
  return [api](const http::Call& c) {
    const http::Query form = form_of(c);
    const std::string from = uuid_param(form_text(form, "from"), "from");
    const json t = json::parse(db::get_pipeline_template(c.tx, from));
    json body = {{"name", form_text(form, "name")}, {"method", t["method"]}, {"version", form_text(form, "version")},
                 {"template_yaml", form.text("template_yaml").value_or("")}};
    if (const auto d = form_text(form, "description"); !d.empty()) body["description"] = d;
    json created;
    if (auto error = db::in_savepoint(c.tx, [&] { created = call_api(c, api.create, body); })) {
      return show_page(c, from, &form, &*error, nullptr);
    }
    return html::redirect("/admin/pipeline-templates/" + created["id"].get<std::string>());
  };
}

}  // namespace

void register_pipeline_template_pages(http::Router& router) {
  const ApiHandlers api{api_handler(router, "POST", "/api/v1/admin/pipeline-templates"),
                        api_handler(router, "POST", "/api/v1/admin/pipeline-templates/" + kAnyId + "/render")};
  if (!api.create || !api.render) return;  // no pipeline template API in this build
  router.add({"GET", "/admin/pipeline-templates", "infrastructure:monitor", list, {}, http::Auth::kPageSession});
  router.add({"GET", "/admin/pipeline-templates/{id}", "infrastructure:monitor", [](const http::Call& c) {
                return show_page(c, uuid_param(c.params[0], "id"), nullptr, nullptr, nullptr);
              }, {}, http::Auth::kPageSession});
  router.add({"POST", "/admin/pipeline-templates", "infrastructure:configure", create(api), {},
              http::Auth::kPageSession});
  router.add({"POST", "/admin/pipeline-templates/{id}/render", "infrastructure:configure", render(api), {},
              http::Auth::kPageSession});
  router.add({"POST", "/admin/pipeline-templates/{id}/default", "infrastructure:manage", [](const http::Call& c) {
                db::set_default_pipeline_template(c.tx, uuid_param(c.params[0], "id"));
                return html::redirect("/admin/pipeline-templates");
              }, {}, http::Auth::kPageSession});
}

}  // namespace kiln::handlers
