#pragma once
// Tekton pipeline templates (pipelines/tekton/*.yaml, kiln.pipeline_templates): a
// PipelineRun (tekton.dev/v1) written as a ctemplate whose every variable carries the
// :x-yaml modifier, which writes the value as one YAML double-quoted scalar (yaml_quote).
// A template with a variable without it, an include ({{>…}}) or a pragma is refused, so
// no value can ever change the YAML's structure.
//
// Variables: each declared parameter as its upper-case name (git_url → GIT_URL, with a
// HAS_GIT_URL section shown when it has a value) plus the built-ins NAME, NAMESPACE,
// BUILD_ID, EXECUTION_ID, TENANT, PROJECT, METHOD, ATTEMPT, CPU ("2", "500m"), MEMORY
// ("4Gi"), DISK_SIZE ("20Gi") and TIME_BUDGET ("60m").
//
// A template file starts with a ctemplate comment holding its declaration:
//   {{!
//   kiln-template:
//     name: docker-kaniko
//     method: docker
//     version: 1.0.0
//     description: …
//     parameters:
//       - {name: git_url, type: string, required: true, description: …}
//       - {name: dockerfile, type: string, required: false, default: ./Dockerfile}
//     placeholders: [GIT_URL, DOCKERFILE, …]
//   }}
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln::k8s {

// field names what is at fault: "template_yaml", "parameters[2].name", "params.git_url".
struct TemplateError : std::runtime_error {
  std::string field;
  TemplateError(const std::string& message, std::string fld) : std::runtime_error(message), field(std::move(fld)) {}
};

struct TemplateParameter {
  std::string name;
  std::string type = "string";  // string, integer, number, boolean
  bool required = false;
  std::optional<std::string> default_value;
  std::string description;
};

struct TemplateDeclaration {
  std::string name;
  std::string method;
  std::string version;
  std::string description;
  std::vector<TemplateParameter> parameters;
  std::vector<std::string> placeholders;
};

// The built-in variables every template may use.
const std::vector<std::string>& builtin_variables();

// The declaration in a template file's leading comment. Throws TemplateError.
TemplateDeclaration parse_declaration(const std::string& template_text);
// Parameters from/to their JSON form ([{name,type,required,default,description}]).
std::vector<TemplateParameter> parameters_from_json(const nlohmann::json& array);
nlohmann::json parameters_to_json(const std::vector<TemplateParameter>& parameters);

// The variables a template uses, in order of first use (sections and comments excluded).
std::vector<std::string> template_variables(const std::string& template_text);
// Throws TemplateError when a variable lacks :x-yaml, an include or pragma appears, a
// variable is neither a declared parameter nor a built-in, or ctemplate cannot parse it.
void check_template(const std::string& template_text, const std::vector<TemplateParameter>& parameters);

struct Size {
  double cpu = 1;
  double memory_gb = 1;
  double disk_gb = 10;
  int time_budget_min = 30;
};

struct RenderInput {
  std::string template_text;
  std::string template_ref;  // "name@version", for an annotation
  std::vector<TemplateParameter> parameters;
  nlohmann::json params = nlohmann::json::object();  // the build's parameters
  std::string name;                                   // the PipelineRun's name
  std::string namespace_name;
  std::string build_id;
  std::string execution_id;
  std::string tenant;
  std::string tenant_id;
  std::string project;
  std::string method;
  int attempt = 1;
  int size_step = 0;
  Size size;
  std::map<std::string, std::string> node_selector;
  nlohmann::json tolerations = nlohmann::json::array();
};

struct Rendered {
  std::string yaml;        // the template expanded (what an admin previews)
  nlohmann::json run;      // the PipelineRun to create, with Kiln's fields applied
};

// Renders and checks a PipelineRun. Throws TemplateError: a missing required or unknown
// parameter, a value of the wrong type (field "params.<name>"), or a template whose
// output is not one PipelineRun document.
Rendered render_pipeline_run(const RenderInput& input);

// Kubernetes quantities: 2 → "2", 0.5 → "500m"; 4 GiB → "4Gi", 0.5 → "512Mi".
std::string cpu_quantity(double cores);
std::string memory_quantity(double gib);
// Tolerations for a node pool's taints ("key=value:Effect" strings or {key,value,effect}).
nlohmann::json tolerations_for_taints(const nlohmann::json& taints);

}  // namespace kiln::k8s
