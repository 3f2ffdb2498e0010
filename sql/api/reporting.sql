-- Views for DBAs and dashboards (docs/dba.md documents every column). The role
-- kiln_reporting may read these views and nothing else: no table of schema kiln, no
-- function of kiln_api, no token, credential, secret, URL or log text.
-- The views are owned by kiln_system, so they see every tenant (its system_access
-- policies) whoever reads them; they are granted to kiln_reporting only, never to the API
-- role. All periods are UTC; weeks start on Monday. Usage figures come from the roll-ups
-- (kiln.usage_rollup_hourly / _daily), so they stay fast and keep counting after old raw
-- partitions are detached. Only builtin functions are called, as a view's functions are
-- checked against its reader. Periods are cut as date_trunc(unit, t at time zone 'UTC') at
-- time zone 'UTC' (the same as date_trunc(unit, t, 'UTC'), and cheaper per row).

-- Usage and cost per hour, day, week and month and per tenant, project, infrastructure
-- type, provider and build node.
create view kiln_api.usage_hourly as
  select r.hour as period_start, r.tenant_id, t.name as tenant, r.project_id, p.name as project,
         r.infrastructure_type::text as infrastructure_type, r.provider_id, pr.name as provider,
         r.build_node_id, n.name as build_node, r.executions, r.succeeded, r.failed, r.cost_cents,
         r.cpu_seconds, r.run_seconds, r.gib_hours
    from kiln.usage_rollup_hourly r
    join kiln.tenants t on t.id = r.tenant_id
    join kiln.projects p on p.id = r.project_id
    left join kiln.providers pr on pr.id = r.provider_id
    left join kiln.build_nodes n on n.id = r.build_node_id;

create view kiln_api.usage_daily as
  select r.day as period_start, r.tenant_id, t.name as tenant, r.project_id, p.name as project,
         r.infrastructure_type::text as infrastructure_type, r.provider_id, pr.name as provider,
         r.build_node_id, n.name as build_node, r.executions, r.succeeded, r.failed, r.cost_cents,
         r.cpu_seconds, r.run_seconds, r.gib_hours
    from kiln.usage_rollup_daily r
    join kiln.tenants t on t.id = r.tenant_id
    join kiln.projects p on p.id = r.project_id
    left join kiln.providers pr on pr.id = r.provider_id
    left join kiln.build_nodes n on n.id = r.build_node_id;

-- Weeks and months: the daily roll-up aggregated by ids, names joined to the result. A
-- filter on period_start reaches the daily table (it is a grouping column); months are
-- served by the index usage_rollup_daily_month on that very expression.
create view kiln_api.usage_weekly as
  select x.period_start, x.tenant_id, t.name as tenant, x.project_id, p.name as project, x.infrastructure_type,
         x.provider_id, pr.name as provider, x.build_node_id, n.name as build_node, x.executions, x.succeeded,
         x.failed, x.cost_cents, x.cpu_seconds, x.run_seconds, x.gib_hours
    from (select date_trunc('week', d.day at time zone 'UTC') at time zone 'UTC' as period_start, d.tenant_id,
                 d.project_id, d.infrastructure_type::text as infrastructure_type, d.provider_id, d.build_node_id,
                 sum(d.executions)::bigint as executions, sum(d.succeeded)::bigint as succeeded,
                 sum(d.failed)::bigint as failed, sum(d.cost_cents)::bigint as cost_cents,
                 sum(d.cpu_seconds) as cpu_seconds, sum(d.run_seconds) as run_seconds, sum(d.gib_hours) as gib_hours
            from kiln.usage_rollup_daily d group by 1, 2, 3, 4, 5, 6) x
    join kiln.tenants t on t.id = x.tenant_id
    join kiln.projects p on p.id = x.project_id
    left join kiln.providers pr on pr.id = x.provider_id
    left join kiln.build_nodes n on n.id = x.build_node_id;

create view kiln_api.usage_monthly as
  select x.period_start, x.tenant_id, t.name as tenant, x.project_id, p.name as project, x.infrastructure_type,
         x.provider_id, pr.name as provider, x.build_node_id, n.name as build_node, x.executions, x.succeeded,
         x.failed, x.cost_cents, x.cpu_seconds, x.run_seconds, x.gib_hours
    from (select date_trunc('month', d.day at time zone 'UTC') at time zone 'UTC' as period_start, d.tenant_id,
                 d.project_id, d.infrastructure_type::text as infrastructure_type, d.provider_id, d.build_node_id,
                 sum(d.executions)::bigint as executions, sum(d.succeeded)::bigint as succeeded,
                 sum(d.failed)::bigint as failed, sum(d.cost_cents)::bigint as cost_cents,
                 sum(d.cpu_seconds) as cpu_seconds, sum(d.run_seconds) as run_seconds, sum(d.gib_hours) as gib_hours
            from kiln.usage_rollup_daily d group by 1, 2, 3, 4, 5, 6) x
    join kiln.tenants t on t.id = x.tenant_id
    join kiln.projects p on p.id = x.project_id
    left join kiln.providers pr on pr.id = x.provider_id
    left join kiln.build_nodes n on n.id = x.build_node_id;

