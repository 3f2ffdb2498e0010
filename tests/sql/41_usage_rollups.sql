-- The hourly and daily usage roll-ups, kept by statement triggers on infrastructure_usage,
-- always equal a recomputation from the raw rows: after single and bulk inserts, updates
-- that move rows between hours, deletes, a tenant's deletion; rebuild_usage_rollup
-- repairs them. The dimension trigger fills node and provider. usage_report reads them.
begin;
select plan(31);

select setseed(0.42);
select test.make_tenant('acme') as acme \gset
select test.make_tenant('bravo') as bravo \gset
select test.make_tenant('carol') as carol \gset
select test.make_user(:'acme', 'ann', 'admin') as ann \gset
select test.make_project(:'acme', 'web') as acme_web \gset
select test.make_project(:'acme', 'api') as acme_api \gset
select test.make_project(:'bravo', 'web') as bravo_web \gset
select test.make_project(:'carol', 'etl') as carol_etl \gset
insert into kiln.build_nodes (name, tenant_id, concurrency) values ('n1', null, 2), ('n2', :'acme', 1);
insert into kiln.providers (name, display_name, provider_type, api_server) values ('eks-1', 'EKS', 'eks', 'https://eks.example');

create table test.execs as
  select p.tenant_id, p.id as project_id, (test.make_running_build(p.tenant_id, p.name)).id as execution_id
    from kiln.projects p, generate_series(1, 3);

-- The raw recomputation every check compares with: written independently of the triggers.
create function test.recomputed(p_unit text) returns table (bucket timestamptz, tenant_id uuid, project_id uuid,
    infrastructure_type text, provider_id uuid, build_node_id uuid, executions bigint, succeeded bigint,
    failed bigint, cost_cents bigint, cpu_seconds numeric, run_seconds numeric, gib_hours numeric)
  language sql as $$
  select date_trunc(p_unit, u.start_time at time zone 'UTC') at time zone 'UTC', u.tenant_id, u.project_id,
         u.infrastructure_type::text, u.provider_id, u.build_node_id, count(*), count(*) filter (where u.success is true),
         count(*) filter (where u.success is false), coalesce(sum(u.cost_cents), 0),
         coalesce(sum(case when jsonb_typeof(u.resource_usage -> 'cpu_seconds') = 'number'
                           then (u.resource_usage ->> 'cpu_seconds')::numeric end), 0),
         sum(extract(epoch from u.end_time - u.start_time)),
         sum(round(coalesce((u.resource_usage ->> 'peak_memory_bytes')::numeric, 0) / 1073741824.0
                   * extract(epoch from u.end_time - u.start_time) / 3600, 9))
    from kiln.infrastructure_usage u group by 1, 2, 3, 4, 5, 6
$$;
create function test.rolled(p_unit text) returns table (bucket timestamptz, tenant_id uuid, project_id uuid,
    infrastructure_type text, provider_id uuid, build_node_id uuid, executions bigint, succeeded bigint,
    failed bigint, cost_cents bigint, cpu_seconds numeric, run_seconds numeric, gib_hours numeric)
  language sql as $$
  select r.hour, r.tenant_id, r.project_id, r.infrastructure_type::text, r.provider_id, r.build_node_id, r.executions,
         r.succeeded, r.failed, r.cost_cents, r.cpu_seconds, r.run_seconds, r.gib_hours
    from kiln.usage_rollup_hourly r where p_unit = 'hour'
  union all
  select r.day, r.tenant_id, r.project_id, r.infrastructure_type::text, r.provider_id, r.build_node_id, r.executions,
         r.succeeded, r.failed, r.cost_cents, r.cpu_seconds, r.run_seconds, r.gib_hours
    from kiln.usage_rollup_daily r where p_unit = 'day'
$$;

