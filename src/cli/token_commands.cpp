// kiln token create|list|revoke|rotate: API tokens (admins; /api/v1/admin/tokens).
#include <sys/stat.h>

#include <fstream>

#include "cli/build_config.hpp"
#include "cli/command.hpp"
#include "cli/exit_codes.hpp"
#include "cli/output.hpp"
#include "http/query.hpp"

namespace kiln::cli {

namespace {

const std::vector<Column> kTokenFields = {{"id", "id"}, {"user", "user"}, {"name", "name"},
                                          {"created", "created_at"}, {"expires", "expires_at"}};

std::string token_path(const std::string& id) { return "/api/v1/admin/tokens/" + http::percent_encode(id); }

// Prints a token object that carries the secret (create, rotate).
int print_new_token(Context& ctx, const nlohmann::json& token) {
  if (auto file = ctx.args.get("token-file")) {
    const mode_t old_mask = umask(077);
    std::ofstream out(*file, std::ios::trunc);
    umask(old_mask);
    out << token.value("token", "") << "\n";
    if (!out) throw std::runtime_error("cannot write " + *file);
  }
  if (ctx.json()) {
    ctx.print_json(token);
    return kExitOk;
  }
  ctx.out << format_fields(token, kTokenFields);
  if (auto file = ctx.args.get("token-file")) {
    ctx.out << "token:   written to " << *file << " (mode 0600)\n";
  } else {
    ctx.out << "token:   " << token.value("token", "") << "\n(shown once)\n";
  }
  return kExitOk;
}

int create(Context& ctx) {
  nlohmann::json body{{"name", ctx.args.positionals.empty() ? ctx.args.require("name") : ctx.args.positionals[0]}};
  if (auto user = ctx.args.get("user")) body["user"] = *user;
  if (auto days = ctx.args.get("expires-in-days")) body["expires_in_days"] = number_or_text(*days);
  return print_new_token(ctx, ctx.client().call("POST", "/api/v1/admin/tokens", body));
}

int list(Context& ctx) {
  const auto answer = ctx.client().call("GET", "/api/v1/admin/tokens");
  if (ctx.json()) {
    ctx.print_json(answer);
    return kExitOk;
  }
  ctx.out << format_table({{"ID", "id"}, {"USER", "user"}, {"NAME", "name"}, {"EXPIRES", "expires_at"},
                           {"LAST USED", "last_used_at"}, {"REVOKED", "revoked_at"}},
                          answer.value("items", nlohmann::json::array()));
  return kExitOk;
}

int revoke(Context& ctx) {
  const auto token = ctx.client().call("POST", token_path(ctx.args.positionals[0]) + "/revoke", nlohmann::json::object());
  if (ctx.json()) {
    ctx.print_json(token);
    return kExitOk;
  }
  ctx.out << "token " << token.value("id", "") << " (" << token.value("name", "") << ") revoked at "
          << cell_text(token.value("revoked_at", nlohmann::json())) << "\n";
  return kExitOk;
}

int rotate(Context& ctx) {
  nlohmann::json body = nlohmann::json::object();
  if (auto grace = ctx.args.get("grace-seconds")) body["grace_seconds"] = number_or_text(*grace);
  return print_new_token(ctx, ctx.client().call("POST", token_path(ctx.args.positionals[0]) + "/rotate", body));
}

}  // namespace

std::vector<Command> token_commands() {
  const OptionSpec token_file{"token-file", 0, true, false, "FILE",
                              "write the new token to FILE (mode 0600) instead of printing it"};
  return {
      {{"token create", "Create an API token (admins). The token is shown once.", "[NAME]", 0, 1,
        {{"name", 0, true, false, "NAME", "what the token is for (or give it as the argument)"},
         {"user", 'u', true, false, "USER", "for another user of the tenant (default: yourself)"},
         {"expires-in-days", 0, true, false, "N", "1-365 (default 90)"},
         token_file},
        "  kiln token create ci-pipeline --user ci --expires-in-days 30 --token-file ci.token\n"},
       create},
      {{"token list", "List the tenant's API tokens (admins).", "", 0, 0, {}, "  kiln token list\n"}, list},
      {{"token revoke", "Revoke an API token at once (admins).", "ID", 1, 1, {}, "  kiln token revoke 6b1d...\n"},
       revoke},
      {{"token rotate", "Replace an API token: a new token now, the old one expires after the grace period (admins).",
        "ID", 1, 1,
        {{"grace-seconds", 0, true, false, "N", "how long the old token keeps working (0-86400, default 3600)"},
         token_file},
        "  kiln token rotate 6b1d... --grace-seconds 600 --token-file ci.token\n"},
       rotate},
  };
}

}  // namespace kiln::cli
