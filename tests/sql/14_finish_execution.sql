-- kiln_api.finish_execution: the outcome of an execution moves its build to the matching
-- final status; an OOM kill is retried once, one size up (max_oom_retries = 1, adr-039),
-- unless the spec turns oom_retry off; a bad outcome is QC400 and changes nothing.
begin;
select plan(30);

select test.make_tenant('acme') as acme \gset
select test.make_project(:'acme', 'web') as web \gset

------------------------------------------------------------------------------------------
-- succeeded, failed, timed_out
------------------------------------------------------------------------------------------
select id as e1, build_id as b1, epoch as ep1 from test.make_running_build(:'acme', 'web', 'w1') \gset
select is(kiln_api.finish_execution(:'e1', :'ep1', 'succeeded', 0, p_now => '2030-01-01 00:10+00')::text,
  'succeeded', 'succeeded answers the build''s new status');
select results_eq(
  format($$select status::text, finished_at, failure_reason from kiln.builds where id = %L$$, :'b1'),
  $$values ('succeeded', '2030-01-01 00:10+00'::timestamptz, null::text)$$,
  'the build succeeded and finished_at is set');
select results_eq(
  format($$select status::text, exit_code, failure_reason, finished_at
             from kiln.build_executions where id = %L$$, :'e1'),
  $$values ('succeeded', 0, null::text, '2030-01-01 00:10+00'::timestamptz)$$,
  'the execution records the outcome and exit code');
select results_eq(
  format($$select from_status::text, to_status::text, actor, message, execution_id, detail
             from kiln.build_events where build_id = %L order by id desc limit 1$$, :'b1'),
  format($$values ('running', 'succeeded', 'worker:w1', 'succeeded', %L::uuid, '{"exit_code":0}'::jsonb)$$, :'e1'),
  'a running -> succeeded event is written');
select throws_ok(format($$select kiln_api.finish_execution(%L, %s, 'failed', 1)$$, :'e1', :'ep1'), 'QC409',
  format('lease of execution %s is no longer held (epoch 1, execution succeeded, current epoch 1)', :'e1'),
  'a finished execution cannot be finished again');

select id as e2, build_id as b2, epoch as ep2 from test.make_running_build(:'acme', 'web', 'w1') \gset
select is(kiln_api.finish_execution(:'e2', :'ep2', 'failed', 2)::text, 'failed', 'failed answers failed');
select results_eq(
  format($$select b.status::text, b.failure_reason, b.finished_at is not null, e.status::text, e.exit_code
             from kiln.builds b join kiln.build_executions e on e.build_id = b.id where b.id = %L$$, :'b2'),
  $$values ('failed', 'failed with exit code 2', true, 'failed', 2)$$,
  'a failed build says which exit code it failed with');

select id as e3, build_id as b3, epoch as ep3 from test.make_running_build(:'acme', 'web', 'w1') \gset
select is(kiln_api.finish_execution(:'e3', :'ep3', 'failed', 1, 'tests failed')::text, 'failed',
  'failed with a reason');
select results_eq(
  format($$select b.failure_reason, e.failure_reason
             from kiln.builds b join kiln.build_executions e on e.build_id = b.id where b.id = %L$$, :'b3'),
  $$values ('tests failed', 'tests failed')$$, 'the reason is kept on the build and the execution');

select id as e4, build_id as b4, epoch as ep4 from test.make_running_build(:'acme', 'web', 'w1') \gset
select is(kiln_api.finish_execution(:'e4', :'ep4', 'timed_out', 143)::text, 'timed_out',
  'timed_out answers timed_out');
select results_eq(
  format($$select b.status::text, b.failure_reason, b.finished_at is not null, e.status::text
             from kiln.builds b join kiln.build_executions e on e.build_id = b.id where b.id = %L$$, :'b4'),
  $$values ('timed_out', 'time budget exceeded', true, 'timed_out')$$,
  'a timed-out build says its time budget was exceeded');

------------------------------------------------------------------------------------------
-- Outcome checks
------------------------------------------------------------------------------------------
select id as e5, build_id as b5, epoch as ep5 from test.make_running_build(:'acme', 'web', 'w1') \gset
select test.build_state(:'b5') as state5 \gset
select throws_ok(format($$select kiln_api.finish_execution(%L, %s, 'lost', 1)$$, :'e5', :'ep5'), 'QC400',
  'outcome must be one of succeeded, failed, timed_out, oom_killed', 'outcome lost is refused');
select throws_ok(format($$select kiln_api.finish_execution(%L, %s, 'cancelled', 1)$$, :'e5', :'ep5'), 'QC400',
  'outcome must be one of succeeded, failed, timed_out, oom_killed', 'outcome cancelled is refused');