-- 1,500 random rows over 40 days in one bulk statement, then 50 single-row statements.
create function test.random_usage(p_count integer)
  returns table (execution_id uuid, tenant_id uuid, project_id uuid, infrastructure_type text, start_time timestamptz,
                 end_time timestamptz, resource_usage jsonb, cost_cents integer, success boolean, provider_id uuid,
                 build_node_id uuid)
  language sql as $$
  select e.execution_id, e.tenant_id, e.project_id,
         (array['kubernetes', 'build_nodes'])[1 + (random() > 0.5)::int] as infrastructure_type,
         s.t as start_time, s.t + s.d as end_time, r.usage as resource_usage,
         case when random() < 0.1 then null else (random() * 500)::int end as cost_cents,
         case when random() < 0.1 then null else random() < 0.8 end as success,
         case when random() < 0.3 then (select id from kiln.providers limit 1) end as provider_id,
         case when random() < 0.4 then (select id from kiln.build_nodes order by random() + g * 0 limit 1) end
           as build_node_id
    from generate_series(1, p_count) g
    cross join lateral (select * from test.execs order by random() + g * 0 limit 1) e
    cross join lateral (select '2026-09-01 00:00Z'::timestamptz + random() * interval '40 days' + g * interval '0' as t,
                               random() * interval '3 hours' as d) s
    cross join lateral (select case when random() < 0.05 then '{"cpu_seconds": "lots"}'::jsonb
                                    else jsonb_build_object('cpu_seconds', round((random() * 7200)::numeric, 3),
                                                            'peak_memory_bytes', (random() * 8e9)::bigint) end
                               || jsonb_build_object('n', g) as usage) r
$$;
create procedure test.add_usage(p_count integer) language sql as $$
  insert into kiln.infrastructure_usage (build_execution_id, tenant_id, project_id, infrastructure_type, start_time,
      end_time, resource_usage, cost_cents, success, provider_id, build_node_id)
    select * from test.random_usage(p_count)
$$;
call test.add_usage(1500);
do $$ begin for i in 1 .. 50 loop call test.add_usage(1); end loop; end $$;

select is((select count(*)::int from kiln.infrastructure_usage), 1550, '1,550 usage rows were written');
select set_eq($$select * from test.rolled('hour')$$, $$select * from test.recomputed('hour')$$,
  'after bulk and single inserts the hourly roll-up equals a recomputation from the raw rows');
select set_eq($$select * from test.rolled('day')$$, $$select * from test.recomputed('day')$$,
  'so does the daily roll-up');
select ok((select count(*) from kiln.usage_rollup_hourly) < 1550, 'and it has fewer rows than the raw table');
select set_eq($$select period_start, tenant_id, project_id, infrastructure_type, provider_id, build_node_id, executions,
                       succeeded, failed, cost_cents, cpu_seconds, run_seconds, gib_hours from kiln_api.usage_weekly$$,
  $$select * from test.recomputed('week')$$, 'the DBAs'' weekly view equals a recomputation (weeks from Monday)');
select set_eq($$select period_start, tenant_id, project_id, infrastructure_type, provider_id, build_node_id, executions,
                       succeeded, failed, cost_cents, cpu_seconds, run_seconds, gib_hours from kiln_api.usage_monthly$$,
  $$select * from test.recomputed('month')$$, 'and so does the monthly view');

------------------------------------------------------------------------------------------
-- Updates and deletes
------------------------------------------------------------------------------------------
update kiln.infrastructure_usage set cost_cents = coalesce(cost_cents, 0) + 3, success = not coalesce(success, false)
 where random() < 0.2;
update kiln.infrastructure_usage set start_time = start_time + interval '90 minutes', end_time = end_time + interval '90 minutes'
 where random() < 0.1;
update kiln.infrastructure_usage set project_id = :'acme_api', build_node_id = null where tenant_id = :'acme' and random() < 0.2;
select set_eq($$select * from test.rolled('hour')$$, $$select * from test.recomputed('hour')$$,
  'updates (values, hours and keys moving) keep the hourly roll-up equal to a recomputation');
