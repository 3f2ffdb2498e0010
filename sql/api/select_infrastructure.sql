-- Infrastructure selection: the one function that decides where a build runs and how big
-- (DESIGN.md "Infrastructure selection"). The recommendation endpoint, the dispatcher
-- (plan_execution) and a DBA in psql all call select_infrastructure:
--
--   select kiln_api.select_infrastructure('<tenant id>', '{"project":"web","method":"docker"}');
--
-- select_infrastructure gathers the inputs (infrastructure_inputs) and hands them to
-- decide_infrastructure, which reads nothing else; replay_infrastructure_decision runs it
-- again on a stored record. Errors: QC400 (config shape), QC422 (unknown project).

-- infrastructure_rule: the seed's decision tree, first match wins:
--   forced (admin override)  the forced type, reason "Admin override"
--   picked by the user       the picked type, if it can run the build
--   air-gapped / legacy system / custom hardware
--                            a cluster or pool that offers it, else build nodes
--   no healthy provider with a node pool      build nodes ("Kubernetes unavailable")
--   method table primary is build nodes       build nodes
--   GPU / high memory / architectures         a node pool that has them, else build nodes
--   otherwise                the method's primary, Kubernetes, on the best node pool
-- Returns {type, rule, reason, clarity, pool} or {error, rule}. clarity is how directly
-- the rule decides (0..1); a build-node choice with no online node able to run it keeps
-- 45% of it.
create function kiln_api.infrastructure_rule(p_inputs jsonb, p_needs jsonb, p_pools jsonb, p_nodes integer)
  returns jsonb language plpgsql stable as $$
declare
  v_cfg jsonb := p_inputs -> 'config';
  v_method text := v_cfg ->> 'method';
  v_requested text := coalesce(v_cfg ->> 'infrastructure_type', 'auto');
  v_best jsonb := p_pools -> 0;
  v_fits boolean := coalesce((p_pools -> 0 ->> 'eligible')::boolean, false);
  v_matching integer := (select count(*) from jsonb_array_elements(p_pools) p where (p ->> 'eligible')::boolean);
  v_healthy jsonb := (select p from jsonb_array_elements(p_pools) with ordinality s (p, i)
                       where (p ->> 'enabled')::boolean and coalesce((p ->> 'pool_enabled')::boolean, true)
                         and p ->> 'health' = 'healthy' order by i limit 1);
  v_where text := format('%s, node pool %s', p_pools -> 0 ->> 'provider', p_pools -> 0 ->> 'node_pool')
                  || case when v_matching > 1 then format(' (best of %s matching node pools)', v_matching) else '' end;
  v_waits text := case when p_nodes = 0 then '; no online build node can run it yet' else '' end;
  v_online numeric := case when p_nodes > 0 then 1 else 0.45 end;
  v_hardware text := (select string_agg(h, ' and ') from jsonb_array_elements_text(p_needs -> 'hardware') h);
  v_special text;
  v_k8s jsonb := jsonb_build_object('type', 'kubernetes', 'pool', p_pools -> 0);
  v_nodes jsonb := jsonb_build_object('type', 'build_nodes');
