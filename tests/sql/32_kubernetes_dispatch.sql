-- The dispatcher's Kubernetes functions (sql/api/kubernetes.sql): where a planned execution
-- runs, the audited credential read, recording a created or adopted PipelineRun, the sync's
-- worklist, fenced step logs, the outcome (an OOM kill retried once), and provider health.
begin;
select plan(32);

select test.make_tenant('acme') as acme \gset
select test.make_tenant('other') as other \gset
select test.make_project(:'acme', 'web');
select test.make_project(:'other', 'web');

insert into kiln.providers (id, tenant_id, name, display_name, provider_type, api_server, credentials_ciphertext,
                            credentials_key_id, credentials_fingerprint, created_at)
  values ('aaaaaaaa-0000-4000-8000-000000000001', null, 'shared', 'Shared', 'gke', 'https://shared', '\x01aa', 'k1',
          'sha256:s', '2020-01-01'),
         ('aaaaaaaa-0000-4000-8000-000000000002', :'acme', 'own', 'Own', 'eks', 'https://own', '\x01bb', 'k1',
          'sha256:o', '2021-01-01');
insert into kiln.node_pools (id, provider_id, name, labels, taints, created_at)
  values ('bbbbbbbb-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000002', 'first',
          '{"pool":"first"}', '["a=b:NoSchedule"]', '2021-01-01'),
         ('bbbbbbbb-0000-4000-8000-000000000002', 'aaaaaaaa-0000-4000-8000-000000000002', 'second', '{}', '[]',
          '2022-01-01');

-- where it runs
select id as e1, build_id as b1, epoch as ep1 from test.make_claimed_build(:'acme', 'web', 'w1') \gset
create temp table t1 as select kiln_api.k8s_resolve_target(:'e1', '{}') as j;
select is((select j -> 'provider' ->> 'name' from t1), 'own', 'without a target: the tenant''s own provider first');
select is((select j -> 'node_pool' ->> 'name' from t1), 'first', 'and its first node pool');
select is((select j ->> 'namespace' from t1), 'kiln-acme', 'in the tenant''s namespace');
select is((select j -> 'template' ->> 'name' from t1), 'custom-script', 'with the method''s default template');
select is((select (j -> 'build') - 'id' - 'tenant_id' from t1),
  '{"tenant":"acme","project":"web","method":"script","params":{"script":"make test"},"attempt":1,"size_step":0}'::jsonb,
  'and what the build declared');
select is(kiln_api.k8s_resolve_target(:'e1', '{"target":{"provider_id":"aaaaaaaa-0000-4000-8000-000000000002",
  "node_pool_id":"bbbbbbbb-0000-4000-8000-000000000002"}}') -> 'node_pool' ->> 'name', 'second',
  'the plan''s target wins');
select is(kiln_api.k8s_resolve_target(:'e1', '{"target":{"provider_id":"aaaaaaaa-0000-4000-8000-000000000001"}}')
  -> 'node_pool', 'null'::jsonb, 'a provider without pools: no node selector');
update kiln.providers set namespace = 'ci' where id = 'aaaaaaaa-0000-4000-8000-000000000002';
select is(kiln_api.k8s_resolve_target(:'e1', '{}') ->> 'namespace', 'ci', 'a tenant''s own cluster may name its namespace');
select id as e2 from test.make_claimed_build(:'other', 'web', 'w1') \gset
select is(kiln_api.k8s_resolve_target(:'e2', '{}') -> 'provider' ->> 'name', 'shared',
  'another tenant gets the shared provider, never this tenant''s');
select is(kiln_api.k8s_resolve_target(:'e2', '{"target":{"provider_id":"aaaaaaaa-0000-4000-8000-000000000002"}}'),
  '{"error":"no Kubernetes provider is configured for this tenant; ask an admin to add one or submit with infrastructure_type auto"}'::jsonb,
  'nor through a target naming it');
update kiln.providers set credentials_ciphertext = null where id = 'aaaaaaaa-0000-4000-8000-000000000001';
select is(kiln_api.k8s_resolve_target(:'e2', '{}') ->> 'error',
  'no Kubernetes provider is configured for this tenant; ask an admin to add one or submit with infrastructure_type auto',
  'a provider without credentials is not picked');

-- credentials: read for decryption, audited
select is((select fingerprint from kiln_api.k8s_provider_credentials('aaaaaaaa-0000-4000-8000-000000000002', 'w1', 'sync')),
  'sha256:o', 'the sealed credentials are handed out');
select is((select detail from kiln.audit_log where action = 'provider.credentials.decrypt'),
  '{"worker":"w1","purpose":"sync","key_id":"k1","fingerprint":"sha256:o"}'::jsonb, 'and the decryption audited');
select throws_ok($$select * from kiln_api.k8s_provider_credentials('aaaaaaaa-0000-4000-8000-000000000001', 'w1', 'x')$$,
  'QC404', 'provider aaaaaaaa-0000-4000-8000-000000000001 has no credentials', 'none to hand out');

-- recording the run
select kiln_api.k8s_prepare(:'e1', :'ep1', 'aaaaaaaa-0000-4000-8000-000000000002', 'ci', 'kiln-x-s0');
select is((select jsonb_array_length(kiln_api.k8s_open_runs())), 1, 'a run about to be created is on the worklist');
select is((select kiln_api.k8s_open_runs() -> 0 ->> 'status'), 'dispatching', 'as dispatching (the sync leaves it alone)');
select kiln_api.k8s_start_execution(:'e1', :'ep1', '{"reason":"K8s available","size":{"cpu":1,"memory_gb":2,"time_budget_min":30}}',
  (select j from t1), 'kiln-x-s0', false, '2030-01-01 00:00+00');
