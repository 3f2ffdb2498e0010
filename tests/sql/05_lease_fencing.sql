-- Lease fencing: the epoch a claim hands out is the worker's right to renew, start and
-- finish its execution. Once the lease is reaped (or the build cancelled) every call with
-- that epoch is refused with QC409 and changes nothing; the next claim runs with epoch + 1.
begin;
select plan(37);

select test.make_tenant('acme') as acme \gset
select test.make_project(:'acme', 'web') as web \gset
select id as exec1, build_id as build1, epoch as epoch1
  from test.make_claimed_build(:'acme', 'web', 'w1', 60, p_now => '2030-01-01 00:00+00') \gset

select is(:'epoch1'::bigint, 1::bigint, 'the first claim runs with epoch 1');

------------------------------------------------------------------------------------------
-- renew_lease
------------------------------------------------------------------------------------------
select is(kiln_api.renew_lease(:'exec1', :'epoch1', 120, '2030-01-01 00:00:30+00'),
  '2030-01-01 00:02:30+00'::timestamptz, 'renew_lease with the right epoch answers now + lease');
select is((select lease_expires_at from kiln.build_executions where id = :'exec1'),
  '2030-01-01 00:02:30+00'::timestamptz, 'and extends lease_expires_at');
select throws_ok(format('select kiln_api.renew_lease(%L, 2, 60)', :'exec1'), 'QC409',
  format('lease of execution %s is no longer held (epoch 2, execution dispatching, current epoch 1)', :'exec1'),
  'renew_lease with an epoch the build never had is stale');
select throws_ok($$select kiln_api.renew_lease('00000000-0000-0000-0000-00000000000e', 1, 60)$$,
  'QC404', 'execution 00000000-0000-0000-0000-00000000000e not found',
  'renew_lease of an unknown execution is QC404');
select throws_ok(format('select kiln_api.renew_lease(%L, 1, 0)', :'exec1'), 'QC400',
  'lease must be between 1 and 86400 seconds', 'a lease of 0 seconds is refused');
select throws_ok(format('select kiln_api.renew_lease(%L, 1, null)', :'exec1'), 'QC400',
  'lease must be between 1 and 86400 seconds', 'a null lease is refused (it would never expire)');
select is((select lease_expires_at from kiln.build_executions where id = :'exec1'),
  '2030-01-01 00:02:30+00'::timestamptz, 'refused renewals leave the lease as it was');

------------------------------------------------------------------------------------------
-- start_execution
------------------------------------------------------------------------------------------
select lives_ok(format($$select kiln_api.start_execution(%L, %s, 'build_nodes', 'needs s390x',
    '{"node":"z1"}', '{"cpu":2,"memory_gb":4}', 'run-1', 300, '2030-01-01 00:01+00')$$,
    :'exec1', :'epoch1'), 'start_execution with the right epoch');
select results_eq(
  format($$select status::text, infrastructure_type::text, infrastructure_reason,
                  infrastructure_metadata, size, external_ref, started_at, selected_at,
                  lease_expires_at
             from kiln.build_executions where id = %L$$, :'exec1'),
  $$values ('running', 'build_nodes', 'needs s390x', '{"node":"z1"}'::jsonb,
            '{"cpu":2,"memory_gb":4}'::jsonb, 'run-1', '2030-01-01 00:01+00'::timestamptz,
            '2030-01-01 00:01+00'::timestamptz, '2030-01-01 00:06+00'::timestamptz)$$,
  'the execution is running with the infrastructure decision, size and a new lease');
select results_eq(
  format($$select status::text, started_at from kiln.builds where id = %L$$, :'build1'),
  $$values ('running', '2030-01-01 00:01+00'::timestamptz)$$, 'the build is running');
select results_eq(
  format($$select from_status::text, to_status::text, actor, message, execution_id, detail
             from kiln.build_events where build_id = %L order by id desc limit 1$$, :'build1'),
  format($$values ('dispatching', 'running', 'worker:w1', 'running on build_nodes', %L::uuid,
                   '{"infrastructure_type":"build_nodes","reason":"needs s390x","external_ref":"run-1"}'::jsonb)$$,
         :'exec1'),
  'a dispatching -> running event records the infrastructure');
select throws_ok(format($$select kiln_api.start_execution(%L, %s, 'kubernetes', 'again')$$,
    :'exec1', :'epoch1'), 'QC409', format('execution %s is already running', :'exec1'),
  'an execution starts once');

------------------------------------------------------------------------------------------
-- The lease runs out: the old epoch is fenced off
------------------------------------------------------------------------------------------
select results_eq($$select new_status::text from kiln_api.reap_expired_leases('2030-01-01 01:00+00')$$,
  $$values ('queued')$$, 'the reaper requeues the build');
select test.build_state(:'build1') as state_after_reap \gset

select throws_ok(format('select kiln_api.renew_lease(%L, %s, 60)', :'exec1', :'epoch1'), 'QC409',
  format('lease of execution %s is no longer held (epoch 1, execution lost, current epoch 1)', :'exec1'),
  'renew_lease with the reaped epoch is stale');
