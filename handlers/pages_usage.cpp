// GET /admin/usage: usage and cost per period (hour, day, week, month), per tenant,
// project and infrastructure (infrastructure:monitor), from kiln_api.usage_report.
#include "db/pages_api.hpp"
#include "http/html.hpp"
#include "http/query.hpp"
#include "routes.hpp"

namespace kiln::handlers {

namespace {

using nlohmann::json;
namespace html = http::html;

std::string money(long long cents) {
  const std::string frac = std::to_string(cents % 100);
  return std::to_string(cents / 100) + "." + (frac.size() < 2 ? "0" : "") + frac;
}

void options(ctemplate::TemplateDictionary& dict, const char* section, std::initializer_list<const char*> values,
             const std::string& selected) {
  for (const char* v : values) {
    auto* o = dict.AddSectionDictionary(section);
    o->SetValue("VALUE", v);
    if (selected == v) o->ShowSection("SELECTED");
  }
}

http::Response usage(const http::Call& c) {
  const http::Query q(c.request.query_string);
  q.allow_only({"period", "project", "type"});
  const std::string period = q.text("period").value_or("day");
  const auto project = q.text("project").value_or("");
  const auto type = q.text("type").value_or("");
  const auto opt = [](const std::string& s) { return s.empty() ? std::nullopt : std::optional<std::string>(s); };
  const json report = json::parse(db::page_usage(c.tx, period, opt(project), opt(type)));
  ctemplate::TemplateDictionary dict("usage");
  options(dict, "PERIOD_OPTION", {"hour", "day", "week", "month"}, period);
  options(dict, "TYPE_OPTION", {"kubernetes", "build_nodes"}, type);
  dict.SetValue("PROJECT", project);
  dict.SetValue("FROM", html::time_text(report["from"]));
  dict.SetValue("TO", html::time_text(report["to"]));
  for (const auto& i : report["items"]) {
    auto* row = dict.AddSectionDictionary("ROW");
    row->SetValue("PERIOD", html::time_text(i["period_start"]));
    row->SetValue("TENANT", html::text_of(i["tenant"]));
    row->SetValue("PROJECT", html::text_of(i["project"]));
    row->SetValue("INFRA", html::text_of(i["infrastructure_type"]));
    row->SetValue("EXECUTIONS", html::text_of(i["executions"]));
    row->SetValue("SUCCEEDED", html::text_of(i["succeeded"]));
    row->SetValue("FAILED", html::text_of(i["failed"]));
    row->SetValue("CPU_HOURS", html::duration_text(i["cpu_seconds"].is_number() ? i["cpu_seconds"].get<double>() : -1));
    row->SetValue("COST", money(i["cost_cents"].is_number() ? i["cost_cents"].get<long long>() : 0));
  }
  if (report["items"].empty()) dict.ShowSection("NO_ROWS");
  const json& t = report["totals"];
  dict.SetValue("TOTAL_EXECUTIONS", html::text_of(t["executions"]));
  dict.SetValue("TOTAL_SUCCEEDED", html::text_of(t["succeeded"]));
  dict.SetValue("TOTAL_FAILED", html::text_of(t["failed"]));
  dict.SetValue("TOTAL_COST", money(t["cost_cents"].is_number() ? t["cost_cents"].get<long long>() : 0));
  return html::page(c, "usage.tpl", "Usage", dict);
}

}  // namespace

void register_usage_page(http::Router& router) {
  router.add({"GET", "/admin/usage", "infrastructure:monitor", usage, {}, http::Auth::kPageSession});
}

}  // namespace kiln::handlers
