-- kiln_api.cancel_build: a build that has not finished is cancelled from any of pending,
-- queued, dispatching and running; an active execution is cancelled with it. A finished
-- build cannot be cancelled (QC409).
begin;
select plan(21);

select test.make_tenant('acme') as acme \gset
select test.make_user(:'acme', 'dev', 'developer') as dev \gset
select test.make_project(:'acme', 'web') as web \gset
select test.act_as(:'dev');

select test.make_build(:'acme', 'web') as pending \gset
select test.make_queued_build(:'acme', 'web') as queued \gset
select id as e_disp, build_id as dispatching from test.make_claimed_build(:'acme', 'web', 'w1') \gset
select id as e_run, build_id as running from test.make_running_build(:'acme', 'web', 'w2') \gset

select is((kiln_api.cancel_build(:'pending', p_now => '2030-01-01 00:00+00') ->> 'status'), 'cancelled',
  'a pending build is cancelled');
select results_eq(
  format($$select status::text, finished_at, failure_reason from kiln.builds where id = %L$$, :'pending'),
  $$values ('cancelled', '2030-01-01 00:00+00'::timestamptz, 'cancelled')$$,
  'finished_at is set and the reason defaults to cancelled');
select results_eq(
  format($$select from_status::text, to_status::text, actor, execution_id
             from kiln.build_events where build_id = %L order by id desc limit 1$$, :'pending'),
  format($$values ('pending', 'cancelled', 'user:%s', null::uuid)$$, :'dev'),
  'a pending -> cancelled event names the user');

select is((kiln_api.cancel_build(:'queued', 'not needed') ->> 'status'), 'cancelled',
  'a queued build is cancelled');
select is((select failure_reason from kiln.builds where id = :'queued'), 'not needed',
  'with the given reason');
select is_empty($$select * from kiln_api.claim_builds('w9', 10, 60)$$,
  'a cancelled build is not claimable');

select is((kiln_api.cancel_build(:'dispatching', 'wrong branch') ->> 'status'), 'cancelled',
  'a dispatching build is cancelled');
select results_eq(
  format($$select status::text, failure_reason, finished_at is not null
             from kiln.build_executions where id = %L$$, :'e_disp'),
  $$values ('cancelled', 'wrong branch', true)$$, 'its execution is cancelled');
select is((select execution_id from kiln.build_events where build_id = :'dispatching'
            order by id desc limit 1), :'e_disp'::uuid, 'the event is tied to the execution');

select is((kiln_api.cancel_build(:'running', 'user asked') ->> 'status'), 'cancelled',
  'a running build is cancelled');
select results_eq(
  format($$select e.status::text, e.failure_reason, b.failure_reason
             from kiln.build_executions e join kiln.builds b on b.id = e.build_id where e.id = %L$$, :'e_run'),
  $$values ('cancelled', 'user asked', 'user asked')$$, 'its execution is cancelled with the reason');
select is((kiln_api.get_build(:'running') -> 'executions' -> 0 ->> 'status'), 'cancelled',
  'get_build shows the cancelled execution');
select is((select count(*)::int from kiln.build_executions where status in ('dispatching', 'running')), 0,
  'no active execution is left');

select id as e_blank, build_id as blank from test.make_running_build(:'acme', 'web', 'w3') \gset
select kiln_api.cancel_build(:'blank', '   ');
select results_eq(
  format($$select b.failure_reason, e.failure_reason
             from kiln.builds b join kiln.build_executions e on e.build_id = b.id where b.id = %L$$, :'blank'),
  $$values ('cancelled', 'cancelled')$$,
  'a blank reason counts as none, on the build and on the execution');

------------------------------------------------------------------------------------------
-- Finished builds
------------------------------------------------------------------------------------------
select id as e_done, build_id as done, epoch as ep_done from test.make_running_build(:'acme', 'web', 'w4') \gset
select kiln_api.finish_execution(:'e_done', :'ep_done', 'succeeded', 0);
select test.build_state(:'done') as done_state \gset
select throws_ok(format('select kiln_api.cancel_build(%L)', :'done'), 'QC409',
  format('build %s is succeeded and cannot become cancelled', :'done'),
  'a succeeded build cannot be cancelled');
select is(test.error_detail(format('select kiln_api.cancel_build(%L)', :'done')),
  '{"code":"illegal_transition","field":"status"}'::jsonb, 'the 409 is illegal_transition');
select is(test.build_state(:'done'), :'done_state'::jsonb, 'the refused cancel changed nothing');
select throws_ok(format('select kiln_api.cancel_build(%L)', :'pending'), 'QC409',
  format('build %s is cancelled and cannot become cancelled', :'pending'),
  'a cancelled build cannot be cancelled again');

select test.make_queued_build(:'acme', 'web') as to_fail \gset
select kiln_api.transition_build(:'to_fail', 'failed', 'test', 'bad config');
select throws_ok(format('select kiln_api.cancel_build(%L)', :'to_fail'), 'QC409',
  format('build %s is failed and cannot become cancelled', :'to_fail'), 'a failed build cannot be cancelled');
select id as e_to, build_id as timed, epoch as ep_to from test.make_running_build(:'acme', 'web', 'w5') \gset
select kiln_api.finish_execution(:'e_to', :'ep_to', 'timed_out');
select throws_ok(format('select kiln_api.cancel_build(%L)', :'timed'), 'QC409',
  format('build %s is timed_out and cannot become cancelled', :'timed'),
  'a timed-out build cannot be cancelled');
select throws_ok($$select kiln_api.cancel_build('00000000-0000-0000-0000-0000000000c1')$$, 'QC404',
  'build 00000000-0000-0000-0000-0000000000c1 not found', 'cancelling an unknown build is QC404');

select * from finish();
rollback;
