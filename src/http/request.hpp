#pragma once
#include <string>
#include <utility>
#include <vector>

namespace kiln::http {

struct Request {
  std::string method;
  std::string path;          // DOCUMENT_URI: decoded path, no query string
  std::string query_string;  // raw
  std::string authorization;
  std::string content_type;
  std::string request_id;
  std::string body;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static Response json(int status, std::string body) {
    return Response{status, "application/json", std::move(body), {}};
  }
};

}  // namespace kiln::http
