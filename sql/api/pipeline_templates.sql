-- Pipeline templates: one PipelineRun template per build method and version (see
-- pipelines/tekton/ and src/k8s/pipeline_template.hpp). Platform-wide: `kiln migrate`
-- seeds the shipped ones; admins add versions and pick each method's default.
-- Callers: /api/v1/admin/pipeline-templates routes (infrastructure:monitor lists,
-- :configure adds and previews, :manage picks the default), kiln migrate (seed), and the
-- dispatcher (kubernetes.sql picks the method's default). The route checks the template's
-- text (every variable escaped for YAML, only declared parameters) in C++ before it gets
-- here; this file checks the fields and that the parameters are the method's.
-- Errors: QC400 naming the field, QC404, QC409.

create function kiln_api.pipeline_template_json(t kiln.pipeline_templates, p_with_yaml boolean default false)
  returns jsonb language sql stable as $$
  select jsonb_build_object('id', t.id, 'name', t.name, 'method', t.build_method, 'version', t.version,
    'description', t.description, 'is_default', t.is_default, 'source', t.source, 'parameters', t.parameters,
    'created_at', t.created_at)
    || case when p_with_yaml then jsonb_build_object('template_yaml', t.template_yaml) else '{}' end
$$;

create function kiln_api.list_pipeline_templates(p_method text default null) returns jsonb
  language plpgsql stable as $$
begin
  if p_method is not null and not p_method = any (enum_range(null::kiln.build_method)::text[]) then
    perform kiln_api.raise_error(400, 'invalid_value',
      'method must be one of docker, buildx, packer, nix, paketo, script', 'method');
  end if;
  return (select jsonb_build_object('items', coalesce(jsonb_agg(kiln_api.pipeline_template_json(t)
            order by t.build_method, t.name, t.created_at desc), '[]'))
            from kiln.pipeline_templates t where p_method is null or t.build_method::text = p_method);
end $$;

create function kiln_api.get_pipeline_template(p_id uuid) returns jsonb
  language plpgsql stable as $$
declare
  v_t kiln.pipeline_templates;
begin
  select * into v_t from kiln.pipeline_templates where id = p_id;
  if not found then
    perform kiln_api.raise_error(404, 'not_found', format('pipeline template %s not found', p_id), 'id');
  end if;
  return kiln_api.pipeline_template_json(v_t, true)
    || jsonb_build_object('tenant', (select name from kiln.tenants where id = kiln.current_tenant_id()),
                          'tenant_id', kiln.current_tenant_id());
end $$;

-- check_template_parameters: a method's template must declare exactly the method's
-- parameters (kiln.build_methods, which submit_build validates builds against), each
-- required one as required, so a build that passed submit always renders.
create function kiln_api.check_template_parameters(p_method kiln.build_method, p_parameters jsonb)
  returns void language plpgsql stable as $$
declare
  v_m kiln.build_methods;
  v_name text;
begin
  select * into strict v_m from kiln.build_methods where method = p_method;
  perform kiln_api.expect_type(p_parameters, 'array', 'parameters');
  select p ->> 'name' into v_name from jsonb_array_elements(p_parameters) p
   where not (p ->> 'name') = any (v_m.required_params || v_m.optional_params) limit 1;
  if v_name is not null then
    perform kiln_api.raise_error(400, 'invalid_value',
      format('parameter %s is not a parameter of %s builds (they take %s)', v_name, p_method,
             array_to_string(v_m.required_params || v_m.optional_params, ', ')), 'parameters');
  end if;
  select n into v_name from unnest(v_m.required_params || v_m.optional_params) n
   where not exists (select from jsonb_array_elements(p_parameters) p where p ->> 'name' = n) limit 1;
  if v_name is not null then
    perform kiln_api.raise_error(400, 'missing_field',
      format('the template must declare parameter %s (%s builds may pass it)', v_name, p_method), 'parameters');
  end if;
  select n into v_name from unnest(v_m.required_params) n
   where exists (select from jsonb_array_elements(p_parameters) p
                  where p ->> 'name' = n and coalesce((p ->> 'required')::boolean, false) = false) limit 1;
  if v_name is not null then
    perform kiln_api.raise_error(400, 'invalid_value',
      format('parameter %s is required for %s builds; declare it required', v_name, p_method), 'parameters');
  end if;
  select p ->> 'name' into v_name from jsonb_array_elements(p_parameters) p
   where coalesce((p ->> 'required')::boolean, false)
     and not (p ->> 'name') = any (v_m.required_params) limit 1;
  if v_name is not null then
    perform kiln_api.raise_error(400, 'invalid_value',
      format('parameter %s is optional for %s builds; the template must give it a default, not require it',
             v_name, p_method), 'parameters');
  end if;
end $$;

-- create_pipeline_template: a new template version. p_body: {name, method, version,
-- template_yaml, parameters, description, is_default}.
create function kiln_api.create_pipeline_template(p_body jsonb) returns jsonb
  language plpgsql as $$
declare
  v_t kiln.pipeline_templates;
  v_key text;
begin
  perform kiln_api.require_permission('infrastructure:configure');
  perform kiln_api.expect_type(p_body, 'object', 'body');
  perform kiln_api.expect_keys(p_body, array['name', 'method', 'version', 'template_yaml', 'parameters',
    'description', 'is_default'], '');
  foreach v_key in array array['name', 'method', 'version', 'template_yaml', 'parameters'] loop
    if not p_body ? v_key then
      perform kiln_api.raise_error(400, 'missing_field', v_key || ' is required', v_key);
    end if;
  end loop;
  foreach v_key in array array['name', 'method', 'version', 'template_yaml'] loop
    perform kiln_api.expect_type(p_body -> v_key, 'string', v_key);
  end loop;
  if p_body ->> 'name' !~ '^[a-z0-9][a-z0-9-]{0,99}$' then
    perform kiln_api.raise_error(400, 'invalid_value', 'name must be 1-100 characters of a-z 0-9 -', 'name');
  end if;
  if not p_body ->> 'method' = any (enum_range(null::kiln.build_method)::text[]) then
    perform kiln_api.raise_error(400, 'invalid_value',
      'method must be one of docker, buildx, packer, nix, paketo, script', 'method');
  end if;
  if p_body ->> 'version' !~ '^[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4}(-[0-9A-Za-z.]{1,8})?$' then
    perform kiln_api.raise_error(400, 'invalid_value', 'version must be semantic, like 1.2.0 (at most 20 characters)',
                                 'version');
  end if;
  if octet_length(p_body ->> 'template_yaml') > 262144 then
    perform kiln_api.raise_error(400, 'invalid_value', 'template_yaml is larger than 256 KiB', 'template_yaml');
  end if;
  if p_body ? 'description' then
    perform kiln_api.expect_type(p_body -> 'description', 'string', 'description');
  end if;
  if p_body ? 'is_default' then
    perform kiln_api.expect_type(p_body -> 'is_default', 'boolean', 'is_default');
  end if;
  perform kiln_api.check_template_parameters((p_body ->> 'method')::kiln.build_method, p_body -> 'parameters');
  begin
    insert into kiln.pipeline_templates (name, build_method, template_yaml, version, parameters, description,
                                         source, created_by)
      values (p_body ->> 'name', (p_body ->> 'method')::kiln.build_method, p_body ->> 'template_yaml',
              p_body ->> 'version', p_body -> 'parameters', coalesce(p_body ->> 'description', ''), 'api',
              kiln_api.current_user_id())
      returning * into v_t;
  exception when unique_violation then
    perform kiln_api.raise_error(409, 'conflict',
      format('template %s version %s already exists; templates are immutable, add a new version',
             p_body ->> 'name', p_body ->> 'version'), 'version');
  end;
  insert into kiln.audit_log (tenant_id, actor_user_id, action, object_type, object_id, detail)
    values (kiln.current_tenant_id(), kiln_api.current_user_id(), 'pipeline_template.create', 'pipeline_template',
            v_t.id::text, jsonb_build_object('name', v_t.name, 'version', v_t.version, 'method', v_t.build_method));
  if coalesce((p_body ->> 'is_default')::boolean, false) then
    return kiln_api.set_default_pipeline_template(v_t.id);
  end if;
  return kiln_api.pipeline_template_json(v_t);
end $$;

-- set_default_pipeline_template: the template the dispatcher renders for its method.
create function kiln_api.set_default_pipeline_template(p_id uuid) returns jsonb
  language plpgsql as $$
declare
  v_t kiln.pipeline_templates;
begin
  perform kiln_api.require_permission('infrastructure:manage');
  select * into v_t from kiln.pipeline_templates where id = p_id for update;
  if not found then
    perform kiln_api.raise_error(404, 'not_found', format('pipeline template %s not found', p_id), 'id');
  end if;
  update kiln.pipeline_templates set is_default = false where build_method = v_t.build_method and is_default
     and id <> p_id;
  update kiln.pipeline_templates set is_default = true where id = p_id returning * into v_t;
  insert into kiln.audit_log (tenant_id, actor_user_id, action, object_type, object_id, detail)
    values (kiln.current_tenant_id(), kiln_api.current_user_id(), 'pipeline_template.set_default',
            'pipeline_template', p_id::text,
            jsonb_build_object('name', v_t.name, 'version', v_t.version, 'method', v_t.build_method));
  return kiln_api.pipeline_template_json(v_t);
end $$;

-- seed_pipeline_template: `kiln migrate` loads pipelines/tekton/*.yaml. A name+version
-- already there is kept ('unchanged', or 'conflict' when the file's text differs: bump the
-- version). A new seeded version becomes its method's default when the method has none or
-- its default is an older seed of the same name (an admin's choice is left alone).
create function kiln_api.seed_pipeline_template(p_name text, p_method kiln.build_method, p_version text,
                                                p_yaml text, p_parameters jsonb, p_description text)
  returns text language plpgsql as $$
declare
  v_existing kiln.pipeline_templates;
  v_default kiln.pipeline_templates;
  v_new kiln.pipeline_templates;
begin
  perform kiln_api.check_template_parameters(p_method, p_parameters);
  select * into v_existing from kiln.pipeline_templates where name = p_name and version = p_version;
  if found then
    return case when v_existing.template_yaml = p_yaml then 'unchanged' else 'conflict' end;
  end if;
  insert into kiln.pipeline_templates (name, build_method, template_yaml, version, parameters, description, source)
    values (p_name, p_method, p_yaml, p_version, p_parameters, coalesce(p_description, ''), 'seed')
    returning * into v_new;
  select * into v_default from kiln.pipeline_templates where build_method = p_method and is_default for update;
  if not found or (v_default.source = 'seed' and v_default.name = p_name) then
    update kiln.pipeline_templates set is_default = false where build_method = p_method and is_default;
    update kiln.pipeline_templates set is_default = true where id = v_new.id;
    return 'inserted (default)';
  end if;
  return 'inserted';
end $$;

grant execute on function
  kiln_api.pipeline_template_json(kiln.pipeline_templates, boolean),
  kiln_api.list_pipeline_templates(text),
  kiln_api.get_pipeline_template(uuid),
  kiln_api.check_template_parameters(kiln.build_method, jsonb),
  kiln_api.create_pipeline_template(jsonb),
  kiln_api.set_default_pipeline_template(uuid)
  to kiln_web;