select is(test.error_detail(format('select kiln_api.renew_lease(%L, %s, 60)', :'exec1', :'epoch1')),
  '{"code":"stale_lease","field":"epoch"}'::jsonb, 'the 409 is stale_lease on epoch');
select throws_ok(format($$select kiln_api.finish_execution(%L, %s, 'succeeded', 0)$$, :'exec1', :'epoch1'),
  'QC409', format('lease of execution %s is no longer held (epoch 1, execution lost, current epoch 1)', :'exec1'),
  'finish_execution with the reaped epoch is stale');
select throws_ok(format($$select kiln_api.finish_execution(%L, %s, 'oom_killed', 137)$$, :'exec1', :'epoch1'),
  'QC409', format('lease of execution %s is no longer held (epoch 1, execution lost, current epoch 1)', :'exec1'),
  'a zombie cannot report an OOM either');
select is(test.build_state(:'build1'), :'state_after_reap'::jsonb,
  'the zombie''s calls changed neither the build, its executions nor its events');

select id as exec2, epoch as epoch2, attempt as attempt2
  from test.claim(:'build1', 'w2', 60, '2030-01-01 01:00:10+00') \gset
select is(:'epoch2'::bigint, 2::bigint, 'the re-claim runs with epoch 2');
select is(:'attempt2'::int, 2, 'as attempt 2');
select is((select lease_epoch from kiln.builds where id = :'build1'), 2::bigint,
  'the build''s lease_epoch is 2');
select results_eq(
  format($$select attempt, epoch, status::text, lease_owner from kiln.build_executions
            where build_id = %L order by attempt$$, :'build1'),
  $$values (1, 1::bigint, 'lost', 'w1'), (2, 2::bigint, 'dispatching', 'w2')$$,
  'the lost execution stays lost beside the new one');
select test.build_state(:'build1') as state_after_reclaim \gset

select throws_ok(format('select kiln_api.renew_lease(%L, %s, 60)', :'exec1', :'epoch1'), 'QC409',
  format('lease of execution %s is no longer held (epoch 1, execution lost, current epoch 2)', :'exec1'),
  'the old worker still cannot renew');
select throws_ok(format($$select kiln_api.finish_execution(%L, %s, 'failed', 1)$$, :'exec1', :'epoch1'),
  'QC409', format('lease of execution %s is no longer held (epoch 1, execution lost, current epoch 2)', :'exec1'),
  'nor finish');
select throws_ok(format($$select kiln_api.start_execution(%L, %s, 'kubernetes', 'late')$$, :'exec1', :'epoch1'),
  'QC409', format('lease of execution %s is no longer held (epoch 1, execution lost, current epoch 2)', :'exec1'),
  'nor start');
select throws_ok(format('select kiln_api.renew_lease(%L, %s, 60)', :'exec2', :'epoch1'), 'QC409',
  format('lease of execution %s is no longer held (epoch 1, execution dispatching, current epoch 2)', :'exec2'),
  'the old epoch does not open the new execution');
select throws_ok(format('select kiln_api.renew_lease(%L, %s, 60)', :'exec1', :'epoch2'), 'QC409',
  format('lease of execution %s is no longer held (epoch 2, execution lost, current epoch 2)', :'exec1'),
  'the new epoch does not revive the old execution');
select is(test.build_state(:'build1'), :'state_after_reclaim'::jsonb,
  'the new execution and the build are untouched by all of that');
select lives_ok(format('select kiln_api.renew_lease(%L, %s, 60)', :'exec2', :'epoch2'),
  'the new holder renews');

------------------------------------------------------------------------------------------
-- Cancelling a running build fences its worker
------------------------------------------------------------------------------------------
select id as exec3, build_id as build3, epoch as epoch3
  from test.make_running_build(:'acme', 'web', 'w3') \gset
select is((kiln_api.cancel_build(:'build3', 'user asked') ->> 'status'), 'cancelled',
  'the running build is cancelled');
select test.build_state(:'build3') as state_cancelled \gset
select throws_ok(format('select kiln_api.renew_lease(%L, %s, 60)', :'exec3', :'epoch3'), 'QC409',
  format('execution %s was cancelled; stop the work', :'exec3'),
  'renew_lease tells the worker its execution was cancelled');
select is(test.error_detail(format('select kiln_api.renew_lease(%L, %s, 60)', :'exec3', :'epoch3')),
  '{"code":"execution_cancelled","field":"execution_id"}'::jsonb, 'the 409 is execution_cancelled');
select throws_ok(format($$select kiln_api.finish_execution(%L, %s, 'succeeded', 0)$$, :'exec3', :'epoch3'),
  'QC409', format('execution %s was cancelled; stop the work', :'exec3'),
  'finish_execution is refused the same way');
select throws_ok(format($$select kiln_api.start_execution(%L, %s, 'kubernetes', 'x')$$, :'exec3', :'epoch3'),
  'QC409', format('execution %s was cancelled; stop the work', :'exec3'),
  'and start_execution');
select is(test.build_state(:'build3'), :'state_cancelled'::jsonb,
  'the cancelled build and execution are unchanged');
select is_empty(format($$select * from kiln_api.reap_expired_leases('2040-01-01') r
                          where r.build_id = %L$$, :'build3'),
  'a cancelled execution is never reaped');

select * from finish();
rollback;
