// GET /api/v1/builds/{id}/logs: the build's log as text from ?offset=; with ?follow=1 a
// stream of Server-Sent Events until the build ends:
//   event: log   id: <next offset>   data: {"offset": N, "text": "…"}
//   event: end   data: {"status": "succeeded"}
//   event: error data: {"error": {…}}       (then the stream closes)
// A reconnecting EventSource resumes from Last-Event-ID. A build page follows it with its
// session cookie instead of a bearer token (GET only; see http::Auth).
#include <chrono>
#include <nlohmann/json.hpp>

#include "db/nodes_api.hpp"
#include "db/pages_api.hpp"
#include "http/draining.hpp"
#include "http/error_body.hpp"
#include "http/query.hpp"
#include "path_params.hpp"
#include "routes.hpp"

namespace kiln::handlers {

namespace {

constexpr int kFollowChunkBytes = 256 * 1024;
constexpr auto kKeepAlive = std::chrono::seconds(15);

std::string sse(std::string_view event, const nlohmann::json& data, long long id = -1) {
  std::string out = id >= 0 ? "id: " + std::to_string(id) + "\n" : "";
  out += "event: " + std::string(event) + "\ndata: " +
         data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n\n";
  return out;
}

// Waits for a notification up to the keep-alive period, in slices so that draining ends it.
std::vector<std::string> wait_or_drain(db::Database& db) {
  const auto until = std::chrono::steady_clock::now() + kKeepAlive;
  while (!http::draining() && std::chrono::steady_clock::now() < until) {
    auto got = db.wait_for_notifications(std::chrono::seconds(1));
    if (!got.empty()) return got;
  }
  return {};
}

// What a log stream needs once the request handler has returned.
struct Follower {
  db::Database& db;
  std::string token_sha256;
  bool web_session;  // token_sha256 is a page session's
  std::string request_id;
  std::string build_id;
  long long offset;

  db::LogSlice next() {
    return db.with_tx([&](pqxx::work& tx) {
      // Each poll is authenticated again: a revoked token or ended session ends the stream.
      if (web_session ? !db::session_authenticate(tx, token_sha256) : !db::authenticate(tx, token_sha256)) {
        throw Error(Errc::kUnauthorized, "unauthorized",
                    web_session ? "the session has ended; sign in again" : "the API token is unknown, expired or revoked");
      }
      return db::get_build_log(tx, build_id, offset, kFollowChunkBytes);
    });
  }
};

// Streams from the offset until the log is complete, the client leaves or the token stops
// being valid. Runs after the headers are sent, on the request's thread.
void follow(Follower f, const http::StreamWriter& write) {
  db::Listening logs(f.db, "kiln_logs");
  db::Listening events(f.db, "kiln_build_events");
  for (;;) {
    db::LogSlice slice;
    try {
      slice = f.next();
    } catch (const Error& e) {
      write(sse("error", nlohmann::json::parse(http::error_response(e, f.request_id).body)));
      return;
    }
    if (!slice.data.empty()) {
      if (!write(sse("log", {{"offset", f.offset}, {"text", slice.data}}, slice.next_offset))) return;
      f.offset = slice.next_offset;
    }
    if (slice.complete) {
      write(sse("end", {{"status", slice.status}}));
      return;
    }
    if (slice.data.size() >= static_cast<std::size_t>(kFollowChunkBytes)) continue;  // more is waiting
    if (http::draining()) return;  // the client reconnects to another process with Last-Event-ID
    if (wait_or_drain(f.db).empty() && !write(": keep-alive\n\n")) return;
  }
}

http::Response logs(const http::Session& s) {
  const http::Query q(s.request.query_string);
  q.allow_only({"offset", "limit", "follow"});
  const std::string build_id = uuid_param(s.params[0], "id");
  long long offset = q.integer("offset").value_or(0);
  if (!s.request.last_event_id.empty()) offset = http::Query("o=" + s.request.last_event_id).integer("o").value_or(offset);
  const long long limit = q.integer("limit").value_or(1 << 20);
  const auto follow_flag = q.text("follow").value_or("0");
  if (follow_flag != "0" && follow_flag != "1") {
    throw Error(Errc::kBadRequest, "invalid_value", "follow must be 0 or 1", "follow");
  }
  // Checks access, the offset and the limit before any stream starts, so errors are plain 4xx.
  const auto first = s.with_tx([&](pqxx::work& tx) {
    return db::get_build_log(tx, build_id, offset, static_cast<int>(std::clamp<long long>(limit, 0, 1LL << 31)));
  });
  if (follow_flag == "0") {
    http::Response r{200, "text/plain; charset=utf-8", first.data, {}, {}};
    r.headers = {{"X-Kiln-Next-Offset", std::to_string(first.next_offset)},
                 {"X-Kiln-Build-Status", first.status},
                 {"X-Kiln-Log-Complete", first.complete ? "true" : "false"}};
    return r;
  }
  http::Response r{200, "text/event-stream", {}, {{"X-Accel-Buffering", "no"}}, {}};
  // The stream owns copies of what it needs: it runs after this function has returned.
  r.stream = [f = Follower{s.db, s.token_sha256, s.web_session, s.request.request_id, build_id, first.next_offset},
              text = first.data, start = offset](const http::StreamWriter& write) {
    if (!write("retry: 2000\n\n")) return;
    if (!text.empty() && !write(sse("log", {{"offset", start}, {"text", text}}, f.offset))) return;
    follow(f, write);
  };
  return r;
}

}  // namespace

void register_log_routes(http::Router& router) {
  router.add({"GET", "/api/v1/builds/{id}/logs", "build:read", {}, logs, http::Auth::kBearerOrPageSession});
}

}  // namespace kiln::handlers