select set_eq($$select * from test.rolled('day')$$, $$select * from test.recomputed('day')$$, 'and the daily one');
delete from kiln.infrastructure_usage where random() < 0.3;
delete from kiln.infrastructure_usage where project_id = :'carol_etl' and start_time < '2026-09-20';
select set_eq($$select * from test.rolled('hour')$$, $$select * from test.recomputed('hour')$$,
  'deletes keep the hourly roll-up equal to a recomputation');
select set_eq($$select * from test.rolled('day')$$, $$select * from test.recomputed('day')$$, 'and the daily one');
select is_empty($$select * from kiln.usage_rollup_hourly where executions <= 0
                  union all select * from kiln.usage_rollup_daily where executions <= 0$$,
  'no roll-up row is left at zero');

delete from kiln.tenants where id = :'carol';
select is((select count(*)::int from kiln.usage_rollup_daily where tenant_id = :'carol'), 0,
  'deleting a tenant cascades through its usage and its roll-ups without error');
select set_eq($$select * from test.rolled('hour')$$, $$select * from test.recomputed('hour')$$,
  'the other tenants'' roll-ups are untouched');

------------------------------------------------------------------------------------------
-- Repair
------------------------------------------------------------------------------------------
create temp table good as select * from test.rolled('hour');
delete from kiln.usage_rollup_hourly where hour < '2026-09-15';
update kiln.usage_rollup_daily set cost_cents = 0;
select ok(kiln_api.rebuild_usage_rollup('2026-08-01', '2026-11-01') > 0, 'rebuild_usage_rollup writes the roll-ups again');
select set_eq($$select * from test.rolled('hour')$$, $$select * from good$$, 'and the hourly one is as it was');
select set_eq($$select * from test.rolled('day')$$, $$select * from test.recomputed('day')$$,
  'and the daily one equals a recomputation');

------------------------------------------------------------------------------------------
-- Dimensions filled from the execution
------------------------------------------------------------------------------------------
select execution_id as ex from test.execs where tenant_id = :'acme' limit 1 \gset
update kiln.build_executions set build_node_id = (select id from kiln.build_nodes where name = 'n2') where id = :'ex';
insert into kiln.infrastructure_usage (build_execution_id, tenant_id, project_id, infrastructure_type, start_time, end_time)
  values (:'ex', :'acme', :'acme_web', 'build_nodes', '2026-10-15 10:00Z', '2026-10-15 10:30Z');
select is((select n.name from kiln.infrastructure_usage u join kiln.build_nodes n on n.id = u.build_node_id
            where u.start_time = '2026-10-15 10:00Z'), 'n2',
  'a row written without node or provider gets the execution''s build node');

------------------------------------------------------------------------------------------
-- Cost from the rates of where it ran
------------------------------------------------------------------------------------------
select is(kiln_api.usage_cost_cents(7200, 4294967296, 1, 3600, 0.05, 0.01, 2.5), 264,
  'cost: 2 cpu-hours × 5 ct + 4 GiB × 1 h × 1 ct + 1 GPU-hour × 250 ct = 264 ct');
insert into kiln.node_pools (provider_id, name, cost_per_cpu_hour, cost_per_gib_hour, cost_per_gpu_hour)
  values ((select id from kiln.providers where name = 'eks-1'), 'gpu', 0.10, 0.02, 3.00);
update kiln.build_executions
   set infrastructure_type = 'kubernetes',
       infrastructure_metadata = jsonb_build_object('provider_id', (select id from kiln.providers where name = 'eks-1'),
                                                    'node_pool_id', (select id from kiln.node_pools where name = 'gpu')),
       build_node_id = null
 where id = :'ex';
select is(kiln_api.record_execution_usage(:'ex', '2026-10-20 10:00Z', '2026-10-20 12:00Z',
                                          '{"cpu_seconds": 3600, "peak_memory_bytes": 2147483648, "gpus": 2}', true),
  1218, 'a Kubernetes execution is priced at its node pool''s rates: 10 + 2 GiB × 2 h × 2 + 2 GPUs × 2 h × 300 = 1218 ct');
