-- Validation of the parts of a build config (DESIGN.md shapes). Each raises QC400 naming
-- the field (spec.cpu, requirements.arch, params.script…) and never falls back silently
-- (adr-039: an invalid spec fails fast). Each returns the normalized value.

-- validate_spec: the declared size of adr-039.
create function kiln_api.validate_spec(p_spec jsonb) returns jsonb
  language plpgsql immutable as $$
declare
  v_num numeric;
begin
  if p_spec is null or p_spec = 'null'::jsonb then
    return '{}'::jsonb;
  end if;
  perform kiln_api.expect_type(p_spec, 'object', 'spec');
  perform kiln_api.expect_keys(p_spec,
    array['cpu', 'memory_gb', 'disk_gb', 'time_budget_min', 'cache_keys', 'oom_retry'], 'spec.');
  if p_spec ? 'cpu' then
    perform kiln_api.expect_type(p_spec -> 'cpu', 'number', 'spec.cpu');
    v_num := (p_spec ->> 'cpu')::numeric;
    if v_num < 0.1 or v_num > 64 then
      perform kiln_api.raise_error(400, 'invalid_value',
        format('spec.cpu must be between 0.1 and 64 cores, got %s', v_num), 'spec.cpu');
    end if;
  end if;
  if p_spec ? 'memory_gb' then
    perform kiln_api.expect_type(p_spec -> 'memory_gb', 'number', 'spec.memory_gb');
    v_num := (p_spec ->> 'memory_gb')::numeric;
    if v_num < 0.125 or v_num > 512 then
      perform kiln_api.raise_error(400, 'invalid_value',
        format('spec.memory_gb must be between 0.125 and 512, got %s', v_num), 'spec.memory_gb');
    end if;
  end if;
  if p_spec ? 'disk_gb' then
    perform kiln_api.expect_type(p_spec -> 'disk_gb', 'number', 'spec.disk_gb');
    v_num := (p_spec ->> 'disk_gb')::numeric;
    if v_num < 1 or v_num > 4096 then
      perform kiln_api.raise_error(400, 'invalid_value',
        format('spec.disk_gb must be between 1 and 4096, got %s', v_num), 'spec.disk_gb');
    end if;
  end if;
  if p_spec ? 'time_budget_min' then
    perform kiln_api.expect_type(p_spec -> 'time_budget_min', 'integer', 'spec.time_budget_min');
    v_num := (p_spec ->> 'time_budget_min')::numeric;
    if v_num < 1 or v_num > 1440 then
      perform kiln_api.raise_error(400, 'invalid_value',
        format('spec.time_budget_min must be between 1 and 1440 minutes, got %s', v_num),
        'spec.time_budget_min');
    end if;
  end if;
  if p_spec ? 'cache_keys' then
    perform kiln_api.expect_type(p_spec -> 'cache_keys', 'array', 'spec.cache_keys');
    if jsonb_array_length(p_spec -> 'cache_keys') > 20 then
      perform kiln_api.raise_error(400, 'invalid_value', 'spec.cache_keys holds at most 20 keys',
                                   'spec.cache_keys');
    end if;
    if exists (select from jsonb_array_elements(p_spec -> 'cache_keys') e
                where jsonb_typeof(e) <> 'string' or e #>> '{}' !~ '^[A-Za-z0-9._:/@-]{1,200}$') then
      perform kiln_api.raise_error(400, 'invalid_value',
        'spec.cache_keys must be strings of 1-200 characters from A-Z a-z 0-9 . _ : / @ -',
        'spec.cache_keys');
    end if;
  end if;
  if p_spec ? 'oom_retry' then
    perform kiln_api.expect_type(p_spec -> 'oom_retry', 'boolean', 'spec.oom_retry');
  end if;
  return p_spec;
end $$;

-- validate_requirements: the seed's BuildRequirements.
create function kiln_api.validate_requirements(p_req jsonb, p_field text default 'requirements')
  returns jsonb language plpgsql immutable as $$
declare
  v_key text;
begin
  if p_req is null or p_req = 'null'::jsonb then
    return '{}'::jsonb;
  end if;
  perform kiln_api.expect_type(p_req, 'object', p_field);
  perform kiln_api.expect_keys(p_req,
    array['gpu', 'high_memory', 'airgapped', 'legacy_system', 'arch', 'custom_hardware'],
    p_field || '.');
  foreach v_key in array array['gpu', 'high_memory', 'airgapped', 'legacy_system'] loop
    if p_req ? v_key then
      perform kiln_api.expect_type(p_req -> v_key, 'boolean', p_field || '.' || v_key);
    end if;
  end loop;
  if p_req ? 'arch' then
    perform kiln_api.expect_type(p_req -> 'arch', 'array', p_field || '.arch');
    if jsonb_array_length(p_req -> 'arch') = 0 or exists (
        select from jsonb_array_elements(p_req -> 'arch') e
         where jsonb_typeof(e) <> 'string'
            or e #>> '{}' not in ('amd64', 'arm64', 'ppc64le', 's390x', 'riscv64')) then
      perform kiln_api.raise_error(400, 'invalid_value',
        format('%s.arch must be a non-empty list of amd64, arm64, ppc64le, s390x, riscv64', p_field),
        p_field || '.arch');
    end if;
  end if;
  if p_req ? 'custom_hardware' then
    perform kiln_api.expect_type(p_req -> 'custom_hardware', 'string', p_field || '.custom_hardware');
    if length(p_req ->> 'custom_hardware') > 200 then
      perform kiln_api.raise_error(400, 'invalid_value',
        format('%s.custom_hardware is longer than 200 characters', p_field),
        p_field || '.custom_hardware');
    end if;
  end if;
  return p_req;
end $$;

-- merge_requirements: a build's requirements combined with its project's: flags are
-- or-ed, arch lists united, custom_hardware from the build wins.
create function kiln_api.merge_requirements(p_project kiln.projects, p_build jsonb)
  returns jsonb language sql immutable as $$
  select jsonb_strip_nulls(jsonb_build_object(
    'gpu', coalesce((p_build ->> 'gpu')::boolean, false) or p_project.requires_gpu
           or coalesce((p_project.requirements ->> 'gpu')::boolean, false),
    'high_memory', coalesce((p_build ->> 'high_memory')::boolean, false)
           or coalesce((p_project.requirements ->> 'high_memory')::boolean, false),
    'airgapped', coalesce((p_build ->> 'airgapped')::boolean, false)
           or coalesce((p_project.requirements ->> 'airgapped')::boolean, false),
    'legacy_system', coalesce((p_build ->> 'legacy_system')::boolean, false)
           or coalesce((p_project.requirements ->> 'legacy_system')::boolean, false),
    'arch', (select jsonb_agg(distinct a order by a) from (
               select jsonb_array_elements_text(coalesce(p_build -> 'arch', '[]')) a
               union select jsonb_array_elements_text(coalesce(p_project.requirements -> 'arch', '[]'))) s),
    'custom_hardware', coalesce(p_build ->> 'custom_hardware', p_project.requirements ->> 'custom_hardware')))
$$;

-- validate_params: a method's parameters; unknown or missing names are refused.
create function kiln_api.validate_params(p_method kiln.build_method, p_params jsonb)
  returns jsonb language plpgsql stable as $$
declare
  v_m kiln.build_methods;
  v_key text;
begin
  select * into v_m from kiln.build_methods where method = p_method;
  if p_params is null or p_params = 'null'::jsonb then
    p_params := '{}'::jsonb;
  end if;
  perform kiln_api.expect_type(p_params, 'object', 'params');
  perform kiln_api.expect_keys(p_params, v_m.required_params || v_m.optional_params, 'params.');
  for v_key in select k from jsonb_object_keys(p_params) k order by k loop
    if jsonb_typeof(p_params -> v_key) not in ('string', 'number', 'boolean') then
      perform kiln_api.raise_error(400, 'invalid_type',
        format('params.%s must be a string, number or boolean', v_key), 'params.' || v_key);
    end if;
    if length(p_params ->> v_key) > 65536 then
      perform kiln_api.raise_error(400, 'invalid_value',
        format('params.%s is longer than 65536 characters', v_key), 'params.' || v_key);
    end if;
  end loop;
  foreach v_key in array v_m.required_params loop
    if not p_params ? v_key or btrim(p_params ->> v_key) = '' then
      perform kiln_api.raise_error(400, 'missing_field',
        format('params.%s is required for %s builds', v_key, p_method), 'params.' || v_key);
    end if;
  end loop;
  return p_params;
end $$;
