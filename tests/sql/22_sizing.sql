-- Sizing (adr-039): declared spec, else 1.2 × p95 of the project's measured usage
-- (percentile_cont over its recent successful runs), else the method/language defaults;
-- max(declared, 1.2 × p95) per dimension; an OOM retry climbs the size ladder exactly one
-- rung; an invalid spec field fails submit and recommendation with a 400 naming it.
begin;
select plan(40);

select test.make_tenant('acme') as acme \gset
select test.make_user(:'acme', 'ada', 'admin') as ada \gset
select test.make_project(:'acme', 'web') as web \gset
select test.make_project(:'acme', 'api', p_language => 'rust') as api \gset
select test.make_project(:'acme', 'tiny') as tiny \gset

create function pg_temp.size(p_project text, p_config jsonb default '{}', p_oom_retries integer default 0)
  returns jsonb language sql as $$
  select kiln_api.select_infrastructure((select id from kiln.tenants where name = 'acme'),
           jsonb_build_object('project', p_project, 'method', 'script') || p_config, p_oom_retries) -> 'size'
$$;
create function pg_temp.dims(p_size jsonb) returns jsonb language sql as $$
  select jsonb_build_object('cpu', p_size -> 'cpu', 'memory_gb', p_size -> 'memory_gb', 'disk_gb', p_size -> 'disk_gb',
                            'time_budget_min', p_size -> 'time_budget_min', 'tier', p_size -> 'tier')
$$;

------------------------------------------------------------------------------------------
-- Tier 3: defaults per method and language; tier 1: the declared spec
------------------------------------------------------------------------------------------
select is(pg_temp.dims(pg_temp.size('web')),
  '{"cpu": 1, "memory_gb": 2, "disk_gb": 10, "time_budget_min": 30, "tier": "default"}'::jsonb,
  'a project without language or history gets the method''s default');
select is(pg_temp.dims(pg_temp.size('api')),
  '{"cpu": 4, "memory_gb": 8, "disk_gb": 20, "time_budget_min": 60, "tier": "default"}'::jsonb,
  'a Rust project gets the script/rust default');
update kiln.size_defaults set memory_gb = 12 where method = 'script' and language = 'rust';
select is(pg_temp.size('api') -> 'memory_gb', '12', 'the defaults are a table an admin edits');
select is(pg_temp.dims(pg_temp.size('web', '{"spec": {"cpu": 0.5, "memory_gb": 0.75, "disk_gb": 5, "time_budget_min": 7, "cache_keys": ["go-mod"]}}')),
  '{"cpu": 0.5, "memory_gb": 0.75, "disk_gb": 5, "time_budget_min": 7, "tier": "declared"}'::jsonb,
  'a declared spec is used as declared');
select is(pg_temp.size('web', '{"spec": {"cache_keys": ["go-mod"]}}') -> 'cache_keys', '["go-mod"]',
  'cache keys travel with the size');
select is(pg_temp.size('web', '{"spec": {"memory_gb": 3}}') -> 'sources',
  '{"cpu": "default", "memory_gb": "declared", "disk_gb": "default", "time_budget_min": "default"}'::jsonb,
  'each dimension says where it came from');

------------------------------------------------------------------------------------------
-- Tier 2: 1.2 × p95 of measured usage
------------------------------------------------------------------------------------------
-- Twenty successful runs using k cores (cpu_seconds / duration) and k GiB at peak, k = 1..20:
-- p95 = 19.05 (percentile_cont), 1.2 × p95 = 22.86.
select test.make_usage(:'acme', 'web', true, p_cpu_seconds => 60 * k, p_duration_seconds => 60,
                       p_peak_memory_bytes => k * 1073741824::bigint, p_start_time => now() - make_interval(hours => 21 - k))
  from generate_series(1, 20) k;
select is(pg_temp.size('web') -> 'history', '{"cpu": 22.86, "memory_gb": 22.86}'::jsonb,
  '1.2 × the p95 of twenty runs of 1..20 cores and GiB is 22.86');
