// kiln recommend: where a build config would run, why, and with what confidence.
#include "cli/build_config.hpp"
#include "cli/command.hpp"
#include "cli/exit_codes.hpp"
#include "cli/output.hpp"

namespace kiln::cli {

namespace {

int recommend(Context& ctx) {
  const auto answer =
      ctx.client().call("POST", "/api/v1/builds/infrastructure-recommendation", build_config(ctx.args));
  if (ctx.json()) {
    ctx.print_json(answer);
    return kExitOk;
  }
  if (answer.contains("error") && !answer.contains("infrastructure_type")) {
    ctx.out << "no recommendation: " << cell_text(value_at(answer, "error.message").is_null() ? answer["error"]
                                                                                             : value_at(answer, "error.message"))
            << "\n";
    return kExitOk;
  }
  std::string target = cell_text(value_at(answer, "target.provider"));
  if (!value_at(answer, "target.node_pool").is_null()) target += ", node pool " + cell_text(value_at(answer, "target.node_pool"));
  if (target == "-") target = cell_text(answer.value("target", nlohmann::json()));
  ctx.out << format_fields(answer, {{"recommendation", "infrastructure_type"}, {"reason", "reason"},
                                    {"confidence", "confidence"}});
  ctx.out << "target:         " << target << "\n";
  if (answer.contains("size")) {
    ctx.out << "size:           " << cell_text(value_at(answer, "size.cpu")) << " CPU, "
            << cell_text(value_at(answer, "size.memory_gb")) << " GiB memory, "
            << cell_text(value_at(answer, "size.time_budget_min")) << " min\n";
  }
  const auto alternatives = answer.value("alternatives", nlohmann::json::array());
  if (!alternatives.empty()) {
    ctx.out << "\n" << format_table({{"ALTERNATIVE", "infrastructure_type"}, {"NODE POOL", "node_pool"}, {"WHY NOT", "why"}},
                                    alternatives);
  }
  return kExitOk;
}

}  // namespace

std::vector<Command> recommend_commands() {
  return {{{"recommend",
            "Ask where a build config would run (POST /api/v1/builds/infrastructure-recommendation): the "
            "recommendation, its reason and confidence.",
            "", 0, 0, build_config_options(),
            "  kiln recommend --project web --method docker -p git_url=https://git.example/web.git -p image=web:1\n"
            "  kiln recommend --project ml --method script -p script=train.sh --require gpu --output json\n"},
           recommend}};
}

}  // namespace kiln::cli
