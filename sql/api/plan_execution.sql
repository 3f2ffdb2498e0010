-- plan_execution: where and how big a claimed execution runs. Until the selection
-- function of the infrastructure issue lands, this is the method's fallback: build nodes,
-- unless the build forces or asks for Kubernetes (which needs an enabled provider).
-- Size (adr-039): the declared spec over the method/language defaults of
-- kiln.size_defaults; each OOM retry doubles memory (one size up; at most one, see
-- finish_execution). Returns {infrastructure_type, reason, size, node_requirements,
-- metadata} or {error} when the build cannot run anywhere.
-- Caller: kiln-dispatch, right after claim_builds.
create function kiln_api.plan_execution(p_execution_id uuid) returns jsonb
  language plpgsql stable as $$
declare
  v_exec kiln.build_executions;
  v_build kiln.builds;
  v_cfg kiln.build_configs;
  v_language text;
  v_default kiln.size_defaults;
  v_size jsonb;
  v_req jsonb;
  v_type kiln.infrastructure_type;
  v_reason text;
begin
  select * into strict v_exec from kiln.build_executions where id = p_execution_id;
  select * into strict v_build from kiln.builds where id = v_exec.build_id;
  select * into strict v_cfg from kiln.build_configs where build_id = v_build.id;
  select language into v_language from kiln.projects where id = v_build.project_id;
  select * into v_default from kiln.size_defaults
   where method = v_cfg.method and language in (coalesce(v_language, '*'), '*')
   order by language = '*' limit 1;

  v_size := jsonb_build_object(
    'cpu', coalesce((v_cfg.spec ->> 'cpu')::numeric, v_default.cpu),
    'memory_gb', coalesce((v_cfg.spec ->> 'memory_gb')::numeric, v_default.memory_gb) * power(2, v_build.oom_retries),
    'disk_gb', coalesce((v_cfg.spec ->> 'disk_gb')::numeric, v_default.disk_gb),
    'time_budget_min', coalesce((v_cfg.spec ->> 'time_budget_min')::numeric::integer, v_default.time_budget_min),
    'tier', case when v_cfg.spec ?| array['cpu', 'memory_gb'] then 'declared' else 'default' end,
    'oom_step', v_build.oom_retries);
  if v_cfg.spec ? 'cache_keys' then
    v_size := v_size || jsonb_build_object('cache_keys', v_cfg.spec -> 'cache_keys');
  end if;

  v_req := jsonb_strip_nulls(jsonb_build_object(
    'arch', v_cfg.requirements -> 'arch',
    'capabilities', (select jsonb_object_agg(k, true) from jsonb_each(v_cfg.requirements) r (k, v)
                      where k in ('gpu', 'high_memory', 'airgapped', 'legacy_system') and v = 'true'::jsonb),
    'labels', case when v_cfg.requirements ? 'custom_hardware'
                   then jsonb_build_object('custom_hardware', v_cfg.requirements ->> 'custom_hardware') end));

  if v_cfg.force_infrastructure then
    v_type := v_cfg.infrastructure_type;
    v_reason := 'Admin override';
  elsif v_cfg.infrastructure_type = 'kubernetes' then
    v_type := 'kubernetes';
    v_reason := 'Kubernetes requested';
  else
    v_type := 'build_nodes';
    v_reason := case when v_cfg.infrastructure_type = 'build_nodes' then 'build nodes requested'
                     else 'no Kubernetes provider is enabled; build nodes are the fallback for ' || v_cfg.method end;
  end if;
  if v_type = 'kubernetes' and not exists (select from kiln.providers where enabled
                                            and (tenant_id is null or tenant_id = v_build.tenant_id)) then
    return jsonb_build_object('error',
      'Kubernetes was requested but no Kubernetes provider is configured; ask an admin to add one or submit with infrastructure_type auto');
  end if;
  return jsonb_build_object('infrastructure_type', v_type, 'reason', v_reason, 'size', v_size,
    'node_requirements', v_req, 'method', v_cfg.method, 'params', v_cfg.params,
    'metadata', jsonb_build_object('planner', 'fallback', 'size_default', to_jsonb(v_default),
                                   'requested', v_cfg.infrastructure_type,
                                   'forced', v_cfg.force_infrastructure));
end $$;

-- offer_execution: the dispatcher hands a planned execution to the build nodes: the plan,
-- the rendered script and what a node needs are stored; the execution waits (still
-- `dispatching`) until an agent takes it or offer_ttl_seconds pass (then the reaper
-- requeues it). NOTIFY kiln_offers wakes agents that are long-polling.
-- Caller: kiln-dispatch. Errors: QC409 stale_lease, QC404.
create function kiln_api.offer_execution(p_execution_id uuid, p_epoch bigint, p_plan jsonb,
                                         p_payload jsonb, p_now timestamptz default null)
  returns void language plpgsql as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_exec kiln.build_executions := kiln_api.lock_execution(p_execution_id, p_epoch);
begin
  update kiln.build_executions set
      infrastructure_type = (p_plan ->> 'infrastructure_type')::kiln.infrastructure_type,
      infrastructure_reason = p_plan ->> 'reason', selected_at = v_now,
      infrastructure_metadata = coalesce(p_plan -> 'metadata', '{}'),
      size = coalesce(p_plan -> 'size', '{}'), node_requirements = coalesce(p_plan -> 'node_requirements', '{}'),
      payload = coalesce(p_payload, '{}'), offered_at = v_now,
      lease_expires_at = v_now + make_interval(secs => kiln_api.setting('offer_ttl_seconds')::double precision)
   where id = p_execution_id;
  update kiln.build_configs set infrastructure_reason = p_plan ->> 'reason' where build_id = v_exec.build_id;
  perform pg_notify('kiln_offers', p_execution_id::text);
end $$;
