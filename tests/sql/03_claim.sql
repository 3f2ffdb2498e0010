-- kiln_api.claim_builds: queued builds go out in priority, then queue-age order, in
-- batches, each as `dispatching` with one execution under a lease; nothing else is
-- claimed; arguments are checked; the queue is read through the builds_queue index.
begin;
select plan(27);

select test.make_tenant('acme') as acme \gset
select test.make_tenant('beta') as beta \gset
select test.make_project(:'acme', 'web', p_language => 'go') as web \gset
select test.make_project(:'beta', 'api') as api \gset

-- Queue order: q3 (priority 10), q2, q1, q5 (priority 0 by queue age), q4 (priority -5).
select test.make_queued_build(:'acme', 'web', 0, '2030-01-01 10:01+00') as q1 \gset
select test.make_queued_build(:'acme', 'web', 0, '2030-01-01 10:00+00') as q2 \gset
-- an arm64 build node (offline) makes arm64 builds acceptable (submit refuses what nothing offers)
select test.make_node('arm-1', '{"arch":"arm64"}', '{}', false) \gset
select test.make_queued_build(:'acme', 'web', 10, '2030-01-01 10:05+00',
  '{"spec":{"cpu":2},"requirements":{"arch":["arm64"]}}') as q3 \gset
select test.make_queued_build(:'acme', 'web', -5, '2029-12-31 00:00+00') as q4 \gset
select test.make_queued_build(:'acme', 'web', 0, '2030-01-01 10:02+00') as q5 \gset
select test.make_build(:'acme', 'web', '{"priority":100}') as pending \gset
select test.make_build(:'acme', 'web', '{"priority":100}') as cancelled \gset
select kiln_api.cancel_build(:'cancelled');

------------------------------------------------------------------------------------------
-- Arguments
------------------------------------------------------------------------------------------
select throws_ok($$select * from kiln_api.claim_builds('w1', 0, 60)$$, 'QC400',
  'batch must be between 1 and 1000', 'a batch of 0 is refused');
select throws_ok($$select * from kiln_api.claim_builds('w1', 1001, 60)$$, 'QC400',
  'batch must be between 1 and 1000', 'a batch above 1000 is refused');
select throws_ok($$select * from kiln_api.claim_builds('w1', null, 60)$$, 'QC400',
  'batch must be between 1 and 1000', 'a null batch is refused (not read as no limit)');
select throws_ok($$select * from kiln_api.claim_builds('', 1, 60)$$, 'QC400',
  'worker is required', 'an empty worker is refused');
select throws_ok($$select * from kiln_api.claim_builds('  ', 1, 60)$$, 'QC400',
  'worker is required', 'a blank worker is refused');
select throws_ok($$select * from kiln_api.claim_builds(null, 1, 60)$$, 'QC400',
  'worker is required', 'a null worker is refused');
select is(test.error_detail($$select * from kiln_api.claim_builds('', 1, 60)$$),
  '{"code":"missing_field","field":"worker"}'::jsonb, 'the error names the worker field');
select throws_ok($$select * from kiln_api.claim_builds('w1', 1, 0)$$, 'QC400',
  'lease must be between 1 and 86400 seconds', 'a lease of 0 seconds is refused');
select throws_ok($$select * from kiln_api.claim_builds('w1', 1, null)$$, 'QC400',
  'lease must be between 1 and 86400 seconds', 'a null lease is refused (it would never expire)');
select is((select count(*)::int from kiln.builds where status = 'queued'), 5,
  'refused claims took nothing');

------------------------------------------------------------------------------------------
-- Order, batches and what a claim writes
------------------------------------------------------------------------------------------
create temp table claim1 as
  select * from kiln_api.claim_builds('w1', 2, 90, '2030-01-02 00:00+00');
select set_eq($$select build_id from claim1$$, format('values (%L::uuid), (%L::uuid)', :'q3', :'q2'),
  'a batch of 2 takes the highest priority, then the oldest queued');
select results_eq(
  format($$select status::text, lease_epoch from kiln.builds where id in (%L, %L)$$, :'q2', :'q3'),
  $$values ('dispatching', 1::bigint), ('dispatching', 1::bigint)$$,
  'claimed builds are dispatching with lease_epoch 1');
select results_eq(
  $$select e.id = c.execution_id, e.status::text, e.epoch, e.attempt, e.lease_owner,
           e.lease_expires_at, e.tenant_id = b.tenant_id
      from claim1 c join kiln.build_executions e on e.build_id = c.build_id
      join kiln.builds b on b.id = c.build_id$$,
  $$values (true, 'dispatching', 1::bigint, 1, 'w1', '2030-01-02 00:01:30+00'::timestamptz, true),
           (true, 'dispatching', 1::bigint, 1, 'w1', '2030-01-02 00:01:30+00'::timestamptz, true)$$,
  'each has one execution: dispatching, epoch = lease_epoch, attempt 1, leased to w1 until now + lease');
