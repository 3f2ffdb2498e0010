-- kiln_api.reap_expired_leases: an execution whose lease ran out is lost; its build is
-- queued again as the next attempt, or failed once max_attempts executions were lost.
-- Leases that have not run out are untouched. p_now drives the clock.
begin;
select plan(22);

select test.make_tenant('acme') as acme \gset
select test.make_project(:'acme', 'web') as web \gset
-- Claimed at 00:00: e1 (lease 60 s, dispatching), e2 (lease 2 h, running).
select id as e1, build_id as b1
  from test.make_claimed_build(:'acme', 'web', 'w1', 60, p_now => '2030-01-01 00:00+00') \gset
select id as e2, build_id as b2
  from test.make_running_build(:'acme', 'web', 'w2', 7200, p_now => '2030-01-01 00:00+00') \gset

------------------------------------------------------------------------------------------
-- Expiry
------------------------------------------------------------------------------------------
select is_empty($$select * from kiln_api.reap_expired_leases('2030-01-01 00:01+00')$$,
  'a lease that expires exactly now is not reaped yet');
create temp table reaped as
  select * from kiln_api.reap_expired_leases('2030-01-01 01:00+00');
select results_eq($$select build_id, execution_id, new_status::text from reaped$$,
  format($$values (%L::uuid, %L::uuid, 'queued')$$, :'b1', :'e1'),
  'one hour later the expired lease is reaped and reported; the 2-hour lease is not');
select results_eq(
  format($$select status::text, finished_at, failure_reason like 'lease of w1 expired at %%'
             from kiln.build_executions where id = %L$$, :'e1'),
  $$values ('lost', '2030-01-01 01:00+00'::timestamptz, true)$$,
  'the expired execution is lost, finished now, with the reason');
select results_eq(
  format($$select status::text, attempt, queued_at, finished_at from kiln.builds where id = %L$$, :'b1'),
  $$values ('queued', 2, '2030-01-01 01:00+00'::timestamptz, null::timestamptz)$$,
  'its build is queued again as attempt 2');
select results_eq(
  format($$select from_status::text, to_status::text, actor, message, execution_id, detail, created_at
             from kiln.build_events where build_id = %L order by id desc limit 1$$, :'b1'),
  format($$values ('dispatching', 'queued', 'reaper', 'lease of w1 expired at 2030-01-01 00:01:00+00; requeued as attempt 2',
                   %L::uuid, '{"lost_worker":"w1"}'::jsonb, '2030-01-01 01:00+00'::timestamptz)$$, :'e1'),
  'an event records the requeue');
select results_eq(
  format($$select e.status::text, e.lease_expires_at, b.status::text, b.attempt
             from kiln.build_executions e join kiln.builds b on b.id = e.build_id
            where e.id = %L$$, :'e2'),
  $$values ('running', '2030-01-01 02:00+00'::timestamptz, 'running', 1)$$,
  'the unexpired lease is untouched');
select is_empty($$select * from kiln_api.reap_expired_leases('2030-01-01 01:00+00')$$,
  'reaping again at the same time finds nothing');

select results_eq($$select execution_id, new_status::text
                     from kiln_api.reap_expired_leases('2030-01-01 03:00+00')$$,
  format($$values (%L::uuid, 'queued')$$, :'e2'), 'a running execution is reaped once its lease runs out');
select is((select status::text from kiln.builds where id = :'b2'), 'queued',
  'and its build is queued again');

------------------------------------------------------------------------------------------
-- Bounded by max_attempts
------------------------------------------------------------------------------------------
-- b1 and b2 leave the queue so each claim below takes the build under test.
select kiln_api.cancel_build(:'b1'), kiln_api.cancel_build(:'b2');
select test.make_queued_build(:'acme', 'web', 100, '2000-01-01') as b3 \gset
update kiln.builds set max_attempts = 1 where id = :'b3';
select id as e3 from test.claim(:'b3', 'w3', 60, '2030-01-02 00:00+00') \gset
select results_eq($$select new_status::text from kiln_api.reap_expired_leases('2030-01-02 01:00+00')$$,
  $$values ('failed')$$, 'a build on its last attempt fails when its lease is lost');
select results_eq(
  format($$select status::text, attempt, finished_at, failure_reason from kiln.builds where id = %L$$, :'b3'),
  $$values ('failed', 1, '2030-01-02 01:00+00'::timestamptz,
            'lease of w3 expired at 2030-01-02 00:01:00+00; gave up after 1 attempts')$$,
  'the failed build says the lease was lost on every attempt');
select is((select status::text from kiln.build_executions where id = :'e3'), 'lost',
  'its execution is lost');

-- The default of 3 attempts: three lost leases, then failed.
select test.make_queued_build(:'acme', 'web', 100, '2000-01-01') as b4 \gset
select test.claim(:'b4', 'w4', 60, '2030-01-03 00:00+00');
select results_eq($$select new_status::text from kiln_api.reap_expired_leases('2030-01-03 00:10+00')$$,
  $$values ('queued')$$, 'first lost lease: queued');
select test.claim(:'b4', 'w4', 60, '2030-01-03 00:20+00');
select results_eq($$select new_status::text from kiln_api.reap_expired_leases('2030-01-03 00:30+00')$$,
  $$values ('queued')$$, 'second lost lease: queued');
select test.claim(:'b4', 'w4', 60, '2030-01-03 00:40+00');
select results_eq($$select new_status::text from kiln_api.reap_expired_leases('2030-01-03 00:50+00')$$,
  $$values ('failed')$$, 'third lost lease: failed');
select results_eq(
  format($$select attempt, epoch, status::text from kiln.build_executions
            where build_id = %L order by attempt$$, :'b4'),
  $$values (1, 1::bigint, 'lost'), (2, 2::bigint, 'lost'), (3, 3::bigint, 'lost')$$,
  'three executions, one per attempt and epoch, all lost');
select results_eq(
  format($$select status::text, attempt, max_attempts, failure_reason from kiln.builds where id = %L$$, :'b4'),
  $$values ('failed', 3, 3, 'lease of w4 expired at 2030-01-03 00:41:00+00; gave up after 3 attempts')$$,
  'the build failed on attempt 3 of 3');
select is_empty(format($$select * from kiln.builds where id = %L and status = 'queued'$$, :'b4'),
  'a failed build is not claimable');

------------------------------------------------------------------------------------------
-- p_limit
------------------------------------------------------------------------------------------
select test.make_queued_build(:'acme', 'web', 0, '2030-01-04 00:00+00') as b5 \gset
select test.make_queued_build(:'acme', 'web', 0, '2030-01-04 00:00+00') as b6 \gset
select test.make_queued_build(:'acme', 'web', 0, '2030-01-04 00:00+00') as b7 \gset
select count(*) from kiln_api.claim_builds('w5', 10, 60, '2030-01-04 00:00+00');
select is((select count(*)::int from kiln_api.reap_expired_leases('2030-01-04 01:00+00', 2)), 2,
  'p_limit bounds one call');
select is((select count(*)::int from kiln_api.reap_expired_leases('2030-01-04 01:00+00', 2)), 1,
  'the next call takes the rest');
select is((select count(*)::int from kiln.builds where id in (:'b5', :'b6', :'b7') and status = 'queued'
                                                   and attempt = 2), 3,
  'all three are queued again as attempt 2');
select is((select count(*)::int from kiln.build_executions where status in ('dispatching', 'running')), 0,
  'no active execution is left');

select * from finish();
rollback;
