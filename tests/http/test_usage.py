"""GET /api/v1/admin/infrastructure/usage through nginx: usage and cost per period from the
roll-ups, as JSON and as CSV, with its filters, its 400s naming the parameter, its
permission (infrastructure:monitor) and tenant isolation; and the API's /metrics gauges."""
import csv
import io

import pytest

USAGE = "/api/v1/admin/infrastructure/usage"

# (project, type, start, minutes, cost_cents, success, cpu_seconds)
ROWS = [
    ("web", "kubernetes", "2026-10-05 10:15:00+00", 10, 120, True, 300),
    ("web", "kubernetes", "2026-10-05 10:45:00+00", 20, 80, False, 100),
    ("web", "build_nodes", "2026-10-12 23:30:00+00", 30, 45, True, 900),
    ("api", "kubernetes", "2026-10-31 23:59:00+00", 5, 10, True, 60),
    ("api", "build_nodes", "2026-11-02 08:00:00+00", 60, 500, True, 3600),
]


@pytest.fixture(scope="module")
def usage(stack, admin):
    """The usage rows above for the admin's tenant (default), one row of another tenant."""
    for name in ("web", "api"):
        r = admin.post("/api/v1/projects", {"name": name})
        assert r.status_code == 201, r.text
    other = stack.client(stack.token("other", "olga", "admin"))
    assert other.post("/api/v1/projects", {"name": "web"}).status_code == 201
    for tenant, (project, infra, start, minutes, cost, success, cpu) in (
            [("default", row) for row in ROWS] + [("other", ("web", "kubernetes", "2026-10-05 11:00:00+00", 5, 999, True, 1))]):
        stack.sql("""
            with t as (select id from kiln.tenants where name = %(tenant)s),
                 p as (select id from kiln.projects where name = %(project)s and tenant_id = (select id from t)),
                 b as (insert into kiln.builds (tenant_id, project_id, status)
                       select (select id from t), (select id from p), 'succeeded' returning id, tenant_id),
                 e as (insert into kiln.build_executions (build_id, tenant_id, attempt, epoch, status)
                       select id, tenant_id, 1, 1, 'succeeded' from b returning id)
            insert into kiln.infrastructure_usage (build_execution_id, tenant_id, project_id, infrastructure_type,
                start_time, end_time, resource_usage, cost_cents, success)
            select (select id from e), (select id from t), (select id from p), %(infra)s, %(start)s::timestamptz,
                   %(start)s::timestamptz + make_interval(mins => %(minutes)s),
                   jsonb_build_object('cpu_seconds', %(cpu)s), %(cost)s, %(success)s""",
                  dict(tenant=tenant, project=project, infra=infra, start=start, minutes=minutes, cost=cost,
                       success=success, cpu=cpu))
    return other


def get(client, query, **kw):
    return client.get(USAGE + query, **kw)


def test_a_month_report_lists_usage_and_cost_per_month_project_and_type(admin, usage):
    r = get(admin, "?period=month&from=2026-10-01&to=2026-12-01")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {
        "period": "month", "from": "2026-10-01T00:00:00+00:00", "to": "2026-12-01T00:00:00+00:00",
        "items": [
            {"period_start": "2026-10-01T00:00:00+00:00", "tenant": "default", "project": "api",
             "infrastructure_type": "kubernetes", "executions": 1, "succeeded": 1, "failed": 0, "cost_cents": 10,
             "cpu_seconds": 60.0, "run_seconds": 300.0, "gib_hours": 0.0},
            {"period_start": "2026-10-01T00:00:00+00:00", "tenant": "default", "project": "web",
             "infrastructure_type": "build_nodes", "executions": 1, "succeeded": 1, "failed": 0, "cost_cents": 45,
             "cpu_seconds": 900.0, "run_seconds": 1800.0, "gib_hours": 0.0},
            {"period_start": "2026-10-01T00:00:00+00:00", "tenant": "default", "project": "web",
             "infrastructure_type": "kubernetes", "executions": 2, "succeeded": 1, "failed": 1, "cost_cents": 200,
             "cpu_seconds": 400.0, "run_seconds": 1800.0, "gib_hours": 0.0},
            {"period_start": "2026-11-01T00:00:00+00:00", "tenant": "default", "project": "api",
             "infrastructure_type": "build_nodes", "executions": 1, "succeeded": 1, "failed": 0, "cost_cents": 500,
             "cpu_seconds": 3600.0, "run_seconds": 3600.0, "gib_hours": 0.0},
        ],
        "totals": {"executions": 5, "succeeded": 4, "failed": 1, "cost_cents": 755, "cpu_seconds": 4960.0,
                   "run_seconds": 7500.0},
    }


