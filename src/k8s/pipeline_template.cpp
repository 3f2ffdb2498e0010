#include "k8s/pipeline_template.hpp"

#include <ctemplate/template.h>
#include <ctemplate/template_cache.h>
#include <ctemplate/template_emitter.h>
#include <ctemplate/template_modifiers.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <regex>
#include <set>

#include "k8s/yaml_text.hpp"

namespace kiln::k8s {

namespace {

class YamlQuoteModifier : public ctemplate::TemplateModifier {
  void Modify(const char* in, size_t inlen, const ctemplate::PerExpandData*, ctemplate::ExpandEmitter* out,
              const std::string&) const override {
    out->Emit(yaml_quote(std::string_view(in, inlen)));
  }
};

void register_modifier() {
  static std::once_flag once;
  static YamlQuoteModifier modifier;
  std::call_once(once, [] { ctemplate::AddModifier("x-yaml", &modifier); });
}

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::toupper(c); });
  return text;
}

bool dns_label(const std::string& s) {
  static const std::regex kLabel("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  return s.size() <= 63 && std::regex_match(s, kLabel);
}

bool label_value(const std::string& s) {
  static const std::regex kValue("(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?");
  return s.size() <= 63 && std::regex_match(s, kValue);
}

// A template is YAML for Kubernetes and its declaration is stored and answered as JSON:
// both need strict UTF-8 (nlohmann's dump throws on anything else).
void require_utf8(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    int n = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (b < 0x80) {
      ++i;
      continue;
    }
    if (b >= 0xC2 && b <= 0xDF) {
      n = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      n = 2;
      if (b == 0xE0) low = 0xA0;
      if (b == 0xED) high = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      n = 3;
      if (b == 0xF0) low = 0x90;
      if (b == 0xF4) high = 0x8F;
    }
    bool ok = n > 0 && i + static_cast<std::size_t>(n) < s.size();
    for (int k = 1; ok && k <= n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      ok = c >= (k == 1 ? low : 0x80) && c <= (k == 1 ? high : 0xBF);
    }
    if (!ok) {
      throw TemplateError("the template is not valid UTF-8 (at byte " + std::to_string(i) + ")", "template_yaml");
    }
    i += static_cast<std::size_t>(n) + 1;
  }
}

std::string scalar_text(const YAML::Node& n) { return n && n.IsScalar() ? n.Scalar() : std::string(); }

// The value of one parameter as text, checked against its declared type.
std::string typed_value(const TemplateParameter& p, const nlohmann::json& v) {
  const std::string field = "params." + p.name;
  if (p.type == "boolean") {
    if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
    if (v.is_string() && (v == "true" || v == "false")) return v.get<std::string>();
    throw TemplateError(field + " must be a boolean", field);
  }
  if (p.type == "integer") {
    if (v.is_number_integer()) return v.dump();
    if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>()) {
      return std::to_string(static_cast<long long>(v.get<double>()));
    }
    static const std::regex kInt("[-+]?[0-9]{1,18}");
    if (v.is_string() && std::regex_match(v.get<std::string>(), kInt)) return v.get<std::string>();
    throw TemplateError(field + " must be an integer", field);
  }
  if (p.type == "number") {
    if (v.is_number()) return v.dump();
    throw TemplateError(field + " must be a number", field);
  }
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number() || v.is_boolean()) return v.dump();
  throw TemplateError(field + " must be a string", field);
}

}  // namespace

const std::vector<std::string>& builtin_variables() {
  static const std::vector<std::string> kBuiltins = {"NAME",    "NAMESPACE", "BUILD_ID", "EXECUTION_ID",
                                                     "TENANT",  "PROJECT",   "METHOD",   "ATTEMPT",
                                                     "CPU",     "MEMORY",    "DISK_SIZE", "TIME_BUDGET"};
  return kBuiltins;
}

