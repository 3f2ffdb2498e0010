// /api/v1/admin/pipeline-templates: the Tekton PipelineRun templates per build method
// (pipelines/tekton/, seeded by `kiln migrate`). Admins list them, add versions (checked
// here: every variable escaped for YAML, only declared parameters, renders to one
// PipelineRun), pick each method's default, and preview a render without submitting.
#include <nlohmann/json.hpp>

#include "db/k8s_api.hpp"
#include "http/app.hpp"
#include "http/query.hpp"
#include "json_fields.hpp"
#include "k8s/pipeline_template.hpp"
#include "path_params.hpp"
#include "routes.hpp"

namespace kiln::handlers {

namespace {

Error bad_template(const k8s::TemplateError& e) {
  return Error(Errc::kBadRequest, e.field.starts_with("params.") ? "invalid_param" : "invalid_template", e.what(),
               e.field);
}

// A value of the declared type for a trial render.
nlohmann::json sample_value(const k8s::TemplateParameter& p) {
  if (p.type == "boolean") return true;
  if (p.type == "integer" || p.type == "number") return 1;
  return "sample";
}

k8s::RenderInput base_input(const std::string& text, const std::vector<k8s::TemplateParameter>& parameters,
                            const std::string& ref, const std::string& method) {
  k8s::RenderInput in;
  in.template_text = text;
  in.template_ref = ref;
  in.parameters = parameters;
  in.name = "kiln-00000000-0000-4000-8000-000000000000-s0";
  in.namespace_name = "kiln-preview";
  in.build_id = "00000000-0000-4000-8000-000000000000";
  in.execution_id = "00000000-0000-4000-8000-000000000001";
  in.tenant = "preview";
  in.tenant_id = "00000000-0000-4000-8000-000000000002";
  in.project = "preview";
  in.method = method;
  return in;
}

// Fills parameters (and name, method, version, description) from the template's own
// kiln-template declaration when the body leaves them out, then checks the template.
http::Response create(const http::Call& c) {
  nlohmann::json body = object_body(c.request);
  const std::string text = string_field(body, "template_yaml");
  if (!body.contains("parameters")) {
    try {
      const k8s::TemplateDeclaration d = k8s::parse_declaration(text);
      body["parameters"] = k8s::parameters_to_json(d.parameters);
      if (!body.contains("name")) body["name"] = d.name;
      if (!body.contains("method")) body["method"] = d.method;
      if (!body.contains("version")) body["version"] = d.version;
      if (!body.contains("description")) body["description"] = d.description;
    } catch (const k8s::TemplateError&) {
      throw Error(Errc::kBadRequest, "missing_field",
                  "parameters is required (or declare them in the template's kiln-template comment)", "parameters");
    }
  }
  try {
    const auto parameters = k8s::parameters_from_json(body["parameters"]);
    body["parameters"] = k8s::parameters_to_json(parameters);
    k8s::check_template(text, parameters);
    k8s::RenderInput trial = base_input(text, parameters, "new template", body.value("method", "script"));
    for (const auto& p : parameters) {
      if (p.required) trial.params[p.name] = sample_value(p);
    }
    k8s::render_pipeline_run(trial);
  } catch (const k8s::TemplateError& e) {
    throw bad_template(e);
  }
  return http::Response::json(201, db::create_pipeline_template(c.tx, body.dump()));
}

// POST …/{id}/render {"params": {…}, "spec": {cpu, memory_gb, disk_gb, time_budget_min},
// "node_pool": {"labels": {…}, "taints": […]}}: the rendered template and the PipelineRun
// the dispatcher would create (in the caller's namespace kiln-<tenant>), nothing submitted.
http::Response render(const http::Call& c) {
  const nlohmann::json body = object_body(c.request);
  allow_fields(body, {"params", "spec", "node_pool"});
  const auto t = nlohmann::json::parse(db::get_pipeline_template(c.tx, uuid_param(c.params[0], "id")));
  try {
    const std::string ref = t["name"].get<std::string>() + "@" + t["version"].get<std::string>();
    k8s::RenderInput in = base_input(t["template_yaml"], k8s::parameters_from_json(t["parameters"]), ref, t["method"]);
    if (t.contains("tenant") && t["tenant"].is_string()) {
      in.tenant = t["tenant"];
      in.namespace_name = "kiln-" + in.tenant;
      in.tenant_id = t["tenant_id"];
    }
    in.params = body.value("params", nlohmann::json::object());
    if (!in.params.is_object()) throw Error(Errc::kBadRequest, "invalid_type", "params must be an object", "params");
    const auto spec = body.value("spec", nlohmann::json::object());
    if (!spec.is_object()) throw Error(Errc::kBadRequest, "invalid_type", "spec must be an object", "spec");
    for (const auto& [key, value] : spec.items()) {
      if (!value.is_number() || value.get<double>() <= 0) {
        throw Error(Errc::kBadRequest, "invalid_value", "spec." + key + " must be a positive number", "spec." + key);
      }
      if (key == "cpu") in.size.cpu = value;
      else if (key == "memory_gb") in.size.memory_gb = value;
      else if (key == "disk_gb") in.size.disk_gb = value;
      else if (key == "time_budget_min") in.size.time_budget_min = value.get<int>();
      else throw Error(Errc::kBadRequest, "unknown_field", "unknown field spec." + key, "spec." + key);
    }
    const auto pool = body.value("node_pool", nlohmann::json::object());
    if (pool.contains("labels") && pool["labels"].is_object()) {
      for (const auto& [k, v] : pool["labels"].items()) {
        if (!v.is_string()) throw Error(Errc::kBadRequest, "invalid_type", "node_pool.labels." + k + " must be a string",
                                        "node_pool.labels." + k);
        in.node_selector[k] = v;
      }
    }
    if (pool.contains("taints")) in.tolerations = k8s::tolerations_for_taints(pool["taints"]);
    const k8s::Rendered r = k8s::render_pipeline_run(in);
    return http::Response::json(200, nlohmann::json{{"template_id", t["id"]}, {"template", ref},
                                                    {"yaml", r.yaml}, {"pipeline_run", r.run}}
                                         .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } catch (const k8s::TemplateError& e) {
    throw bad_template(e);
  }
}

}  // namespace

void register_pipeline_template_routes(http::Router& router) {
  router.add({"GET", "/api/v1/admin/pipeline-templates", "infrastructure:monitor", [](const http::Call& c) {
                const http::Query q(c.request.query_string);
                q.allow_only({"method"});
                return http::Response::json(200, db::list_pipeline_templates(c.tx, q.text("method")));
              }, {}});
  router.add({"GET", "/api/v1/admin/pipeline-templates/{id}", "infrastructure:monitor", [](const http::Call& c) {
                auto t = nlohmann::json::parse(db::get_pipeline_template(c.tx, uuid_param(c.params[0], "id")));
                t.erase("tenant");
                t.erase("tenant_id");
                return http::Response::json(200, t.dump());
              }, {}});
  router.add({"POST", "/api/v1/admin/pipeline-templates", "infrastructure:configure", create, {}});
  router.add({"POST", "/api/v1/admin/pipeline-templates/{id}/default", "infrastructure:manage", [](const http::Call& c) {
                return http::Response::json(200, db::set_default_pipeline_template(c.tx, uuid_param(c.params[0], "id")));
              }, {}});
  router.add({"POST", "/api/v1/admin/pipeline-templates/{id}/render", "infrastructure:configure", render, {}});
}

}  // namespace kiln::handlers