begin
  if coalesce((v_cfg ->> 'force_infrastructure')::boolean, false) then
    if v_requested = 'build_nodes' then
      return v_nodes || jsonb_build_object('rule', 'admin_override', 'reason', 'Admin override', 'clarity', v_online);
    elsif v_best is null or not (v_best ->> 'enabled')::boolean
          or not coalesce((v_best ->> 'pool_enabled')::boolean, true) then
      return jsonb_build_object('rule', 'admin_override', 'error',
        'Kubernetes was requested but no Kubernetes provider is configured; ask an admin to add one or submit with infrastructure_type auto');
    end if;
    return v_k8s || jsonb_build_object('rule', 'admin_override', 'reason', 'Admin override', 'clarity', 1);
  elsif v_requested = 'build_nodes' then
    return v_nodes || jsonb_build_object('rule', 'user_pick', 'reason', 'build nodes requested' || v_waits,
                                         'clarity', 0.9 * v_online);
  elsif v_requested = 'kubernetes' then
    if v_healthy is null then
      return jsonb_build_object('rule', 'user_pick', 'error', format(
        'Kubernetes was requested but is unavailable (%s); submit with infrastructure_type auto',
        kiln_api.kubernetes_unavailable_detail(p_inputs)));
    elsif not v_fits then
      return jsonb_build_object('rule', 'user_pick', 'error', format(
        'Kubernetes was requested but no healthy node pool can run this build (%s); submit with infrastructure_type auto',
        v_healthy ->> 'why'));
    end if;
    return v_k8s || jsonb_build_object('rule', 'user_pick', 'reason', 'Kubernetes requested: ' || v_where, 'clarity', 0.9);
  end if;

  -- auto: edge cases that belong on build nodes unless a cluster offers them
  v_special := case when (p_needs ->> 'airgapped')::boolean then 'airgapped'
                    when (p_needs ->> 'legacy_system')::boolean then 'legacy_system'
                    when p_needs ->> 'custom_hardware' is not null then 'custom_hardware' end;
  if v_special is not null and v_fits then
    return v_k8s || jsonb_build_object('rule', v_special || '_cluster', 'clarity', 0.8, 'reason', case v_special
      when 'airgapped' then format('air-gapped build: %s (%s) supports air-gapped builds; node pool %s',
                                   v_best ->> 'provider', v_best ->> 'provider_type', v_best ->> 'node_pool')
      when 'legacy_system' then format('legacy system: %s (%s) supports existing systems; node pool %s',
                                       v_best ->> 'provider', v_best ->> 'provider_type', v_best ->> 'node_pool')
      else format('needs %s hardware: %s', p_needs ->> 'custom_hardware', v_where) end);
  elsif v_special is not null then
    return v_nodes || jsonb_build_object('rule', v_special, 'clarity', 0.95 * v_online, 'reason', case v_special
      when 'airgapped' then 'air-gapped builds run on build nodes'
      when 'legacy_system' then 'builds for legacy systems run on build nodes'
      else format('needs %s hardware, which only build nodes labelled custom_hardware=%s have',
                  p_needs ->> 'custom_hardware', p_needs ->> 'custom_hardware') end || v_waits);
  elsif v_healthy is null then
    return v_nodes || jsonb_build_object('rule', 'kubernetes_unavailable', 'clarity', 0.7 * v_online,
      'reason', format('Kubernetes unavailable: %s; build nodes are the fallback for %s builds',
                       kiln_api.kubernetes_unavailable_detail(p_inputs), v_method) || v_waits);
  elsif p_inputs -> 'method' ->> 'primary_infra' = 'build_nodes' then
    return v_nodes || jsonb_build_object('rule', 'method_primary', 'clarity', 0.85 * v_online,
      'reason', format('the method table runs %s builds on build nodes first', v_method) || v_waits);
  elsif v_hardware is not null and v_fits then
    return v_k8s || jsonb_build_object('clarity', 0.8, 'reason', format('needs %s: %s', v_hardware, v_where),
      'rule', case when (p_needs ->> 'gpu')::boolean then 'gpu_pool'
                   when (p_needs ->> 'high_memory')::boolean then 'high_memory_pool' else 'arch_pool' end);
  elsif v_hardware is not null then
    return v_nodes || jsonb_build_object('rule', 'no_matching_pool', 'clarity', 0.6 * v_online,
      'reason', format('needs %s, which no healthy Kubernetes node pool has (%s); build nodes are the fallback',
                       v_hardware, v_healthy ->> 'why') || v_waits);
  elsif v_fits then
    return v_k8s || jsonb_build_object('rule', 'method_primary', 'clarity', 0.85, 'reason', format(
      case when v_method in ('docker', 'buildx') then '%s builds prefer Kubernetes (%s, runs with %s): %s'
           else '%s build without special requirements prefers Kubernetes (%s, runs with %s): %s' end,
      v_method, p_inputs -> 'method' ->> 'selection_criteria', p_inputs -> 'method' ->> 'engine', v_where));
  end if;
  return v_nodes || jsonb_build_object('rule', 'no_matching_pool', 'clarity', 0.6 * v_online,
    'reason', format('no healthy Kubernetes node pool can run it (%s); build nodes are the fallback for %s builds',
                     v_healthy ->> 'why', v_method) || v_waits);
end $$;

