// GET /admin: the infrastructure dashboard (infrastructure:monitor). One page query
// (kiln_api.page_dashboard); the charts are inline SVG whose geometry is computed here, so
// the page needs no JavaScript and no chart library.
#include <algorithm>
#include <cmath>

#include "db/pages_api.hpp"
#include "http/html.hpp"
#include "http/query.hpp"
#include "routes.hpp"

namespace kiln::handlers {

namespace {

using nlohmann::json;
namespace html = http::html;

long long count_of(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<long long>() : 0;
}

int share(long long part, long long whole, int scale) {
  return whole > 0 ? static_cast<int>(std::lround(static_cast<double>(scale) * part / whole)) : 0;
}

// Builds by status: a horizontal bar per status.
void status_chart(const json& rows, ctemplate::TemplateDictionary& dict) {
  long long top = 1;
  for (const auto& r : rows) top = std::max(top, count_of(r, "count"));
  int y = 0;
  for (const auto& r : rows) {
    auto* bar = dict.AddSectionDictionary("STATUS_BAR");
    const int width = share(count_of(r, "count"), top, 170);
    bar->SetValue("STATUS", r["status"].get<std::string>());
    bar->SetIntValue("COUNT", count_of(r, "count"));
    bar->SetIntValue("Y", y);
    bar->SetIntValue("TEXT_Y", y + 12);
    bar->SetIntValue("WIDTH", width);
    bar->SetIntValue("COUNT_X", 96 + width + 6);
    y += 20;
  }
  dict.SetIntValue("STATUS_CHART_HEIGHT", y);
}

// Executions per day for two weeks, Kubernetes stacked on build nodes.
void daily_chart(const json& days, ctemplate::TemplateDictionary& dict) {
  long long top = 1;
  for (const auto& d : days) top = std::max(top, count_of(d, "kubernetes") + count_of(d, "build_nodes"));
  int x = 4;
  for (const auto& d : days) {
    auto* col = dict.AddSectionDictionary("DAY");
    const int nodes = share(count_of(d, "build_nodes"), top, 100);
    const int k8s = share(count_of(d, "kubernetes"), top, 100);
    col->SetIntValue("X", x);
    col->SetIntValue("LABEL_X", x + 8);
    col->SetIntValue("NODES_Y", 110 - nodes);
    col->SetIntValue("NODES_H", nodes);
    col->SetIntValue("K8S_Y", 110 - nodes - k8s);
    col->SetIntValue("K8S_H", k8s);
    const std::string day = d["day"].get<std::string>();
    col->SetValue("DAY", day.substr(8));
    col->SetValue("TITLE", day + ": " + std::to_string(count_of(d, "kubernetes")) + " on Kubernetes, " +
                               std::to_string(count_of(d, "build_nodes")) + " on build nodes");
    x += 22;
  }
}

// One row of the seed's success metrics: the figure, its target and whether it is met.
void metric(ctemplate::TemplateDictionary& dict, const std::string& name, long long part, long long whole,
            const std::string& target, bool above, double bound) {
  auto* row = dict.AddSectionDictionary("METRIC");
  row->SetValue("NAME", name);
  row->SetValue("VALUE", html::percent_text(part, whole));
  row->SetValue("DETAIL", std::to_string(part) + " of " + std::to_string(whole));
  row->SetValue("TARGET", target);
  if (whole <= 0) {
    row->SetValue("STATE", "none");
    row->SetValue("STATE_TEXT", "no data yet");
    return;
  }
  const double pct = 100.0 * static_cast<double>(part) / static_cast<double>(whole);
  const bool met = above ? pct > bound : pct < bound;
  row->SetValue("STATE", met ? "ok" : "bad");
  row->SetValue("STATE_TEXT", met ? "met" : "not met");
}

void health_grid(const json& d, ctemplate::TemplateDictionary& dict) {
  for (const auto& p : d["providers"]) {
    auto* tile = dict.AddSectionDictionary("PROVIDER");
    tile->SetValue("NAME", html::text_of(p["display_name"]));
    tile->SetValue("TYPE", html::text_of(p["provider_type"]));
    tile->SetValue("HEALTH", p["enabled"].get<bool>() ? html::text_of(p["health"]) : "disabled");
    tile->SetValue("CHECKED", html::time_text(p["health_checked_at"]));
  }
  if (d["providers"].empty()) dict.ShowSection("NO_PROVIDERS");
  for (const auto& n : d["nodes"]) {
    auto* tile = dict.AddSectionDictionary("NODE");
    tile->SetValue("NAME", html::text_of(n["name"]));
    tile->SetValue("STATE", n["status"] == "active" ? n["state"].get<std::string>() : n["status"].get<std::string>());
    tile->SetValue("HEARTBEAT", n["heartbeat_age_seconds"].is_number()
                                    ? html::duration_text(n["heartbeat_age_seconds"].get<double>()) + " ago"
                                    : "no heartbeat yet");
    tile->SetIntValue("RUNNING", count_of(n, "running"));
    tile->SetIntValue("CONCURRENCY", count_of(n, "concurrency"));
  }
  if (d["nodes"].empty()) dict.ShowSection("NO_NODES");
}

http::Response dashboard(const http::Call& c) {
  const json d = json::parse(db::page_dashboard(c.tx));
  ctemplate::TemplateDictionary dict("dashboard");
  status_chart(d["builds_by_status"], dict);
  daily_chart(d["daily"], dict);

  const json& q = d["queue"];
  dict.SetIntValue("QUEUED", count_of(q, "queued"));
  dict.SetIntValue("DISPATCHING", count_of(q, "dispatching"));
  dict.SetIntValue("RUNNING", count_of(q, "running"));
  dict.SetValue("OLDEST_WAIT", q["oldest_wait_seconds"].is_number()
                                   ? html::duration_text(q["oldest_wait_seconds"].get<double>()) : "—");
  const json& w = d["wait_24h"];
  dict.SetIntValue("STARTED_24H", count_of(w, "started"));
  dict.SetValue("AVG_WAIT", w["avg_seconds"].is_number() ? html::duration_text(w["avg_seconds"].get<double>()) : "—");
  dict.SetValue("P95_WAIT", w["p95_seconds"].is_number() ? html::duration_text(w["p95_seconds"].get<double>()) : "—");

  const long long k8s = count_of(d["usage_30d"], "kubernetes");
  const long long nodes = count_of(d["usage_30d"], "build_nodes");
  dict.SetIntValue("K8S_COUNT", k8s);
  dict.SetIntValue("NODES_COUNT", nodes);
  dict.SetValue("K8S_PCT", html::percent_text(k8s, k8s + nodes));
  dict.SetValue("NODES_PCT", html::percent_text(nodes, k8s + nodes));
  dict.SetIntValue("K8S_W", share(k8s, k8s + nodes, 300));
  dict.SetIntValue("NODES_X", share(k8s, k8s + nodes, 300));
  dict.SetIntValue("NODES_W", k8s + nodes > 0 ? 300 - share(k8s, k8s + nodes, 300) : 0);

  const json& b = d["builds_30d"];
  const json& acc = d["accuracy_30d"].is_object() ? d["accuracy_30d"] : json::object();
  metric(dict, "Kubernetes usage", k8s, k8s + nodes, "> 90%", true, 90);
  metric(dict, "Build node usage", nodes, k8s + nodes, "< 10%", false, 10);
  metric(dict, "Auto selection rate", count_of(b, "auto"), count_of(b, "submitted"), "> 95%", true, 95);
  metric(dict, "Manual override rate", count_of(b, "forced"), count_of(b, "submitted"), "< 5%", false, 5);
  metric(dict, "Selection accuracy", count_of(acc, "succeeded"), count_of(acc, "followed"), "> 95%", true, 95);
  metric(dict, "Build success", count_of(b, "succeeded"), count_of(b, "finished"), "> 99%", true, 99);
  health_grid(d, dict);
  return html::page(c, "dashboard.tpl", "Dashboard", dict);
}

}  // namespace

void register_dashboard_page(http::Router& router) {
  router.add({"GET", "/admin", "infrastructure:monitor", dashboard, {}, http::Auth::kPageSession});
}

}  // namespace kiln::handlers
