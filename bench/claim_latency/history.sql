-- :n finished builds of bench/app (psql -v n=N), set-based: each with its config and one
-- succeeded execution, spread over the last 30 days, as a long-running installation has.
with t as (select p.tenant_id, p.id project_id from kiln.projects p where p.name = 'app'),
b as (
  insert into kiln.builds (tenant_id, project_id, status, lease_epoch, created_at, updated_at,
                           queued_at, started_at, finished_at)
  select s.tenant_id, s.project_id, 'succeeded', 1, t0, t0 + interval '3 min',
         t0, t0 + interval '10 s', t0 + interval '3 min'
    from (select t.tenant_id, t.project_id, now() - interval '30 days' * random() t0
            from t, generate_series(1, :n) g) s
  returning id, tenant_id, created_at),
c as (
  insert into kiln.build_configs (build_id, tenant_id, method, params, created_at)
  select id, tenant_id, 'script', '{"script": "true"}', created_at from b)
insert into kiln.build_executions (build_id, tenant_id, attempt, epoch, status, infrastructure_type,
                                   lease_owner, created_at, started_at, finished_at, exit_code)
select id, tenant_id, 1, 1, 'succeeded', 'build_nodes', 'bench', created_at,
       created_at + interval '10 s', created_at + interval '3 min', 0
  from b;
vacuum analyze kiln.builds;
vacuum analyze kiln.build_configs;
vacuum analyze kiln.build_executions;
