-- plan_execution: where and how big a claimed execution runs: kiln_api.select_infrastructure
-- on the build's stored config, its OOM retries in (each climbs the size ladder one rung;
-- finish_execution allows one). The decision is recorded as a dispatch recommendation
-- (linked to the API recommendation for the same config, if the submitter asked for one)
-- and a few finished recommendations are settled on the way.
-- Returns {infrastructure_type, reason, target, confidence, size, node_requirements, method,
-- params, metadata} or {error, metadata} when the build cannot run where it was forced or
-- picked. target is {provider_id, node_pool_id, …} on Kubernetes (k8s_resolve_target reads it).
-- metadata is the decision record offer_execution stores as infrastructure_metadata:
-- {planner, recommendation_id, confidence, requested, forced, target, decision, inputs};
-- kiln_api.replay_infrastructure_decision(metadata) gives metadata.decision again.
-- Caller: kiln-dispatch, right after claim_builds. Locks: the recommendation rows it writes.
create function kiln_api.plan_execution(p_execution_id uuid) returns jsonb
  language plpgsql as $$
declare
  v_now timestamptz := now();
  v_exec kiln.build_executions;
  v_build kiln.builds;
  v_cfg kiln.build_configs;
  v_project kiln.projects;
  v_decision jsonb;
  v_metadata jsonb;
begin
  select * into strict v_exec from kiln.build_executions where id = p_execution_id;
  select * into strict v_build from kiln.builds where id = v_exec.build_id;
  select * into strict v_cfg from kiln.build_configs where build_id = v_build.id;
  select * into strict v_project from kiln.projects where id = v_build.project_id;

  v_decision := kiln_api.select_infrastructure(v_build.tenant_id, jsonb_build_object(
      'project', v_project.name, 'method', v_cfg.method, 'spec', v_cfg.spec, 'requirements', v_cfg.requirements,
      'infrastructure_type', v_cfg.infrastructure_type, 'force_infrastructure', v_cfg.force_infrastructure),
    v_build.oom_retries, v_now);
  v_metadata := jsonb_build_object('planner', 'select_infrastructure',
    'recommendation_id', kiln_api.record_recommendation(v_build.tenant_id, 'dispatch', v_decision, v_build.id,
                                                        v_exec.id, v_now),
    'confidence', v_decision -> 'confidence', 'requested', v_cfg.infrastructure_type,
    'forced', v_cfg.force_infrastructure, 'target', v_decision -> 'target', 'decision', v_decision - 'inputs',
    'inputs', v_decision -> 'inputs');
  perform kiln_api.link_recommendation(v_build, kiln_api.recommendation_config_sha(v_decision -> 'inputs'), v_now);
  perform kiln_api.settle_recommendations(20, v_now);

  if v_decision ? 'error' then
    return jsonb_build_object('error', v_decision ->> 'error', 'metadata', v_metadata);
  end if;
  return jsonb_build_object('infrastructure_type', v_decision ->> 'infrastructure_type',
    'reason', v_decision ->> 'reason', 'target', v_decision -> 'target', 'confidence', v_decision -> 'confidence',
    'size', v_decision -> 'size',
    'node_requirements', v_decision -> 'node_requirements', 'method', v_cfg.method, 'params', v_cfg.params,
    'metadata', v_metadata);
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