std::vector<TemplateParameter> parameters_from_json(const nlohmann::json& array) {
  if (!array.is_array()) throw TemplateError("parameters must be a list", "parameters");
  std::vector<TemplateParameter> out;
  static const std::regex kName("[a-z][a-z0-9_]{0,62}");
  std::set<std::string> seen;
  for (std::size_t i = 0; i < array.size(); ++i) {
    const auto& item = array[i];
    const std::string at = "parameters[" + std::to_string(i) + "]";
    if (!item.is_object()) throw TemplateError(at + " must be an object {name, type, required, default}", at);
    for (const auto& [key, value] : item.items()) {
      if (key != "name" && key != "type" && key != "required" && key != "default" && key != "description") {
        throw TemplateError("unknown field " + at + "." + key + " (allowed: name, type, required, default, description)",
                            at + "." + key);
      }
    }
    TemplateParameter p;
    if (!item.contains("name") || !item["name"].is_string() || !std::regex_match(item["name"].get<std::string>(), kName)) {
      throw TemplateError(at + ".name must be lower-case letters, digits and _ (starting with a letter)", at + ".name");
    }
    p.name = item["name"].get<std::string>();
    if (!seen.insert(p.name).second) throw TemplateError("parameter " + p.name + " is declared twice", at + ".name");
    const auto& builtins = builtin_variables();
    if (std::find(builtins.begin(), builtins.end(), upper(p.name)) != builtins.end()) {
      throw TemplateError("parameter " + p.name + " clashes with the built-in variable " + upper(p.name), at + ".name");
    }
    p.type = item.value("type", "string");
    if (p.type != "string" && p.type != "integer" && p.type != "number" && p.type != "boolean") {
      throw TemplateError(at + ".type must be string, integer, number or boolean", at + ".type");
    }
    if (item.contains("required") && !item["required"].is_boolean()) {
      throw TemplateError(at + ".required must be true or false", at + ".required");
    }
    p.required = item.value("required", false);
    if (item.contains("default") && !item["default"].is_null()) {
      p.default_value = item["default"].is_string() ? item["default"].get<std::string>() : item["default"].dump();
    }
    if (item.contains("description") && item["description"].is_string()) p.description = item["description"];
    out.push_back(std::move(p));
  }
  return out;
}

nlohmann::json parameters_to_json(const std::vector<TemplateParameter>& parameters) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : parameters) {
    nlohmann::json item = {{"name", p.name}, {"type", p.type}, {"required", p.required}};
    item["default"] = p.default_value ? nlohmann::json(*p.default_value) : nlohmann::json(nullptr);
    if (!p.description.empty()) item["description"] = p.description;
    out.push_back(std::move(item));
  }
  return out;
}

TemplateDeclaration parse_declaration(const std::string& text) {
  require_utf8(text);
  const std::size_t open = text.find("{{!");
  if (open == std::string::npos || text.find_first_not_of(" \t\r\n") != open) {
    throw TemplateError("the template must start with a {{! kiln-template: … }} comment", "template_yaml");
  }
  const std::size_t close = text.find("}}", open);
  if (close == std::string::npos) throw TemplateError("the leading comment is not closed", "template_yaml");
  YAML::Node root;
  try {
    root = YAML::Load(text.substr(open + 3, close - open - 3));
  } catch (const YAML::Exception& e) {
    throw TemplateError("the kiln-template declaration is not valid YAML (line " + std::to_string(e.mark.line + 1) +
                        ")", "template_yaml");
  }
  // A comment that is YAML but not a map (a scalar, a list) has no kiln-template either;
  // yaml-cpp would throw BadSubscript for root["kiln-template"] on a scalar.
  if (!root.IsMap() || !root["kiln-template"] || !root["kiln-template"].IsMap()) {
    throw TemplateError("the leading comment has no kiln-template: map", "template_yaml");
  }
  const YAML::Node d = root["kiln-template"];
  TemplateDeclaration decl;
  decl.name = scalar_text(d["name"]);
  decl.method = scalar_text(d["method"]);
  decl.version = scalar_text(d["version"]);
  decl.description = scalar_text(d["description"]);
  if (decl.name.empty() || decl.method.empty() || decl.version.empty()) {
    throw TemplateError("kiln-template needs name, method and version", "template_yaml");
  }
  nlohmann::json params = nlohmann::json::array();
  if (const YAML::Node ps = d["parameters"]; ps && ps.IsSequence()) {
    for (const auto& p : ps) {
      if (!p.IsMap()) {
        params.push_back(p.IsScalar() ? nlohmann::json(p.Scalar()) : nlohmann::json(nullptr));  // refused below
        continue;
      }
      nlohmann::json item = nlohmann::json::object();
      for (const auto& kv : p) {
        if (!kv.first.IsScalar()) {
          throw TemplateError("kiln-template parameters have a key that is not a string", "template_yaml");
        }
        const std::string key = kv.first.Scalar();
        const std::string value = kv.second.IsScalar() ? kv.second.Scalar() : "";
        if (key == "required") {
          item[key] = value == "true";
        } else if (key == "default" && kv.second.IsNull()) {
          item[key] = nullptr;
        } else {
          item[key] = value;
        }
      }
      params.push_back(item);
    }
  }
  decl.parameters = parameters_from_json(params);
  if (const YAML::Node ph = d["placeholders"]; ph && ph.IsSequence()) {
    for (const auto& p : ph) decl.placeholders.push_back(p.Scalar());
  }
  return decl;
}

