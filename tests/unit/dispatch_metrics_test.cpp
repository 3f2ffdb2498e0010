#include "dispatch/metrics_registry.hpp"

#include <gtest/gtest.h>

#include "dispatch/pass.hpp"
#include "http/metrics.hpp"

namespace kiln {
namespace {

TEST(DispatchMetrics, CountsPassesAndWhatTheyDidToBuilds) {
  auto& m = dispatch::DispatchMetrics::instance();
  dispatch::PassResult r;
  r.claimed = 3;
  r.offered = 2;
  r.failed = 1;
  m.observe_pass(r, 0.02, true);
  m.observe_pass({}, 0, false);
  const std::string text = m.render();
  EXPECT_NE(text.find("kiln_dispatch_passes_total{result=\"error\"} "), std::string::npos) << text;
  EXPECT_NE(text.find("kiln_dispatch_builds_total{outcome=\"claimed\"} "), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE kiln_dispatch_pass_duration_seconds histogram\n"), std::string::npos);
  EXPECT_NE(text.find("kiln_dispatch_pass_duration_seconds_bucket{le=\"+Inf\"} "), std::string::npos) << text;
  EXPECT_NE(text.find("kiln_dispatch_last_pass_seconds 0\n"), std::string::npos) << "the failed pass came last";
}

TEST(DispatchMetrics, CountsDeliveriesByResult) {
  auto& m = dispatch::DispatchMetrics::instance();
  m.observe_delivery("delivered", 0.01);
  m.observe_delivery("retrying", 5.0);
  const std::string text = m.render();
  EXPECT_NE(text.find("kiln_dispatch_webhook_deliveries_total{result=\"retrying\"} "), std::string::npos) << text;
  EXPECT_NE(text.find("kiln_dispatch_webhook_delivery_seconds_bucket{le=\"5\"} "), std::string::npos) << text;
}

TEST(DatabaseMetrics, RendersEachMetricOnceWithHelpTypeAndEscapedLabels) {
  const std::vector<db::MetricRow> rows = {
      {"kiln_node_heartbeat_age_seconds", R"({"node": "n\"1", "status": "active"})", 12.5},
      {"kiln_node_heartbeat_age_seconds", R"({"node": "n2", "status": "draining"})", 3},
      {"kiln_db_max_connections", "{}", 200},
      {"kiln_something_new", "{}", 1}};
  const std::string text = http::render_database_metrics(rows);
  EXPECT_EQ(text,
            "# HELP kiln_node_heartbeat_age_seconds Seconds since each build node's last heartbeat.\n"
            "# TYPE kiln_node_heartbeat_age_seconds gauge\n"
            "kiln_node_heartbeat_age_seconds{node=\"n\\\"1\",status=\"active\"} 12.5\n"
            "kiln_node_heartbeat_age_seconds{node=\"n2\",status=\"draining\"} 3\n"
            "# HELP kiln_db_max_connections The PostgreSQL server's max_connections.\n"
            "# TYPE kiln_db_max_connections gauge\n"
            "kiln_db_max_connections 200\n"
            "# HELP kiln_something_new Kiln database metric.\n"
            "# TYPE kiln_something_new untyped\n"
            "kiln_something_new 1\n");
}

TEST(DatabaseMetrics, ValuesAreIntegersWhenWholeAndShortOtherwise) {
  EXPECT_EQ(http::prometheus_value(42), "42");
  EXPECT_EQ(http::prometheus_value(0.125), "0.125");
  EXPECT_EQ(http::prometheus_value(1.0 / 3), "0.333333333");
}

}  // namespace
}  // namespace kiln