@pytest.mark.parametrize("period,query,expected", [
    ("hour", "&from=2026-10-05&to=2026-10-06", [("2026-10-05T10:00:00+00:00", 2)]),
    ("day", "&from=2026-10-01&to=2026-11-03",
     [("2026-10-05T00:00:00+00:00", 2), ("2026-10-12T00:00:00+00:00", 1), ("2026-10-31T00:00:00+00:00", 1),
      ("2026-11-02T00:00:00+00:00", 1)]),
    ("week", "&from=2026-10-01&to=2026-11-09",
     [("2026-10-05T00:00:00+00:00", 2), ("2026-10-12T00:00:00+00:00", 1), ("2026-10-26T00:00:00+00:00", 1),
      ("2026-11-02T00:00:00+00:00", 1)]),
])
def test_hours_days_and_weeks_from_monday_bucket_the_same_rows(admin, usage, period, query, expected):
    r = get(admin, f"?period={period}{query}")
    assert r.status_code == 200, r.text
    per_period = {}
    for item in r.json()["items"]:
        per_period[item["period_start"]] = per_period.get(item["period_start"], 0) + item["executions"]
    assert sorted(per_period.items()) == expected


def test_filters_narrow_by_project_and_type(admin, usage):
    r = get(admin, "?period=month&from=2026-10-01&to=2026-12-01&project=web&type=kubernetes&tenant=default")
    assert r.status_code == 200, r.text
    assert [(i["project"], i["infrastructure_type"], i["cost_cents"]) for i in r.json()["items"]] == [
        ("web", "kubernetes", 200)]
    assert get(admin, "?period=month&from=2026-10-01&to=2026-12-01&tenant=other").json()["items"] == []


def test_the_csv_form_has_the_same_rows_by_query_parameter_or_accept_header(admin, usage):
    query = "?period=day&from=2026-10-01&to=2026-11-03"
    items = get(admin, query).json()["items"]
    for r in (get(admin, query + "&format=csv"), get(admin, query, headers={"Accept": "text/csv"})):
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert r.headers["Content-Disposition"] == 'attachment; filename="kiln-usage-day.csv"'
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert list(rows[0].keys()) == ["period_start", "tenant", "project", "infrastructure_type", "executions",
                                        "succeeded", "failed", "cost_cents", "cpu_seconds", "run_seconds",
                                        "gib_hours"]
        assert [(row["period_start"], row["project"], int(row["executions"]), int(row["cost_cents"])) for row in rows] == [
            (i["period_start"], i["project"], i["executions"], i["cost_cents"]) for i in items]
        assert r.text.endswith("\r\n")
    assert get(admin, query + "&format=json", headers={"Accept": "text/csv"}).headers["Content-Type"].startswith(
        "application/json"), "format= wins over Accept"


@pytest.mark.parametrize("query,field,code", [
    ("?period=fortnight", "period", "invalid_value"),
    ("?period=", "period", "invalid_value"),
    ("?period=day&type=vm", "type", "invalid_value"),
    ("?period=day&from=yesterday", "from", "invalid_value"),
    ("?period=day&to=2026-13-01", "to", "invalid_value"),
    ("?period=day&from=2026-11-01&to=2026-10-01", "from", "invalid_value"),
    ("?period=hour&from=2026-01-01&to=2026-12-01", "from", "invalid_value"),
    ("?period=day&format=xml", "format", "invalid_value"),
    ("?period=day&group=node", "group", "unknown_field"),
])
def test_bad_parameters_are_400s_naming_the_parameter(admin, usage, query, field, code):
    r = get(admin, query)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert (error["code"], error["field"]) == (code, field), error


def test_it_needs_infrastructure_monitor(stack, usage):
    developer = stack.client(stack.token("default", "devon", "developer"))
    r = get(developer, "?period=day")
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "forbidden"
    assert "infrastructure:monitor" in r.json()["error"]["message"]
    assert get(stack.client(), "?period=day").status_code == 401


def test_a_tenant_sees_only_its_own_usage(usage):
    r = get(usage, "?period=month&from=2026-10-01&to=2026-12-01")
    assert r.status_code == 200, r.text
    assert [(i["tenant"], i["cost_cents"]) for i in r.json()["items"]] == [("other", 999)]


def test_the_api_metrics_show_queue_and_postgresql_pool_use(stack, usage):
    r = stack.client().get("/metrics")
    assert r.status_code == 200, r.text
    text = r.text
    assert 'kiln_builds{status="succeeded"} 6' in text
    assert "# TYPE kiln_queue_oldest_wait_seconds gauge" in text
    assert "kiln_queue_oldest_wait_seconds 0" in text
    assert 'kiln_db_connections{role="kiln_web",state="active"} ' in text
    assert "kiln_db_max_connections " in text
    assert 'kiln_execution_outcomes_total{infrastructure_type="kubernetes",outcome="succeeded"} 3' in text
    assert "# TYPE kiln_http_requests_total counter" in text, "the request metrics are still there"
