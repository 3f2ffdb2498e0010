-- The rules of infrastructure selection (hybrid-infrastructure-strategy seed), as pure
-- functions of the decision inputs (kiln_api.infrastructure_inputs): none reads a table,
-- so a stored decision record replays to the same answer. decide_infrastructure
-- (select_infrastructure.sql) puts them together.

-- infrastructure_needs: what a build needs from its infrastructure: the requirement flags,
-- the architectures, custom hardware, high memory also when the size reaches the
-- high_memory_gb setting; `hardware` lists, readably, the needs a node pool must meet
-- (GPU, high memory, a non-amd64 or several architectures).
create function kiln_api.infrastructure_needs(p_req jsonb, p_size jsonb, p_settings jsonb)
  returns jsonb language sql stable as $$
  with n as (
    select coalesce((p_req ->> 'gpu')::boolean, false) as gpu,
           coalesce((p_req ->> 'high_memory')::boolean, false)
             or (p_size ->> 'memory_gb')::numeric >= (p_settings ->> 'high_memory_gb')::numeric as high_memory,
           coalesce((p_req ->> 'airgapped')::boolean, false) as airgapped,
           coalesce((p_req ->> 'legacy_system')::boolean, false) as legacy_system,
           coalesce(p_req -> 'arch', '[]') as arch,
           nullif(p_req ->> 'custom_hardware', '') as custom_hardware)
  select jsonb_build_object('gpu', gpu, 'high_memory', high_memory, 'airgapped', airgapped,
           'legacy_system', legacy_system, 'arch', arch, 'custom_hardware', custom_hardware,
           'hardware', to_jsonb(array_remove(array[
              case when gpu then 'a GPU' end,
              case when high_memory then 'high memory' end,
              case when jsonb_array_length(arch) > 1 or exists (
                     select from jsonb_array_elements_text(arch) a where a <> 'amd64')
                   then (select string_agg(a, ' and ' order by a) from jsonb_array_elements_text(arch) a) || ' nodes' end],
              null)))
    from n
$$;

-- node_requirements: what a build node must have (kiln_api.node_can_run reads it): the
-- arch list, the requirement flags set to true, custom_hardware as a label.
create function kiln_api.node_requirements(p_req jsonb) returns jsonb
  language sql stable as $$
  select jsonb_strip_nulls(jsonb_build_object(
    'arch', p_req -> 'arch',
    'capabilities', (select jsonb_object_agg(k, true) from jsonb_each(p_req) r (k, v)
                      where k in ('gpu', 'high_memory', 'airgapped', 'legacy_system') and v = 'true'::jsonb),
    'labels', case when p_req ? 'custom_hardware'
                   then jsonb_build_object('custom_hardware', p_req ->> 'custom_hardware') end))
$$;

-- pool_arch: the architectures of a node pool's nodes: its arch capabilities and
-- arch / kubernetes.io/arch labels; amd64 when it names none.
create function kiln_api.pool_arch(p_pool jsonb) returns text[]
  language sql stable as $$
  select coalesce(nullif(array(
    select distinct a from (
      select jsonb_array_elements_text(coalesce(p_pool -> 'capabilities', '[]')) a
      union all select p_pool -> 'labels' ->> 'arch'
      union all select p_pool -> 'labels' ->> 'kubernetes.io/arch') s
     where a in ('amd64', 'arm64', 'ppc64le', 's390x', 'riscv64') order by a), '{}'), '{amd64}')
$$;