select results_eq(
  format($$select project, language, epoch, attempt, method::text, params, spec, requirements,
                  infrastructure_type::text, force_infrastructure, oom_retries, lease_expires_at,
                  tenant_id
             from claim1 where build_id = %L$$, :'q3'),
  format($$values ('web', 'go', 1::bigint, 1, 'script', '{"script":"make test"}'::jsonb,
                   '{"cpu":2}'::jsonb,
                   '{"gpu":false,"high_memory":false,"airgapped":false,"legacy_system":false,"arch":["arm64"]}'::jsonb,
                   'auto', false, 0, '2030-01-02 00:01:30+00'::timestamptz, %L::uuid)$$, :'acme'),
  'the claim returns what the worker needs to run the build');
select results_eq(
  format($$select count(*)::int, min(actor), min(message), min(from_status::text),
                  bool_and(execution_id is not null)
             from kiln.build_events where build_id in (%L, %L) and to_status = 'dispatching'$$,
         :'q2', :'q3'),
  $$values (2, 'worker:w1', 'claimed (attempt 1)', 'queued', true)$$,
  'each claim writes a queued -> dispatching event tied to the execution');

select is((select build_id from kiln_api.claim_builds('w2', 1, 60)), :'q1'::uuid,
  'the next claim takes the older of the rest at priority 0');
select is((select build_id from kiln_api.claim_builds('w2', 1, 60)), :'q5'::uuid,
  'then the next oldest (fair share across tenants: 70_fair_share.sql)');
select results_eq($$select build_id from kiln_api.claim_builds('w3', 5, 60)$$,
  format('values (%L::uuid)', :'q4'), 'a batch of 5 takes the one build left (lowest priority)');
select is_empty($$select * from kiln_api.claim_builds('w3', 5, 60)$$,
  'an empty queue gives an empty claim');
select results_eq(
  format($$select status::text from kiln.builds where id in (%L, %L) order by priority$$,
         :'pending', :'cancelled'),
  $$values ('pending'), ('cancelled')$$,
  'pending and cancelled builds are never claimed, whatever their priority');
select is((select count(*)::int from kiln.build_executions), 5, 'one execution per claimed build');

------------------------------------------------------------------------------------------
-- The dispatcher's role claims across tenants; the API role may not claim
------------------------------------------------------------------------------------------
select test.make_queued_build(:'acme', 'web') as r1 \gset
select test.make_queued_build(:'beta', 'api') as r2 \gset
set local role kiln_dispatch;
select set_eq($$select build_id from kiln_api.claim_builds('dispatch-1', 10, 60)$$,
  format('values (%L::uuid), (%L::uuid)', :'r1', :'r2'),
  'kiln_dispatch claims the queued builds of every tenant');
reset role;
set local role kiln_web;
select throws_ok($$select * from kiln_api.claim_builds('w1', 1, 60)$$, '42501',
  'permission denied for function claim_builds', 'kiln_web may not claim');
reset role;

------------------------------------------------------------------------------------------
-- The claim reads the builds_queue partial index
------------------------------------------------------------------------------------------
insert into kiln.builds (tenant_id, project_id, status, priority, queued_at, finished_at)
  select :'acme', :'web', 'succeeded', (i % 201) - 100, now() - i * interval '1 second', now()
    from generate_series(1, 20000) i;
insert into kiln.builds (tenant_id, project_id, status, priority, queued_at)
  select :'acme', :'web', 'queued', (i % 201) - 100, now() - i * interval '1 second'
    from generate_series(1, 200) i;
analyze kiln.builds;
select ok(test.plan_uses_index(
  $$select b.id from kiln.builds b where b.status = 'queued'
     order by b.effective_priority desc, b.queued_at, b.id limit 10 for update skip locked$$,
  'builds_queue'), 'the claim''s select uses the builds_queue index');
select ok(not test.plan_uses_index($$select b.id from kiln.builds b where b.status = 'succeeded'
     order by b.effective_priority desc, b.queued_at, b.id limit 10$$, 'builds_queue'),
  'the index check can tell: other statuses do not use builds_queue');
select has_index('kiln', 'builds', 'builds_queue', array['effective_priority', 'queued_at', 'id'],
  'builds_queue covers effective_priority (priority plus aging), queued_at, id');
select is((select pg_get_expr(i.indpred, i.indrelid) from pg_index i
            where i.indexrelid = 'kiln.builds_queue'::regclass),
  '(status = ''queued''::kiln.build_status)', 'builds_queue holds only queued rows');

select * from finish();
rollback;