std::vector<std::string> template_variables(const std::string& text) {
  static const std::regex kVariable(R"(\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(:[^}]*)?\}\})");
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kVariable); it != std::sregex_iterator(); ++it) {
    const std::string name = (*it)[1].str();
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  return out;
}

void check_template(const std::string& text, const std::vector<TemplateParameter>& parameters) {
  register_modifier();
  require_utf8(text);
  static const std::regex kVariable(R"(\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(:[^}]*)?\}\})");
  static const std::regex kDirective(R"(\{\{\s*([>%=&{]))");
  if (std::smatch m; std::regex_search(text, m, kDirective)) {
    throw TemplateError("the template may not use " + m[0].str() +
                        " (includes, pragmas, delimiter changes and unescaped output are refused)", "template_yaml");
  }
  std::set<std::string> known(builtin_variables().begin(), builtin_variables().end());
  for (const auto& p : parameters) known.insert(upper(p.name));
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kVariable); it != std::sregex_iterator(); ++it) {
    const std::string whole = (*it)[0].str();
    if ((*it)[2].str() != ":x-yaml") {
      throw TemplateError("variable " + whole + " is not escaped: write {{" + (*it)[1].str() + ":x-yaml}}",
                          "template_yaml");
    }
    if (!known.count((*it)[1].str())) {
      throw TemplateError("variable " + whole + " is neither a declared parameter nor a built-in", "template_yaml");
    }
  }
  ctemplate::TemplateCache cache;
  if (!cache.StringToTemplateCache("check", text, ctemplate::STRIP_BLANK_LINES)) {
    throw TemplateError("ctemplate cannot parse the template (unbalanced section?)", "template_yaml");
  }
}

std::string cpu_quantity(double cores) {
  const long milli = std::lround(cores * 1000);
  if (milli % 1000 == 0) return std::to_string(milli / 1000);
  return std::to_string(milli) + "m";
}

std::string memory_quantity(double gib) {
  const long mib = std::lround(gib * 1024);
  if (mib % 1024 == 0) return std::to_string(mib / 1024) + "Gi";
  return std::to_string(mib) + "Mi";
}

