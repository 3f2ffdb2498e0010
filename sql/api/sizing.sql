-- Sizing (adr-039), in three tiers per dimension:
--   1. the declared spec (validated at submit: kiln_api.validate_spec);
--   2. 1.2 × the p95 of the project's measured usage, over its most recent successful runs
--      (cpu cores = cpu_seconds / duration_seconds, memory = peak_memory_bytes in GiB);
--      only once the project has sizing_min_samples such runs. Failed runs are left out: an
--      OOM-killed run's peak is its limit, not its need;
--   3. kiln.size_defaults for the method and the project's language (or '*').
-- cpu and memory are max(declared, 1.2 × p95) when both exist; disk and time budget are
-- declared or default. An OOM retry then climbs kiln.size_ladder one rung per retry taken.
-- sizing_inputs reads the tables; compute_size is pure (its inputs alone decide), so a
-- stored decision record replays to the same size.

-- sizing_inputs: everything compute_size reads, as JSON. Caller: infrastructure_inputs.
create function kiln_api.sizing_inputs(p_project kiln.projects, p_method kiln.build_method, p_spec jsonb)
  returns jsonb language plpgsql stable as $$
declare
  v_samples integer := kiln_api.setting('sizing_history_samples')::integer;
begin
  return (
  with recent as (
    select (u.resource_usage ->> 'cpu_seconds')::numeric
             / nullif((u.resource_usage ->> 'duration_seconds')::numeric, 0) as cores,
           (u.resource_usage ->> 'peak_memory_bytes')::numeric / 1073741824 as gib
      from kiln.infrastructure_usage u
     where u.project_id = p_project.id and u.success
     order by u.start_time desc
     limit v_samples)
  select jsonb_build_object(
    'declared', coalesce(p_spec, '{}'),
    'history', (select jsonb_build_object(
        'cpu_samples', count(cores), 'memory_samples', count(gib),
        -- percentile_cont works in double precision; 4 decimals keep 1.2 × p95 exact
        'cpu_p95', round((percentile_cont(0.95) within group (order by cores))::numeric, 4),
        'memory_gb_p95', round((percentile_cont(0.95) within group (order by gib))::numeric, 4))
      from recent),
    'min_samples', kiln_api.setting('sizing_min_samples'),
    'headroom', 1.2,
    'default', (select jsonb_build_object('method', d.method, 'language', d.language, 'cpu', d.cpu,
                  'memory_gb', d.memory_gb, 'disk_gb', d.disk_gb, 'time_budget_min', d.time_budget_min)
                  from kiln.size_defaults d
                 where d.method = p_method and d.language in (coalesce(p_project.language, '*'), '*')
                 order by d.language = '*' limit 1),
    'ladder', (select coalesce(jsonb_agg(jsonb_build_object('rung', l.rung, 'name', l.name, 'cpu', l.cpu,
                 'memory_gb', l.memory_gb) order by l.memory_gb), '[]') from kiln.size_ladder l)));
end $$;

-- size_dimension: one of cpu / memory_gb from the three tiers: {value, source, history}.
-- 1.2 × p95 is rounded up to 0.01 and kept within the spec's bounds (p_min..p_max).
create function kiln_api.size_dimension(p_sizing jsonb, p_key text, p_min numeric, p_max numeric)
  returns jsonb language plpgsql stable as $$
declare
  v_declared numeric := (p_sizing -> 'declared' ->> p_key)::numeric;
  v_hist jsonb := p_sizing -> 'history';
  v_samples integer := (v_hist ->> (case p_key when 'cpu' then 'cpu_samples' else 'memory_samples' end))::integer;
  v_p95 numeric := (v_hist ->> (p_key || '_p95'))::numeric;
  v_history numeric;
