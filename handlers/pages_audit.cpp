// GET /admin/audit: the tenant's audit log (admin), newest first, filterable by action,
// paged by id (kiln_api.page_audit_log).
#include "db/pages_api.hpp"
#include "http/html.hpp"
#include "http/query.hpp"
#include "routes.hpp"

namespace kiln::handlers {

namespace {

using nlohmann::json;
namespace html = http::html;

constexpr int kPageSize = 50;

http::Response audit(const http::Call& c) {
  const http::Query q(c.request.query_string);
  q.allow_only({"action", "before"});
  const auto action = q.text("action").value_or("");
  const json page = json::parse(db::page_audit_log(c.tx, action.empty() ? std::nullopt : std::optional(action),
                                                   q.integer("before"), kPageSize));
  ctemplate::TemplateDictionary dict("audit");
  for (const auto& a : page["actions"]) {
    auto* o = dict.AddSectionDictionary("ACTION_OPTION");
    o->SetValue("VALUE", a.get<std::string>());
    if (a == action) o->ShowSection("SELECTED");
  }
  for (const auto& e : page["items"]) {
    auto* row = dict.AddSectionDictionary("ENTRY");
    row->SetValue("TIME", html::time_text(e["created_at"]));
    row->SetValue("ACTOR", e["actor"].get<std::string>());
    row->SetValue("ACTION", e["action"].get<std::string>());
    row->SetValue("OBJECT", e["object_type"].get<std::string>() + " " + html::text_of(e["object_id"]));
    row->SetValue("DETAIL", e["detail"].dump(-1, ' ', false, json::error_handler_t::replace));
  }
  if (page["items"].empty()) dict.ShowSection("NO_ENTRIES");
  dict.SetValue("FILTER_ACTION", action);
  if (page["next_before"].is_number()) {
    dict.SetValueAndShowSection("NEXT_BEFORE", std::to_string(page["next_before"].get<long long>()), "HAS_NEXT");
  }
  if (q.text("before")) dict.ShowSection("HAS_FIRST");
  return html::page(c, "audit.tpl", "Audit log", dict);
}

}  // namespace

void register_audit_page(http::Router& router) {
  router.add({"GET", "/admin/audit", "admin", audit, {}, http::Auth::kPageSession});
}

}  // namespace kiln::handlers
