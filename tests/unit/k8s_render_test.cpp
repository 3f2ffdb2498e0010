// Pipeline templates: the YAML escaping every value goes through, the template checks, and
// every shipped template rendered with typical and hostile values and parsed back.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "k8s/pipeline_template.hpp"
#include "k8s/yaml_text.hpp"

namespace kiln::k8s {
namespace {

const std::filesystem::path kTemplates = std::filesystem::path(KILN_SOURCE_DIR) / "pipelines" / "tekton";

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Values that would break out of naive YAML in every way YAML (and Tekton) allows.
const std::vector<std::string> kHostile = {
    "a\"b",
    "it's",
    "line1\nline2: injected\n  - list",
    "---\napiVersion: v1\nkind: Secret",
    "...",
    "{{NAME}}",
    "{{NAME:x-yaml}}",
    "$(params.image)",
    "$(context.pipelineRun.name)",
    "key: value",
    "# comment",
    "&anchor *alias !!binary",
    "- item",
    "[1, 2]",
    "{a: b}",
    "\\\"\\n",
    "tab\there",
    "cr\rlf",
    std::string("nul\0byte", 8),
    "\x7f\xc2\x85nel\xe2\x80\xa8ls\xe2\x80\xa9ps\xef\xbb\xbf",
    "\xff\xfe invalid utf8",
    "'; rm -rf / #",
    "true",
    "123",
    "null",
    "~",
    "",
    " leading and trailing ",
    "ünïcödé ✓ 🚀",
};

TEST(YamlQuote, ParsesBackToTheSameTextForEveryHostileValue) {
  for (const auto& value : kHostile) {
    const std::string doc = "key: " + yaml_quote(value) + "\nother: fixed\n";
    nlohmann::json parsed;
    ASSERT_NO_THROW(parsed = yaml_to_json(doc)) << value;
    ASSERT_TRUE(parsed.is_object());
    EXPECT_EQ(parsed.size(), 2u) << value;
    ASSERT_TRUE(parsed["key"].is_string()) << value;
    std::string expected = value;
    if (value.find('\xff') != std::string::npos) expected = "\xef\xbf\xbd\xef\xbf\xbd invalid utf8";
    EXPECT_EQ(parsed["key"].get<std::string>(), expected) << value;
    EXPECT_EQ(parsed["other"], "fixed");
  }
}

TEST(YamlQuote, EscapesQuotesBackslashesControlsAndYamlLineBreaks) {
  EXPECT_EQ(yaml_quote("plain"), "\"plain\"");
  EXPECT_EQ(yaml_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(yaml_quote("a\nb"), "\"a\\nb\"");
  EXPECT_EQ(yaml_quote("\xe2\x80\xa8"), "\"\\u2028\"");
  EXPECT_EQ(yaml_quote(std::string("\0", 1)), "\"\\u0000\"");
}

TEST(YamlToJson, ResolvesPlainScalarsAndKeepsQuotedOnesAsStrings) {
  const auto j = yaml_to_json("a: true\nb: 12\nc: 1.5\nd: ~\ne: \"true\"\nf: '12'\ng: text\nh: [x, 2]\n");
  EXPECT_EQ(j["a"], true);
  EXPECT_EQ(j["b"], 12);
  EXPECT_EQ(j["c"], 1.5);
  EXPECT_TRUE(j["d"].is_null());
  EXPECT_EQ(j["e"], "true");
  EXPECT_EQ(j["f"], "12");
  EXPECT_EQ(j["g"], "text");
  EXPECT_EQ(j["h"], nlohmann::json::array({"x", 2}));
}

TEST(YamlToJson, RefusesSeveralDocumentsAndDuplicateKeys) {
  EXPECT_THROW(yaml_to_json("a: 1\n---\nb: 2\n"), YamlError);
  EXPECT_THROW(yaml_to_json("a: 1\na: 2\n"), YamlError);
  EXPECT_THROW(yaml_to_json("a: [1\n"), YamlError);
}

TEST(CheckTemplate, RefusesVariablesWithoutTheYamlModifier) {
  const std::vector<TemplateParameter> params = {{"image", "string", true, std::nullopt, ""}};
  EXPECT_NO_THROW(check_template("a: {{IMAGE:x-yaml}}\n{{#HAS_IMAGE}}b: 1\n{{/HAS_IMAGE}}", params));
  EXPECT_THROW(check_template("a: {{IMAGE}}\n", params), TemplateError);
  EXPECT_THROW(check_template("a: {{IMAGE:none}}\n", params), TemplateError);
  EXPECT_THROW(check_template("a: {{IMAGE:x-yaml:h}}\n", params), TemplateError);
  try {
    check_template("a: {{IMAGE:j}}\n", params);
    FAIL();
  } catch (const TemplateError& e) {
    EXPECT_NE(std::string(e.what()).find("{{IMAGE:j}}"), std::string::npos) << e.what();
  }
}

TEST(CheckTemplate, RefusesIncludesPragmasDelimiterChangesAndUnknownVariables) {
  const std::vector<TemplateParameter> params;
  EXPECT_THROW(check_template("{{>OTHER}}", params), TemplateError);
  EXPECT_THROW(check_template("{{%AUTOESCAPE context=\"HTML\"}}", params), TemplateError);
  EXPECT_THROW(check_template("{{=<% %>=}}<%X%>", params), TemplateError);
  EXPECT_THROW(check_template("a: {{SECRET:x-yaml}}", params), TemplateError);
  EXPECT_NO_THROW(check_template("a: {{NAME:x-yaml}} {{BUILD_ID:x-yaml}} {{CPU:x-yaml}}", params));
  EXPECT_THROW(check_template("{{#A}}unclosed", params), TemplateError);
}

TEST(Parameters, AreValidatedWithTheFieldAtFault) {
  try {
    parameters_from_json(nlohmann::json::parse(R"([{"name":"ok"},{"name":"Bad-Name"}])"));
    FAIL();
  } catch (const TemplateError& e) {
    EXPECT_EQ(e.field, "parameters[1].name");
  }
  EXPECT_THROW(parameters_from_json(nlohmann::json::parse(R"([{"name":"a","type":"list"}])")), TemplateError);
  EXPECT_THROW(parameters_from_json(nlohmann::json::parse(R"([{"name":"a"},{"name":"a"}])")), TemplateError);
  EXPECT_THROW(parameters_from_json(nlohmann::json::parse(R"([{"name":"name"}])")), TemplateError);
  EXPECT_THROW(parameters_from_json(nlohmann::json::parse(R"([{"name":"a","extra":1}])")), TemplateError);
}

TEST(Quantities, AreKubernetesQuantities) {
  EXPECT_EQ(cpu_quantity(2), "2");
  EXPECT_EQ(cpu_quantity(0.5), "500m");
  EXPECT_EQ(cpu_quantity(1.25), "1250m");
  EXPECT_EQ(memory_quantity(4), "4Gi");
  EXPECT_EQ(memory_quantity(0.5), "512Mi");
  EXPECT_EQ(memory_quantity(0.125), "128Mi");
}

TEST(Tolerations, FollowTheNodePoolsTaints) {
  const auto t = tolerations_for_taints(nlohmann::json::parse(
      R"(["gpu=true:NoSchedule", "dedicated:NoExecute", {"key":"kiln","value":"builds","effect":"NoSchedule"}])"));
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0], nlohmann::json::parse(R"({"key":"gpu","operator":"Equal","value":"true","effect":"NoSchedule"})"));
  EXPECT_EQ(t[1], nlohmann::json::parse(R"({"key":"dedicated","operator":"Exists","effect":"NoExecute"})"));
  EXPECT_EQ(t[2]["value"], "builds");
}

// A typical value for each parameter a shipped template declares.
nlohmann::json typical_params(const TemplateDeclaration& d) {
  nlohmann::json p = nlohmann::json::object();
  for (const auto& param : d.parameters) {
    if (param.name == "git_url") p[param.name] = "https://git.example.com/team/app.git";
    else if (param.name == "image") p[param.name] = "registry.example.com/team/app:1.0";
    else if (param.name == "script") p[param.name] = "make test";
    else if (param.name == "template") p[param.name] = "images/base.pkr.hcl";
    else if (param.name == "flake_uri") p[param.name] = ".";
    else if (param.required) p[param.name] = "value";
  }
  return p;
}

RenderInput input_for(const std::string& text, const TemplateDeclaration& d, nlohmann::json params) {
  RenderInput in;
  in.template_text = text;
  in.template_ref = d.name + "@" + d.version;
  in.parameters = d.parameters;
  in.params = std::move(params);
  in.name = "kiln-0f3c2b1a-9d8e-4f7a-b6c5-d4e3f2a1b0c9-s0";
  in.namespace_name = "kiln-acme";
  in.build_id = "0f3c2b1a-9d8e-4f7a-b6c5-d4e3f2a1b0c9";
  in.execution_id = "11111111-2222-4333-8444-555555555555";
  in.tenant = "acme";
  in.tenant_id = "99999999-8888-4777-8666-555555555555";
  in.project = "web";
  in.method = d.method;
  in.size = {2, 4, 20, 45};
  in.node_selector = {{"kiln.dev/pool", "builds"}, {"kubernetes.io/arch", "amd64"}};
  in.tolerations = tolerations_for_taints(nlohmann::json::parse(R"(["kiln=builds:NoSchedule"])"));
  return in;
}

TEST(ShippedTemplates, ExistForEveryMethodAndDeclareWhatTheyUse) {
  std::set<std::string> methods;
  for (const auto& entry : std::filesystem::directory_iterator(kTemplates)) {
    if (entry.path().extension() != ".yaml") continue;
    const std::string text = read(entry.path());
    const TemplateDeclaration d = parse_declaration(text);
    methods.insert(d.method);
    EXPECT_EQ(entry.path().stem().string(), d.method) << "file named after its method";
    EXPECT_NO_THROW(check_template(text, d.parameters)) << entry.path();
    // The header lists every placeholder the template uses, and nothing else.
    std::vector<std::string> used = template_variables(text);
    std::vector<std::string> listed = d.placeholders;
    std::sort(used.begin(), used.end());
    std::sort(listed.begin(), listed.end());
    EXPECT_EQ(used, listed) << entry.path();
    for (const auto& p : d.parameters) {
      EXPECT_TRUE(p.required || p.default_value) << entry.path() << ": optional " << p.name << " needs a default";
    }
  }
  EXPECT_EQ(methods, (std::set<std::string>{"docker", "buildx", "packer", "nix", "paketo", "script"}));
}

TEST(ShippedTemplates, RenderToOnePipelineRunWithKilnsFieldsApplied) {
  for (const auto& entry : std::filesystem::directory_iterator(kTemplates)) {
    if (entry.path().extension() != ".yaml") continue;
    const std::string text = read(entry.path());
    const TemplateDeclaration d = parse_declaration(text);
    const Rendered r = render_pipeline_run(input_for(text, d, typical_params(d)));
    const auto& run = r.run;
    SCOPED_TRACE(entry.path().string());
    EXPECT_EQ(run["apiVersion"], "tekton.dev/v1");
    EXPECT_EQ(run["kind"], "PipelineRun");
    EXPECT_EQ(run["metadata"]["name"], "kiln-0f3c2b1a-9d8e-4f7a-b6c5-d4e3f2a1b0c9-s0");
    EXPECT_EQ(run["metadata"]["namespace"], "kiln-acme");
    EXPECT_EQ(run["metadata"]["labels"]["kiln.dev/build-id"], "0f3c2b1a-9d8e-4f7a-b6c5-d4e3f2a1b0c9");
    EXPECT_EQ(run["metadata"]["labels"]["kiln.dev/tenant"], "acme");
    EXPECT_EQ(run["metadata"]["labels"]["app.kubernetes.io/managed-by"], "kiln");
    EXPECT_EQ(run["spec"]["timeouts"], nlohmann::json::parse(R"({"pipeline":"45m"})"));
    const auto& pod = run["spec"]["taskRunTemplate"]["podTemplate"];
    EXPECT_EQ(pod["nodeSelector"]["kiln.dev/pool"], "builds");
    EXPECT_EQ(pod["tolerations"][0]["key"], "kiln");
    const auto& tasks = run["spec"]["pipelineSpec"]["tasks"];
    ASSERT_EQ(run["spec"]["taskRunSpecs"].size(), tasks.size());
    for (const auto& s : run["spec"]["taskRunSpecs"]) {
      EXPECT_EQ(s["computeResources"]["requests"]["cpu"], "2");
      EXPECT_EQ(s["computeResources"]["requests"]["memory"], "4Gi");
      EXPECT_EQ(s["computeResources"]["limits"]["memory"], "4Gi");
    }
    EXPECT_EQ(run["spec"]["workspaces"][0]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"], "20Gi");
    // Every pipeline param is given, and the run's params are exactly the declared ones.
    std::set<std::string> given;
    for (const auto& p : run["spec"]["params"]) given.insert(p["name"].get<std::string>());
    std::set<std::string> declared;
    for (const auto& p : d.parameters) declared.insert(p.name);
    EXPECT_EQ(given, declared);
  }
}

TEST(ShippedTemplates, CarryHostileValuesVerbatimAsParameterValues) {
  for (const auto& entry : std::filesystem::directory_iterator(kTemplates)) {
    if (entry.path().extension() != ".yaml") continue;
    const std::string text = read(entry.path());
    const TemplateDeclaration d = parse_declaration(text);
    for (const auto& hostile : kHostile) {
      nlohmann::json params = typical_params(d);
      for (const auto& p : d.parameters) {
        if (p.type == "string") params[p.name] = hostile;
      }
      SCOPED_TRACE(entry.path().string() + " with " + hostile);
      Rendered r;
      ASSERT_NO_THROW(r = render_pipeline_run(input_for(text, d, params)));
      std::string expected = hostile;
      if (hostile.find('\xff') != std::string::npos) expected = "\xef\xbf\xbd\xef\xbf\xbd invalid utf8";
      for (const auto& p : r.run["spec"]["params"]) {
        ASSERT_TRUE(p["value"].is_string());
        EXPECT_EQ(p["value"].get<std::string>(), expected);
      }
      // Nothing else moved: the same keys at the top and the same tasks.
      EXPECT_EQ(r.run["kind"], "PipelineRun");
      EXPECT_EQ(r.run["metadata"]["name"], "kiln-0f3c2b1a-9d8e-4f7a-b6c5-d4e3f2a1b0c9-s0");
      EXPECT_EQ(r.run.size(), 4u);
    }
  }
}

TEST(Render, NamesTheMissingOrUnknownParameter) {
  const std::string text = read(kTemplates / "docker.yaml");
  const TemplateDeclaration d = parse_declaration(text);
  try {
    render_pipeline_run(input_for(text, d, {{"image", "x"}}));
    FAIL();
  } catch (const TemplateError& e) {
    EXPECT_EQ(e.field, "params.git_url");
  }
  try {
    render_pipeline_run(input_for(text, d, {{"image", "x"}, {"git_url", "y"}, {"platforms", "z"}}));
    FAIL();
  } catch (const TemplateError& e) {
    EXPECT_EQ(e.field, "params.platforms");
  }
}

TEST(Render, FillsDefaultsAndTypesValues) {
  const std::string text = read(kTemplates / "docker.yaml");
  const TemplateDeclaration d = parse_declaration(text);
  const Rendered r = render_pipeline_run(input_for(text, d, {{"image", "x"}, {"git_url", "y"}}));
  for (const auto& p : r.run["spec"]["params"]) {
    if (p["name"] == "dockerfile") EXPECT_EQ(p["value"], "./Dockerfile");
    if (p["name"] == "git_revision") EXPECT_EQ(p["value"], "");
  }
  TemplateParameter flag{"fast", "boolean", false, std::nullopt, ""};
  EXPECT_THROW(render_pipeline_run([&] {
                 RenderInput in = input_for("apiVersion: tekton.dev/v1\nkind: PipelineRun\nspec: {pipelineSpec: {tasks: []}}\n"
                                            "x: {{FAST:x-yaml}}\n", d, {{"fast", "maybe"}});
                 in.parameters = {flag};
                 return in;
               }()),
               TemplateError);
}

TEST(Render, RefusesTemplatesThatAreNotOnePipelineRun) {
  const TemplateDeclaration d{"t", "script", "1", "", {}, {}};
  EXPECT_THROW(render_pipeline_run(input_for("kind: Pod\n", d, nlohmann::json::object())), TemplateError);
  EXPECT_THROW(render_pipeline_run(input_for("apiVersion: tekton.dev/v1\nkind: PipelineRun\nspec: {}\n---\nkind: Secret\n", d,
                                             nlohmann::json::object())),
               TemplateError);
  EXPECT_THROW(render_pipeline_run(input_for("apiVersion: tekton.dev/v1\nkind: PipelineRun\nspec:\n  pipelineRef: {name: x}\n", d,
                                             nlohmann::json::object())),
               TemplateError);
}

}  // namespace
}  // namespace kiln::k8s
