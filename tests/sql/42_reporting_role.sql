-- kiln_reporting, the DBAs' and dashboards' read-only role: it reads the reporting views
-- (across tenants) and nothing else — no table, no token, credential or secret, no
-- function — and the API role cannot read those cross-tenant views.
begin;
select plan(33);

select test.make_tenant('acme') as acme \gset
select test.make_tenant('bravo') as bravo \gset
select test.make_user(:'acme', 'ann', 'admin') as ann \gset
select test.make_token(:'ann', 'ann-secret');
select test.make_project(:'acme', 'web') as acme_web \gset
select test.make_project(:'bravo', 'web') as bravo_web \gset
select id as ea from test.make_running_build(:'acme', 'web') \gset
select id as eb from test.make_running_build(:'bravo', 'web') \gset
insert into kiln.infrastructure_usage (build_execution_id, tenant_id, project_id, infrastructure_type, start_time,
    end_time, resource_usage, cost_cents, success)
  values (:'ea', :'acme', :'acme_web', 'kubernetes', '2026-10-01 10:00Z', '2026-10-01 10:10Z', '{"cpu_seconds": 30}', 12, true),
         (:'eb', :'bravo', :'bravo_web', 'build_nodes', '2026-10-02 10:00Z', '2026-10-02 10:20Z', '{"cpu_seconds": 90}', 40, false);
insert into kiln.providers (name, display_name, provider_type, api_server, credentials_ciphertext)
  values ('eks', 'EKS', 'eks', 'https://k8s.internal:6443', '\x00112233');
insert into kiln.webhooks (tenant_id, name, url, secret, events)
  values (:'acme', 'ops', 'https://hooks.example/abc?token=zzz', 'whsec_0123456789abcdef', '{build.failed}');

create temp table reporting_views (name text);
insert into reporting_views values ('usage_hourly'), ('usage_daily'), ('usage_weekly'), ('usage_monthly'),
  ('usage_records'), ('build_timings'), ('queue_wait_percentiles'), ('run_time_percentiles'), ('success_metrics'),
  ('cost_per_build'), ('node_utilization_daily'), ('provider_utilization_daily'), ('queue_depth'),
  ('webhook_delivery_log'), ('schedule_runs');
grant select on reporting_views to public;

------------------------------------------------------------------------------------------
-- The role
------------------------------------------------------------------------------------------
select has_role('kiln_reporting');
select results_eq($$select rolcanlogin, rolsuper, rolbypassrls, rolinherit from pg_roles where rolname = 'kiln_reporting'$$,
  $$values (false, false, false, true)$$, 'kiln_reporting cannot log in itself (grant it to logins), is no superuser, bypasses no RLS');
select is_empty($$select r.rolname from pg_auth_members m join pg_roles r on r.oid = m.roleid
                   where m.member = 'kiln_reporting'::regrole$$,
  'it is a member of no other role');

------------------------------------------------------------------------------------------
-- What it may read: exactly the views
------------------------------------------------------------------------------------------
select set_eq($$select c.relname::text collate "default" from pg_class c
                 where c.relnamespace in ('kiln'::regnamespace, 'kiln_api'::regnamespace)
                   and has_table_privilege('kiln_reporting', c.oid, 'select')$$,
  $$select name from reporting_views$$,
  'of every table and view in kiln and kiln_api it may select exactly the reporting views');
select is_empty($$select c.relname from pg_class c
                   where c.relnamespace in ('kiln'::regnamespace, 'kiln_api'::regnamespace)
                     and (has_table_privilege('kiln_reporting', c.oid, 'insert')
                          or has_table_privilege('kiln_reporting', c.oid, 'update')
                          or has_table_privilege('kiln_reporting', c.oid, 'delete'))$$,
  'and may write none');
select is_empty($$select p.oid::regprocedure from pg_proc p
                   where p.pronamespace = 'kiln_api'::regnamespace
                     and has_function_privilege('kiln_reporting', p.oid, 'execute')$$,
  'it may call no kiln_api function');
select ok(not has_schema_privilege('kiln_reporting', 'kiln', 'usage'), 'it has no usage on schema kiln');
select is_empty($$select v.name from reporting_views v
                   where pg_get_userbyid((select c.relowner from pg_class c
                                           where c.oid = ('kiln_api.' || v.name)::regclass)) <> 'kiln_system'$$,
  'the views belong to kiln_system (they see every tenant through its policies)');
select is_empty($$select v.name from reporting_views v
                   where has_table_privilege('kiln_web', 'kiln_api.' || v.name, 'select')$$,
  'the API role may read none of them (they cross tenants)');
select is_empty($$select a.attrelid::regclass::text || '.' || a.attname from pg_attribute a
                   join reporting_views v on a.attrelid = ('kiln_api.' || v.name)::regclass
                  where a.attnum > 0 and a.attname ~* '(token|secret|credential|cipher|password|url|api_server|payload|message)'$$,
  'no view has a column for tokens, credentials, secrets, URLs, payloads or messages');

------------------------------------------------------------------------------------------
-- As kiln_reporting
------------------------------------------------------------------------------------------
set local role kiln_reporting;
select lives_ok(format('select * from kiln_api.%I', name), format('kiln_reporting reads kiln_api.%s', name))
  from reporting_views order by name;
select results_eq($$select tenant, executions::int, cost_cents::int from kiln_api.usage_monthly order by tenant$$,
  $$values ('acme'::text, 1, 12), ('bravo', 1, 40)$$, 'and sees every tenant''s usage');
select throws_ok('select * from kiln.api_tokens', '42501', null, 'it cannot read API tokens');
select throws_ok('select credentials_ciphertext from kiln.providers', '42501', null, 'nor provider credentials');
select throws_ok('select secret from kiln.webhooks', '42501', null, 'nor webhook secrets');
select throws_ok('select * from kiln.infrastructure_usage', '42501', null, 'nor the raw usage table');
select throws_ok('select * from kiln.usage_rollup_hourly', '42501', null, 'nor the roll-up tables');
select throws_ok(format('select * from kiln_api.authenticate(%L)', test.sha('ann-secret')), '42501', null,
  'nor call authenticate to turn a token hash into a session');
select throws_ok($$update kiln.settings set value = 0 where key = 'usage_retention_months'$$, '42501', null,
  'nor change a setting');
reset role;

select * from finish();
rollback;
