-- Scheduling settings of the session's tenant: its share and caps, its projects' caps,
-- with what is in flight and queued now. Callers: GET /api/v1/admin/scheduling (admin),
-- PUT /api/v1/admin/scheduling/tenant (scheduling:tenant, an operator's permission: a
-- tenant's admins cannot raise their own share), PUT /api/v1/admin/scheduling/projects/{name}
-- (admin). Each change is audited. Errors: QC400 naming the field, QC404 unknown project.

-- scheduling_caps: the caps of a request body: max_running (integer ≥ 0), max_cpu,
-- max_memory_gb (numbers ≥ 0); null or absent means no cap.
create function kiln_api.scheduling_caps(p_body jsonb) returns jsonb
  language plpgsql immutable as $$
declare
  k text;
begin
  foreach k in array array['max_running', 'max_cpu', 'max_memory_gb'] loop
    if p_body ? k and p_body -> k <> 'null'::jsonb then
      perform kiln_api.expect_type(p_body -> k, case k when 'max_running' then 'integer' else 'number' end, k);
      if (p_body ->> k)::numeric < 0 or (p_body ->> k)::numeric > 100000 then
        perform kiln_api.raise_error(400, 'invalid_value', format('%s must be between 0 and 100000', k), k);
      end if;
    end if;
  end loop;
  return jsonb_build_object('max_running', (p_body ->> 'max_running')::numeric::integer,
    'max_cpu', (p_body ->> 'max_cpu')::numeric, 'max_memory_gb', (p_body ->> 'max_memory_gb')::numeric);
end $$;

create function kiln_api.get_scheduling() returns jsonb
  language plpgsql stable as $$
declare
  v_tenant uuid := kiln_api.require_tenant();
begin
  return jsonb_build_object(
    'tenant', (select jsonb_build_object('share', coalesce(s.share, 1), 'max_running', s.max_running,
                  'max_cpu', s.max_cpu, 'max_memory_gb', s.max_memory_gb,
                  'in_flight', kiln_api.in_flight(v_tenant),
                  'queued', (select count(*) from kiln.builds b where b.tenant_id = v_tenant and b.status = 'queued'))
                 from (select 1) one left join kiln.tenant_scheduling s on s.tenant_id = v_tenant),
    'projects', (select coalesce(jsonb_agg(jsonb_build_object('project', p.name, 'max_running', s.max_running,
                    'max_cpu', s.max_cpu, 'max_memory_gb', s.max_memory_gb,
                    'in_flight', kiln_api.in_flight(v_tenant, p.id),
                    'queued', (select count(*) from kiln.builds b where b.project_id = p.id and b.status = 'queued'))
                    order by p.name), '[]')
                   from kiln.projects p join kiln.project_scheduling s on s.project_id = p.id
                  where p.tenant_id = v_tenant));
end $$;

create function kiln_api.set_tenant_scheduling(p_body jsonb) returns jsonb
  language plpgsql as $$
declare
  v_tenant uuid := kiln_api.require_tenant();
  v_caps jsonb;
begin
  perform kiln_api.expect_type(p_body, 'object', 'body');
  perform kiln_api.expect_keys(p_body, array['share', 'max_running', 'max_cpu', 'max_memory_gb'], '');
  if p_body ? 'share' then
    perform kiln_api.expect_type(p_body -> 'share', 'number', 'share');
    if (p_body ->> 'share')::numeric <= 0 or (p_body ->> 'share')::numeric > 1000 then
      perform kiln_api.raise_error(400, 'invalid_value', 'share must be greater than 0 and at most 1000', 'share');
    end if;
  end if;
  v_caps := kiln_api.scheduling_caps(p_body);
  insert into kiln.tenant_scheduling (tenant_id, share, max_running, max_cpu, max_memory_gb, updated_by)
    values (v_tenant, coalesce((p_body ->> 'share')::numeric, 1), (v_caps ->> 'max_running')::integer,
            (v_caps ->> 'max_cpu')::numeric, (v_caps ->> 'max_memory_gb')::numeric, kiln_api.current_user_id())
  on conflict (tenant_id) do update set
    share = coalesce((p_body ->> 'share')::numeric, kiln.tenant_scheduling.share),
    max_running = excluded.max_running, max_cpu = excluded.max_cpu, max_memory_gb = excluded.max_memory_gb,
    updated_at = now(), updated_by = excluded.updated_by;
  insert into kiln.audit_log (tenant_id, actor_user_id, action, object_type, object_id, detail)
    values (v_tenant, kiln_api.current_user_id(), 'scheduling.tenant.update', 'tenant', v_tenant::text, p_body);
  return kiln_api.get_scheduling();
end $$;

create function kiln_api.set_project_scheduling(p_project text, p_body jsonb) returns jsonb
  language plpgsql as $$
declare
  v_tenant uuid := kiln_api.require_tenant();
  v_project kiln.projects;
  v_caps jsonb;
begin
  select * into v_project from kiln.projects where tenant_id = v_tenant and name = p_project;
  if not found then
    perform kiln_api.raise_error(404, 'not_found', format('project %s not found', p_project), 'project');
  end if;
  perform kiln_api.expect_type(p_body, 'object', 'body');
  perform kiln_api.expect_keys(p_body, array['max_running', 'max_cpu', 'max_memory_gb'], '');
  v_caps := kiln_api.scheduling_caps(p_body);
  insert into kiln.project_scheduling (project_id, tenant_id, max_running, max_cpu, max_memory_gb, updated_by)
    values (v_project.id, v_tenant, (v_caps ->> 'max_running')::integer, (v_caps ->> 'max_cpu')::numeric,
            (v_caps ->> 'max_memory_gb')::numeric, kiln_api.current_user_id())
  on conflict (project_id) do update set
    max_running = excluded.max_running, max_cpu = excluded.max_cpu, max_memory_gb = excluded.max_memory_gb,
    updated_at = now(), updated_by = excluded.updated_by;
  insert into kiln.audit_log (tenant_id, actor_user_id, action, object_type, object_id, detail)
    values (v_tenant, kiln_api.current_user_id(), 'scheduling.project.update', 'project', v_project.id::text,
            p_body || jsonb_build_object('project', v_project.name));
  return kiln_api.get_scheduling();
end $$;

grant execute on function
  kiln_api.scheduling_caps(jsonb),
  kiln_api.get_scheduling(),
  kiln_api.set_tenant_scheduling(jsonb),
  kiln_api.set_project_scheduling(text, jsonb)
  to kiln_web;
