// /admin/builds: the filterable, paginated list (build:read); /admin/builds/{id}: one build
// with its config, executions, infrastructure reason, events and log (build:read), whose
// log follows live while it runs (static/log-follow.js on the SSE log stream); start
// (build:create) and cancel (build:cancel) as POSTs.
#include <cctype>
#include <ctime>

#include "db/api.hpp"
#include "db/pages_api.hpp"
#include "http/html.hpp"
#include "page_forms.hpp"
#include "path_params.hpp"
#include "routes.hpp"

namespace kiln::handlers {

namespace {

using nlohmann::json;
namespace html = http::html;

constexpr int kPageSize = 25;
constexpr int kLogBytesOnPage = 256 * 1024;

bool is_final(const std::string& status) {
  return status == "succeeded" || status == "failed" || status == "cancelled" || status == "timed_out";
}

// "2026-11-21T14:35:12…" pairs as a duration, or "—".
std::string elapsed(const json& from, const json& to) {
  if (!from.is_string() || !to.is_string()) return "—";
  const auto seconds = [](const std::string& t) {
    std::tm tm{};
    strptime(t.substr(0, 19).c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    return static_cast<double>(timegm(&tm)) + (t.size() > 20 && t[19] == '.' ? std::stod("0" + t.substr(19, 7)) : 0);
  };
  return html::duration_text(seconds(to.get<std::string>()) - seconds(from.get<std::string>()));
}

http::Response list(const http::Call& c) {
  const http::Query q(c.request.query_string);
  q.allow_only({"status", "project", "cursor"});
  const auto status = q.text("status").value_or("");
  const auto project = q.text("project").value_or("");
  const auto cursor = q.text("cursor");
  const auto opt = [](const std::string& s) { return s.empty() ? std::nullopt : std::optional<std::string>(s); };
  const json page = json::parse(db::page_builds(c.tx, opt(status), opt(project), kPageSize, cursor));

  ctemplate::TemplateDictionary dict("builds");
  for (const auto& s : page["statuses"]) {
    auto* o = dict.AddSectionDictionary("STATUS_OPTION");
    o->SetValue("VALUE", s.get<std::string>());
    if (s == status) o->ShowSection("SELECTED");
  }
  for (const auto& p : page["projects"]) {
    auto* o = dict.AddSectionDictionary("PROJECT_OPTION");
    o->SetValue("VALUE", p.get<std::string>());
    if (p == project) o->ShowSection("SELECTED");
  }
  for (const auto& b : page["items"]) {
    auto* row = dict.AddSectionDictionary("BUILD");
    row->SetValue("ID", b["id"].get<std::string>());
    row->SetValue("SHORT_ID", b["id"].get<std::string>().substr(0, 8));
    row->SetValue("PROJECT", b["project"].get<std::string>());
    row->SetValue("METHOD", b["method"].get<std::string>());
    row->SetValue("STATUS", b["status"].get<std::string>());
    row->SetValue("INFRA", b["infrastructure_type"].get<std::string>());
    row->SetValue("CREATED", html::time_text(b["created_at"]));
    row->SetValue("DURATION", elapsed(b["started_at"], b["finished_at"]));
  }
  if (page["items"].empty()) dict.ShowSection("NO_BUILDS");
  dict.SetValue("FILTER_STATUS", status);
  dict.SetValue("FILTER_PROJECT", project);
  if (page["next_cursor"].is_string()) dict.SetValueAndShowSection("NEXT_CURSOR", page["next_cursor"].get<std::string>(), "HAS_NEXT");
  if (cursor) dict.ShowSection("HAS_FIRST");
  return html::page(c, "builds.tpl", "Builds", dict);
}

void key_values(ctemplate::TemplateDictionary& dict, const char* section, const json& object) {
  for (const auto& [key, value] : object.items()) {
    auto* kv = dict.AddSectionDictionary(section);
    kv->SetValue("KEY", key);
    kv->SetValue("VALUE", value.is_string() ? value.get<std::string>() : value.dump());
  }
}

void summary(const json& b, ctemplate::TemplateDictionary& dict) {
  dict.SetValue("STATUS", b["status"].get<std::string>());
  dict.SetValue("PROJECT", b["project"].get<std::string>());
  dict.SetValue("METHOD", b["method"].get<std::string>());
  dict.SetValue("INFRA_TYPE", b["infrastructure_type"].get<std::string>());
  dict.SetValue("INFRA_REASON", html::text_of(b["infrastructure_reason"]));
  if (b["force_infrastructure"].get<bool>()) dict.ShowSection("FORCED");
  dict.SetValue("ATTEMPT", std::to_string(b["attempt"].get<int>()) + " of " + std::to_string(b["max_attempts"].get<int>()));
  for (const char* t : {"created_at", "queued_at", "started_at", "finished_at"}) {
    std::string key = t;
    for (auto& ch : key) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    dict.SetValue(key, html::time_text(b[t]));
  }
  if (b["failure_reason"].is_string()) dict.SetValueAndShowSection("FAILURE", b["failure_reason"].get<std::string>(), "FAILED");
  if (b.contains("queue") && b["queue"].is_object()) {  // a queued build: why it waits (docs/scheduling.md)
    const json& q = b["queue"];
    dict.ShowSection("WAITING");
    dict.SetValue("BLOCKED_CODE", q["blocked_reason"]["code"].get<std::string>());
    dict.SetValue("BLOCKED_MESSAGE", q["blocked_reason"]["message"].get<std::string>());
    dict.SetValue("POSITION_TENANT", html::text_of(q["position"]["tenant"]));
    dict.SetValue("POSITION_OVERALL", html::text_of(q["position"]["overall"]));
    dict.SetValue("ETA", q["eta_seconds"].is_number() ? "about " + html::duration_text(q["eta_seconds"].get<double>())
                                                      : "unknown (no comparable builds claimed lately)");
  }
  key_values(dict, "PARAM", b["params"]);
  key_values(dict, "SPEC", b["spec"]);
  key_values(dict, "REQUIREMENT", b["requirements"]);
}

void executions_and_events(const json& b, ctemplate::TemplateDictionary& dict) {
  for (const auto& e : b["executions"]) {
    auto* row = dict.AddSectionDictionary("EXECUTION");
    row->SetIntValue("ATTEMPT", e["attempt"].get<int>());
    row->SetValue("STATUS", e["status"].get<std::string>());
    row->SetValue("INFRA", e["infrastructure_type"].get<std::string>());
    row->SetValue("REASON", html::text_of(e["infrastructure_reason"]));
    row->SetValue("WORKER", html::text_of(e["worker"]));
    row->SetValue("SIZE", e["size"].is_object() && e["size"].contains("cpu")
                              ? html::text_of(e["size"]["cpu"]) + " CPU, " + html::text_of(e["size"]["memory_gb"]) + " GB"
                              : "—");
    row->SetValue("EXIT_CODE", html::text_of(e["exit_code"]));
    row->SetValue("FAILURE", html::text_of(e["failure_reason"]));
    row->SetValue("DURATION", elapsed(e["started_at"], e["finished_at"]));
  }
  if (b["executions"].empty()) dict.ShowSection("NO_EXECUTIONS");
  for (const auto& e : b["events"]) {
    auto* row = dict.AddSectionDictionary("EVENT");
    row->SetValue("TIME", html::time_text(e["created_at"]));
    row->SetValue("FROM", html::text_of(e["from_status"]));
    row->SetValue("TO", e["to_status"].get<std::string>());
    row->SetValue("ACTOR", e["actor"].get<std::string>());
    row->SetValue("MESSAGE", e["message"].get<std::string>());
  }
}

http::Response show(const http::Call& c) {
  const std::string& id = uuid_param(c.params[0], "id");
  const json b = json::parse(db::page_build(c.tx, id, kLogBytesOnPage));
  const std::string status = b["status"].get<std::string>();
  ctemplate::TemplateDictionary dict("build");
  dict.SetValue("ID", id);
  summary(b, dict);
  executions_and_events(b, dict);
  const json& log = b["log"];
  dict.SetValue("LOG", log["text"].get<std::string>());
  dict.SetIntValue("LOG_OFFSET", log["next_offset"].get<long long>());
  if (log["text"].get<std::string>().empty()) dict.ShowSection("LOG_EMPTY");
  // A running build's log is followed live; a finished one whose log is longer than the
  // page shows links to the whole log.
  if (!log["complete"].get<bool>()) dict.ShowSection(is_final(status) ? "LOG_MORE" : "LIVE");
  if (!is_final(status)) dict.ShowSection("ACTIVE");
  if (status == "pending") dict.ShowSection("PENDING");
  return html::page(c, "build.tpl", "Build " + id.substr(0, 8), dict);
}

}  // namespace

void register_build_pages(http::Router& router) {
  router.add({"GET", "/admin/builds", "build:read", list, {}, http::Auth::kPageSession});
  router.add({"GET", "/admin/builds/{id}", "build:read", show, {}, http::Auth::kPageSession});
  router.add({"POST", "/admin/builds/{id}/start", "build:create", [](const http::Call& c) {
                const std::string& id = uuid_param(c.params[0], "id");
                db::start_build(c.tx, id);
                return html::redirect("/admin/builds/" + id);
              }, {}, http::Auth::kPageSession});
  router.add({"POST", "/admin/builds/{id}/cancel", "build:cancel", [](const http::Call& c) {
                const std::string& id = uuid_param(c.params[0], "id");
                const std::string reason = form_text(form_of(c), "reason");
                db::cancel_build(c.tx, id, reason.empty() ? std::optional<std::string>("cancelled from the build page")
                                                          : std::optional<std::string>(reason));
                return html::redirect("/admin/builds/" + id);
              }, {}, http::Auth::kPageSession});
}

}  // namespace kiln::handlers