-- One row per usage record (per finished execution), with names; no error text.
create view kiln_api.usage_records as
  select u.id, u.start_time, u.end_time, u.tenant_id, t.name as tenant, u.project_id, p.name as project,
         e.build_id, u.build_execution_id as execution_id, e.attempt, u.infrastructure_type::text as infrastructure_type,
         u.provider_id, pr.name as provider, u.build_node_id, n.name as build_node, u.success, u.cost_cents,
         case when jsonb_typeof(u.resource_usage -> 'cpu_seconds') = 'number'
              then (u.resource_usage ->> 'cpu_seconds')::numeric end as cpu_seconds,
         case when jsonb_typeof(u.resource_usage -> 'peak_memory_bytes') = 'number'
              then (u.resource_usage ->> 'peak_memory_bytes')::numeric end as peak_memory_bytes,
         extract(epoch from u.end_time - u.start_time) as run_seconds
    from kiln.infrastructure_usage u
    join kiln.tenants t on t.id = u.tenant_id
    join kiln.projects p on p.id = u.project_id
    join kiln.build_executions e on e.id = u.build_execution_id
    left join kiln.providers pr on pr.id = u.provider_id
    left join kiln.build_nodes n on n.id = u.build_node_id;

-- One row per build: when it was first queued, started running and finished.
--   queue_wait_seconds  first `queued` event → first `running` (includes dispatching and
--                       waiting for a build node)
--   run_seconds         first `running` → finished (retries included)
create view kiln_api.build_timings as
  select b.id as build_id, b.tenant_id, t.name as tenant, b.project_id, p.name as project, c.method::text as method,
         c.infrastructure_type::text as requested_infrastructure_type, c.force_infrastructure,
         le.infrastructure_type::text as infrastructure_type, b.status::text as status, b.attempt as attempts,
         b.created_at, q.first_queued_at, b.started_at, b.finished_at,
         extract(epoch from b.started_at - q.first_queued_at) as queue_wait_seconds,
         extract(epoch from b.finished_at - b.started_at) as run_seconds
    from kiln.builds b
    join kiln.tenants t on t.id = b.tenant_id
    join kiln.projects p on p.id = b.project_id
    join kiln.build_configs c on c.build_id = b.id
    left join lateral (select min(ev.created_at) as first_queued_at from kiln.build_events ev
                        where ev.build_id = b.id and ev.to_status = 'queued') q on true
    left join lateral (select e.infrastructure_type from kiln.build_executions e
                        where e.build_id = b.id order by e.attempt desc limit 1) le on true;

-- Queue wait percentiles per day (of first queueing), tenant and infrastructure type.
create view kiln_api.queue_wait_percentiles as
  select date_trunc('day', bt.first_queued_at, 'UTC') as day, bt.tenant_id, bt.tenant, bt.infrastructure_type,
         count(*) as builds,
         percentile_cont(0.5) within group (order by bt.queue_wait_seconds) as p50_seconds,
         percentile_cont(0.9) within group (order by bt.queue_wait_seconds) as p90_seconds,
         percentile_cont(0.95) within group (order by bt.queue_wait_seconds) as p95_seconds,
         percentile_cont(0.99) within group (order by bt.queue_wait_seconds) as p99_seconds,
         max(bt.queue_wait_seconds) as max_seconds
    from kiln_api.build_timings bt
   where bt.queue_wait_seconds is not null
   group by 1, 2, 3, 4;

-- Run time percentiles per day (of finishing), tenant, project, method and infrastructure type.
create view kiln_api.run_time_percentiles as
  select date_trunc('day', bt.finished_at, 'UTC') as day, bt.tenant_id, bt.tenant, bt.project, bt.method,
         bt.infrastructure_type, count(*) as builds, count(*) filter (where bt.status = 'succeeded') as succeeded,
         percentile_cont(0.5) within group (order by bt.run_seconds) as p50_seconds,
         percentile_cont(0.9) within group (order by bt.run_seconds) as p90_seconds,
         percentile_cont(0.95) within group (order by bt.run_seconds) as p95_seconds,
         percentile_cont(0.99) within group (order by bt.run_seconds) as p99_seconds,
         max(bt.run_seconds) as max_seconds
    from kiln_api.build_timings bt
   where bt.run_seconds is not null
   group by 1, 2, 3, 4, 5, 6;

