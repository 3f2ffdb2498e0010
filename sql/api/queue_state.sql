-- Why a queued build waits, where it is in line and when it should start; and whether any
-- registered infrastructure could ever run a build (submit_build refuses it otherwise).
-- docs/scheduling.md lists the reasons.

-- needs_special_infrastructure: whether requirements ask for anything beyond a plain
-- amd64 runner (only then can a build be impossible to run anywhere).
create function kiln_api.needs_special_infrastructure(p_req jsonb) returns boolean
  language sql immutable as $$
  select exists (select from jsonb_each(coalesce(p_req, '{}')) r (k, v)
                  where (k in ('gpu', 'high_memory', 'airgapped', 'legacy_system') and v = 'true'::jsonb)
                     or (k = 'arch' and jsonb_array_length(v) > 0)
                     or (k = 'custom_hardware' and jsonb_typeof(v) = 'string'))
$$;

-- capable_infrastructure: what of the infrastructure the session's tenant may use could
-- run a build with these requirements: build nodes registered (not deprecated), online
-- (active with a recent heartbeat), their free slots, and Kubernetes node pools
-- registered and usable now (provider and pool enabled, provider healthy). Counts only:
-- security definer so that shared nodes' slots taken by other tenants count as taken,
-- without showing whose they are.
create function kiln_api.capable_infrastructure(p_req jsonb, p_infrastructure kiln.infrastructure_type,
                                                p_now timestamptz default null)
  returns jsonb language plpgsql stable security definer set search_path = pg_catalog, kiln as $$
declare
  v_tenant uuid := kiln.current_tenant_id();
  v_now timestamptz := coalesce(p_now, now());
  v_online_since timestamptz := v_now - make_interval(
    secs => kiln_api.setting('node_offline_after_seconds')::double precision);
  v_node_req jsonb := kiln_api.node_requirements(coalesce(p_req, '{}'));
  v_needs jsonb := kiln_api.infrastructure_needs(coalesce(p_req, '{}'), '{}',
                     jsonb_build_object('high_memory_gb', kiln_api.setting('high_memory_gb')));
  v_inputs jsonb := jsonb_build_object('capabilities', (select coalesce(jsonb_agg(to_jsonb(c)), '[]')
                                                          from kiln.infrastructure_capabilities c));
  v_nodes jsonb := '{"registered": 0, "online": 0, "free_slots": 0}';
  v_pools jsonb := '{"registered": 0, "usable": 0}';
begin
  if v_tenant is null then
    return null;
  end if;
  if p_infrastructure in ('auto', 'build_nodes') then
    select jsonb_build_object('registered', count(*),
             'online', count(*) filter (where n.status = 'active' and n.last_heartbeat_at > v_online_since),
             'free_slots', coalesce(sum(greatest(n.concurrency - (select count(*) from kiln.build_executions e
                                                    where e.build_node_id = n.id and e.status in ('dispatching', 'running')), 0))
                                    filter (where n.status = 'active' and n.last_heartbeat_at > v_online_since), 0))
      into v_nodes
      from kiln.build_nodes n
     where (n.tenant_id is null or n.tenant_id = v_tenant) and n.status <> 'deprecated'
       and kiln_api.node_can_run(n, v_node_req, '{}');
  end if;
  if p_infrastructure in ('auto', 'kubernetes') then
    select jsonb_build_object('registered', count(*),
             'usable', count(*) filter (where p.enabled and coalesce((to_jsonb(np) ->> 'enabled')::boolean, true)
                                          and p.health = 'healthy'))
      into v_pools
      from kiln.providers p join kiln.node_pools np on np.provider_id = p.id
     where (p.tenant_id is null or p.tenant_id = v_tenant)
       and (kiln_api.pool_verdict(jsonb_build_object('provider', p.display_name, 'provider_type', p.provider_type,
              'enabled', true, 'pool_enabled', true, 'health', 'healthy',
              'provider_capabilities', (select coalesce(jsonb_object_agg(k, v), '{}') from jsonb_each(p.capabilities) c (k, v)
                                         where jsonb_typeof(v) = 'boolean'),
              'node_pool', np.name, 'capabilities', to_jsonb(np.capabilities), 'labels', np.labels,
              'capacity', '{}'::jsonb), v_needs, '{}', v_inputs, false) ->> 'eligible')::boolean;
  end if;
  return jsonb_build_object('build_nodes', v_nodes, 'kubernetes_pools', v_pools);
end $$;
alter function kiln_api.capable_infrastructure(jsonb, kiln.infrastructure_type, timestamptz) owner to kiln_system;

-- unrunnable_requirement: null when some registered infrastructure could run a build with
-- these requirements on the chosen infrastructure, else a message naming what nothing
-- offers. Caller: submit_build (422 unsatisfiable_requirements).
create function kiln_api.unrunnable_requirement(p_req jsonb, p_infrastructure kiln.infrastructure_type)
  returns text language plpgsql stable as $$