select is(pg_temp.dims(pg_temp.size('web')),
  '{"cpu": 22.86, "memory_gb": 22.86, "disk_gb": 10, "time_budget_min": 30, "tier": "history"}'::jsonb,
  'without a declared spec the history sizes cpu and memory');
select is((select sizing -> 'history' from (select kiln_api.select_infrastructure(:'acme',
            '{"project": "web", "method": "script"}') -> 'inputs' -> 'sizing' as sizing) s),
  '{"cpu_p95": 19.05, "memory_gb_p95": 19.05, "cpu_samples": 20, "memory_samples": 20}'::jsonb,
  'the decision record keeps the p95 figures and sample counts');
select is(pg_temp.dims(pg_temp.size('web', '{"spec": {"cpu": 30, "memory_gb": 8}}')),
  '{"cpu": 30, "memory_gb": 22.86, "disk_gb": 10, "time_budget_min": 30, "tier": "history"}'::jsonb,
  'max(declared, 1.2 × p95) per dimension: the declared cpu, the measured memory');
select is(pg_temp.size('web', '{"spec": {"cpu": 30, "memory_gb": 8}}') -> 'sources' ->> 'cpu', 'declared',
  'the larger declared cpu is the declared one');
select is(pg_temp.size('web', '{"spec": {"cpu": 22.86}}') -> 'sources' ->> 'cpu', 'declared',
  'a tie goes to the declared value');
select test.make_usage(:'acme', 'web', false, p_cpu_seconds => 6000, p_duration_seconds => 60,
                       p_peak_memory_bytes => 400 * 1073741824::bigint) from generate_series(1, 5);
select is(pg_temp.size('web') -> 'history', '{"cpu": 22.86, "memory_gb": 22.86}'::jsonb,
  'failed runs (an OOM kill''s peak is its limit) are left out');
select test.make_usage(:'acme', 'api', true, p_cpu_seconds => 60000, p_duration_seconds => 60,
                       p_peak_memory_bytes => 300 * 1073741824::bigint) from generate_series(1, 5);
select is(pg_temp.size('web') -> 'history', '{"cpu": 22.86, "memory_gb": 22.86}'::jsonb,
  'another project''s runs are left out');
select is(pg_temp.dims(pg_temp.size('api')),
  '{"cpu": 64, "memory_gb": 360, "disk_gb": 20, "time_budget_min": 60, "tier": "history"}'::jsonb,
  '1.2 × p95 stays within the spec''s bounds (64 cores)');
select test.make_usage(:'acme', 'tiny', true, p_cpu_seconds => 1, p_duration_seconds => 100,
                       p_peak_memory_bytes => 1048576) from generate_series(1, 2);
select is(pg_temp.dims(pg_temp.size('tiny')),
  '{"cpu": 1, "memory_gb": 2, "disk_gb": 10, "time_budget_min": 30, "tier": "default"}'::jsonb,
  'two runs are fewer than sizing_min_samples (3): the default holds');
select test.make_usage(:'acme', 'tiny', true, p_cpu_seconds => 1, p_duration_seconds => 100,
                       p_peak_memory_bytes => 1048576);
select is(pg_temp.dims(pg_temp.size('tiny')),
  '{"cpu": 0.1, "memory_gb": 0.125, "disk_gb": 10, "time_budget_min": 30, "tier": "history"}'::jsonb,
  'the third run brings the history in, kept above the spec''s minimums');
update kiln.settings set value = 5 where key = 'sizing_history_samples';
select is(pg_temp.size('web') -> 'history', '{"cpu": 23.76, "memory_gb": 23.76}'::jsonb,
  'only the most recent sizing_history_samples runs count (16..20: p95 19.8)');
update kiln.settings set value = 100 where key = 'sizing_history_samples';

