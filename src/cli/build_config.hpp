#pragma once
// The build config of "kiln build submit" and "kiln recommend" from their options:
// --project, --method, -p KEY=VALUE (KEY:=JSON for a non-string value), the size (--cpu,
// --memory-gb, --disk-gb, --time-budget-min), --require KEY[=VALUE], --infrastructure,
// --force-infrastructure, --priority. Pure; the API checks the values and names the field.
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/args.hpp"

namespace kiln::cli {

std::vector<OptionSpec> build_config_options();

nlohmann::json build_config(const ParsedArgs& args);

// "2" -> 2, "0.5" -> 0.5; anything else stays a string (the API then names the field).
nlohmann::json number_or_text(const std::string& text);

}  // namespace kiln::cli
