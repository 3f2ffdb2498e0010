#include "http/router.hpp"

#include <gtest/gtest.h>

#include "http/metrics.hpp"
#include "routes.hpp"

namespace kiln::http {
namespace {

Handler noop() {
  return [](const Call&) { return Response{}; };
}

Router sample() {
  Router r;
  r.add({"GET", "/api/v1/builds", "build:read", noop()});
  r.add({"POST", "/api/v1/builds", "build:create", noop()});
  r.add({"GET", "/api/v1/builds/{id}", "build:read", noop()});
  r.add({"POST", "/api/v1/builds/{id}/start", "build:create", noop()});
  return r;
}

TEST(Router, MatchesLiteralPaths) {
  const Router router = sample();
  const auto m = router.match("POST", "/api/v1/builds");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->permission, "build:create");
  EXPECT_TRUE(m.params.empty());
}

TEST(Router, CapturesPlaceholders) {
  const Router router = sample();
  const auto m = router.match("POST", "/api/v1/builds/abc/start");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/api/v1/builds/{id}/start");
  EXPECT_EQ(m.params, std::vector<std::string>{"abc"});
}

TEST(Router, ReportsAllowedMethodsWhenOnlyTheMethodIsWrong) {
  const Router router = sample();
  const auto m = router.match("DELETE", "/api/v1/builds");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.allowed_methods, (std::vector<std::string>{"GET", "POST"}));
}

TEST(Router, UnknownPathsMatchNothing) {
  for (const char* path : {"/api/v1/build", "/api/v1/builds/x/y/z", "/", "", "/api/v1/builds/",
                           "/api/v1/builds/x/start/"}) {
    const Router router = sample();
  const auto m = router.match("GET", path);
    EXPECT_EQ(m.route, nullptr) << path;
    EXPECT_TRUE(m.allowed_methods.empty()) << path;
  }
}

TEST(Router, HeadIsServedByGet) {
  const Router router = sample();
  EXPECT_NE(router.match("HEAD", "/api/v1/builds").route, nullptr);
}

TEST(Router, RefusesARouteWithoutAPermission) {
  Router r;
  EXPECT_THROW(r.add({"GET", "/x", "", noop()}), std::logic_error);
}

TEST(Router, RefusesARouteWithNoHandlerOrTwo) {
  Router r;
  EXPECT_THROW(r.add({"GET", "/x", "build:read", {}, {}}), std::logic_error);
  EXPECT_THROW(r.add({"GET", "/x", "build:read", noop(), [](const Session&) { return Response{}; }}),
               std::logic_error);
}

TEST(Router, OnlyAgentRoutesTakeNodeTokens) {
  Metrics metrics;
  const Router router = handlers::all_routes(metrics);
  for (const auto& route : router.routes()) {
    EXPECT_EQ(route.permission == kNodeToken, route.pattern.starts_with("/api/v1/agent/")) << route.pattern;
  }
}

TEST(Router, EveryKilnRouteNamesAPermissionAndOnlyHealthMetricsAndTheApiDescriptionArePublic) {
  Metrics metrics;
  const Router router = handlers::all_routes(metrics);
  ASSERT_FALSE(router.routes().empty());
  for (const auto& route : router.routes()) {
    if (route.permission == kPublic) {
      // The sign-in form is a page: public, but on the page-session pipeline (CSRF, HTML).
      EXPECT_TRUE(route.pattern == "/healthz" || route.pattern == "/metrics" ||
                  route.pattern == "/api/v1/openapi.json" ||
                  (route.pattern == "/admin/login" && route.auth == Auth::kPageSession))
          << route.pattern;
    } else if (route.permission == kNodeToken) {
      EXPECT_TRUE(route.pattern.starts_with("/api/v1/agent/")) << route.pattern;
    } else if (route.permission == kSignedIn) {
      EXPECT_TRUE(route.auth == Auth::kPageSession) << route.pattern << " needs a page session to mean signed-in";
    } else {
      EXPECT_TRUE(route.permission.find(':') != std::string::npos || route.permission == "admin") << route.pattern;
    }
    // Pages authenticate with the session cookie, the API with bearer tokens.
    EXPECT_EQ(route.auth == Auth::kPageSession, !route.pattern.starts_with("/api/") && route.pattern != "/healthz" &&
                                                    route.pattern != "/metrics")
        << route.pattern;
  }
}

}  // namespace
}  // namespace kiln::http