-- capability_offered: whether a node pool (with its provider) offers a capability of the
-- capability table (migration 0003 explains scope and provider_types). A capability
-- missing from the table is offered nowhere.
create function kiln_api.capability_offered(p_pool jsonb, p_capability text, p_needs jsonb, p_inputs jsonb)
  returns boolean language sql stable as $$
  select coalesce((
    select (c -> 'provider_types' = 'null'::jsonb or c -> 'provider_types' ? (p_pool ->> 'provider_type'))
       and case
             when c ->> 'scope' = 'provider' then p_pool -> 'provider_capabilities' -> p_capability = 'true'::jsonb
             when p_capability = 'multi_arch' then
               kiln_api.pool_arch(p_pool) @> array(select jsonb_array_elements_text(p_needs -> 'arch'))
             when p_capability = 'custom_hardware' then
               p_pool -> 'labels' ->> 'custom_hardware' = p_needs ->> 'custom_hardware'
             when p_capability = 'high_memory' then
               coalesce(p_pool -> 'capabilities', '[]') ? 'high_memory'
               or (p_pool -> 'capacity' ->> 'memory_gb')::numeric >= (p_inputs -> 'settings' ->> 'high_memory_gb')::numeric
             else coalesce(p_pool -> 'capabilities', '[]') ? p_capability
           end
      from jsonb_array_elements(p_inputs -> 'capabilities') c
     where c ->> 'capability' = p_capability), false)
$$;

-- pool_verdict: whether a node pool can run the build, and if not the first reason why;
-- its fit (1, less 0.3 for GPUs and 0.1 for high memory the build does not need: such
-- pools are kept for the builds that do) and its score = fit × the Laplace-smoothed
-- success rate of comparable builds there, (successes + 1) / (samples + 2).
create function kiln_api.pool_verdict(p_pool jsonb, p_needs jsonb, p_size jsonb, p_inputs jsonb,
                                      p_check_health boolean)
  returns jsonb language plpgsql stable as $$
declare
  v_pool text := p_pool ->> 'node_pool';
  v_provider text := p_pool ->> 'provider';
  v_missing text;
  v_why text;
  v_fit numeric := 1;
begin
  select string_agg(a, ', ' order by a) into v_missing from jsonb_array_elements_text(p_needs -> 'arch') a
   where a <> all (kiln_api.pool_arch(p_pool));
  v_why := case
    when not (p_pool ->> 'enabled')::boolean then format('provider %s is disabled', v_provider)
    when not coalesce((p_pool ->> 'pool_enabled')::boolean, true) then format('node pool %s is disabled', v_pool)
    when p_check_health and p_pool ->> 'health' <> 'healthy' then
      format('provider %s is %s', v_provider,
             case p_pool ->> 'health' when 'unknown' then 'of unknown health' else p_pool ->> 'health' end)
    when (p_needs ->> 'gpu')::boolean and not kiln_api.capability_offered(p_pool, 'gpu', p_needs, p_inputs) then
      format('node pool %s has no GPU', v_pool)
    when (p_needs ->> 'high_memory')::boolean
         and not kiln_api.capability_offered(p_pool, 'high_memory', p_needs, p_inputs) then
      format('node pool %s has no high-memory nodes', v_pool)
    when jsonb_array_length(p_needs -> 'arch') > 0
         and not kiln_api.capability_offered(p_pool, 'multi_arch', p_needs, p_inputs) then
      format('node pool %s has no %s nodes', v_pool, coalesce(v_missing, 'such'))
    when (p_needs ->> 'airgapped')::boolean
         and not kiln_api.capability_offered(p_pool, 'airgapped', p_needs, p_inputs) then
      format('%s (%s) does not support air-gapped builds', v_provider, p_pool ->> 'provider_type')
    when (p_needs ->> 'legacy_system')::boolean
         and not kiln_api.capability_offered(p_pool, 'legacy_system', p_needs, p_inputs) then
      format('%s (%s) does not support legacy systems', v_provider, p_pool ->> 'provider_type')
    when p_needs ->> 'custom_hardware' is not null
         and not kiln_api.capability_offered(p_pool, 'custom_hardware', p_needs, p_inputs) then
      format('node pool %s has no %s hardware', v_pool, p_needs ->> 'custom_hardware')
    when (p_pool -> 'capacity' ->> 'cpu')::numeric < (p_size ->> 'cpu')::numeric then
      format('node pool %s nodes have %s cpu, the build needs %s', v_pool, p_pool -> 'capacity' ->> 'cpu', p_size ->> 'cpu')
    when (p_pool -> 'capacity' ->> 'memory_gb')::numeric < (p_size ->> 'memory_gb')::numeric then
      format('node pool %s nodes have %s GiB, the build needs %s', v_pool, p_pool -> 'capacity' ->> 'memory_gb',
             p_size ->> 'memory_gb')
  end;
  if coalesce(p_pool -> 'capabilities', '[]') ? 'gpu' and not (p_needs ->> 'gpu')::boolean then
    v_fit := v_fit - 0.3;
  end if;
  if coalesce(p_pool -> 'capabilities', '[]') ? 'high_memory' and not (p_needs ->> 'high_memory')::boolean then
    v_fit := v_fit - 0.1;
  end if;
  return jsonb_build_object('eligible', v_why is null, 'why', v_why, 'fit', v_fit,
    'score', round(v_fit * (coalesce((p_pool -> 'history' ->> 'successes')::numeric, 0) + 1)
                   / (coalesce((p_pool -> 'history' ->> 'samples')::numeric, 0) + 2), 4));
