#include "http/metrics.hpp"

#include <gtest/gtest.h>

namespace kiln::http {
namespace {

TEST(Metrics, CountsRequestsByMethodRouteAndStatus) {
  Metrics m;
  m.observe("GET", "/api/v1/builds/{id}", 200, 0.002);
  m.observe("GET", "/api/v1/builds/{id}", 200, 0.004);
  m.observe("GET", "/api/v1/builds/{id}", 404, 0.001);
  const std::string text = m.render();
  EXPECT_NE(text.find("kiln_http_requests_total{method=\"GET\",route=\"/api/v1/builds/{id}\",status=\"200\"} 2\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("status=\"404\"} 1\n"), std::string::npos);
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  Metrics m;
  m.observe("GET", "/r", 200, 0.002);   // <= 0.0025
  m.observe("GET", "/r", 200, 0.3);     // <= 0.5
  m.observe("GET", "/r", 200, 10.0);    // only +Inf
  const std::string text = m.render();
  auto bucket = [&](const std::string& le) {
    const std::string key = "kiln_http_request_duration_seconds_bucket{method=\"GET\",route=\"/r\",le=\"" + le + "\"} ";
    const auto at = text.find(key);
    EXPECT_NE(at, std::string::npos) << le;
    return std::stoi(text.substr(at + key.size()));
  };
  EXPECT_EQ(bucket("0.001"), 0);
  EXPECT_EQ(bucket("0.0025"), 1);
  EXPECT_EQ(bucket("0.25"), 1);
  EXPECT_EQ(bucket("0.5"), 2);
  EXPECT_EQ(bucket("5"), 2);
  EXPECT_EQ(bucket("+Inf"), 3);
  EXPECT_NE(text.find("_count{method=\"GET\",route=\"/r\"} 3\n"), std::string::npos);
}

TEST(Metrics, LabelValuesAreEscaped) {
  EXPECT_EQ(prometheus_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

}  // namespace
}  // namespace kiln::http
