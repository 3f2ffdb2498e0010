-- Scheduling settings (scheduling_admin.sql): a tenant's share and caps, its projects' caps;
-- every field checked and named, every change audited, and nothing crosses tenants.
begin;
select plan(14);

select test.make_tenant('acme') as acme \gset
select test.make_tenant('beta') as beta \gset
select test.make_user(:'acme', 'ada', 'admin') as ada \gset
select test.make_user(:'beta', 'bob', 'admin') as bob \gset
select test.make_project(:'acme', 'web') as web \gset
select test.make_project(:'beta', 'web') as beta_web \gset

select test.act_as(:'ada');
set local role kiln_web;
select is(kiln_api.get_scheduling(),
  '{"tenant": {"share": 1, "max_running": null, "max_cpu": null, "max_memory_gb": null,
                "in_flight": {"running": 0, "cpu": 0, "memory_gb": 0}, "queued": 0}, "projects": []}'::jsonb,
  'no settings: share 1 and no caps');
select is((kiln_api.set_tenant_scheduling('{"share": 2.5, "max_running": 10, "max_memory_gb": 64}') -> 'tenant')
            - array['in_flight', 'queued'],
  '{"share": 2.5, "max_running": 10, "max_cpu": null, "max_memory_gb": 64}'::jsonb, 'the tenant''s share and caps are set');
select is((kiln_api.set_tenant_scheduling('{"max_running": 4}') -> 'tenant') - array['in_flight', 'queued'],
  '{"share": 2.5, "max_running": 4, "max_cpu": null, "max_memory_gb": null}'::jsonb,
  'a later change keeps the share it does not name and clears the caps it does not name');
select is(kiln_api.set_project_scheduling('web', '{"max_running": 2, "max_cpu": 8}') -> 'projects',
  '[{"project": "web", "max_running": 2, "max_cpu": 8, "max_memory_gb": null,
     "in_flight": {"running": 0, "cpu": 0, "memory_gb": 0}, "queued": 0}]'::jsonb, 'a project''s caps are set');

select is(test.error_detail($$select kiln_api.set_tenant_scheduling('{"share": 0}')$$),
  '{"code": "invalid_value", "field": "share"}'::jsonb, 'a share of 0 is refused, naming share');
select is(test.error_detail($$select kiln_api.set_tenant_scheduling('{"max_running": 1.5}')$$),
  '{"code": "invalid_type", "field": "max_running"}'::jsonb, 'max_running must be an integer');
select is(test.error_detail($$select kiln_api.set_tenant_scheduling('{"max_cpu": -1}')$$),
  '{"code": "invalid_value", "field": "max_cpu"}'::jsonb, 'a negative cap is refused');
select is(test.error_detail($$select kiln_api.set_tenant_scheduling('{"weight": 2}')$$),
  '{"code": "unknown_field", "field": "weight"}'::jsonb, 'an unknown field is refused');
select is(test.error_detail($$select kiln_api.set_project_scheduling('nope', '{"max_running": 1}')$$),
  '{"code": "not_found", "field": "project"}'::jsonb, 'an unknown project is 404');
select is((kiln_api.get_scheduling() -> 'tenant' ->> 'max_running')::int, 4, 'refused changes changed nothing');
reset role;

select results_eq($$select action, object_type, actor_user_id from kiln.audit_log
                     where action like 'scheduling.%' order by id$$,
  format($$values ('scheduling.tenant.update', 'tenant', %L::uuid), ('scheduling.tenant.update', 'tenant', %L::uuid),
                  ('scheduling.project.update', 'project', %L::uuid)$$, :'ada', :'ada', :'ada'),
  'each change wrote an audit row naming who made it');

-- Another tenant sees and changes only its own.
select test.act_as(:'bob');
set local role kiln_web;
select is(kiln_api.get_scheduling() -> 'projects', '[]'::jsonb, 'beta does not see acme''s project caps');
select is(test.error_detail($$select kiln_api.set_project_scheduling('web', '{"max_running": 0}')$$) ->> 'code',
  null, 'beta''s own web project is the one it caps');
reset role;
select is((select count(*)::int from kiln.project_scheduling where tenant_id = :'acme' and max_running = 2), 1,
  'acme''s project cap is untouched');

select * from finish();
rollback;
