// Build parameters through the pipeline templates, the property the escaping modifiers
// promise: whatever a value holds, it arrives as exactly that value and changes nothing
// around it.
//  - :x-yaml (k8s::yaml_quote): the shipped Tekton template docker.yaml rendered with the
//    input's values parses as one PipelineRun whose spec.params carry the values unchanged
//    (invalid UTF-8 becomes U+FFFD, the only change allowed), and yaml_quote alone
//    round-trips through yaml-cpp.
//  - :x-shell (dispatch::shell_quote): read back with POSIX sh's quoting rules, the quoted
//    value is one word equal to the value, and the shipped build-node template script.sh
//    runs `exec /bin/sh -ec <that word>` as its last line.
#include <fuzzer/FuzzedDataProvider.h>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "check.hpp"
#include "dispatch/render.hpp"
#include "k8s/pipeline_template.hpp"
#include "k8s/yaml_text.hpp"

namespace {

const std::filesystem::path kRoot(KILN_SOURCE_DIR);

std::string read(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// What yaml_quote promises to keep: the text itself when it is valid UTF-8; otherwise
// each invalid byte replaced. The checks below compare only valid UTF-8 exactly.
void check_yaml_scalar(const std::string& value) {
  const std::string quoted = kiln::k8s::yaml_quote(value);
  FUZZ_CHECK(kiln::fuzz::valid_utf8(quoted), "yaml_quote wrote invalid UTF-8");
  const YAML::Node doc = YAML::Load("k: " + quoted + "\n");
  FUZZ_CHECK(doc.IsMap() && doc.size() == 1 && doc["k"].IsScalar(), "a quoted value changed the YAML's shape");
  if (kiln::fuzz::valid_utf8(value)) FUZZ_CHECK(doc["k"].Scalar() == value, "yaml_quote does not round-trip");
}

// sh's reading of a word: '…' quotes everything up to the next ', \x outside quotes is x.
// Returns false when the text is not exactly one word made of those parts.
bool read_shell_word(const std::string& text, std::string& word) {
  std::size_t i = 0;
  if (text.empty()) return false;
  while (i < text.size()) {
    if (text[i] == '\'') {
      const std::size_t close = text.find('\'', i + 1);
      if (close == std::string::npos) return false;
      word.append(text, i + 1, close - i - 1);
      i = close + 1;
    } else if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == '\'') {
      word += '\'';
      i += 2;
    } else {
      return false;  // anything else unquoted (a space, ;, $, `, |, a newline) is outside the word
    }
  }
  return true;
}

void check_shell_word(const std::string& value) {
  const std::string quoted = kiln::dispatch::shell_quote(value);
  std::string word;
  FUZZ_CHECK(read_shell_word(quoted, word), "shell_quote's output is not one quoted word");
  FUZZ_CHECK(word == value, "shell_quote does not round-trip");
}

const std::string& tekton_template() {
  static const std::string text = read(kRoot / "pipelines" / "tekton" / "docker.yaml");
  return text;
}

void check_pipeline_run(const std::string& git_url, const std::string& image, const std::string& dockerfile) {
  static const kiln::k8s::TemplateDeclaration decl = kiln::k8s::parse_declaration(tekton_template());
  kiln::k8s::RenderInput in;
  in.template_text = tekton_template();
  in.template_ref = decl.name + "@" + decl.version;
  in.parameters = decl.parameters;
  in.params = {{"git_url", git_url}, {"image", image}, {"dockerfile", dockerfile}, {"git_revision", image}};
  in.name = "kiln-0f3c2b1a-9d8e-4f7a-b6c5-d4e3f2a1b0c9-s0";
  in.namespace_name = "kiln-acme";
  in.build_id = "0f3c2b1a-9d8e-4f7a-b6c5-d4e3f2a1b0c9";
  in.execution_id = "11111111-2222-4333-8444-555555555555";
  in.tenant = "acme";
  in.tenant_id = "99999999-8888-4777-8666-555555555555";
  in.project = dockerfile;
  in.method = decl.method;
  kiln::k8s::Rendered r;
  try {
    r = kiln::k8s::render_pipeline_run(in);
  } catch (const kiln::k8s::TemplateError& e) {
    FUZZ_CHECK(false, e.what());
  }
  FUZZ_CHECK(r.run["kind"] == "PipelineRun" && r.run["metadata"]["name"] == in.name, "the PipelineRun changed");
  const auto& params = r.run["spec"]["params"];
  FUZZ_CHECK(params.is_array() && params.size() == 5, "a value changed the number of spec.params");
  const std::pair<const char*, const std::string*> expect[] = {
      {"git_url", &git_url}, {"git_revision", &image}, {"image", &image}, {"dockerfile", &dockerfile}};
  for (const auto& [name, value] : expect) {
    bool found = false;
    for (const auto& p : params) {
      if (p["name"] != name) continue;
      found = true;
      FUZZ_CHECK(p["value"].is_string(), "a parameter value is not a string");
      if (kiln::fuzz::valid_utf8(*value)) FUZZ_CHECK(p["value"] == *value, "a parameter value changed");
    }
    FUZZ_CHECK(found, "a parameter went missing");
  }
}

void check_build_node_script(const std::string& script, const std::string& workdir) {
  static const kiln::dispatch::BuildNodeRenderer renderer(kRoot / "pipelines" / "build-node");
  const nlohmann::json params = {{"script", script}, {"workdir", workdir}};
  const std::string out = renderer.render("script", params, "0f3c2b1a-9d8e-4f7a-b6c5-d4e3f2a1b0c9");
  const std::string last = "exec /bin/sh -ec " + kiln::dispatch::shell_quote(script) + "\n";
  FUZZ_CHECK(out.size() >= last.size() && out.compare(out.size() - last.size(), last.size(), last) == 0,
             "the script is not the quoted last word of the rendered build-node template");
  const std::string cd = "cd -- " + kiln::dispatch::shell_quote(workdir) + "\n";
  FUZZ_CHECK(workdir.empty() || out.find(cd) != std::string::npos, "the workdir line is not quoted as one word");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  const std::string a = fdp.ConsumeRandomLengthString(4096);
  const std::string b = fdp.ConsumeRandomLengthString(4096);
  const std::string c = fdp.ConsumeRemainingBytesAsString();
  for (const std::string* v : {&a, &b, &c}) {
    check_yaml_scalar(*v);
    check_shell_word(*v);
  }
  check_pipeline_run(a.empty() ? "x" : a, b.empty() ? "x" : b, c);
  check_build_node_script(a, b);
  return 0;
}
