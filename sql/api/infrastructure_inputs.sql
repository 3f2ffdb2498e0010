-- infrastructure_inputs: everything the infrastructure decision reads, gathered once as
-- JSON: the decision record stored on each execution (infrastructure_metadata.inputs).
-- kiln_api.decide_infrastructure reads nothing else, so replaying the record gives the
-- same decision. Never holds provider endpoints, credentials or health details.
--   config        method, declared spec, requirements (merged with the project's),
--                 infrastructure_type, force_infrastructure
--   method        the method table row (primary/fallback infrastructure, engine, criteria)
--   capabilities  the capability table (kiln.infrastructure_capabilities)
--   providers     Kubernetes providers the tenant may use: enabled, health, pool count
--   pools         their node pools with capabilities, labels, capacity, costs, whether the
--                 provider and the pool (node_pools.enabled, migration 0004) are enabled, and the
--                 history of comparable builds there (samples, successes)
--   nodes         build nodes that are active and online (heartbeat younger than
--                 node_offline_after_seconds): labels, capabilities, capacity
--   nodes_offline / nodes_inactive  how many other build nodes the tenant may use
--   build_nodes_history  comparable builds on build nodes (samples, successes)
--   sizing        kiln_api.sizing_inputs
-- Comparable builds: the tenant's most recent confidence_history_samples usage rows of
-- builds of the same method that started within confidence_history_days (the bound keeps a
-- decision at a few milliseconds however much history a tenant has; recent outcomes are
-- also the relevant ones); a Kubernetes row counts for the node pool its usage
-- (resource_usage.node_pool_id) or its execution's decision (infrastructure_metadata.target)
-- names.
-- Caller: select_infrastructure. Reads only; takes no locks.
create function kiln_api.infrastructure_inputs(p_tenant uuid, p_project kiln.projects, p_config jsonb,
                                               p_oom_retries integer, p_now timestamptz)
  returns jsonb language plpgsql stable as $$
declare
  -- read once, not per row
  v_method kiln.build_method := (p_config ->> 'method')::kiln.build_method;
  v_since timestamptz := p_now - make_interval(days => kiln_api.setting('confidence_history_days')::integer);
  v_samples integer := kiln_api.setting('confidence_history_samples')::integer;
  v_online_since timestamptz := p_now - make_interval(
    secs => kiln_api.setting('node_offline_after_seconds')::double precision);
begin
  -- plpgsql rather than sql: the plan of this statement is cached per session.
  return (
  with comparable as (
    select u.infrastructure_type::text as infrastructure_type, u.success,
           coalesce(u.resource_usage ->> 'node_pool_id', e.infrastructure_metadata #>> '{target,node_pool_id}',
                    e.infrastructure_metadata #>> '{decision,target,node_pool_id}') as node_pool_id
      from kiln.infrastructure_usage u
      join kiln.build_executions e on e.id = u.build_execution_id
      join kiln.build_configs c on c.build_id = e.build_id
     where u.tenant_id = p_tenant and c.method = v_method and u.start_time >= v_since
     order by u.start_time desc
     limit v_samples
  ), history as (
    select infrastructure_type, node_pool_id, count(*) as samples, count(*) filter (where success) as successes
      from comparable group by 1, 2
  ), visible_providers as (
    select p.* from kiln.providers p where p.tenant_id is null or p.tenant_id = p_tenant
  ), visible_nodes as (
    select n.*, n.status = 'active' and coalesce(n.last_heartbeat_at > v_online_since, false) as online
      from kiln.build_nodes n where n.tenant_id is null or n.tenant_id = p_tenant
  )
  select jsonb_build_object(
    'version', 1,
    'tenant_id', p_tenant,
    'project', jsonb_build_object('id', p_project.id, 'name', p_project.name, 'language', p_project.language),
    'config', p_config,
    'oom_retries', p_oom_retries,
    'method', (select jsonb_build_object('method', m.method, 'primary_infra', m.primary_infra,
                 'fallback_infra', m.fallback_infra, 'engine', m.engine, 'selection_criteria', m.selection_criteria)
                 from kiln.build_methods m where m.method = v_method),
    'capabilities', (select coalesce(jsonb_agg(to_jsonb(c) order by c.capability), '[]')
                       from kiln.infrastructure_capabilities c),
    'settings', jsonb_build_object(
      'confidence_prior_weight', kiln_api.setting('confidence_prior_weight'),
      'high_memory_gb', kiln_api.setting('high_memory_gb')),
    'providers', (select coalesce(jsonb_agg(jsonb_build_object(
        'provider_id', p.id, 'provider', p.display_name, 'provider_type', p.provider_type,
        'shared', p.tenant_id is null, 'enabled', p.enabled, 'health', p.health,
        'node_pools', (select count(*) from kiln.node_pools np
                        where np.provider_id = p.id and coalesce((to_jsonb(np) ->> 'enabled')::boolean, true)))
        order by p.display_name, p.id), '[]') from visible_providers p),
    'pools', (select coalesce(jsonb_agg(jsonb_build_object(
        'provider_id', p.id, 'provider', p.display_name, 'provider_type', p.provider_type,
        'enabled', p.enabled, 'pool_enabled', coalesce((to_jsonb(np) ->> 'enabled')::boolean, true), 'health', p.health,
        'provider_capabilities', (select coalesce(jsonb_object_agg(k, v), '{}') from jsonb_each(p.capabilities) c (k, v)
                                   where jsonb_typeof(v) = 'boolean'),
        'node_pool_id', np.id, 'node_pool', np.name, 'capabilities', to_jsonb(np.capabilities),
        'labels', np.labels, 'capacity', np.capacity, 'cost_per_cpu_hour', np.cost_per_cpu_hour,
        'cost_per_gib_hour', np.cost_per_gib_hour, 'cost_per_gpu_hour', np.cost_per_gpu_hour,
        'history', jsonb_build_object('samples', coalesce(h.samples, 0), 'successes', coalesce(h.successes, 0)))
        order by p.display_name, np.name, np.id), '[]')
        from visible_providers p
        join kiln.node_pools np on np.provider_id = p.id
        left join history h on h.infrastructure_type = 'kubernetes' and h.node_pool_id = np.id::text),
    'nodes', (select coalesce(jsonb_agg(jsonb_build_object('id', n.id, 'labels', n.labels,
                'capabilities', n.capabilities, 'capacity', n.capacity) order by n.id), '[]')
                from visible_nodes n where n.online),
    'nodes_offline', (select count(*) from visible_nodes n where not n.online and n.status = 'active'),
    'nodes_inactive', (select count(*) from visible_nodes n where n.status <> 'active'),
    'build_nodes_history', (select jsonb_build_object('samples', coalesce(sum(h.samples), 0),
                              'successes', coalesce(sum(h.successes), 0))
                              from history h where h.infrastructure_type = 'build_nodes'),
    'sizing', kiln_api.sizing_inputs(p_project, v_method, p_config -> 'spec')));
end $$;

grant execute on function
  kiln_api.infrastructure_inputs(uuid, kiln.projects, jsonb, integer, timestamptz)
  to kiln_web;