-- The seed's success metrics per month (of finishing) and tenant; targets in docs/dba.md.
-- Shares are of finished builds that ran somewhere; rates are of all finished builds.
-- selection_accuracy: settled dispatcher recommendations (kiln.infrastructure_recommendations)
-- whose build succeeded on the recommended infrastructure.
create view kiln_api.success_metrics as
  with b as (
    select date_trunc('month', bt.finished_at, 'UTC') as month, bt.tenant_id, bt.tenant, bt.status,
           bt.infrastructure_type, bt.requested_infrastructure_type, bt.force_infrastructure,
           bt.infrastructure_type = m.fallback_infra::text as on_fallback
      from kiln_api.build_timings bt
      join kiln.build_methods m on m.method::text = bt.method
     where bt.finished_at is not null
  ), builds as (
    select b.month, b.tenant_id, b.tenant, count(*) as builds_finished,
           count(*) filter (where b.infrastructure_type in ('kubernetes', 'build_nodes')) as builds_ran,
           count(*) filter (where b.infrastructure_type = 'kubernetes') as on_kubernetes,
           count(*) filter (where b.infrastructure_type = 'build_nodes') as on_build_nodes,
           count(*) filter (where b.requested_infrastructure_type = 'auto') as auto_selected,
           count(*) filter (where b.force_infrastructure) as overridden,
           count(*) filter (where b.status = 'succeeded') as succeeded,
           count(*) filter (where b.status in ('succeeded', 'failed', 'timed_out')) as completed,
           count(*) filter (where b.on_fallback) as on_fallback,
           count(*) filter (where b.on_fallback and b.status = 'succeeded') as on_fallback_succeeded
      from b group by 1, 2, 3
  ), cost as (
    select date_trunc('month', d.day, 'UTC') as month, d.tenant_id, sum(d.cost_cents)::bigint as cost_cents
      from kiln.usage_rollup_daily d group by 1, 2
  ), recs as (
    select date_trunc('month', r.settled_at, 'UTC') as month, r.tenant_id, count(*) as settled,
           count(*) filter (where r.succeeded) as succeeded
      from kiln.infrastructure_recommendations r
     where r.settled_at is not null and r.source = 'dispatch'
     group by 1, 2
  )
  select s.month, s.tenant_id, s.tenant, s.builds_finished,
         round(s.on_kubernetes::numeric / nullif(s.builds_ran, 0), 4) as kubernetes_share,
         round(s.on_build_nodes::numeric / nullif(s.builds_ran, 0), 4) as build_nodes_share,
         round(s.auto_selected::numeric / s.builds_finished, 4) as auto_selection_rate,
         round(s.overridden::numeric / s.builds_finished, 4) as manual_override_rate,
         round(s.succeeded::numeric / nullif(s.completed, 0), 4) as build_success_rate,
         round(s.on_fallback_succeeded::numeric / nullif(s.on_fallback, 0), 4) as fallback_success_rate,
         round(r.succeeded::numeric / nullif(r.settled, 0), 4) as selection_accuracy,
         coalesce(r.settled, 0) as recommendations_settled,
         coalesce(c.cost_cents, 0) as cost_cents,
         round(coalesce(c.cost_cents, 0)::numeric / s.builds_finished, 2) as cost_cents_per_build
    from builds s
    left join cost c on c.month = s.month and c.tenant_id = s.tenant_id
    left join recs r on r.month = s.month and r.tenant_id = s.tenant_id;

-- Cost per build by infrastructure, per month and tenant. Per succeeded build counts the
-- cost of failed attempts too (what a good build costs, waste included).
create view kiln_api.cost_per_build as
  select date_trunc('month', d.day at time zone 'UTC') at time zone 'UTC' as month, d.tenant_id, t.name as tenant,
         d.infrastructure_type::text as infrastructure_type, sum(d.executions)::bigint as executions,
         sum(d.succeeded)::bigint as succeeded, sum(d.cost_cents)::bigint as cost_cents,
         round(sum(d.cost_cents)::numeric / nullif(sum(d.executions), 0), 2) as cost_cents_per_execution,
         round(sum(d.cost_cents)::numeric / nullif(sum(d.succeeded), 0), 2) as cost_cents_per_succeeded_build,
         round(sum(d.cpu_seconds) / 3600, 3) as cpu_hours
    from kiln.usage_rollup_daily d
    join kiln.tenants t on t.id = d.tenant_id
   group by 1, 2, 3, 4;