select throws_ok(format($$select kiln_api.finish_execution(%L, %s, null, 1)$$, :'e5', :'ep5'), 'QC400',
  'outcome must be one of succeeded, failed, timed_out, oom_killed', 'a null outcome is refused');
select is(test.error_detail(format($$select kiln_api.finish_execution(%L, %s, 'ok', 0)$$, :'e5', :'ep5')),
  '{"code":"invalid_value","field":"outcome"}'::jsonb, 'the 400 names the outcome');
select throws_ok($$select kiln_api.finish_execution('00000000-0000-0000-0000-0000000000f1', 1, 'succeeded')$$,
  'QC404', 'execution 00000000-0000-0000-0000-0000000000f1 not found', 'an unknown execution is QC404');
select is(test.build_state(:'b5'), :'state5'::jsonb, 'refused finishes changed nothing');

select id as e6, build_id as b6, epoch as ep6 from test.make_claimed_build(:'acme', 'web', 'w1') \gset
select throws_ok(format($$select kiln_api.finish_execution(%L, %s, 'succeeded', 0)$$, :'e6', :'ep6'), 'QC409',
  format('build %s is dispatching and cannot become succeeded', :'b6'),
  'an execution that never started cannot succeed');
select is(kiln_api.finish_execution(:'e6', :'ep6', 'failed', null, 'image pull failed')::text, 'failed',
  'but it can fail before it starts');

------------------------------------------------------------------------------------------
-- OOM: one retry, one size up
------------------------------------------------------------------------------------------
select id as e7, build_id as b7, epoch as ep7 from test.make_running_build(:'acme', 'web', 'w1') \gset
select is(kiln_api.finish_execution(:'e7', :'ep7', 'oom_killed', 137, p_now => '2030-01-01 01:00+00')::text,
  'queued', 'the first OOM kill requeues the build');
select results_eq(
  format($$select status::text, attempt, oom_retries, max_attempts, queued_at, finished_at
             from kiln.builds where id = %L$$, :'b7'),
  $$values ('queued', 2, 1, 3, '2030-01-01 01:00+00'::timestamptz, null::timestamptz)$$,
  'as attempt 2 with oom_retries 1');
select results_eq(
  format($$select status::text, exit_code from kiln.build_executions where id = %L$$, :'e7'),
  $$values ('oom_killed', 137)$$, 'the execution is oom_killed');
select results_eq(
  format($$select from_status::text, to_status::text, message, detail
             from kiln.build_events where build_id = %L order by id desc limit 1$$, :'b7'),
  $$values ('running', 'queued', 'out of memory: retrying once, one size up',
            '{"oom_retry":1,"exit_code":137}'::jsonb)$$,
  'the event says it retries one size up');
select results_eq(
  format($$select oom_retries, attempt from kiln_api.claim_builds('w2', 1, 60) where build_id = %L$$, :'b7'),
  $$values (1, 2)$$, 'the re-claim tells the worker this is the OOM retry');
select id as e7b, epoch as ep7b from kiln.build_executions where build_id = :'b7' and status = 'dispatching' \gset
select kiln_api.start_execution(:'e7b', :'ep7b', 'kubernetes', 'one size up');
select is(kiln_api.finish_execution(:'e7b', :'ep7b', 'oom_killed', 137)::text, 'failed',
  'the second OOM kill fails the build');
select results_eq(
  format($$select status::text, attempt, oom_retries, failure_reason from kiln.builds where id = %L$$, :'b7'),
  $$values ('failed', 2, 1, 'out of memory (after one retry one size up)')$$,
  'never more than one OOM retry');

select id as e8, build_id as b8, epoch as ep8
  from test.make_running_build(:'acme', 'web', 'w1', p_body => '{"spec":{"oom_retry":false}}') \gset
select is(kiln_api.finish_execution(:'e8', :'ep8', 'oom_killed', 137)::text, 'failed',
  'with oom_retry false the first OOM kill fails the build');
select results_eq(
  format($$select status::text, attempt, oom_retries, failure_reason from kiln.builds where id = %L$$, :'b8'),
  $$values ('failed', 1, 0, 'out of memory (oom_retry is off)')$$,
  'and says the retry was off');

select test.make_queued_build(:'acme', 'web', 100, '2000-01-01') as b9 \gset
update kiln.builds set max_attempts = 1 where id = :'b9';
select id as e9, epoch as ep9 from test.claim(:'b9') \gset
select kiln_api.start_execution(:'e9', :'ep9', 'kubernetes', 'x');
select is(kiln_api.finish_execution(:'e9', :'ep9', 'oom_killed', 137)::text, 'queued',
  'the OOM retry happens even on a build allowed a single attempt');
select is((select max_attempts from kiln.builds where id = :'b9'), 2,
  'max_attempts grows to make room for it');

select * from finish();
rollback;