-- infrastructure_alternatives: every option not chosen, each with why: node pools (their
-- verdict's reason, or why the chosen one beat them), build nodes when Kubernetes won,
-- Kubernetes when no provider has a node pool.
create function kiln_api.infrastructure_alternatives(p_inputs jsonb, p_pools jsonb, p_choice jsonb, p_nodes integer)
  returns jsonb language sql stable as $$
  select coalesce(jsonb_agg(a.alt order by a.ord), '[]') from (
    select i as ord, jsonb_build_object('infrastructure_type', 'kubernetes',
        'provider_id', p -> 'provider_id', 'provider', p -> 'provider', 'provider_type', p -> 'provider_type',
        'node_pool_id', p -> 'node_pool_id', 'node_pool', p -> 'node_pool', 'health', p -> 'health',
        'score', p -> 'score',
        'why', case
          when not (p ->> 'eligible')::boolean then p ->> 'why'
          when p_choice ->> 'type' = 'build_nodes' then case p_choice ->> 'rule'
            when 'admin_override' then 'an admin forced build nodes'
            when 'user_pick' then 'build nodes were requested'
            else p_choice ->> 'reason' end
          when (p ->> 'score')::numeric < (p_choice -> 'pool' ->> 'score')::numeric then
            format('scored %s, below %s of node pool %s', p ->> 'score', p_choice -> 'pool' ->> 'score',
                   p_choice -> 'pool' ->> 'node_pool')
          else format('scored the same as node pool %s, which is cheaper or comes first by name',
                      p_choice -> 'pool' ->> 'node_pool') end) as alt
      from jsonb_array_elements(p_pools) with ordinality s (p, i)
     where p_choice ->> 'type' is distinct from 'kubernetes'
        or p ->> 'node_pool_id' is distinct from p_choice -> 'pool' ->> 'node_pool_id'
    union all
    select 0, jsonb_build_object('infrastructure_type', 'build_nodes', 'matching_online_nodes', p_nodes,
        'why', case p_choice ->> 'rule'
                 when 'admin_override' then 'an admin forced Kubernetes'
                 when 'user_pick' then 'Kubernetes was requested'
                 else format('the fallback for %s builds; Kubernetes can run it', p_inputs -> 'config' ->> 'method') end
               || format(' (%s online build nodes could)', p_nodes))
     where p_choice ->> 'type' = 'kubernetes'
    union all
    select 0, jsonb_build_object('infrastructure_type', 'kubernetes',
                                 'why', kiln_api.kubernetes_unavailable_detail(p_inputs))
     where jsonb_array_length(p_inputs -> 'pools') = 0) a
$$;

-- decide_infrastructure: the decision from its inputs alone (pure: reads no table).
-- Returns {infrastructure_type, target, reason, rule, confidence, confidence_detail, size,
-- node_requirements, needs, alternatives}, or {error, rule, requested, …} when the build
-- cannot run where it was forced or picked. target: {provider_id, provider, provider_type, node_pool_id,
-- node_pool, score} on Kubernetes; {node_requirements, matching_online_nodes} on build nodes.
create function kiln_api.decide_infrastructure(p_inputs jsonb) returns jsonb
  language plpgsql stable as $$
declare
  v_cfg jsonb := p_inputs -> 'config';
  v_size jsonb := kiln_api.compute_size(p_inputs -> 'sizing', coalesce((p_inputs ->> 'oom_retries')::integer, 0));
  v_needs jsonb := kiln_api.infrastructure_needs(coalesce(v_cfg -> 'requirements', '{}'), v_size, p_inputs -> 'settings');
  v_node_req jsonb := kiln_api.node_requirements(coalesce(v_cfg -> 'requirements', '{}'));
  -- an admin override may use a provider whatever its health
  v_pools jsonb := kiln_api.rank_pools(p_inputs, v_needs, v_size,
                                       not coalesce((v_cfg ->> 'force_infrastructure')::boolean, false));
  v_weight numeric := (p_inputs -> 'settings' ->> 'confidence_prior_weight')::numeric;
  v_nodes integer;
  v_choice jsonb;
  v_history jsonb;
  v_target jsonb;
begin
  select count(*) into v_nodes from jsonb_array_elements(p_inputs -> 'nodes') n
   where kiln_api.node_can_run(jsonb_populate_record(null::kiln.build_nodes, n), v_node_req, v_size);
  v_choice := kiln_api.infrastructure_rule(p_inputs, v_needs, v_pools, v_nodes);
  if v_choice ? 'error' then
    return jsonb_build_object('error', v_choice ->> 'error', 'rule', v_choice ->> 'rule',
      'requested', v_cfg ->> 'infrastructure_type', 'size', v_size, 'node_requirements', v_node_req,
      'needs', v_needs, 'alternatives', kiln_api.infrastructure_alternatives(p_inputs, v_pools, v_choice, v_nodes));
  end if;
  if v_choice ->> 'type' = 'kubernetes' then
    v_target := jsonb_build_object('provider_id', v_choice -> 'pool' -> 'provider_id',
      'provider', v_choice -> 'pool' -> 'provider', 'provider_type', v_choice -> 'pool' -> 'provider_type',
      'node_pool_id', v_choice -> 'pool' -> 'node_pool_id', 'node_pool', v_choice -> 'pool' -> 'node_pool',
      'score', v_choice -> 'pool' -> 'score');
    v_history := v_choice -> 'pool' -> 'history';
  else
    v_target := jsonb_build_object('node_requirements', v_node_req, 'matching_online_nodes', v_nodes);
    v_history := p_inputs -> 'build_nodes_history';
  end if;
  return jsonb_build_object(
    'infrastructure_type', v_choice ->> 'type', 'target', v_target, 'reason', v_choice ->> 'reason',
    'rule', v_choice ->> 'rule',
    'confidence', kiln_api.infrastructure_confidence((v_choice ->> 'clarity')::numeric, v_history, v_weight),
    'confidence_detail', jsonb_build_object('clarity', round((v_choice ->> 'clarity')::numeric, 4),
      'samples', coalesce(v_history -> 'samples', '0'), 'successes', coalesce(v_history -> 'successes', '0'),
      'prior_weight', v_weight),
    'size', v_size, 'node_requirements', v_node_req, 'needs', v_needs,
    'alternatives', kiln_api.infrastructure_alternatives(p_inputs, v_pools, v_choice, v_nodes));
end $$;

-- select_infrastructure: the decision for a build config (the POST /api/v1/builds body:
-- project, method, spec, requirements, infrastructure_type, force_infrastructure; params
-- and priority are ignored) of p_tenant, p_oom_retries OOM retries in. The answer is
-- decide_infrastructure's plus `inputs`, the decision record. Permissions are the
-- caller's business (submit_build, recommend_infrastructure).
create function kiln_api.select_infrastructure(p_tenant uuid, p_config jsonb, p_oom_retries integer default 0,
                                               p_now timestamptz default null)
  returns jsonb language plpgsql stable as $$
declare
  v_project kiln.projects;
  v_config jsonb;
  v_inputs jsonb;
begin
  v_project := kiln_api.resolve_build_config(p_tenant, p_config);
  if coalesce(p_config ->> 'infrastructure_type', 'auto') not in ('auto', 'kubernetes', 'build_nodes') then
    perform kiln_api.raise_error(400, 'invalid_value', format('infrastructure_type %s is not one of auto, kubernetes, build_nodes',
      p_config ->> 'infrastructure_type'), 'infrastructure_type');
  end if;
  v_config := jsonb_build_object(
    'method', p_config ->> 'method',
    'spec', kiln_api.validate_spec(p_config -> 'spec'),
    'requirements', kiln_api.merge_requirements(v_project, kiln_api.validate_requirements(p_config -> 'requirements')),
    'infrastructure_type', coalesce(p_config ->> 'infrastructure_type', 'auto'),
    'force_infrastructure', coalesce(p_config -> 'force_infrastructure', 'false') = 'true'::jsonb);
  v_inputs := kiln_api.infrastructure_inputs(p_tenant, v_project, v_config, coalesce(p_oom_retries, 0),
                                             coalesce(p_now, now()));
  return kiln_api.decide_infrastructure(v_inputs) || jsonb_build_object('inputs', v_inputs);
end $$;

-- replay_infrastructure_decision: the decision a stored record gives again: the record is
-- an execution's infrastructure_metadata or select_infrastructure's answer (both hold
-- `inputs`). Pure: today's tables do not matter.
--   select kiln_api.replay_infrastructure_decision(infrastructure_metadata)
--     from kiln.build_executions where id = '…';
create function kiln_api.replay_infrastructure_decision(p_record jsonb) returns jsonb
  language plpgsql stable as $$
begin
  if p_record is null or jsonb_typeof(p_record -> 'inputs') is distinct from 'object' then
    perform kiln_api.raise_error(400, 'invalid_value', 'the record holds no decision inputs', 'inputs');
  end if;
  return kiln_api.decide_infrastructure(p_record -> 'inputs');
end $$;

grant execute on function
  kiln_api.infrastructure_rule(jsonb, jsonb, jsonb, integer),
  kiln_api.infrastructure_alternatives(jsonb, jsonb, jsonb, integer),
  kiln_api.decide_infrastructure(jsonb),
  kiln_api.select_infrastructure(uuid, jsonb, integer, timestamptz),
  kiln_api.replay_infrastructure_decision(jsonb),
  kiln_api.node_can_run(kiln.build_nodes, jsonb, jsonb)
  to kiln_web;