declare
  v_capable jsonb;
  v_wanted text;
begin
  if not kiln_api.needs_special_infrastructure(p_req) then
    return null;
  end if;
  v_capable := kiln_api.capable_infrastructure(p_req, p_infrastructure);
  if (v_capable #>> '{build_nodes,registered}')::integer > 0
     or (v_capable #>> '{kubernetes_pools,registered}')::integer > 0 then
    return null;
  end if;
  select string_agg(w, ', ') into v_wanted from (
    select case k when 'arch' then 'arch ' || (select string_agg(a, '/') from jsonb_array_elements_text(v) a)
                  when 'custom_hardware' then 'custom hardware ' || (v #>> '{}')
                  else replace(k, '_', ' ') end as w
      from jsonb_each(p_req) r (k, v)
     where (k in ('gpu', 'high_memory', 'airgapped', 'legacy_system') and v = 'true'::jsonb)
        or (k = 'arch' and jsonb_array_length(v) > 0)
        or (k = 'custom_hardware' and jsonb_typeof(v) = 'string')
     order by k) s;
  return format('no %s registered for this tenant offers %s; ask an admin to add one (or to force an infrastructure), or change the requirements',
                case p_infrastructure when 'build_nodes' then 'build node'
                                      when 'kubernetes' then 'Kubernetes node pool'
                                      else 'build node or Kubernetes node pool' end, v_wanted);
end $$;

-- queue_position_overall: how many queued builds of all tenants are ahead of one in the
-- priority-and-age order (a count only; other tenants' builds stay invisible).
create function kiln_api.queue_position_overall(p_effective_priority integer, p_queued_at timestamptz, p_id uuid)
  returns bigint language sql stable security definer set search_path = pg_catalog, kiln as $$
  select count(*) from kiln.builds b
   where b.status = 'queued'
     and (b.effective_priority > p_effective_priority
          or (b.effective_priority = p_effective_priority and (b.queued_at, b.id) < (p_queued_at, p_id)))
$$;
alter function kiln_api.queue_position_overall(integer, timestamptz, uuid) owner to kiln_system;

-- cap_reason: {code: <scope>_cap_reached, …} when one more build like p_build would break
-- the caps of a tenant or project (null caps: none), else null.
create function kiln_api.cap_reason(p_scope text, p_usage jsonb, p_build kiln.builds, p_max_running integer,
                                    p_max_cpu numeric, p_max_memory_gb numeric)
  returns jsonb language sql stable as $$
  select jsonb_build_object('code', p_scope || '_cap_reached',
           'message', format('the %s has as many builds in flight as its caps allow', p_scope),
           'detail', jsonb_build_object('in_flight', p_usage, 'max_running', p_max_running,
                                        'max_cpu', p_max_cpu, 'max_memory_gb', p_max_memory_gb))
   where (p_max_running is not null or p_max_cpu is not null or p_max_memory_gb is not null)
     and kiln_api.exceeds_cap(p_usage, kiln_api.build_reservation(p_build), p_max_running, p_max_cpu, p_max_memory_gb)
$$;

-- wait_reason: the first thing that holds a queued build, as {code, message, detail}.
--   scheduled_for_later       not_before is in the future
--   waiting_for_admin         its tenant's or project's max_running is 0 (held by an admin)
--   tenant_cap_reached        its tenant has as much in flight as its caps allow
--   project_cap_reached       likewise its project
--   no_capable_infrastructure nothing online that could run it (nodes offline, providers unhealthy)
--   capacity_busy             capable build nodes are online but every slot is taken
--   waiting_for_dispatcher    nothing holds it: the next dispatcher claim takes it in turn
create function kiln_api.wait_reason(p_build kiln.builds, p_cfg kiln.build_configs, p_now timestamptz)
  returns jsonb language plpgsql stable as $$
declare
  v_tenant kiln.tenant_scheduling;
  v_project kiln.project_scheduling;
  v_reason jsonb;
  v_capable jsonb;
  v_nodes jsonb;
begin
  if p_build.not_before > p_now then
    return jsonb_build_object('code', 'scheduled_for_later',
      'message', format('scheduled to run from %s', p_build.not_before),
      'detail', jsonb_build_object('not_before', p_build.not_before));
  end if;
  select * into v_tenant from kiln.tenant_scheduling where tenant_id = p_build.tenant_id;
  select * into v_project from kiln.project_scheduling where project_id = p_build.project_id;
  if v_tenant.max_running = 0 or v_project.max_running = 0 then
    return jsonb_build_object('code', 'waiting_for_admin',
      'message', format('an admin has held the %s''s builds (max_running 0); they wait until it is raised',
                        case when v_tenant.max_running = 0 then 'tenant' else 'project' end),
      'detail', jsonb_build_object('scope', case when v_tenant.max_running = 0 then 'tenant' else 'project' end));
  end if;
  v_reason := kiln_api.cap_reason('tenant', kiln_api.in_flight(p_build.tenant_id), p_build,
                                  v_tenant.max_running, v_tenant.max_cpu, v_tenant.max_memory_gb);
  if v_reason is null and v_project.project_id is not null then
    v_reason := kiln_api.cap_reason('project', kiln_api.in_flight(p_build.tenant_id, p_build.project_id), p_build,
                                    v_project.max_running, v_project.max_cpu, v_project.max_memory_gb);
  end if;
  if v_reason is not null then
    return v_reason;
  end if;
  v_capable := kiln_api.capable_infrastructure(p_cfg.requirements, p_cfg.infrastructure_type, p_now);
  v_nodes := v_capable -> 'build_nodes';
  if (v_nodes ->> 'online')::integer = 0 and (v_capable #>> '{kubernetes_pools,usable}')::integer = 0 then
    return jsonb_build_object('code', 'no_capable_infrastructure',
      'message', 'no infrastructure that can run this build is online: capable build nodes are offline or drained and no capable Kubernetes provider is healthy',
      'detail', v_capable);
  end if;
  if (v_capable #>> '{kubernetes_pools,usable}')::integer = 0 and (v_nodes ->> 'free_slots')::integer = 0 then
    return jsonb_build_object('code', 'capacity_busy',
      'message', format('all %s capable online build nodes are busy', v_nodes ->> 'online'),
      'detail', v_capable);
  end if;
  return jsonb_build_object('code', 'waiting_for_dispatcher',
    'message', 'nothing holds it: a dispatcher claims it in its turn', 'detail', v_capable);
end $$;

-- queue_state: blocked_reason, position (in its tenant's queue and overall, 1 = next) and
-- an ETA for a queued build: builds ahead of it in its tenant divided by the rate at which
-- the tenant's builds of the same method were claimed in the last eta_window_minutes (null
-- without such claims). Caller: get_build, for queued builds.
create function kiln_api.queue_state(p_build_id uuid, p_now timestamptz default null)
  returns jsonb language plpgsql stable as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_build kiln.builds;
  v_cfg kiln.build_configs;
  v_window numeric := kiln_api.setting('eta_window_minutes') * 60;
  v_ahead bigint;
  v_claims bigint;
  v_reason jsonb;
  v_eta numeric;
begin
  select * into v_build from kiln.builds where id = p_build_id and status = 'queued';
  if not found then
    return null;
  end if;
  select * into v_cfg from kiln.build_configs where build_id = p_build_id;
  select count(*) into v_ahead from kiln.builds b
   where b.tenant_id = v_build.tenant_id and b.status = 'queued'
     and (b.effective_priority > v_build.effective_priority
          or (b.effective_priority = v_build.effective_priority
              and (b.queued_at, b.id) < (v_build.queued_at, v_build.id)));
  select count(*) into v_claims from kiln.build_executions e join kiln.build_configs c on c.build_id = e.build_id
   where e.tenant_id = v_build.tenant_id and c.method = v_cfg.method
     and e.created_at > v_now - make_interval(secs => v_window::double precision);
  v_reason := kiln_api.wait_reason(v_build, v_cfg, v_now);
  v_eta := case when v_reason ->> 'code' = 'waiting_for_admin' then null
                when v_claims > 0 then ceil((v_ahead + 1) * v_window / v_claims) end;
  if v_reason ->> 'code' = 'scheduled_for_later' then
    v_eta := greatest(coalesce(v_eta, 0), ceil(extract(epoch from v_build.not_before - v_now)));
  end if;
  return jsonb_build_object(
    'blocked_reason', v_reason,
    'position', jsonb_build_object('tenant', v_ahead + 1,
      'overall', kiln_api.queue_position_overall(v_build.effective_priority, v_build.queued_at, v_build.id) + 1),
    'effective_priority', v_build.effective_priority,
    'eta_seconds', v_eta,
    'eta_basis', jsonb_build_object('comparable_claims', v_claims, 'window_minutes', v_window / 60,
                                    'method', v_cfg.method));
end $$;

grant execute on function
  kiln_api.needs_special_infrastructure(jsonb),
  kiln_api.capable_infrastructure(jsonb, kiln.infrastructure_type, timestamptz),
  kiln_api.unrunnable_requirement(jsonb, kiln.infrastructure_type),
  kiln_api.queue_position_overall(integer, timestamptz, uuid),
  kiln_api.cap_reason(text, jsonb, kiln.builds, integer, numeric, numeric),
  kiln_api.wait_reason(kiln.builds, kiln.build_configs, timestamptz),
  kiln_api.queue_state(uuid, timestamptz)
  to kiln_web;
