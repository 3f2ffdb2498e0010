#pragma once
// Typed calls of kiln-dispatch (role kiln_dispatch): the queue functions of sql/api/.
#include <pqxx/pqxx>
#include <string>
#include <vector>

namespace kiln::db {

void prepare_dispatch_statements(pqxx::connection& conn);

struct Claim {
  std::string execution_id;
  std::string build_id;
  long long epoch = 0;
  int attempt = 0;
  std::string method;
  std::string params;  // JSON object
};

struct Reaped {
  std::string build_id;
  std::string execution_id;
  std::string new_status;
};

std::vector<Claim> claim_builds(pqxx::work& tx, const std::string& worker, int batch, int lease_seconds);
std::string plan_execution(pqxx::work& tx, const std::string& execution_id);
void offer_execution(pqxx::work& tx, const std::string& execution_id, long long epoch, const std::string& plan,
                     const std::string& payload);
// Ends an execution that can never run (a permanent error), failing its build.
std::string fail_execution(pqxx::work& tx, const std::string& execution_id, long long epoch,
                           const std::string& reason);
std::vector<Reaped> reap_expired_leases(pqxx::work& tx);
int enforce_time_budgets(pqxx::work& tx);
double setting(pqxx::work& tx, const std::string& key);

}  // namespace kiln::db
