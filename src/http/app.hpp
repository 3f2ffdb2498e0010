#pragma once
// The request pipeline: route → (authenticate → authorize → handler) in one transaction
// → response; every error becomes the one JSON error shape; every request is counted.
#include <string>

#include "db/database.hpp"
#include "http/metrics.hpp"
#include "http/request.hpp"
#include "http/router.hpp"

namespace kiln::http {

class App {
 public:
  App(Router router, Metrics& metrics) : router_(std::move(router)), metrics_(metrics) {}

  Response handle(const Request& request, db::Database& db);
  const Router& router() const { return router_; }
  Metrics& metrics() { return metrics_; }

 private:
  Response dispatch(const Request& request, const RouteMatch& match, db::Database& db);
  Response dispatch_page(const Request& request, const RouteMatch& match, db::Database& db);

  Router router_;
  Metrics& metrics_;
};

// The request body as JSON text for a procedure: Error(400 malformed_json) when it does
// not parse, Error(400 invalid_body) when it is not an object.
std::string json_object_body(const Request& request);

}  // namespace kiln::http