nlohmann::json tolerations_for_taints(const nlohmann::json& taints) {
  nlohmann::json out = nlohmann::json::array();
  if (!taints.is_array()) return out;
  for (const auto& t : taints) {
    std::string key;
    std::string value;
    std::string effect;
    if (t.is_string()) {  // key=value:Effect or key:Effect
      std::string s = t.get<std::string>();
      if (const auto colon = s.rfind(':'); colon != std::string::npos) {
        effect = s.substr(colon + 1);
        s = s.substr(0, colon);
      }
      if (const auto eq = s.find('='); eq != std::string::npos) {
        key = s.substr(0, eq);
        value = s.substr(eq + 1);
      } else {
        key = s;
      }
    } else if (t.is_object()) {
      key = t.value("key", "");
      value = t.value("value", "");
      effect = t.value("effect", "");
    }
    if (key.empty()) continue;
    nlohmann::json tol = {{"key", key}};
    if (value.empty()) {
      tol["operator"] = "Exists";
    } else {
      tol["operator"] = "Equal";
      tol["value"] = value;
    }
    if (!effect.empty()) tol["effect"] = effect;
    out.push_back(std::move(tol));
  }
  return out;
}

Rendered render_pipeline_run(const RenderInput& in) {
  check_template(in.template_text, in.parameters);
  if (!dns_label(in.name)) throw TemplateError("the PipelineRun name " + in.name + " is not a DNS label", "name");
  if (!dns_label(in.namespace_name)) {
    throw TemplateError("the namespace " + in.namespace_name + " is not a DNS label", "namespace");
  }
  if (!in.params.is_object()) throw TemplateError("params must be an object", "params");
  ctemplate::TemplateDictionary dict("run");
  for (const auto& item : in.params.items()) {
    const std::string& key = item.key();  // not a structured binding: clang 14 (the fuzz build) cannot capture one
    const bool declared = std::any_of(in.parameters.begin(), in.parameters.end(),
                                      [&](const TemplateParameter& p) { return p.name == key; });
    if (!declared) {
      throw TemplateError("unknown parameter params." + key + " (the template " + in.template_ref + " declares no " +
                          key + ")", "params." + key);
    }
  }
  for (const auto& p : in.parameters) {
    std::optional<std::string> value;
    if (in.params.contains(p.name) && !in.params[p.name].is_null()) {
      value = typed_value(p, in.params[p.name]);
    } else if (p.required) {
      throw TemplateError("params." + p.name + " is required by the template " + in.template_ref, "params." + p.name);
    } else {
      value = p.default_value;
    }
    dict.SetValue(upper(p.name), value.value_or(""));
    if (value && !value->empty()) dict.ShowSection("HAS_" + upper(p.name));
  }
  dict.SetValue("NAME", in.name);
  dict.SetValue("NAMESPACE", in.namespace_name);
  dict.SetValue("BUILD_ID", in.build_id);
  dict.SetValue("EXECUTION_ID", in.execution_id);
  dict.SetValue("TENANT", in.tenant);
  dict.SetValue("PROJECT", in.project);
  dict.SetValue("METHOD", in.method);
  dict.SetValue("ATTEMPT", std::to_string(in.attempt));
  dict.SetValue("CPU", cpu_quantity(in.size.cpu));
  dict.SetValue("MEMORY", memory_quantity(in.size.memory_gb));
  dict.SetValue("DISK_SIZE", memory_quantity(in.size.disk_gb));
  dict.SetValue("TIME_BUDGET", std::to_string(in.size.time_budget_min) + "m");

  ctemplate::TemplateCache cache;
  if (!cache.StringToTemplateCache("run", in.template_text, ctemplate::STRIP_BLANK_LINES)) {
    throw TemplateError("ctemplate cannot parse the template", "template_yaml");
  }
  cache.Freeze();
  Rendered out;
  if (!cache.ExpandNoLoad("run", ctemplate::STRIP_BLANK_LINES, &dict, nullptr, &out.yaml)) {
    throw TemplateError("the template did not expand", "template_yaml");
  }
  try {
    out.run = yaml_to_json(out.yaml);
  } catch (const YamlError& e) {
    throw TemplateError(std::string("the rendered template is not one YAML document: ") + e.what(), "template_yaml");
  }
  nlohmann::json& run = out.run;
  if (!run.is_object() || run.value("apiVersion", "") != "tekton.dev/v1" || run.value("kind", "") != "PipelineRun") {
    throw TemplateError("the rendered template is not a tekton.dev/v1 PipelineRun", "template_yaml");
  }
  if (!run.contains("spec") || !run["spec"].is_object() || !run["spec"].contains("pipelineSpec") ||
      !run["spec"]["pipelineSpec"].is_object() || !run["spec"]["pipelineSpec"].contains("tasks") ||
      !run["spec"]["pipelineSpec"]["tasks"].is_array()) {
    throw TemplateError("the PipelineRun must embed spec.pipelineSpec with its tasks (Kiln sizes every task)",
                        "template_yaml");
  }
  // Kiln's fields: name, namespace, labels, timeout, placement, size.
  nlohmann::json& meta = run["metadata"];
  if (!meta.is_object()) meta = nlohmann::json::object();
  meta.erase("generateName");
  meta["name"] = in.name;
  meta["namespace"] = in.namespace_name;
  nlohmann::json& labels = meta["labels"];
  if (!labels.is_object()) labels = nlohmann::json::object();
  labels["app.kubernetes.io/managed-by"] = "kiln";
  labels["kiln.dev/build-id"] = in.build_id;
  labels["kiln.dev/tenant-id"] = in.tenant_id;
  if (label_value(in.tenant)) labels["kiln.dev/tenant"] = in.tenant;
  labels["kiln.dev/method"] = in.method;
  labels["kiln.dev/size-step"] = std::to_string(in.size_step);
  nlohmann::json& annotations = meta["annotations"];
  if (!annotations.is_object()) annotations = nlohmann::json::object();
  annotations["kiln.dev/template"] = in.template_ref;
  annotations["kiln.dev/execution-id"] = in.execution_id;
  annotations["kiln.dev/attempt"] = std::to_string(in.attempt);

  nlohmann::json& spec = run["spec"];
  spec["timeouts"] = {{"pipeline", std::to_string(in.size.time_budget_min) + "m"}};
  nlohmann::json& pod = spec["taskRunTemplate"]["podTemplate"];
  if (!pod.is_object()) pod = nlohmann::json::object();
  if (!in.node_selector.empty()) {
    nlohmann::json& selector = pod["nodeSelector"];
    if (!selector.is_object()) selector = nlohmann::json::object();
    for (const auto& [k, v] : in.node_selector) selector[k] = v;
  }
  if (!in.tolerations.empty()) {
    nlohmann::json& tolerations = pod["tolerations"];
    if (!tolerations.is_array()) tolerations = nlohmann::json::array();
    for (const auto& t : in.tolerations) tolerations.push_back(t);
  }
  if (pod.empty()) spec["taskRunTemplate"].erase("podTemplate");
  if (spec["taskRunTemplate"].empty()) spec.erase("taskRunTemplate");

  nlohmann::json& specs = spec["taskRunSpecs"];
  if (!specs.is_array()) specs = nlohmann::json::array();
  const nlohmann::json resources = {
      {"requests", {{"cpu", cpu_quantity(in.size.cpu)}, {"memory", memory_quantity(in.size.memory_gb)}}},
      {"limits", {{"memory", memory_quantity(in.size.memory_gb)}}}};
  std::vector<std::string> tasks;
  for (const char* list : {"tasks", "finally"}) {
    const auto& items = spec["pipelineSpec"].value(list, nlohmann::json::array());
    for (const auto& t : items) {
      if (t.is_object() && t.contains("name") && t["name"].is_string()) tasks.push_back(t["name"]);
    }
  }
  for (const auto& task : tasks) {
    auto it = std::find_if(specs.begin(), specs.end(), [&](const nlohmann::json& s) {
      return s.is_object() && s.value("pipelineTaskName", "") == task;
    });
    if (it == specs.end()) {
      specs.push_back({{"pipelineTaskName", task}, {"computeResources", resources}});
    } else if (!it->contains("computeResources")) {
      (*it)["computeResources"] = resources;
    }
  }
  if (specs.empty()) spec.erase("taskRunSpecs");
  return out;
}

}  // namespace kiln::k8s
