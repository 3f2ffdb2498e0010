// docs/openapi.json describes exactly the routes of kiln-api: every route of all_routes()
// has an operation (same method, same path with the same {placeholders}) and every
// operation a route. Also: the served copy is the file, and the document hangs together.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "http/metrics.hpp"
#include "routes.hpp"

namespace kiln::handlers {
namespace {

const nlohmann::json& document() {
  static const nlohmann::json doc = nlohmann::json::parse(openapi_document());
  return doc;
}

std::set<std::string> router_operations() {
  http::Metrics metrics;
  const http::Router router = all_routes(metrics);
  std::set<std::string> out;
  for (const auto& route : router.routes()) out.insert(route.method + " " + route.pattern);
  return out;
}

std::set<std::string> documented_operations() {
  static const std::set<std::string> kMethods = {"get", "put", "post", "delete", "patch", "head", "options"};
  std::set<std::string> out;
  for (const auto& [path, item] : document().at("paths").items()) {
    for (const auto& [method, op] : item.items()) {
      if (!kMethods.count(method)) continue;
      std::string upper = method;
      for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      out.insert(upper + " " + path);
    }
  }
  return out;
}

std::string joined(const std::set<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += "\n  " + i;
  return out;
}

TEST(OpenApiCoverage, EveryRouteOfTheRouterIsDocumented) {
  const auto documented = documented_operations();
  std::set<std::string> missing;
  for (const auto& op : router_operations()) {
    if (!documented.count(op)) missing.insert(op);
  }
  EXPECT_TRUE(missing.empty()) << "routes missing from docs/openapi.json:" << joined(missing);
}

TEST(OpenApiCoverage, EveryDocumentedOperationIsARouteOfTheRouter) {
  const auto routes = router_operations();
  std::set<std::string> extra;
  for (const auto& op : documented_operations()) {
    if (!routes.count(op)) extra.insert(op);
  }
  EXPECT_TRUE(extra.empty()) << "operations in docs/openapi.json that no route serves:" << joined(extra);
}

TEST(OpenApiCoverage, TheServedDocumentIsTheFileInDocs) {
  std::ifstream in(std::string(KILN_SOURCE_DIR) + "/docs/openapi.json");
  ASSERT_TRUE(in) << "docs/openapi.json";
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_TRUE(text.str() == openapi_document())
      << "the embedded document differs from docs/openapi.json (" << text.str().size() << " vs "
      << openapi_document().size() << " bytes): rebuild";
}

TEST(OpenApiCoverage, TheDocumentIsOpenApi3WithTheAuthSchemes) {
  const auto& doc = document();
  EXPECT_EQ(doc.at("openapi").get<std::string>().substr(0, 2), "3.");
  const auto& schemes = doc.at("components").at("securitySchemes");
  EXPECT_EQ(schemes.at("bearerAuth").at("scheme"), "bearer");
  EXPECT_EQ(schemes.at("sessionCookie").at("in"), "cookie");
  EXPECT_EQ(schemes.at("sessionCookie").at("name"), "__Host-kiln_session");
}

// Collects every "$ref" under value.
void refs(const nlohmann::json& value, std::set<std::string>& out) {
  if (value.is_object()) {
    for (const auto& [key, child] : value.items()) {
      if (key == "$ref" && child.is_string()) out.insert(child.get<std::string>());
      refs(child, out);
    }
  } else if (value.is_array()) {
    for (const auto& child : value) refs(child, out);
  }
}

TEST(OpenApiCoverage, EveryReferenceResolves) {
  std::set<std::string> all;
  refs(document(), all);
  ASSERT_FALSE(all.empty());
  for (const auto& ref : all) {
    ASSERT_EQ(ref.rfind("#/", 0), 0u) << ref;
    EXPECT_NO_THROW((void)document().at(nlohmann::json::json_pointer(ref.substr(1)))) << ref;
  }
}

TEST(OpenApiCoverage, ApiOperationsAnswerJsonAndDescribeErrorsWithTheErrorSchema) {
  for (const auto& [path, item] : document().at("paths").items()) {
    if (path.rfind("/api/v1/", 0) != 0) continue;
    for (const auto& [method, op] : item.items()) {
      ASSERT_TRUE(op.contains("responses")) << method << " " << path;
      bool has_success = false;
      for (const auto& [status, response] : op.at("responses").items()) {
        if (status[0] == '2') has_success = true;
        if (status[0] != '4' && status[0] != '5') continue;
        const auto schema = response.contains("$ref") ? nlohmann::json{{"$ref", "#/components/schemas/Error"}}
                                                      : response.at("content").at("application/json").at("schema");
        EXPECT_EQ(schema.at("$ref"), "#/components/schemas/Error") << method << " " << path << " " << status;
      }
      EXPECT_TRUE(has_success) << method << " " << path;
    }
  }
}

}  // namespace
}  // namespace kiln::handlers
