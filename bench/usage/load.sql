-- Loads :rows usage rows for October 2026 into a migrated Kiln database, the way they
-- arrive in production: through the parent table (monthly partitions created first, the
-- roll-up triggers maintaining usage_rollup_hourly/_daily statement by statement).
--   20 tenants (the first is the stack's "default" tenant, whose admin token the HTTP
--   measurement uses) × 10 projects; each project runs mostly on one Kubernetes provider
--   (85 %) and otherwise on one build node; 3 providers, 10 build nodes.
-- psql -v rows=1000000 -v chunk=100000 -f load.sql
\set ON_ERROR_STOP 1
select setseed(0.7);
insert into kiln.tenants (name) select 'bench-' || n from generate_series(2, 20) n on conflict do nothing;
insert into kiln.projects (tenant_id, name)
  select t.id, 'p' || n from kiln.tenants t, generate_series(1, 10) n
   where t.name = 'default' or t.name like 'bench-%'
  on conflict do nothing;
insert into kiln.providers (name, display_name, provider_type, api_server)
  select 'bench-k8s-' || n, 'Bench cluster ' || n, 'eks', 'https://k8s-' || n || '.bench.invalid'
    from generate_series(1, 3) n on conflict do nothing;
insert into kiln.build_nodes (name, concurrency, capacity)
  select 'bench-node-' || n, 4, '{"cpu": 16}' from generate_series(1, 10) n on conflict do nothing;

-- One build and execution per project to hang the usage rows on (the foreign key).
create temp table bench_projects as
  select p.id as project_id, p.tenant_id, row_number() over (order by p.id) as n
    from kiln.projects p join kiln.tenants t on t.id = p.tenant_id
   where t.name = 'default' or t.name like 'bench-%';
alter table bench_projects add column execution_id uuid, add column provider_id uuid, add column build_node_id uuid;
with b as (
  insert into kiln.builds (tenant_id, project_id, status)
    select tenant_id, project_id, 'succeeded' from bench_projects returning id, tenant_id, project_id
), e as (
  insert into kiln.build_executions (build_id, tenant_id, attempt, epoch, status)
    select id, tenant_id, 1, 1, 'succeeded' from b returning id, build_id
)
update bench_projects bp set execution_id = e.id
  from e join b on b.id = e.build_id where b.project_id = bp.project_id;
update bench_projects bp set
    provider_id = (select id from kiln.providers where name = 'bench-k8s-' || (1 + bp.n % 3)),
    build_node_id = (select id from kiln.build_nodes where name = 'bench-node-' || (1 + bp.n % 10));
create temp table bench_p as select row_number() over (order by n) - 1 as i, * from bench_projects;
select count(*) as projects from bench_p \gset

select action, partition_name from kiln_api.maintain_usage_partitions('2026-10-15');

select format($$insert into kiln.infrastructure_usage (build_execution_id, tenant_id, project_id, infrastructure_type,
    start_time, end_time, resource_usage, cost_cents, success, provider_id, build_node_id)
  select p.execution_id, p.tenant_id, p.project_id, case when k8s then 'kubernetes' else 'build_nodes' end,
         t, t + d, jsonb_build_object('cpu_seconds', round((extract(epoch from d) * random() * 2)::numeric, 1),
                                      'peak_memory_bytes', (random() * 4e9)::bigint),
         (random() * 300)::int, random() < 0.9,
         case when k8s then p.provider_id end, case when not k8s then p.build_node_id end
    from generate_series(1, %s) g
    cross join lateral (select floor(random() * %s + g * 0)::int as pick, random() < 0.85 as k8s,
                               '2026-10-01 00:00Z'::timestamptz + random() * interval '31 days' + g * interval '0' as t,
                               make_interval(secs => 60 + random() * 1740) as d) r
    join bench_p p on p.i = r.pick$$, :chunk, :projects) as chunk_sql \gset
\timing on
select :rows / :chunk as chunks \gset
\echo loading :rows rows in :chunks statements of :chunk rows
select :'chunk_sql' from generate_series(1, :chunks) \gexec
\timing off
analyze kiln.infrastructure_usage;
analyze kiln.usage_rollup_hourly;
analyze kiln.usage_rollup_daily;
select (select count(*) from kiln.infrastructure_usage) as usage_rows,
       (select count(*) from kiln.usage_rollup_hourly) as hourly_rollup_rows,
       (select count(*) from kiln.usage_rollup_daily) as daily_rollup_rows;
