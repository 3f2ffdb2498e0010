-- create_project (audited: project.create) / list_projects. Caller: POST and GET /api/v1/projects.
-- Errors: QC400 (shape), QC409 duplicate name.
create function kiln_api.project_json(p kiln.projects) returns jsonb
  language sql immutable as $$
  select jsonb_build_object('id', p.id, 'name', p.name, 'language', p.language,
    'requires_gpu', p.requires_gpu, 'requirements', p.requirements, 'created_at', p.created_at)
$$;

create function kiln_api.create_project(p_body jsonb) returns jsonb
  language plpgsql as $$
declare
  v_tenant uuid := kiln_api.require_tenant();
  v_project kiln.projects;
begin
  perform kiln_api.expect_type(p_body, 'object', 'body');
  perform kiln_api.expect_keys(p_body, array['name', 'language', 'requires_gpu', 'requirements'], '');
  if not p_body ? 'name' then
    perform kiln_api.raise_error(400, 'missing_field', 'name is required', 'name');
  end if;
  perform kiln_api.expect_type(p_body -> 'name', 'string', 'name');
  if (p_body ->> 'name') !~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$' then
    perform kiln_api.raise_error(400, 'invalid_value',
      'name must be 1-100 characters of A-Z a-z 0-9 . _ - starting with a letter or digit', 'name');
  end if;
  if p_body ? 'language' and p_body -> 'language' <> 'null'::jsonb then
    perform kiln_api.expect_type(p_body -> 'language', 'string', 'language');
    if (p_body ->> 'language') !~ '^[a-z0-9+#._-]{1,40}$' then
      perform kiln_api.raise_error(400, 'invalid_value',
        'language must be 1-40 lowercase characters (go, rust, node, python…)', 'language');
    end if;
  end if;
  if p_body ? 'requires_gpu' then
    perform kiln_api.expect_type(p_body -> 'requires_gpu', 'boolean', 'requires_gpu');
  end if;
  if exists (select from kiln.projects where tenant_id = v_tenant and name = p_body ->> 'name') then
    perform kiln_api.raise_error(409, 'conflict',
      format('project %s already exists', p_body ->> 'name'), 'name');
  end if;
  begin
    insert into kiln.projects (tenant_id, name, language, requires_gpu, requirements)
      values (v_tenant, p_body ->> 'name', p_body ->> 'language',
              coalesce((p_body ->> 'requires_gpu')::boolean, false),
              kiln_api.validate_requirements(p_body -> 'requirements'))
      returning * into v_project;
  exception when unique_violation then
    -- a concurrent create of the same name won the race
    perform kiln_api.raise_error(409, 'conflict',
      format('project %s already exists', p_body ->> 'name'), 'name');
  end;
  insert into kiln.audit_log (tenant_id, actor_user_id, action, object_type, object_id, detail)
    values (v_tenant, kiln_api.current_user_id(), 'project.create', 'project', v_project.id::text,
            jsonb_build_object('name', v_project.name));
  return kiln_api.project_json(v_project);
end $$;

create function kiln_api.list_projects() returns jsonb
  language sql stable as $$
  select jsonb_build_object('items', coalesce(jsonb_agg(kiln_api.project_json(p) order by p.name), '[]'))
    from kiln.projects p
$$;
