-- Gauges for the Prometheus endpoints of kiln-api and kiln-dispatch (docs/monitoring.md).
-- Rows of (metric, labels, value); the callers render them. Only aggregates and
-- infrastructure names leave these functions.

-- metrics_snapshot: queue, executions, nodes, providers, latencies, webhooks, schedules,
-- across all tenants. SECURITY DEFINER for the same reason as metrics_build_counts (the
-- unauthenticated scrape would see nothing through row-level security). The latency
-- summaries cover the last five minutes, from build events:
--   kiln_claim_latency_seconds     queued → claimed by a dispatcher
--   kiln_dispatch_latency_seconds  claimed → running (handed off and started)
-- Caller: GET /metrics (kiln-api), the dispatcher's metrics listener or textfile.
create function kiln_api.metrics_snapshot()
  returns table (metric text, labels jsonb, value double precision)
  language sql stable security definer set search_path = pg_catalog, kiln as $$
  select 'kiln_queue_oldest_wait_seconds', '{}'::jsonb,
         coalesce(extract(epoch from now() - min(b.queued_at)), 0)::float8
    from kiln.builds b where b.status = 'queued'
  union all
  select 'kiln_executions_active', jsonb_build_object('infrastructure_type', e.infrastructure_type, 'status', e.status),
         count(*)::float8
    from kiln.build_executions e where e.status in ('dispatching', 'running')
   group by e.infrastructure_type, e.status
  union all
  select 'kiln_execution_outcomes_total', jsonb_build_object('infrastructure_type', d.infrastructure_type, 'outcome', o.outcome),
         sum(case o.outcome when 'succeeded' then d.succeeded when 'failed' then d.failed
                            else d.executions - d.succeeded - d.failed end)::float8
    from kiln.usage_rollup_daily d cross join (values ('succeeded'), ('failed'), ('unknown')) o (outcome)
   group by d.infrastructure_type, o.outcome
  union all
  select 'kiln_node_heartbeat_age_seconds', jsonb_build_object('node', n.name, 'status', n.status),
         extract(epoch from now() - n.last_heartbeat_at)::float8
    from kiln.build_nodes n where n.last_heartbeat_at is not null and n.status <> 'deprecated'
  union all
  select 'kiln_provider_health', jsonb_build_object('provider', pr.name, 'provider_type', pr.provider_type, 'health', h.health),
         (pr.health = h.health)::integer::float8
    from kiln.providers pr cross join unnest(enum_range(null::kiln.health_status)) h (health)
   where pr.enabled
  union all
  select 'kiln_claim_latency_seconds', jsonb_build_object('quantile', q.q::text),
         percentile_cont(q.q) within group (order by l.seconds)
    from (select extract(epoch from ev.created_at - qe.at)::float8 as seconds
            from kiln.build_events ev
            cross join lateral (select max(q2.created_at) as at from kiln.build_events q2
                                 where q2.build_id = ev.build_id and q2.id < ev.id and q2.to_status = 'queued') qe
           where ev.to_status = 'dispatching' and ev.created_at > now() - interval '5 minutes') l
    cross join (values (0.5::float8), (0.95), (0.99)) q (q)
   where l.seconds is not null
   group by q.q
  union all
  select 'kiln_claims_last_5m', '{}', count(*)::float8
    from kiln.build_events ev where ev.to_status = 'dispatching' and ev.created_at > now() - interval '5 minutes'
  union all
  select 'kiln_dispatch_latency_seconds', jsonb_build_object('infrastructure_type', l.infrastructure_type, 'quantile', q.q::text),
         percentile_cont(q.q) within group (order by l.seconds)
    from (select e.infrastructure_type, extract(epoch from ev.created_at - e.created_at)::float8 as seconds
            from kiln.build_events ev join kiln.build_executions e on e.id = ev.execution_id
           where ev.to_status = 'running' and ev.created_at > now() - interval '5 minutes') l
    cross join (values (0.5::float8), (0.95), (0.99)) q (q)
   group by l.infrastructure_type, q.q
  union all
  select 'kiln_webhook_deliveries_pending', '{}', count(*)::float8
    from kiln.webhook_deliveries d where d.status = 'pending'
  union all
  select 'kiln_webhook_oldest_pending_seconds', '{}', coalesce(extract(epoch from now() - min(d.created_at)), 0)::float8
    from kiln.webhook_deliveries d where d.status = 'pending'
  union all
  select 'kiln_schedules', jsonb_build_object('enabled', s.enabled), count(*)::float8
    from kiln.build_schedules s group by s.enabled
  union all
  select 'kiln_schedules_overdue', '{}', count(*)::float8
    from kiln.build_schedules s
   where s.enabled and s.next_run_at < now()
                                      - make_interval(secs => coalesce(kiln_api.setting('schedule_missed_after_seconds'), 300)::float8)
  union all
  select 'kiln_usage_default_partition_rows', '{}', count(*)::float8
    from (select 1 from kiln.infrastructure_usage_default limit 100000) x
$$;
alter function kiln_api.metrics_snapshot() owner to kiln_system;

-- metrics_connections: PostgreSQL connections of the Kiln roles by state, and the
-- server's limit ("pool use"). With the caller's rights: a role sees the state of its own
-- sessions (others show as unknown unless the caller may read all statistics).
create function kiln_api.metrics_connections()
  returns table (metric text, labels jsonb, value double precision)
  language sql stable as $$
  select 'kiln_db_connections', jsonb_build_object('role', a.usename, 'state', coalesce(a.state, 'unknown')),
         count(*)::float8
    from pg_stat_activity a
   where a.datname = current_database() and a.backend_type = 'client backend' and a.usename like 'kiln\_%'
   group by a.usename, a.state
  union all
  select 'kiln_db_max_connections', '{}', current_setting('max_connections')::float8
$$;

grant execute on function kiln_api.metrics_snapshot(), kiln_api.metrics_connections() to kiln_web;