end $$;

-- rank_pools: every node pool of the inputs with its verdict, best first: pools that can
-- run the build, then by score, cost per cpu hour, provider and pool name, id.
create function kiln_api.rank_pools(p_inputs jsonb, p_needs jsonb, p_size jsonb, p_check_health boolean)
  returns jsonb language sql stable as $$
  select coalesce(jsonb_agg(v order by (v ->> 'eligible')::boolean desc, (v ->> 'score')::numeric desc,
                            (v ->> 'cost_per_cpu_hour')::numeric, v ->> 'provider', v ->> 'node_pool',
                            v ->> 'node_pool_id'), '[]')
    from (select p || kiln_api.pool_verdict(p, p_needs, p_size, p_inputs, p_check_health) as v
            from jsonb_array_elements(p_inputs -> 'pools') p) s
$$;

-- kubernetes_unavailable_detail: why no Kubernetes node pool is available at all.
create function kiln_api.kubernetes_unavailable_detail(p_inputs jsonb) returns text
  language sql stable as $$
  select case
    when not exists (select from jsonb_array_elements(p_inputs -> 'providers') p where (p ->> 'enabled')::boolean)
      then 'no Kubernetes provider is enabled'
    when not exists (select from jsonb_array_elements(p_inputs -> 'providers') p
                      where (p ->> 'enabled')::boolean and p ->> 'health' = 'healthy')
      then 'no enabled Kubernetes provider is healthy (' || (
        select string_agg(format('%s: %s', p ->> 'provider', p ->> 'health'), ', ' order by p ->> 'provider')
          from jsonb_array_elements(p_inputs -> 'providers') p where (p ->> 'enabled')::boolean) || ')'
    else 'no healthy Kubernetes provider has a node pool'
  end
$$;

-- infrastructure_confidence: (successes + w × clarity) / (samples + w), w the
-- confidence_prior_weight setting: the rule's clarity until there is history, then more
-- and more the success rate of comparable builds on the chosen target.
create function kiln_api.infrastructure_confidence(p_clarity numeric, p_history jsonb, p_weight numeric)
  returns numeric language sql stable as $$
  select round((coalesce((p_history ->> 'successes')::numeric, 0) + p_weight * p_clarity)
               / (coalesce((p_history ->> 'samples')::numeric, 0) + p_weight), 3)
$$;

grant execute on function
  kiln_api.infrastructure_needs(jsonb, jsonb, jsonb),
  kiln_api.node_requirements(jsonb),
  kiln_api.pool_arch(jsonb),
  kiln_api.capability_offered(jsonb, text, jsonb, jsonb),
  kiln_api.pool_verdict(jsonb, jsonb, jsonb, jsonb, boolean),
  kiln_api.rank_pools(jsonb, jsonb, jsonb, boolean),
  kiln_api.kubernetes_unavailable_detail(jsonb),
  kiln_api.infrastructure_confidence(numeric, jsonb, numeric)
  to kiln_web;
