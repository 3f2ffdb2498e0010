// Inputs the fuzz targets (fuzz/) found that broke a parser, each kept as a regression test
// here and as a seed in fuzz/corpus/<target>/.
#include <gtest/gtest.h>

#include <string>

#include "k8s/base64.hpp"
#include "k8s/kubeconfig.hpp"
#include "k8s/pipeline_template.hpp"
#include "k8s/yaml_text.hpp"

namespace kiln::k8s {
namespace {

std::string config(const std::string& user, const std::string& top = "current-context: prod\n") {
  return "apiVersion: v1\nkind: Config\n" + top +
         "clusters:\n- name: c1\n  cluster:\n    server: https://api.example:6443\n"
         "users:\n- name: u1\n  user:\n" + user +
         "contexts:\n- name: prod\n  context:\n    cluster: c1\n    user: u1\n";
}

std::string field_of(const std::string& yaml) {
  try {
    parse_kubeconfig(yaml);
  } catch (const KubeconfigError& e) {
    return e.field;
  }
  return "(accepted)";
}

// fuzz_kubeconfig, crash-2e04806f…: a *-data field whose base64 decodes to bytes that are
// not text (one flipped bit) passed the PEM check, and storing the credentials threw
// nlohmann's type_error 316 (invalid UTF-8): a 500 on upload instead of a 400.
TEST(FuzzRegressions, KubeconfigPemDataThatIsNotTextIsRefusedNamingTheField) {
  const std::string key = "-----BEGIN EC PRIVATE KEY-----\nMHc\xff\xfe\n-----END EC PRIVATE KEY-----\n";
  const std::string cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  EXPECT_EQ(field_of(config("    client-certificate-data: " + base64_encode(cert) + "\n    client-key-data: " +
                            base64_encode(key) + "\n")),
            "users[u1].user.client-key-data");
}

// The same for plain strings: YAML does not check UTF-8, the stored JSON needs it.
TEST(FuzzRegressions, KubeconfigStringsThatAreNotUtf8AreRefusedNamingTheField) {
  EXPECT_EQ(field_of(config("    token: \"abc\xc3\"\n")), "users[u1].user.token");
  EXPECT_EQ(field_of(config("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: aws\n"
                            "      interactiveMode: Never\n      args: [\"\xed\xa0\x80\"]\n")),
            "users[u1].user.exec.args");
  EXPECT_EQ(field_of(config("    token: t\n", "")), "(accepted)");  // the only context is taken
  const Credentials c = parse_kubeconfig(config("    token: \"t\xe2\x9c\x93\"\n"));
  EXPECT_EQ(c.token, "t\xe2\x9c\x93");
  EXPECT_EQ(credentials_from_json(credentials_to_json(c)).token, c.token);
}

// fuzz_template_text, crash-31bc2d8a…: a template whose leading comment is YAML but not a map
// (here the scalar "kiln-templ") made parse_declaration throw yaml-cpp's BadSubscript, which
// no caller catches: a 500 on upload instead of a 400 naming template_yaml.
TEST(FuzzRegressions, TemplateDeclarationThatIsNotAMapIsATemplateError) {
  for (const std::string comment : {"kiln-templ", "- a\n- b", "kiln-template: x", "kiln-template:\n  - name: t"}) {
    try {
      parse_declaration("{{!\n" + comment + "\n}}\napiVersion: tekton.dev/v1\n");
      ADD_FAILURE() << comment;
    } catch (const TemplateError& e) {
      EXPECT_EQ(e.field, "template_yaml") << comment;
    }
  }
  // A parameter that is not a map is refused with the parameter's position.
  try {
    parse_declaration("{{!\nkiln-template:\n  name: t\n  method: m\n  version: '1'\n  parameters: [x, [y]]\n}}\n");
    ADD_FAILURE();
  } catch (const TemplateError& e) {
    EXPECT_EQ(e.field, "parameters[0]");
  }
}

// fuzz_template_text, crash-4581b8cb…: a declaration whose description was not UTF-8 was
// accepted, and answering the declared parameters as JSON threw nlohmann's type_error 316.
TEST(FuzzRegressions, TemplateTextThatIsNotUtf8IsATemplateError) {
  const std::string text =
      "{{!\nkiln-template:\n  name: t\n  method: m\n  version: '1'\n  parameters:\n"
      "    - {name: image, description: \"caf\xe9\"}\n}}\napiVersion: tekton.dev/v1\n";
  try {
    parse_declaration(text);
    ADD_FAILURE() << "accepted";
  } catch (const TemplateError& e) {
    EXPECT_EQ(e.field, "template_yaml");
  }
  EXPECT_THROW(check_template("kind: \"\xc3\x28\"\n", {}), TemplateError);
  EXPECT_NO_THROW(check_template("kind: \"caf\xc3\xa9 \xf0\x9f\x9a\x80\"\n", {}));
}

// fuzz_template_text, timeout-3f060328…: rendered text starting with "," made yaml-cpp's
// LoadAll loop for ever (and grow); yaml_to_json counts documents with a bounded pass.
TEST(FuzzRegressions, YamlThatStartsWithACommaIsRefusedAndDoesNotHang) {
  for (const std::string text : {std::string(", a\n"), std::string(", requirion: tekton.dev/v1\nkind:ml}}\n")}) {
    EXPECT_THROW(yaml_to_json(text), YamlError) << text;
  }
  EXPECT_THROW(yaml_to_json("a: 1\n---\nb: 2\n"), YamlError);
  EXPECT_EQ(yaml_to_json("a: 1\n---\n"), nlohmann::json({{"a", 1}}));
  EXPECT_EQ(yaml_to_json("# only a comment\nkind: PipelineRun\n"), nlohmann::json({{"kind", "PipelineRun"}}));
}

}  // namespace
}  // namespace kiln::k8s
