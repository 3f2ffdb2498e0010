-- Tenant isolation by row-level security: as the API role (kiln_web) a request sees and
-- touches only the tenant kiln.tenant_id names, through the kiln_api functions and
-- directly; with no tenant it sees nothing. Every table with a tenant_id has RLS enabled
-- and forced.
begin;
select plan(34);

select test.make_tenant('alpha') as ta \gset
select test.make_tenant('bravo') as tb \gset
select test.make_user(:'ta', 'ann', 'admin') as ann \gset
select test.make_user(:'tb', 'bob', 'admin') as bob \gset
select test.make_token(:'ann', 'ann-secret');
select test.make_token(:'bob', 'bob-secret');
select test.make_project(:'ta', 'web') as a_web \gset
select test.make_project(:'ta', 'secret') as a_secret \gset
select test.make_project(:'tb', 'web') as b_web \gset
select test.make_build(:'ta', 'web') as a1 \gset
select test.make_queued_build(:'ta', 'web') as a2 \gset
select build_id as a3 from test.make_running_build(:'ta', 'web') \gset
select test.make_build(:'tb', 'web') as b1 \gset
select test.make_build(:'tb', 'web') as b2 \gset
select test.build_state(:'a1') as a1_state \gset
select test.build_state(:'a2') as a2_state \gset
select count(*) as all_builds from kiln.builds \gset

set local role kiln_web;
select test.act_as(:'bob');

------------------------------------------------------------------------------------------
-- Through the API functions
------------------------------------------------------------------------------------------
select throws_ok(format('select kiln_api.get_build(%L)', :'a1'), 'QC404',
  format('build %s not found', :'a1'), 'bravo cannot get alpha''s build');
select results_eq(
  $$select (i ->> 'id')::uuid from jsonb_array_elements(kiln_api.list_builds(null, null, 50, null) -> 'items') i
     order by 1$$,
  format($$select id from (values (%L::uuid), (%L::uuid)) v (id) order by 1$$, :'b1', :'b2'),
  'list_builds lists only bravo''s builds');
select throws_ok(format('select kiln_api.start_build(%L)', :'a1'), 'QC404',
  format('build %s not found', :'a1'), 'bravo cannot start alpha''s build');
select throws_ok(format('select kiln_api.cancel_build(%L)', :'a2'), 'QC404',
  format('build %s not found', :'a2'), 'bravo cannot cancel alpha''s queued build');
select throws_ok(format('select kiln_api.cancel_build(%L)', :'a3'), 'QC404',
  format('build %s not found', :'a3'), 'nor its running build');
select throws_ok(format('select kiln_api.list_build_events(%L)', :'a1'), 'QC404',
  format('build %s not found', :'a1'), 'nor read its events');
select throws_ok($$select kiln_api.submit_build('{"project":"secret","method":"script","params":{"script":"x"}}')$$,
  'QC422', 'project secret does not exist; create it with POST /api/v1/projects',
  'bravo cannot submit to alpha''s project');
select is((kiln_api.submit_build('{"project":"web","method":"script","params":{"script":"x"}}')
          ->> 'project_id')::uuid, :'b_web'::uuid,
  'a project name both tenants use resolves to bravo''s own');
select is((kiln_api.create_project('{"name":"secret"}') ->> 'name'), 'secret',
  'bravo may create a project named like one of alpha''s');
select is((select jsonb_agg(p ->> 'name' order by p ->> 'name') from jsonb_array_elements(
             kiln_api.list_projects() -> 'items') p),
  '["secret","web"]'::jsonb, 'list_projects shows only bravo''s projects');
select is((select sum(builds)::int from kiln_api.metrics_build_counts()), :all_builds + 1,
  'metrics_build_counts (security definer) counts every tenant, as aggregates only');

------------------------------------------------------------------------------------------
-- Directly on the tables
------------------------------------------------------------------------------------------
select is((select count(*)::int from kiln.builds), 3, 'select from kiln.builds counts only bravo''s');
select is((select count(*)::int from kiln.builds where tenant_id = :'ta'), 0,
  'asking for alpha''s rows by tenant finds none');
