-- Monthly partitions of kiln.infrastructure_usage (kiln_api.maintain_usage_partitions):
-- created ahead, filled from the default partition, protected by row-level security like
-- every tenant table, detached per usage_retention_months; idempotent; run by dispatchers.
begin;
select plan(24);

select test.make_tenant('acme') as acme \gset
select test.make_project(:'acme', 'web') as web \gset
select id as e1 from test.make_running_build(:'acme', 'web') \gset

-- A usage row of each month from August to October 2026 while only the default exists.
insert into kiln.infrastructure_usage (build_execution_id, tenant_id, project_id, infrastructure_type,
    start_time, end_time, resource_usage, cost_cents, success)
  select :'e1', :'acme', :'web', 'build_nodes', t, t + interval '10 minutes', '{"cpu_seconds": 60}', 7, true
    from unnest(array['2026-08-15 10:00Z', '2026-09-02 00:00Z', '2026-09-30 23:59:59Z',
                      '2026-10-01 00:00Z']::timestamptz[]) t;
create temp table rollup_before as select * from kiln.usage_rollup_hourly;

------------------------------------------------------------------------------------------
-- Creating: the current month, the months ahead, and months with rows in the default
------------------------------------------------------------------------------------------
update kiln.settings set value = 2 where key = 'usage_partitions_ahead_months';
update kiln.settings set value = 0 where key = 'usage_retention_months';
set local role kiln_dispatch;
create temp table actions as select * from kiln_api.maintain_usage_partitions('2026-10-20 12:00Z');
reset role;

select results_eq($$select action, partition_name, moved_rows from actions order by range_from$$,
  $$values ('created', 'infrastructure_usage_p202608', 1::bigint), ('created', 'infrastructure_usage_p202609', 2::bigint),
           ('created', 'infrastructure_usage_p202610', 1::bigint), ('created', 'infrastructure_usage_p202611', 0::bigint),
           ('created', 'infrastructure_usage_p202612', 0::bigint)$$,
  'the dispatcher role creates this month, two ahead, and the months its rows were waiting for in the default');
select is((select count(*)::int from kiln.infrastructure_usage_default), 0, 'the default partition is empty now');
select is((select count(*)::int from kiln.infrastructure_usage), 4, 'no usage row was lost or duplicated');
select is((select count(*)::int from kiln.infrastructure_usage_p202609), 2,
  'September''s partition holds both September rows, the last second of the month included');
select results_eq(
  $$select pg_get_expr(c.relpartbound, c.oid) collate "default" from pg_class c where c.oid = 'kiln.infrastructure_usage_p202610'::regclass$$,
  $$values ('FOR VALUES FROM (''2026-10-01 00:00:00+00'') TO (''2026-11-01 00:00:00+00'')')$$,
  'partitions cover whole UTC months');
select set_eq($$select * from kiln.usage_rollup_hourly$$, $$select * from rollup_before$$,
  'moving rows out of the default partition leaves the roll-ups alone (they were already counted)');

------------------------------------------------------------------------------------------
-- Every new partition is protected like the parent
------------------------------------------------------------------------------------------
select is_empty($$select c.relname::text from pg_inherits i join pg_class c on c.oid = i.inhrelid
                   where i.inhparent = 'kiln.infrastructure_usage'::regclass
                     and not (c.relrowsecurity and c.relforcerowsecurity)$$,
  'every partition has row level security enabled and forced');
select set_eq($$select c.relname::text collate "default", p.polname::text collate "default",
                      p.polroles::regrole[]::text[] collate "default"
                 from pg_inherits i join pg_class c on c.oid = i.inhrelid join pg_policy p on p.polrelid = c.oid
                where i.inhparent = 'kiln.infrastructure_usage'::regclass and c.relname like '%\_p2026%'$$,
  $$select 'infrastructure_usage_p2026' || m, pol, roles
      from unnest(array['08', '09', '10', '11', '12']) m,
           (values ('tenant_isolation', array['kiln_web']), ('system_access', array['kiln_system'])) v (pol, roles)$$,
  'each has the tenant_isolation (kiln_web) and system_access (kiln_system) policies');
select ok(not has_table_privilege('kiln_web', 'kiln.infrastructure_usage_p202610', 'select'),
  'kiln_web reads usage only through the parent, never a partition');
select is((select pg_get_userbyid(c.relowner)::text collate "default" from pg_class c where c.oid = 'kiln.infrastructure_usage_p202611'::regclass),
  'kiln_system', 'partitions belong to kiln_system whoever created them');
select has_trigger('kiln', 'infrastructure_usage_p202611', '_100_fill_dimensions',
  'row triggers of the parent are on the new partitions too');

select test.make_tenant('other') as other \gset
set local role kiln_web;
select test.act_as_tenant(:'other');
select is((select count(*)::int from kiln.infrastructure_usage), 0, 'another tenant sees no usage row through the parent');
select test.act_as_tenant(:'acme');
select is((select count(*)::int from kiln.infrastructure_usage), 4, 'the owner tenant sees its four');
reset role;

------------------------------------------------------------------------------------------
-- New rows route to their month; a second call changes nothing
------------------------------------------------------------------------------------------
insert into kiln.infrastructure_usage (build_execution_id, tenant_id, project_id, infrastructure_type,
    start_time, end_time, resource_usage, cost_cents, success)
  values (:'e1', :'acme', :'web', 'build_nodes', '2026-11-03 08:00Z', '2026-11-03 08:05Z', '{}', 1, true);
select is((select count(*)::int from kiln.infrastructure_usage_p202611), 1, 'a November row lands in November''s partition');
select is_empty($$select * from kiln_api.maintain_usage_partitions('2026-10-20 12:00Z')$$,
  'a second call in the same month does nothing');
select is((select count(*)::int from kiln.audit_log where action = 'usage_partition.create'), 5,
  'each creation is in the audit log');

------------------------------------------------------------------------------------------
-- Retention: whole months kept attached; older ones detached, data kept
------------------------------------------------------------------------------------------
update kiln.settings set value = 2 where key = 'usage_retention_months';
create temp table detached as select * from kiln_api.maintain_usage_partitions('2026-10-20 12:00Z');
select results_eq($$select action, partition_name from detached order by range_from$$,
  $$values ('detached', 'infrastructure_usage_p202608')$$,
  'with 2 months of retention in October, August is detached and September kept');
select is((select count(*)::int from kiln.infrastructure_usage), 4,
  'the detached month''s row no longer counts in the parent');
select is((select count(*)::int from kiln.infrastructure_usage_p202608), 1,
  'the detached partition keeps its rows as a plain table');
select ok((select c.relrowsecurity and c.relforcerowsecurity and not c.relispartition from pg_class c
            where c.oid = 'kiln.infrastructure_usage_p202608'::regclass),
  'and keeps row level security for the DBA to archive it');
select is((select sum(executions)::int from kiln.usage_rollup_hourly), 5,
  'roll-ups still count the detached month (history outlives raw-row retention)');
select is((select count(*)::int from kiln.audit_log where action = 'usage_partition.detach'), 1,
  'the detach is in the audit log');
select results_eq($$select action from kiln_api.maintain_usage_partitions('2026-12-05 00:00Z') order by range_from$$,
  $$values ('detached'), ('detached'), ('created'), ('created')$$,
  'in December: September and October detached, January and February 2027 created ahead');

------------------------------------------------------------------------------------------
-- Who may
------------------------------------------------------------------------------------------
select ok(not has_function_privilege('kiln_web', 'kiln_api.maintain_usage_partitions(timestamptz)', 'execute'),
  'the API role cannot maintain partitions');

select * from finish();
rollback;
