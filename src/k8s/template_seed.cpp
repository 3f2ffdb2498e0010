#include "k8s/template_seed.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <vector>

#include "db/k8s_api.hpp"
#include "k8s/pipeline_template.hpp"

namespace kiln::k8s {

void seed_pipeline_templates(pqxx::connection& conn, const std::filesystem::path& dir,
                             const std::function<void(const std::string&)>& progress) {
  if (!std::filesystem::is_directory(dir)) {
    throw std::runtime_error(dir.string() + " is not a directory of Tekton pipeline templates (pass --pipelines-dir)");
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  pqxx::work tx(conn);
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    TemplateDeclaration decl;
    try {
      decl = parse_declaration(text.str());
      check_template(text.str(), decl.parameters);
    } catch (const TemplateError& e) {
      throw std::runtime_error(path.string() + ": " + e.what());
    }
    const std::string result = db::seed_pipeline_template(tx, decl.name, decl.method, decl.version, text.str(),
                                                          parameters_to_json(decl.parameters).dump(),
                                                          decl.description);
    if (result == "conflict") {
      progress("pipeline template " + decl.name + " " + decl.version + " (" + path.filename().string() +
               ") differs from the seeded copy; it was NOT updated: bump its version");
    } else if (result != "unchanged") {
      progress("pipeline template " + decl.name + " " + decl.version + ": " + result);
    }
  }
  tx.commit();
}

}  // namespace kiln::k8s