select results_eq($$select u.cost_cents, u.infrastructure_type::text, p.name::text, u.success
                      from kiln.infrastructure_usage u join kiln.providers p on p.id = u.provider_id
                     where u.start_time = '2026-10-20 10:00Z'$$,
  $$values (1218, 'kubernetes', 'eks-1', true)$$, 'its usage row carries the cost and the provider');

------------------------------------------------------------------------------------------
-- usage_report
------------------------------------------------------------------------------------------
select is((kiln_api.usage_report('month', '2026-09-01', '2026-11-01') -> 'totals' ->> 'executions')::bigint,
          (select count(*) from kiln.infrastructure_usage where start_time >= '2026-09-01' and start_time < '2026-11-01'),
  'a DBA''s monthly report counts every execution of those months');
select set_eq(
  $$select (i ->> 'period_start')::timestamptz as w, i ->> 'tenant' as t, i ->> 'project' as p,
           i ->> 'infrastructure_type' as ty, (i ->> 'executions')::bigint as n, (i ->> 'cost_cents')::bigint as c
      from jsonb_array_elements(kiln_api.usage_report('week', '2026-08-31', '2026-10-19') -> 'items') i$$,
  $$select date_trunc('week', u.start_time at time zone 'UTC') at time zone 'UTC' as w, t.name::text as t,
           p.name::text as p, u.infrastructure_type::text as ty, count(*) as n, coalesce(sum(u.cost_cents), 0) as c
      from kiln.infrastructure_usage u join kiln.tenants t on t.id = u.tenant_id join kiln.projects p on p.id = u.project_id
     where u.start_time >= '2026-08-31' and u.start_time < '2026-10-19' group by 1, 2, 3, 4$$,
  'weekly rows (from Monday) match the raw rows');
select is(jsonb_array_length(kiln_api.usage_report('hour', '2026-09-10', '2026-09-11', 'acme', 'web', 'kubernetes') -> 'items'),
          (select count(distinct date_trunc('hour', u.start_time at time zone 'UTC'))::int
             from kiln.infrastructure_usage u
            where u.tenant_id = :'acme' and u.project_id = :'acme_web' and u.infrastructure_type = 'kubernetes'
              and u.start_time >= '2026-09-10' and u.start_time < '2026-09-11'),
  'the tenant, project and type filters narrow it to one series');
select is(kiln_api.usage_report('day', '2026-09-01', '2026-09-02', 'nobody') -> 'items', '[]'::jsonb,
  'an unknown tenant name gives no rows');

select is(test.error_detail($$select kiln_api.usage_report('fortnight')$$),
  '{"code": "invalid_value", "field": "period"}', 'an unknown period is a 400 naming period');
select is(test.error_of($$select kiln_api.usage_report('day', null, null, null, null, 'vm')$$) ->> 'sqlstate',
  'QC400', 'an unknown type is a 400');
select is(test.error_detail($$select kiln_api.usage_report('day', 'yesterday')$$) ->> 'field', 'from',
  'an unreadable from is a 400 naming from');
select is(test.error_detail($$select kiln_api.usage_report('day', '2026-10-01', '2026-09-01')$$) ->> 'field', 'from',
  'from after to is refused');
select is(test.error_detail($$select kiln_api.usage_report('hour', '2026-01-01', '2026-12-01')$$) ->> 'field', 'from',
  'an hourly report of eleven months is refused');

set local role kiln_web;
select test.act_as(:'ann');
select is((select array_agg(distinct i ->> 'tenant')
             from jsonb_array_elements(kiln_api.usage_report('month', '2026-09-01', '2026-11-01') -> 'items') i),
  array['acme'], 'through the API role a tenant sees only its own usage');
select is(kiln_api.usage_report('month', '2026-09-01', '2026-11-01', 'bravo') -> 'items', '[]'::jsonb,
  'and asking for another tenant by name gives nothing');
reset role;

select * from finish();
rollback;
