-- submit_build: validates a build config (DESIGN.md's POST /api/v1/builds body) and
-- creates the build as `pending` with its build_configs row and a first event.
-- The infrastructure choice is checked by parse_infrastructure_choice: forcing needs
-- infrastructure:manage, a pick must be one of the options the user is shown.
-- Caller: POST /api/v1/builds. Errors: QC400 (shape, unknown method/field, invalid spec,
-- unavailable infrastructure pick), QC403 (infrastructure choice without the permission),
-- QC422 (unknown project; requirements no registered infrastructure offers).
create function kiln_api.submit_build(p_body jsonb) returns jsonb
  language plpgsql as $$
declare
  v_tenant uuid := kiln_api.require_tenant();
  v_project kiln.projects;
  v_method kiln.build_method;
  v_infra kiln.infrastructure_type := 'auto';
  v_force boolean := false;
  v_choice jsonb;
  v_priority integer := 0;
  v_build_id uuid;
  v_params jsonb;
  v_spec jsonb;
  v_requirements jsonb;
  v_not_before timestamptz;
  v_unrunnable text;
begin
  perform kiln_api.expect_type(p_body, 'object', 'body');
  perform kiln_api.expect_keys(p_body, array['project', 'method', 'params', 'spec',
    'requirements', 'infrastructure_type', 'force_infrastructure', 'priority', 'not_before'], '');

  if not p_body ? 'project' then
    perform kiln_api.raise_error(400, 'missing_field', 'project is required', 'project');
  end if;
  perform kiln_api.expect_type(p_body -> 'project', 'string', 'project');
  select * into v_project from kiln.projects
   where tenant_id = v_tenant and name = p_body ->> 'project';
  if not found then
    perform kiln_api.raise_error(422, 'project_not_found',
      format('project %s does not exist; create it with POST /api/v1/projects', p_body ->> 'project'),
      'project');
  end if;

  if not p_body ? 'method' then
    perform kiln_api.raise_error(400, 'missing_field', 'method is required', 'method');
  end if;
  perform kiln_api.expect_type(p_body -> 'method', 'string', 'method');
  if not (p_body ->> 'method') = any (enum_range(null::kiln.build_method)::text[]) then
    perform kiln_api.raise_error(400, 'invalid_value',
      format('method %s is not one of %s', p_body ->> 'method',
             array_to_string(enum_range(null::kiln.build_method)::text[], ', ')), 'method');
  end if;
  v_method := (p_body ->> 'method')::kiln.build_method;

  v_choice := kiln_api.parse_infrastructure_choice(p_body, v_tenant);
  v_infra := (v_choice ->> 'infrastructure_type')::kiln.infrastructure_type;
  v_force := (v_choice ->> 'force_infrastructure')::boolean;

  if p_body ? 'priority' then
    perform kiln_api.expect_type(p_body -> 'priority', 'integer', 'priority');
    if (p_body ->> 'priority')::numeric not between -100 and 100 then
      perform kiln_api.raise_error(400, 'invalid_value', 'priority must be between -100 and 100',
                                   'priority');
    end if;
    v_priority := (p_body ->> 'priority')::numeric::integer;  -- 50.0 is the integer 50
  end if;

  if p_body ? 'not_before' then
    perform kiln_api.expect_type(p_body -> 'not_before', 'string', 'not_before');
    begin
      v_not_before := (p_body ->> 'not_before')::timestamptz;
    exception when others then
      perform kiln_api.raise_error(400, 'invalid_value',
        'not_before must be a timestamp such as 2030-01-31T18:00:00Z', 'not_before');
    end;
  end if;

  v_params := kiln_api.validate_params(v_method, p_body -> 'params');
  v_spec := kiln_api.validate_spec(p_body -> 'spec');
  -- A build nothing registered could ever run is refused now rather than left waiting
  -- (an admin forcing an infrastructure overrides the check).
  v_requirements := kiln_api.merge_requirements(v_project, kiln_api.validate_requirements(p_body -> 'requirements'));
  v_unrunnable := case when not v_force then kiln_api.unrunnable_requirement(v_requirements, v_infra) end;
  if v_unrunnable is not null then
    perform kiln_api.raise_error(422, 'unsatisfiable_requirements', v_unrunnable, 'requirements');
  end if;

  insert into kiln.builds (tenant_id, project_id, priority, created_by, not_before)
    values (v_tenant, v_project.id, v_priority, kiln_api.current_user_id(), v_not_before)
    returning id into v_build_id;
  insert into kiln.build_configs (build_id, tenant_id, method, params, spec, requirements,
                                  infrastructure_type, force_infrastructure,
                                  infrastructure_reason)
    values (v_build_id, v_tenant, v_method,
            v_params, v_spec,
            v_requirements,
            v_infra, v_force,
            case when v_force then 'Admin override' end);
  insert into kiln.build_events (build_id, tenant_id, from_status, to_status, actor, message)
    values (v_build_id, v_tenant, null, 'pending', kiln_api.actor(), 'submitted');
  return kiln_api.build_json(v_build_id);
end $$;