begin
  if v_samples >= (p_sizing ->> 'min_samples')::numeric and v_p95 is not null then
    v_history := least(greatest(ceil((p_sizing ->> 'headroom')::numeric * v_p95 * 100) / 100, p_min), p_max);
  end if;
  if v_declared is not null and (v_history is null or v_declared >= v_history) then
    return jsonb_build_object('value', v_declared, 'source', 'declared', 'history', v_history);
  elsif v_history is not null then
    return jsonb_build_object('value', v_history, 'source', 'history', 'history', v_history);
  end if;
  return jsonb_build_object('value', (p_sizing -> 'default' ->> p_key)::numeric, 'source', 'default',
                            'history', null);
end $$;

-- compute_size: the size of an execution from sizing_inputs and the OOM retries its build
-- took. Returns {cpu, memory_gb, disk_gb, time_budget_min, [cache_keys], tier, sources,
-- history, oom_step, [rung, base]}; tier is history when 1.2 × p95 set cpu or memory, else
-- declared when the spec did, else default.
create function kiln_api.compute_size(p_sizing jsonb, p_oom_retries integer default 0)
  returns jsonb language plpgsql stable as $$
declare
  v_decl jsonb := coalesce(p_sizing -> 'declared', '{}');
  v_cpu jsonb := kiln_api.size_dimension(p_sizing, 'cpu', 0.1, 64);
  v_mem jsonb := kiln_api.size_dimension(p_sizing, 'memory_gb', 0.125, 512);
  v_sources text[] := array[v_cpu ->> 'source', v_mem ->> 'source'];
  v_size jsonb;
  v_position integer;
  v_rung jsonb;
begin
  v_size := jsonb_build_object(
    'cpu', (v_cpu ->> 'value')::numeric, 'memory_gb', (v_mem ->> 'value')::numeric,
    'disk_gb', coalesce((v_decl ->> 'disk_gb')::numeric, (p_sizing -> 'default' ->> 'disk_gb')::numeric),
    'time_budget_min', coalesce((v_decl ->> 'time_budget_min')::numeric,
                                (p_sizing -> 'default' ->> 'time_budget_min')::numeric)::integer,
    'tier', case when 'history' = any (v_sources) then 'history'
                 when 'declared' = any (v_sources) then 'declared' else 'default' end,
    'sources', jsonb_build_object('cpu', v_cpu ->> 'source', 'memory_gb', v_mem ->> 'source',
      'disk_gb', case when v_decl ? 'disk_gb' then 'declared' else 'default' end,
      'time_budget_min', case when v_decl ? 'time_budget_min' then 'declared' else 'default' end),
    'history', jsonb_build_object('cpu', v_cpu -> 'history', 'memory_gb', v_mem -> 'history'),
    'oom_step', coalesce(p_oom_retries, 0));
  if v_decl ? 'cache_keys' then
    v_size := v_size || jsonb_build_object('cache_keys', v_decl -> 'cache_keys');
  end if;
  if coalesce(p_oom_retries, 0) > 0 and jsonb_array_length(p_sizing -> 'ladder') > 0 then
    -- The rungs the size already reached, then one more per retry (the top rung at most).
    select count(*) into v_position from jsonb_array_elements(p_sizing -> 'ladder') r
     where (r ->> 'memory_gb')::numeric <= (v_size ->> 'memory_gb')::numeric;
    v_rung := p_sizing -> 'ladder' -> (least(v_position + p_oom_retries, jsonb_array_length(p_sizing -> 'ladder')) - 1);
    v_size := v_size || jsonb_build_object(
      'base', jsonb_build_object('cpu', v_size -> 'cpu', 'memory_gb', v_size -> 'memory_gb'),
      'rung', v_rung ->> 'name',
      'cpu', greatest((v_size ->> 'cpu')::numeric, (v_rung ->> 'cpu')::numeric),
      'memory_gb', greatest((v_size ->> 'memory_gb')::numeric, (v_rung ->> 'memory_gb')::numeric));
  end if;
  return v_size;
end $$;

grant execute on function
  kiln_api.sizing_inputs(kiln.projects, kiln.build_method, jsonb),
  kiln_api.size_dimension(jsonb, text, numeric, numeric),
  kiln_api.compute_size(jsonb, integer)
  to kiln_web;
