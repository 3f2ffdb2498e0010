#include "db/dispatch_api.hpp"

#include "db/ops_api.hpp"
#include "db/statements.hpp"

namespace kiln::db {

namespace {

constexpr Statement kStatements[] = {
    {"claim_builds",
     "select execution_id, build_id, epoch, attempt, method::text, params "
     "from kiln_api.claim_builds($1, $2, $3)"},
    {"plan_execution", "select kiln_api.plan_execution($1::uuid)"},
    {"offer_execution", "select kiln_api.offer_execution($1::uuid, $2, $3::jsonb, $4::jsonb)"},
    {"fail_execution", "select kiln_api.finish_execution($1::uuid, $2, 'failed', null, $3)::text"},
    {"reap_expired_leases",
     "select build_id, execution_id, new_status::text from kiln_api.reap_expired_leases()"},
    {"enforce_time_budgets", "select count(*) from kiln_api.enforce_time_budgets()"},
    {"setting", "select kiln_api.setting($1)"},
};

}  // namespace

void prepare_dispatch_statements(pqxx::connection& conn) {
  {
    pqxx::nontransaction tx(conn);
    tx.exec("set timezone = 'UTC'");
  }
  prepare_all(conn, kStatements);
  prepare_ops_dispatch_statements(conn);
}

std::vector<Claim> claim_builds(pqxx::work& tx, const std::string& worker, int batch, int lease_seconds) {
  std::vector<Claim> out;
  for (const auto& row : tx.exec_prepared("claim_builds", worker, batch, lease_seconds)) {
    out.push_back({row[0].c_str(), row[1].c_str(), row[2].as<long long>(), row[3].as<int>(), row[4].c_str(),
                   row[5].c_str()});
  }
  return out;
}

std::string plan_execution(pqxx::work& tx, const std::string& execution_id) {
  return tx.exec_prepared1("plan_execution", execution_id)[0].c_str();
}

void offer_execution(pqxx::work& tx, const std::string& execution_id, long long epoch, const std::string& plan,
                     const std::string& payload) {
  tx.exec_prepared1("offer_execution", execution_id, epoch, plan, payload);
}

std::string fail_execution(pqxx::work& tx, const std::string& execution_id, long long epoch,
                           const std::string& reason) {
  return tx.exec_prepared1("fail_execution", execution_id, epoch, reason)[0].c_str();
}

std::vector<Reaped> reap_expired_leases(pqxx::work& tx) {
  std::vector<Reaped> out;
  for (const auto& row : tx.exec_prepared("reap_expired_leases")) {
    out.push_back({row[0].c_str(), row[1].c_str(), row[2].c_str()});
  }
  return out;
}

int enforce_time_budgets(pqxx::work& tx) { return tx.exec_prepared1("enforce_time_budgets")[0].as<int>(); }

double setting(pqxx::work& tx, const std::string& key) {
  return tx.exec_prepared1("setting", key)[0].as<double>();
}

}  // namespace kiln::db