select is((select count(*)::int from kiln.build_configs where tenant_id <> :'tb'), 0,
  'build_configs: only bravo''s');
select is((select count(*)::int from kiln.build_events where tenant_id <> :'tb'), 0,
  'build_events: only bravo''s');
select is((select count(*)::int from kiln.build_executions), 0,
  'build_executions: alpha''s running execution is invisible');
select is((select count(*)::int from kiln.projects where tenant_id <> :'tb'), 0, 'projects: only bravo''s');
select is((select array_agg(name) from kiln.users), array['bob'], 'users: only bravo''s');
select is((select count(*)::int from kiln.api_tokens where tenant_id <> :'tb'), 0, 'api_tokens: only bravo''s');
select is((select array_agg(name) from kiln.tenants), array['bravo'], 'tenants: only bravo itself');
select is_empty(format($$update kiln.builds set priority = 5 where id = %L returning id$$, :'a1'),
  'an update of alpha''s build touches no row');
select throws_ok(format($$insert into kiln.builds (tenant_id, project_id) values (%L, %L)$$, :'ta', :'a_web'),
  '42501', 'new row violates row-level security policy for table "builds"',
  'inserting a row for alpha is refused');
select throws_ok(format($$update kiln.builds set tenant_id = %L where id = %L$$, :'ta', :'b1'),
  '42501', 'new row violates row-level security policy for table "builds"',
  'moving a row to alpha is refused');

------------------------------------------------------------------------------------------
-- No tenant: nothing
------------------------------------------------------------------------------------------
select test.act_as_tenant(null);
select is((select count(*)::int from kiln.builds), 0, 'with no tenant kiln_web sees no build');
select is((select count(*)::int from kiln.projects) + (select count(*)::int from kiln.users)
          + (select count(*)::int from kiln.tenants), 0, 'nor any project, user or tenant');
select is(kiln_api.list_builds(null, null, 50, null), '{"items":[],"next_cursor":null}'::jsonb,
  'list_builds lists nothing');
select throws_ok(format('select kiln_api.get_build(%L)', :'b1'), 'QC404',
  format('build %s not found', :'b1'), 'get_build finds nothing');

-- The token lookup works across tenants and switches the request to the token's tenant.
select is((select tenant_id from kiln_api.authenticate(test.sha('ann-secret'))), :'ta'::uuid,
  'authenticate (security definer) finds alpha''s token');
select is((select count(*)::int from kiln.builds), 3, 'after which the request sees alpha''s builds');
reset role;

select is(test.build_state(:'a1'), :'a1_state'::jsonb, 'alpha''s pending build is unchanged');
select is(test.build_state(:'a2'), :'a2_state'::jsonb, 'alpha''s queued build is unchanged');

------------------------------------------------------------------------------------------
-- The catalogue: every tenant table is protected
------------------------------------------------------------------------------------------
select is_empty($$
  select c.relname::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where n.nspname = 'kiln' and c.relkind in ('r', 'p')
     and exists (select from information_schema.columns col
                  where col.table_schema = 'kiln' and col.table_name = c.relname
                    and col.column_name = 'tenant_id')
     and not (c.relrowsecurity and c.relforcerowsecurity)$$,
  'every kiln table with a tenant_id has row level security enabled and forced');
select is_empty($$
  select c.relname::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where n.nspname = 'kiln' and c.relkind in ('r', 'p')
     and exists (select from information_schema.columns col
                  where col.table_schema = 'kiln' and col.table_name = c.relname
                    and col.column_name = 'tenant_id')
     and not exists (select from pg_policies p
                      where p.schemaname = 'kiln' and p.tablename = c.relname
                        and 'kiln_web' = any (p.roles))$$,
  'each of them has a policy for kiln_web');
select ok((select c.relrowsecurity and c.relforcerowsecurity from pg_class c
            where c.oid = 'kiln.tenants'::regclass), 'kiln.tenants has row level security too');

select * from finish();
rollback;
