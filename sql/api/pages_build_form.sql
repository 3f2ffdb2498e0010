-- page_build_form: what the build form (/builds/new) offers for one method and project, in
-- one call: the methods, the chosen method's declared parameters (its default pipeline
-- template's `parameters` when it declares any, else kiln.build_methods' required and
-- optional lists), the projects, the size the build gets when it declares none (adr-039
-- tier 3), and the infrastructure options the caller may pick (infrastructure_options, with
-- can_select / can_force). p_method defaults to script, p_project to the first project.
-- Caller: GET and POST /builds/new (route permission build:create). Takes no locks.
-- Errors: QC400 naming method for an unknown method.
create function kiln_api.page_build_form(p_method text, p_project text)
  returns jsonb language plpgsql stable as $$
declare
  v_method kiln.build_methods;
  v_project kiln.projects;
begin
  select * into v_method from kiln.build_methods m where m.method::text = coalesce(p_method, 'script');
  if not found then
    perform kiln_api.raise_error(400, 'invalid_value',
      format('method %s is not one of %s', p_method,
             array_to_string(enum_range(null::kiln.build_method)::text[], ', ')), 'method');
  end if;
  select * into v_project from kiln.projects p
   where p_project is null or p.name = p_project order by p.name limit 1;
  return jsonb_build_object(
    'method', v_method.method, 'description', v_method.description,
    'primary_infra', v_method.primary_infra, 'fallback_infra', v_method.fallback_infra,
    'required_params', to_jsonb(v_method.required_params),
    'optional_params', to_jsonb(v_method.optional_params),
    'template_parameters', coalesce((
      select t.parameters from kiln.pipeline_templates t
       where t.build_method = v_method.method and t.is_default limit 1), '[]'),
    'methods', (select jsonb_agg(jsonb_build_object('method', m.method, 'description', m.description)
                                 order by m.method) from kiln.build_methods m),
    'project', v_project.name,
    'projects', coalesce((select jsonb_agg(jsonb_build_object('name', p.name, 'language', p.language)
                                           order by p.name) from kiln.projects p), '[]'),
    'size_default', (select jsonb_build_object('cpu', d.cpu, 'memory_gb', d.memory_gb, 'disk_gb', d.disk_gb,
                                               'time_budget_min', d.time_budget_min)
                       from kiln.size_defaults d
                      where d.method = v_method.method and d.language in (coalesce(v_project.language, '*'), '*')
                      order by d.language = '*' limit 1),
    'infrastructure', kiln_api.infrastructure_options(null));
end $$;

grant execute on function kiln_api.page_build_form(text, text) to kiln_web;
