// Pipeline template text as an admin uploads it (POST /api/v1/admin/pipeline-templates):
// parse_declaration, check_template and, for a template that passes, render_pipeline_run
// with its declared parameters. Properties: only TemplateError escapes, the declared
// parameters survive their JSON form (never a ctemplate
// or yaml-cpp failure, never a crash), every TemplateError names a field, and a render that
// succeeds is a tekton.dev/v1 PipelineRun carrying Kiln's name and namespace.
#include <cstdint>
#include <string>

#include "check.hpp"
#include "k8s/pipeline_template.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const kiln::k8s::TemplateDeclaration d = kiln::k8s::parse_declaration(text);
    // What kiln-api stores and answers: the declared parameters as JSON.
    const nlohmann::json declared = kiln::k8s::parameters_to_json(d.parameters);
    FUZZ_CHECK(kiln::k8s::parameters_from_json(nlohmann::json::parse(declared.dump())).size() == d.parameters.size(),
               "the declared parameters do not survive their JSON form");
    kiln::k8s::check_template(text, d.parameters);
    kiln::k8s::RenderInput in;
    in.template_text = text;
    in.template_ref = d.name + "@" + d.version;
    in.parameters = d.parameters;
    for (const auto& p : d.parameters) {
      if (p.required) in.params[p.name] = p.type == "boolean" ? nlohmann::json(true) : nlohmann::json("1");
    }
    in.name = "kiln-0f3c2b1a-9d8e-4f7a-b6c5-d4e3f2a1b0c9-s0";
    in.namespace_name = "kiln-acme";
    in.build_id = "0f3c2b1a-9d8e-4f7a-b6c5-d4e3f2a1b0c9";
    in.method = d.method;
    const kiln::k8s::Rendered r = kiln::k8s::render_pipeline_run(in);
    FUZZ_CHECK(r.run["apiVersion"] == "tekton.dev/v1" && r.run["kind"] == "PipelineRun", "not a PipelineRun");
    FUZZ_CHECK(r.run["metadata"]["name"] == in.name && r.run["metadata"]["namespace"] == in.namespace_name,
               "the rendered run does not carry Kiln's name and namespace");
  } catch (const kiln::k8s::TemplateError& e) {
    FUZZ_CHECK(!e.field.empty(), "a TemplateError names no field");
  }
  return 0;
}
