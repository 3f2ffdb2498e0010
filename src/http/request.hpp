#pragma once
#include <functional>
#include <string>
#include <string_view>
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
  std::string last_event_id;  // SSE reconnects send the last id they saw
  // Whether the client went away (nginx closed the FastCGI connection). Long waits check it
  // so that they hand nothing to a caller that is no longer there.
  std::function<bool()> client_gone = [] { return false; };
  std::string accept;         // the Accept header (CSV answers)
  std::string cookie;         // the Cookie header (page sessions)
  std::string user_agent;
  bool https = false;         // served over TLS (HTTPS param or X-Forwarded-Proto: https)
  std::string body;
};

// Writes one piece of a streamed body and flushes it; false once the client is gone.
using StreamWriter = std::function<bool(std::string_view)>;

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body is produced by this function after the headers are sent (Server-Sent
  // Events). It runs outside any transaction and must own everything it uses.
  std::function<void(const StreamWriter&)> stream;

  static Response json(int status, std::string body) {
    return Response{status, "application/json", std::move(body), {}, {}};
  }
};

}  // namespace kiln::http
