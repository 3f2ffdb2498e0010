-- Build status transitions: start_build (pending -> queued), the transition table that
-- kiln_api.transition_build enforces, get_build and list_build_events.
begin;
select plan(26);

select test.make_tenant('acme') as tenant \gset
select test.make_user(:'tenant', 'ada', 'developer') as dev \gset
select test.make_project(:'tenant', 'web') as web \gset
select test.act_as(:'dev');
select test.make_build(:'tenant', 'web') as b1 \gset
select test.make_build(:'tenant', 'web') as b2 \gset

------------------------------------------------------------------------------------------
-- start_build
------------------------------------------------------------------------------------------
select is((kiln_api.start_build(:'b1', '2030-01-01 10:00+00') ->> 'status'), 'queued',
  'start_build answers status queued');
select results_eq(
  format($$select status::text, queued_at, started_at, finished_at from kiln.builds where id = %L$$, :'b1'),
  $$values ('queued', '2030-01-01 10:00+00'::timestamptz, null::timestamptz, null::timestamptz)$$,
  'the build is queued with queued_at = p_now');
select results_eq(
  format($$select from_status::text, to_status::text, actor, message, created_at
             from kiln.build_events where build_id = %L order by id$$, :'b1'),
  format($$values (null::text, 'pending', 'user:%1$s', 'submitted', now()),
                  ('pending', 'queued', 'user:%1$s', 'started', '2030-01-01 10:00+00'::timestamptz)$$,
         :'dev'),
  'a pending -> queued event follows the submit event');
select isnt((select updated_at from kiln.builds where id = :'b1'), null::timestamptz,
  'updated_at is maintained');

select throws_ok(format('select kiln_api.start_build(%L)', :'b1'), 'QC409',
  format('build %s is queued and cannot become queued', :'b1'), 'starting twice is QC409');
select is(test.error_detail(format('select kiln_api.start_build(%L)', :'b1')),
  '{"code":"illegal_transition","field":"status"}'::jsonb, 'the 409 is illegal_transition');
select is((select count(*)::int from kiln.build_events where build_id = :'b1'), 2,
  'a refused start writes no event');

select is((kiln_api.cancel_build(:'b2') ->> 'status'), 'cancelled', 'a pending build is cancelled');
select throws_ok(format('select kiln_api.start_build(%L)', :'b2'), 'QC409',
  format('build %s is cancelled and cannot become queued', :'b2'),
  'a cancelled build cannot be started');
select is((select status::text from kiln.builds where id = :'b2'), 'cancelled',
  'the cancelled build stays cancelled');

select throws_ok($$select kiln_api.start_build('00000000-0000-0000-0000-000000000001')$$, 'QC404',
  'build 00000000-0000-0000-0000-000000000001 not found', 'starting an unknown build is QC404');
select is(test.error_detail($$select kiln_api.start_build('00000000-0000-0000-0000-000000000001')$$),
  '{"code":"not_found","field":"id"}'::jsonb, 'the 404 names the id');

------------------------------------------------------------------------------------------
-- The transition table
------------------------------------------------------------------------------------------
select set_eq(
  $$select from_status::text || '>' || to_status::text from kiln.build_transitions$$,
  array['pending>queued', 'pending>cancelled', 'queued>dispatching', 'queued>cancelled',
        'queued>failed', 'dispatching>running', 'dispatching>queued', 'dispatching>failed',
        'dispatching>cancelled', 'running>succeeded', 'running>failed', 'running>timed_out',
        'running>cancelled', 'running>queued'],
  'the lifecycle allows exactly these transitions');
select is((select count(*)::int from kiln.build_transitions
            where from_status in ('succeeded', 'failed', 'cancelled', 'timed_out')), 0,
  'no transition leaves a final status');

select test.make_build(:'tenant', 'web') as b3 \gset
select throws_ok(format($$select kiln_api.transition_build(%L, 'running', 'test', 'skip')$$, :'b3'),
  'QC409', format('build %s is pending and cannot become running', :'b3'),
  'transition_build refuses a pair missing from the table');
select lives_ok(format($$select kiln_api.transition_build(%L, 'queued', 'test', 'go')$$, :'b3'),
  'transition_build moves a pair from the table');
select lives_ok(format($$select kiln_api.transition_build(%L, 'failed', 'test', 'broken image',
                                                           p_now => '2030-01-02 00:00+00')$$, :'b3'),
  'queued -> failed is allowed');
select results_eq(
  format($$select status::text, finished_at, failure_reason from kiln.builds where id = %L$$, :'b3'),
  $$values ('failed', '2030-01-02 00:00+00'::timestamptz, 'broken image')$$,
  'a final status stamps finished_at and keeps the message as failure_reason');

------------------------------------------------------------------------------------------
-- get_build and list_build_events
------------------------------------------------------------------------------------------
select is((kiln_api.get_build(:'b1') ->> 'id'), :'b1', 'get_build finds a build by id');
select is((kiln_api.get_build(:'b1') - array['id', 'created_at', 'updated_at', 'queued_at', 'project_id', 'queue']),
  '{"project":"web","status":"queued","method":"script","params":{"script":"make test"},
    "spec":{},"requirements":{"gpu":false,"high_memory":false,"airgapped":false,"legacy_system":false},
    "infrastructure_type":"auto","infrastructure_reason":null,"force_infrastructure":false,
    "priority":0,"attempt":1,"max_attempts":3,"failure_reason":null,"started_at":null,
    "finished_at":null,"not_before":null,"executions":[]}'::jsonb,
  'get_build returns the whole build');
select throws_ok($$select kiln_api.get_build('00000000-0000-0000-0000-000000000002')$$, 'QC404',
  'build 00000000-0000-0000-0000-000000000002 not found', 'get_build of an unknown id is QC404');

select is((select jsonb_agg(e -> 'to_status') from jsonb_array_elements(
            kiln_api.list_build_events(:'b1') -> 'items') e),
  '["pending","queued"]'::jsonb, 'list_build_events returns the events in order');
select is((select jsonb_agg(e -> 'to_status') from jsonb_array_elements(
            kiln_api.list_build_events(:'b1',
              (select min(id) from kiln.build_events where build_id = :'b1')) -> 'items') e),
  '["queued"]'::jsonb, 'list_build_events returns only the events after p_after');
select is(kiln_api.list_build_events(:'b1', (select max(id) from kiln.build_events)),
  '{"items":[]}'::jsonb, 'nothing after the last event: an empty list');
select throws_ok($$select kiln_api.list_build_events('00000000-0000-0000-0000-000000000003')$$,
  'QC404', 'build 00000000-0000-0000-0000-000000000003 not found',
  'list_build_events of an unknown build is QC404');
select is((select count(distinct build_id)::int from kiln.build_events), 3,
  'every build has its events');

select * from finish();
rollback;