select results_eq(format($$select status::text, external_ref, infrastructure_type::text, k8s_namespace, lease_expires_at
                             from kiln.build_executions where id = %L$$, :'e1'),
  $$values ('running', 'kiln-x-s0', 'kubernetes', 'kiln-acme', '2030-01-01 00:05+00'::timestamptz)$$,
  'the execution runs under the Kubernetes lease (k8s_lease_seconds)');
select is((select status::text from kiln.builds where id = :'b1'), 'running', 'so does the build');
select matches((select string_agg(data, '') from kiln.build_log_chunks where build_id = :'b1'),
  '==> attempt 1 on kubernetes own/kiln-acme, node pool first: PipelineRun kiln-x-s0 \(1 cpu, 2 GiB, 30 min\)',
  'the build log says where it runs');

-- logs: fenced by offset, a done marker
select is(kiln_api.k8s_record_logs(:'e1', '[{"key":"tr/step-a","offset":0,"bytes":6,"text":"--- a\nline1\n"}]'),
  '{"logs":{"tr/step-a":6}}'::jsonb, 'a step''s log is appended and its offset kept');
select is(kiln_api.k8s_record_logs(:'e1', '[{"key":"tr/step-a","offset":0,"bytes":6,"text":"--- a\nline1\n"},
  {"key":"tr/step-a","offset":6,"bytes":6,"text":"line2\n"},{"key":"tr/step-a","done":true}]'),
  '{"logs":{"tr/step-a":12},"logs_done":{"tr/step-a":true}}'::jsonb, 'a repeated chunk is skipped (another dispatcher wrote it)');
select is((select count(*)::integer from kiln.build_log_chunks where build_id = :'b1' and data like '%line1%'), 1,
  'each line is in the log once');

-- the worklist and the outcome
select is((select (kiln_api.k8s_open_runs() -> 0) - 'execution_id' - 'build_id' - 'tenant_id' - 'lease_expires_at' - 'state'),
  jsonb_build_object('epoch', :ep1, 'attempt', 1, 'status', 'running', 'provider_id', 'aaaaaaaa-0000-4000-8000-000000000002',
                     'namespace', 'kiln-acme', 'build_status', 'running', 'run', 'kiln-x-s0', 'superseded', false),
  'the sync sees where the run is');
select is(kiln_api.k8s_finish(:'e1', :'ep1', 'oom_killed', 137, 'out of memory in task run')::text, 'queued',
  'an OOM kill requeues the build');
select is((select oom_retries from kiln.builds where id = :'b1'), 1, 'one size up');
select is((select jsonb_array_length(kiln_api.k8s_open_runs())), 0, 'and the run is done with');

-- adoption: a lost execution whose run the next attempt took over is superseded
select id as e3, build_id as b3, epoch as ep3 from test.make_claimed_build(:'acme', 'web', 'w1') \gset
select kiln_api.k8s_prepare(:'e3', :'ep3', 'aaaaaaaa-0000-4000-8000-000000000002', 'ci', 'kiln-y-s0');
update kiln.build_executions set lease_expires_at = now() - interval '1 minute' where id = :'e3';
select is((select count(*)::integer from kiln_api.reap_expired_leases() where execution_id = :'e3'), 1,
  'the dispatcher that created the run died');
update kiln.builds set priority = -100, effective_priority = -100 where id = :'b1';  -- out of the way of the claim below
select id as e4, epoch as ep4 from test.claim(:'b3', 'w2') \gset
select kiln_api.k8s_prepare(:'e4', :'ep4', 'aaaaaaaa-0000-4000-8000-000000000002', 'ci', 'kiln-y-s0');
select is((select bool_and((r ->> 'superseded')::boolean) from jsonb_array_elements(kiln_api.k8s_open_runs()) r
            where r ->> 'execution_id' = :'e3'), true, 'its execution is superseded by the one adopting the run');
select kiln_api.k8s_mark_done(:'e3', 'adopted by a later attempt');
select is((select backend_state ->> 'done' from kiln.build_executions where id = :'e3'), 'adopted by a later attempt',
  'and marked done with why');

-- health
select kiln_api.k8s_set_health('aaaaaaaa-0000-4000-8000-000000000002', false, 'list PipelineRuns: 503');
select is((select health::text from kiln.providers where id = 'aaaaaaaa-0000-4000-8000-000000000002'), 'unhealthy',
  'a failed LIST makes the provider unhealthy');
select kiln_api.k8s_set_health('aaaaaaaa-0000-4000-8000-000000000002', true, null);
select is((select health_detail -> 'sync' ->> 'ok' from kiln.providers where id = 'aaaaaaaa-0000-4000-8000-000000000002'),
  'true', 'a good one healthy again');
select kiln_api.k8s_set_health('aaaaaaaa-0000-4000-8000-000000000002', true, null, '2040-01-01 00:00+00');
select isnt((select health_checked_at from kiln.providers where id = 'aaaaaaaa-0000-4000-8000-000000000002'),
  '2040-01-01 00:00+00'::timestamptz, 'an unchanged health is not written again');

select * from finish();
rollback;
