#include "db/sql_error.hpp"

#include <charconv>
#include <nlohmann/json.hpp>

namespace kiln::db {

namespace {

// libpq formats errors as "ERROR:  <message>\nDETAIL:  <detail>\nCONTEXT: ...".
std::string_view line_after(std::string_view text, std::string_view prefix) {
  const std::size_t at = text.find(prefix);
  if (at == std::string_view::npos) return {};
  std::string_view rest = text.substr(at + prefix.size());
  return rest.substr(0, rest.find('\n'));
}

std::string_view primary_message(std::string_view what) {
  std::string_view msg = line_after(what, "ERROR:  ");
  return msg.empty() ? what.substr(0, what.find('\n')) : msg;
}

}  // namespace

bool is_connection_state(std::string_view s) {
  return s.starts_with("08") || s.starts_with("57P");
}

bool is_retryable_state(std::string_view s) { return s == "40001" || s == "40P01"; }

Error from_sql(std::string_view sqlstate, std::string_view what) {
  const std::string internal(what);
  if (sqlstate.size() == 5 && sqlstate.starts_with("QC")) {
    int status = 500;
    std::from_chars(sqlstate.data() + 2, sqlstate.data() + 5, status);
    std::string code = "error";
    std::string field;
    const auto detail = nlohmann::json::parse(line_after(what, "DETAIL:  "), nullptr, false);
    if (detail.is_object()) {
      code = detail.value("code", code);
      if (detail.contains("field") && detail["field"].is_string()) field = detail["field"];
    }
    return Error(errc_from_status(status), code, std::string(primary_message(what)), field, internal);
  }
  if (sqlstate == "23505" || sqlstate == "23503") {
    return Error(Errc::kConflict, "conflict", "the request conflicts with existing data", {}, internal);
  }
  if (sqlstate == "22P02" || sqlstate == "22P05") {
    return Error(Errc::kBadRequest, "invalid_value", std::string(primary_message(what)), {}, internal);
  }
  if (sqlstate.starts_with("22") || sqlstate == "23514") {
    return Error(Errc::kUnprocessable, "invalid_value", std::string(primary_message(what)), {}, internal);
  }
  if (sqlstate == "57014") {
    return Error(Errc::kUnavailable, "timeout", "the database took too long; try again", {}, internal);
  }
  if (is_connection_state(sqlstate)) {
    return Error(Errc::kUnavailable, "unavailable", "the database is unavailable; try again shortly",
                 {}, internal);
  }
  return Error(Errc::kInternal, "internal", "internal error", {}, internal);
}

}  // namespace kiln::db
