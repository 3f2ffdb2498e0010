-- page_dashboard: everything the admin dashboard (/admin) shows, for the current tenant, in
-- one call: builds by status, the queue (depth, oldest wait, wait of builds started in the
-- last 24 hours), executions of the last 30 days split Kubernetes / build nodes (with a
-- per-day series for the chart), the seed's success metrics, recommendation accuracy, and
-- the health grid of providers and build nodes.
-- Caller: GET /admin (route permission infrastructure:monitor). Takes no locks.
-- Errors: none.
--
-- Definitions (also shown on the page):
--   usage            executions created in the window, by the infrastructure they ran on
--   auto selection   builds submitted with infrastructure_type auto
--   manual override  builds submitted with force_infrastructure
--   success          finished builds (succeeded, failed, timed_out) that succeeded
--   accuracy         recommendation_accuracy (the infrastructure selection's own record:
--                    followed recommendations that succeeded where they pointed)
create function kiln_api.page_dashboard(p_now timestamptz default null) returns jsonb
  language plpgsql stable as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_since timestamptz := v_now - interval '30 days';
  v_offline interval := make_interval(secs => kiln_api.setting('node_offline_after_seconds')::double precision);
begin
  return jsonb_build_object(
    'now', v_now,
    'builds_by_status', (
      select jsonb_agg(jsonb_build_object('status', s.status, 'count', coalesce(c.n, 0)) order by s.status)
        from unnest(enum_range(null::kiln.build_status)) s (status)
        left join (select b.status, count(*) n from kiln.builds b group by b.status) c using (status)),
    'queue', (
      select jsonb_build_object(
        'queued', count(*) filter (where b.status = 'queued'),
        'dispatching', count(*) filter (where b.status = 'dispatching'),
        'running', count(*) filter (where b.status = 'running'),
        'oldest_wait_seconds', extract(epoch from v_now - min(b.queued_at) filter (where b.status = 'queued')))
        from kiln.builds b where b.status in ('queued', 'dispatching', 'running')),
    'wait_24h', (
      select jsonb_build_object(
        'started', count(*),
        'avg_seconds', avg(extract(epoch from e.started_at - b.queued_at)),
        'p95_seconds', percentile_cont(0.95) within group (order by extract(epoch from e.started_at - b.queued_at)))
        from kiln.build_executions e join kiln.builds b on b.id = e.build_id
       where e.attempt = 1 and e.started_at > v_now - interval '1 day' and b.queued_at is not null),
    'usage_30d', (
      select jsonb_build_object(
        'kubernetes', count(*) filter (where e.infrastructure_type = 'kubernetes'),
        'build_nodes', count(*) filter (where e.infrastructure_type = 'build_nodes'))
        from kiln.build_executions e where e.created_at > v_since),
    'daily', (
      select jsonb_agg(jsonb_build_object('day', to_char(d.day, 'YYYY-MM-DD'),
                                          'kubernetes', coalesce(u.k8s, 0), 'build_nodes', coalesce(u.nodes, 0))
                       order by d.day)
        from generate_series(date_trunc('day', v_now) - interval '13 days', date_trunc('day', v_now),
                             interval '1 day') d (day)
        left join (select date_trunc('day', e.created_at) as day,
                          count(*) filter (where e.infrastructure_type = 'kubernetes') k8s,
                          count(*) filter (where e.infrastructure_type = 'build_nodes') nodes
                     from kiln.build_executions e where e.created_at > v_now - interval '14 days'
                    group by 1) u using (day)),
    'builds_30d', (
      select jsonb_build_object(
        'submitted', count(*),
        'auto', count(*) filter (where c.infrastructure_type = 'auto'),
        'forced', count(*) filter (where c.force_infrastructure),
        'finished', count(*) filter (where b.status in ('succeeded', 'failed', 'timed_out')),
        'succeeded', count(*) filter (where b.status = 'succeeded'))
        from kiln.builds b join kiln.build_configs c on c.build_id = b.id
       where b.created_at > v_since),
    'accuracy_30d', kiln_api.recommendation_accuracy(v_since),
    'providers', coalesce((
      select jsonb_agg(jsonb_build_object(
               'name', p.name, 'display_name', p.display_name, 'provider_type', p.provider_type,
               'health', p.health, 'enabled', p.enabled, 'health_checked_at', p.health_checked_at,
               'shared', p.tenant_id is null) order by p.name)
        from kiln.providers p), '[]'),
    'nodes', coalesce((
      select jsonb_agg(jsonb_build_object(
               'name', n.name, 'status', n.status, 'concurrency', n.concurrency,
               'state', case when n.last_heartbeat_at is null then 'never seen'
                             when n.last_heartbeat_at > v_now - v_offline then 'online' else 'offline' end,
               'heartbeat_age_seconds', extract(epoch from v_now - n.last_heartbeat_at),
               'running', (select count(*) from kiln.build_executions e
                            where e.build_node_id = n.id and e.status in ('dispatching', 'running')))
             order by n.name)
        from kiln.build_nodes n where kiln_api.in_session_tenant(n.tenant_id) or n.tenant_id is null), '[]'));
end $$;

grant execute on function kiln_api.page_dashboard(timestamptz) to kiln_web;
