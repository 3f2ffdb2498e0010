#pragma once
// `kiln migrate` seeds the shipped pipeline templates (pipelines/tekton/*.yaml) into
// kiln.pipeline_templates: each file's declaration is parsed and its text checked as the
// API checks an admin's template; kiln_api.seed_pipeline_template keeps existing versions.
#include <filesystem>
#include <functional>
#include <pqxx/pqxx>
#include <string>

namespace kiln::k8s {

// Throws std::runtime_error naming the file for a template that is not valid.
void seed_pipeline_templates(pqxx::connection& conn, const std::filesystem::path& dir,
                             const std::function<void(const std::string&)>& progress);

}  // namespace kiln::k8s
