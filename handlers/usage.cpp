// GET /api/v1/admin/infrastructure/usage: usage and cost per period (the hybrid seed's
// endpoint), from the roll-ups: ?period=hour|day|week|month (default day), optional from,
// to, tenant, project and type filters. JSON by default; CSV with ?format=csv or
// Accept: text/csv (the same rows, one per line, with a header).
#include <nlohmann/json.hpp>

#include "db/ops_api.hpp"
#include "http/query.hpp"
#include "routes.hpp"

namespace kiln::handlers {

namespace {

constexpr const char* kCsvColumns[] = {"period_start", "tenant", "project", "infrastructure_type",
                                       "executions", "succeeded", "failed", "cost_cents",
                                       "cpu_seconds", "run_seconds", "gib_hours"};

// One CSV field (RFC 4180): quoted when it holds a comma, quote or line break.
std::string csv_field(const nlohmann::json& value) {
  const std::string text = value.is_string() ? value.get<std::string>() : value.is_null() ? "" : value.dump();
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string usage_csv(const std::string& report_json) {
  const auto report = nlohmann::json::parse(report_json);
  std::string out;
  for (const char* column : kCsvColumns) out += std::string(out.empty() ? "" : ",") + column;
  out += "\r\n";
  for (const auto& item : report.at("items")) {
    bool first = true;
    for (const char* column : kCsvColumns) {
      out += (first ? "" : ",") + csv_field(item.value(column, nlohmann::json()));
      first = false;
    }
    out += "\r\n";
  }
  return out;
}

// ?format= wins over the Accept header.
bool wants_csv(const http::Request& request, const http::Query& q) {
  if (const auto format = q.text("format")) {
    if (*format == "csv") return true;
    if (*format == "json") return false;
    throw Error(Errc::kBadRequest, "invalid_value", "format must be json or csv", "format");
  }
  return request.accept.find("text/csv") != std::string::npos;
}

}  // namespace

void register_usage_routes(http::Router& router) {
  router.add({"GET", "/api/v1/admin/infrastructure/usage", "infrastructure:monitor", [](const http::Call& c) {
                const http::Query q(c.request.query_string);
                q.allow_only({"period", "from", "to", "tenant", "project", "type", "format"});
                const bool csv = wants_csv(c.request, q);
                const db::UsageQuery usage{q.text("period").value_or("day"), q.text("from"), q.text("to"),
                                           q.text("tenant"), q.text("project"), q.text("type")};
                std::string report = db::usage_report(c.tx, usage);
                if (!csv) return http::Response::json(200, std::move(report));
                http::Response r{200, "text/csv; charset=utf-8", usage_csv(report), {}, {}};
                r.headers = {{"Content-Disposition", "attachment; filename=\"kiln-usage-" + usage.period + ".csv\""}};
                return r;
              }, {}});
}

}  // namespace kiln::handlers
