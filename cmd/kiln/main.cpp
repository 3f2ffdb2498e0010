// kiln: the operator's and the user's command.
//   kiln migrate   [--database CONNINFO] [--sql-dir DIR]
//   kiln bootstrap --tenant NAME --user NAME [--role admin|developer|viewer]
//                  --token-file FILE [--database CONNINFO]
// Environment: KILN_DATABASE_URL, KILN_SQL_DIR.
// Every other command (build, recommend, provider, node, token) is an API client: see
// src/cli/ and docs/cli.md.
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <pqxx/pqxx>

#include "cli/cli.hpp"
#include "cli_args.hpp"
#include "core/token.hpp"
#include "db/api.hpp"
#include "db/migrate.hpp"
#include "k8s/template_seed.hpp"

namespace {

constexpr const char* kUsage =
    "usage:\n"
    "  kiln migrate   [--database CONNINFO] [--sql-dir DIR] [--pipelines-dir DIR]\n"
    "      apply pending migrations, reload the kiln_api functions and seed the Tekton\n"
    "      pipeline templates of DIR (default pipelines/tekton)\n"
    "  kiln bootstrap --tenant NAME --user NAME [--role admin] --token-file FILE [--database CONNINFO]\n"
    "      create the tenant and user if missing and write a new API token to FILE (mode 0600);\n"
    "      keeps the token already in FILE while it is still valid\n"
    "environment: KILN_DATABASE_URL, KILN_SQL_DIR\n"
    "\n"
    "API client commands (configured by KILN_URL and KILN_TOKEN or ~/.config/kiln/config;\n"
    "\"kiln COMMAND --help\" for each one's options, docs/cli.md for the whole story):\n";

int run_migrate(kiln::Args& args) {
  const std::string conninfo = args.get("database", "KILN_DATABASE_URL", "dbname=kiln");
  const std::string sql_dir = args.get("sql-dir", "KILN_SQL_DIR", KILN_DEFAULT_SQL_DIR);
  const std::string tekton_dir = args.get("pipelines-dir", "KILN_TEKTON_DIR", KILN_DEFAULT_TEKTON_DIR);
  args.finish();
  pqxx::connection conn(conninfo);
  const auto progress = [](const std::string& line) { std::cout << "kiln migrate: " << line << std::endl; };
  const auto report = kiln::db::migrate(conn, sql_dir, progress);
  kiln::k8s::seed_pipeline_templates(conn, tekton_dir, progress);
  std::cout << "kiln migrate: done (" << report.applied.size() << " applied, " << report.already_applied
            << " already applied, " << report.api_files << " api files loaded)" << std::endl;
  return 0;
}

bool token_still_valid(pqxx::connection& conn, const std::string& token) {
  pqxx::work tx(conn);
  return kiln::db::authenticate(tx, kiln::core::sha256_hex(token)).has_value();
}

int run_bootstrap(kiln::Args& args) {
  const std::string conninfo = args.get("database", "KILN_DATABASE_URL", "dbname=kiln");
  const std::string tenant = args.get("tenant", nullptr, "");
  const std::string user = args.get("user", nullptr, "");
  const std::string role = args.get("role", nullptr, "admin");
  const std::string token_file = args.get("token-file", nullptr, "");
  args.finish();
  if (tenant.empty() || user.empty() || token_file.empty()) {
    throw std::invalid_argument("bootstrap needs --tenant, --user and --token-file");
  }
  pqxx::connection conn(conninfo);
  kiln::db::prepare_statements(conn);
  if (std::ifstream existing(token_file); existing) {
    std::string token;
    std::getline(existing, token);
    if (!token.empty() && token_still_valid(conn, token)) {
      std::cout << "kiln bootstrap: the token in " << token_file << " is still valid" << std::endl;
      return 0;
    }
  }
  const std::string token = kiln::core::generate_token();
  {
    pqxx::work tx(conn);
    kiln::db::bootstrap_user(tx, tenant, user, role, kiln::core::sha256_hex(token), "bootstrap");
    tx.commit();
  }
  const mode_t old_mask = umask(077);
  std::ofstream out(token_file, std::ios::trunc);
  umask(old_mask);
  out << token << "\n";
  if (!out) throw std::runtime_error("cannot write " + token_file);
  std::cout << "kiln bootstrap: " << role << " token for " << user << "@" << tenant << " written to "
            << token_file << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  if (kiln::cli::is_client_command(command)) {
    return kiln::cli::run(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr,
                          kiln::cli::process_env());
  }
  try {
    kiln::Args args(argc, argv, 2);
    if (command == "migrate") return run_migrate(args);
    if (command == "bootstrap") return run_bootstrap(args);
    const std::string usage = kUsage + kiln::cli::overview();
    std::fputs(usage.c_str(), command.empty() || command == "--help" || command == "help" ? stdout : stderr);
    return command.empty() || command == "--help" || command == "help" ? 0 : 2;
  } catch (const std::exception& e) {
    std::cerr << "kiln " << command << ": " << e.what() << std::endl;
    return 1;
  }
}
