// kiln build submit|list|show|cancel|logs
#include <iostream>

#include "cli/build_config.hpp"
#include "cli/command.hpp"
#include "cli/exit_codes.hpp"
#include "cli/log_follow.hpp"
#include "cli/output.hpp"
#include "http/query.hpp"

namespace kiln::cli {

namespace {

std::string build_path(const std::string& id) { return "/api/v1/builds/" + http::percent_encode(id); }

const std::vector<Column> kBuildFields = {
    {"id", "id"}, {"status", "status"}, {"project", "project"}, {"method", "method"},
    {"infrastructure", "infrastructure_type"}, {"reason", "infrastructure_reason"}, {"priority", "priority"},
    {"attempt", "attempt"}, {"failure", "failure_reason"}, {"created", "created_at"}, {"started", "started_at"},
    {"finished", "finished_at"}};

int finished(Context& ctx, const std::string& id, const std::string& status) {
  if (!ctx.json()) ctx.err << "build " << id << " " << status << std::endl;
  return status == "succeeded" ? kExitOk : kExitBuildNotSucceeded;
}

int submit(Context& ctx) {
  const nlohmann::json body = build_config(ctx.args);
  if (!body.contains("project")) throw UsageError("--project is required");
  if (!body.contains("method")) throw UsageError("--method is required");
  const bool start = !ctx.args.has("no-start");
  if (ctx.args.has("follow") && !start) throw UsageError("--follow cannot be combined with --no-start");
  auto build = ctx.client().call("POST", "/api/v1/builds", body);
  const std::string id = build.at("id");
  if (start) build = ctx.client().call("POST", build_path(id) + "/start", nlohmann::json::object());
  if (ctx.json()) {
    ctx.print_json(build);
  } else if (ctx.args.has("follow")) {
    ctx.err << "build " << id << " " << build.value("status", "") << std::endl;
  } else {
    ctx.out << format_fields(build, {{"id", "id"}, {"status", "status"}, {"project", "project"}, {"method", "method"}});
  }
  if (!ctx.args.has("follow")) return kExitOk;
  return finished(ctx, id, follow_log(ctx, id));
}

int list(Context& ctx) {
  std::string query;
  for (const auto& key : {"status", "project", "limit", "cursor"}) {
    if (auto v = ctx.args.get(key)) query += (query.empty() ? "?" : "&") + std::string(key) + "=" + http::percent_encode(*v);
  }
  const auto page = ctx.client().call("GET", "/api/v1/builds" + query);
  if (ctx.json()) {
    ctx.print_json(page);
    return kExitOk;
  }
  ctx.out << format_table({{"ID", "id"}, {"STATUS", "status"}, {"PROJECT", "project"}, {"METHOD", "method"},
                           {"INFRASTRUCTURE", "infrastructure_type"}, {"CREATED", "created_at"}},
                          page.value("items", nlohmann::json::array()));
  if (page.contains("next_cursor") && page["next_cursor"].is_string()) {
    ctx.err << "more: kiln build list --cursor " << page["next_cursor"].get<std::string>() << std::endl;
  }
  return kExitOk;
}

int show(Context& ctx) {
  const auto build = ctx.client().call("GET", build_path(ctx.args.positionals[0]));
  if (ctx.json()) {
    ctx.print_json(build);
    return kExitOk;
  }
  ctx.out << format_fields(build, kBuildFields);
  if (build.contains("params")) ctx.out << "params:         " << cell_text(build["params"]) << "\n";
  if (build.contains("spec")) ctx.out << "spec:           " << cell_text(build["spec"]) << "\n";
  const auto executions = build.value("executions", nlohmann::json::array());
  if (!executions.empty()) {
    ctx.out << "\n" << format_table({{"ATTEMPT", "attempt"}, {"STATUS", "status"}, {"INFRASTRUCTURE", "infrastructure_type"},
                                     {"WORKER", "worker"}, {"EXIT", "exit_code"}, {"REASON", "infrastructure_reason"}},
                                    executions);
  }
  return kExitOk;
}

int cancel(Context& ctx) {
  nlohmann::json body = nlohmann::json::object();
  if (auto reason = ctx.args.get("reason")) body["reason"] = *reason;
  const auto build = ctx.client().call("POST", build_path(ctx.args.positionals[0]) + "/cancel", body);
  if (ctx.json()) {
    ctx.print_json(build);
  } else {
    ctx.out << "build " << build.value("id", "") << " " << build.value("status", "") << "\n";
  }
  return kExitOk;
}

int logs(Context& ctx) {
  const std::string& id = ctx.args.positionals[0];
  if (!ctx.args.has("follow")) {
    print_log(ctx, id);
    return kExitOk;
  }
  return finished(ctx, id, follow_log(ctx, id));
}

}  // namespace

std::vector<Command> build_commands() {
  std::vector<OptionSpec> submit_options = build_config_options();
  submit_options.push_back({"no-start", 0, false, false, "", "only submit (status pending); start it later"});
  submit_options.push_back({"follow", 'f', false, false, "",
                            "stream the log until the build ends; the exit status is 0 only if it succeeded"});
  return {
      {{"build submit", "Submit a build and start it (POST /api/v1/builds, then …/start).", "", 0, 0, submit_options,
        "  kiln build submit --project web --method script -p script='make test' --cpu 1 --memory-gb 1 "
        "--time-budget-min 10 --follow\n"
        "  kiln build submit --project web --method docker -p git_url=https://git.example/web.git -p image=web:1 "
        "--require arch=arm64 --infrastructure kubernetes\n"},
       submit},
      {{"build list", "List builds, newest first.", "", 0, 0,
        {{"status", 's', true, false, "STATUS[,STATUS]", "only these statuses (queued,running,...)"},
         {"project", 0, true, false, "NAME", "only this project"},
         {"limit", 'n', true, false, "N", "at most N builds (1-200, default 50)"},
         {"cursor", 0, true, false, "CURSOR", "the next page (printed after a full page)"}},
        "  kiln build list --status queued,running\n  kiln build list --project web --limit 10 --output json\n"},
       list},
      {{"build show", "Show a build with its executions.", "ID", 1, 1, {}, "  kiln build show 1f0c2a9e-...\n"}, show},
      {{"build cancel", "Cancel a build.", "ID", 1, 1, {{"reason", 0, true, false, "TEXT", "why (kept in its events)"}},
        "  kiln build cancel 1f0c2a9e-... --reason 'wrong branch'\n"},
       cancel},
      {{"build logs", "Print a build's log; --follow streams it until the build ends.", "ID", 1, 1,
        {{"follow", 'f', false, false, "",
          "stream until the build ends (a status line on stderr while waiting); exit 0 only if it succeeded"}},
        "  kiln build logs 1f0c2a9e-... --follow\n"},
       logs},
  };
}

}  // namespace kiln::cli