------------------------------------------------------------------------------------------
-- OOM: one rung up the size ladder per retry taken
------------------------------------------------------------------------------------------
select is(pg_temp.size('tiny', '{"spec": {"cpu": 1, "memory_gb": 0.125}}', 1)
            - 'history' - 'sources' - 'tier' - 'disk_gb' - 'time_budget_min',
  '{"cpu": 1, "memory_gb": 0.25, "oom_step": 1, "rung": "nano", "base": {"cpu": 1, "memory_gb": 0.125}}'::jsonb,
  'an OOM retry moves 0.125 GiB one rung up, to 0.25');
select is(pg_temp.size('tiny', '{"spec": {"cpu": 1, "memory_gb": 3}}', 1) -> 'memory_gb', '4',
  'a size between rungs moves to the next rung (3 -> 4 GiB)');
select is(pg_temp.size('tiny', '{"spec": {"cpu": 0.5, "memory_gb": 4}}', 1) - 'history' - 'sources' - 'tier' - 'disk_gb' - 'time_budget_min',
  '{"cpu": 4, "memory_gb": 8, "oom_step": 1, "rung": "medium", "base": {"cpu": 0.5, "memory_gb": 4}}'::jsonb,
  'a rung is a whole size: its cpu too, if larger');
select is(pg_temp.size('tiny', '{"spec": {"cpu": 1, "memory_gb": 512}}', 1) -> 'memory_gb', '512',
  'the top rung is as far as it goes');
select is(pg_temp.size('tiny', '{"spec": {"cpu": 1, "memory_gb": 1}}', 0) ? 'rung', false,
  'no retry, no rung');

-- Through the dispatcher's planner: claim, OOM kill, re-claim.
select id as e1, epoch as ep1, build_id as b1
  from test.make_claimed_build(:'acme', 'tiny', p_body => '{"spec": {"cpu": 1, "memory_gb": 1}}') \gset
select is(kiln_api.plan_execution(:'e1') -> 'size' -> 'memory_gb', '1', 'the first attempt runs at the declared 1 GiB');
select kiln_api.start_execution(:'e1', :'ep1', 'build_nodes', 'test');
select is(kiln_api.finish_execution(:'e1', :'ep1', 'oom_killed', 137)::text, 'queued', 'an OOM kill requeues it');
select id as e2, epoch as ep2 from test.claim(:'b1') \gset
select is((kiln_api.plan_execution(:'e2') -> 'size') - 'history' - 'sources' - 'disk_gb' - 'time_budget_min',
  '{"cpu": 1, "memory_gb": 2, "tier": "declared", "oom_step": 1, "rung": "xsmall", "base": {"cpu": 1, "memory_gb": 1}}'::jsonb,
  'the retry is planned exactly one rung up (1 -> 2 GiB), oom_step 1');

------------------------------------------------------------------------------------------
-- Every invalid spec field: a 400 naming it, from submit and from the recommendation
------------------------------------------------------------------------------------------
create temp table bad_specs (spec jsonb, want jsonb);
insert into bad_specs values
  ('{"cpu": 0}', '{"code": "invalid_value", "field": "spec.cpu"}'),
  ('{"memory_gb": 1000}', '{"code": "invalid_value", "field": "spec.memory_gb"}'),
  ('{"disk_gb": "big"}', '{"code": "invalid_type", "field": "spec.disk_gb"}'),
  ('{"time_budget_min": 1.5}', '{"code": "invalid_type", "field": "spec.time_budget_min"}'),
  ('{"cache_keys": ["a b"]}', '{"code": "invalid_value", "field": "spec.cache_keys"}'),
  ('{"oom_retry": "yes"}', '{"code": "invalid_type", "field": "spec.oom_retry"}'),
  ('{"gpus": 1}', '{"code": "unknown_field", "field": "spec.gpus"}');
select test.act_as(:'ada');
select is(test.error_of(format($$select kiln_api.%s('{"project": "web", "method": "script", "params": {"script": "x"}, "spec": %s}')$$,
                               f, b.spec)) -> 'detail', b.want, format('%s refuses spec %s', f, b.spec))
  from bad_specs b, unnest(array['submit_build', 'recommend_infrastructure']) f;

select * from finish();
rollback;
