// GET /api/v1/openapi.json: the OpenAPI description of every route (public). The document
// is docs/openapi.json, embedded at build time (handlers/CMakeLists.txt generates
// openapi_document.cpp from it); tests/unit/openapi_coverage_test.cpp keeps it in step
// with all_routes().
#include "http/query.hpp"
#include "routes.hpp"

namespace kiln::handlers {

extern const char* const kOpenApiDocument;  // generated

std::string_view openapi_document() { return kOpenApiDocument; }

void register_openapi_routes(http::Router& router) {
  router.add({"GET", "/api/v1/openapi.json", std::string(http::kPublic), [](const http::Call& c) {
                http::Query(c.request.query_string).allow_only({});
                http::Response r = http::Response::json(200, std::string(kOpenApiDocument));
                r.headers.emplace_back("Cache-Control", "public, max-age=300");
                return r;
              }, {}});
}

}  // namespace kiln::handlers