-- Build node utilization per day: slot_utilization = run time / (concurrency × the day's
-- seconds so far); cpu_utilization = cpu seconds / (capacity.cpu × those seconds). A run
-- counts on the day it started.
create view kiln_api.node_utilization_daily as
  select d.day, n.id as build_node_id, n.name as build_node, n.tenant_id, n.status::text as status,
         n.concurrency, c.cpu as capacity_cpu, sum(d.executions)::bigint as executions,
         sum(d.run_seconds) as run_seconds, sum(d.cpu_seconds) as cpu_seconds, s.seconds as period_seconds,
         round(sum(d.run_seconds) / (n.concurrency * s.seconds), 4) as slot_utilization,
         round(sum(d.cpu_seconds) / nullif(c.cpu * s.seconds, 0), 4) as cpu_utilization
    from kiln.usage_rollup_daily d
    join kiln.build_nodes n on n.id = d.build_node_id
    cross join lateral (select case when jsonb_typeof(n.capacity -> 'cpu') = 'number'
                                    then (n.capacity ->> 'cpu')::numeric end as cpu) c
    cross join lateral (select greatest(extract(epoch from least(d.day + interval '1 day', now()) - d.day), 1)
                               as seconds) s
   group by d.day, n.id, c.cpu, s.seconds;

-- Kubernetes provider utilization per day: cpu seconds used / (the provider's node pools'
-- capacity.cpu, their total vCPUs, × the day's seconds so far).
create view kiln_api.provider_utilization_daily as
  select d.day, pr.id as provider_id, pr.name as provider, pr.provider_type::text as provider_type,
         pr.health::text as health, c.cpu as capacity_cpu, sum(d.executions)::bigint as executions,
         sum(d.run_seconds) as run_seconds, sum(d.cpu_seconds) as cpu_seconds, s.seconds as period_seconds,
         round(sum(d.cpu_seconds) / nullif(c.cpu * s.seconds, 0), 4) as cpu_utilization
    from kiln.usage_rollup_daily d
    join kiln.providers pr on pr.id = d.provider_id
    cross join lateral (select sum(case when jsonb_typeof(np.capacity -> 'cpu') = 'number'
                                        then (np.capacity ->> 'cpu')::numeric end) as cpu
                          from kiln.node_pools np where np.provider_id = pr.id) c
    cross join lateral (select greatest(extract(epoch from least(d.day + interval '1 day', now()) - d.day), 1)
                               as seconds) s
   group by d.day, pr.id, c.cpu, s.seconds;

-- Builds not finished, per tenant and status, with the longest wait since queueing.
create view kiln_api.queue_depth as
  select b.tenant_id, t.name as tenant, b.status::text as status, count(*) as builds,
         min(b.queued_at) as oldest_queued_at, extract(epoch from now() - min(b.queued_at)) as longest_wait_seconds
    from kiln.builds b
    join kiln.tenants t on t.id = b.tenant_id
   where b.status in ('pending', 'queued', 'dispatching', 'running')
   group by 1, 2, 3;

-- Webhook deliveries and their state (no URL, secret or payload).
create view kiln_api.webhook_delivery_log as
  select d.id as delivery_id, d.tenant_id, t.name as tenant, w.name as webhook, d.event, d.event_key, d.status,
         d.attempts, d.last_status_code, d.last_error, d.created_at, d.last_attempt_at, d.delivered_at,
         case when d.status = 'pending' then d.next_attempt_at end as next_attempt_at
    from kiln.webhook_deliveries d
    join kiln.webhooks w on w.id = d.webhook_id
    join kiln.tenants t on t.id = d.tenant_id;

-- Every tick of every schedule that fired, was caught up or was skipped.
create view kiln_api.schedule_runs as
  select r.schedule_id, s.tenant_id, t.name as tenant, s.name as schedule, s.cron, s.timezone, r.tick_at, r.kind,
         r.missed_ticks, r.build_id, b.status::text as build_status, r.error, r.worker, r.created_at
    from kiln.build_schedule_runs r
    join kiln.build_schedules s on s.id = r.schedule_id
    join kiln.tenants t on t.id = r.tenant_id
    left join kiln.builds b on b.id = r.build_id;

do $$
declare
  v_view text;
begin
  foreach v_view in array array['usage_hourly', 'usage_daily', 'usage_weekly', 'usage_monthly', 'usage_records',
      'build_timings', 'queue_wait_percentiles', 'run_time_percentiles', 'success_metrics', 'cost_per_build',
      'node_utilization_daily', 'provider_utilization_daily', 'queue_depth', 'webhook_delivery_log', 'schedule_runs']
  loop
    execute format('alter view kiln_api.%I owner to kiln_system', v_view);
    execute format('grant select on kiln_api.%I to kiln_reporting', v_view);
  end loop;
end $$;
grant usage on schema kiln_api to kiln_reporting;
