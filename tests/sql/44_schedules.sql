-- Scheduled builds: creating one (every field validated, the template checked by a trial
-- submit with the creator's permissions), firing on time exactly once, missed ticks after
-- downtime per missed_policy (skip or catch_up_one), enable/disable, a template that stops
-- working, tenant isolation.
begin;
select plan(46);

select test.make_tenant('acme') as acme \gset
select test.make_tenant('bravo') as bravo \gset
select test.make_user(:'acme', 'ann', 'admin') as ann \gset
select test.make_user(:'acme', 'dev', 'developer') as dev \gset
select test.make_user(:'bravo', 'bob', 'admin') as bob \gset
select test.make_project(:'acme', 'web') as web \gset
select test.make_project(:'acme', 'docs') as docs \gset

create function test.schedule(p_body jsonb, p_now timestamptz default '2026-01-01 09:30Z') returns jsonb
  language sql as $$
  select kiln_api.create_schedule(
    jsonb_build_object('name', 'nightly', 'cron', '0 * * * *',
                       'template', '{"project":"web","method":"script","params":{"script":"make test"}}'::jsonb) || p_body,
    p_now)
$$;
create function test.builds() returns bigint language sql security definer as $$ select count(*) from kiln.builds $$;
create function test.enqueue(p_now timestamptz) returns setof record language sql security definer as $$
  select schedule_id, tick_at, kind, build_id, error from kiln_api.enqueue_due_schedules('test', p_now)
$$;

set local role kiln_web;
select test.act_as(:'dev');

------------------------------------------------------------------------------------------
-- Validation: 400s naming the field, nothing created
------------------------------------------------------------------------------------------
select is(test.error_detail($$select kiln_api.create_schedule('{"cron":"0 * * * *","template":{}}')$$),
  '{"code": "missing_field", "field": "name"}', 'name is required');
select is(test.error_detail($$select test.schedule('{"cron": null}') - 'cron'$$) ->> 'field', 'cron',
  'cron must be a string');
select is(test.error_detail($$select test.schedule('{"cron": "0 25 * * *"}')$$),
  '{"code": "invalid_value", "field": "cron"}', 'a bad cron expression names cron');
select is(test.error_detail($$select test.schedule('{"timezone": "Europe/Atlantis"}')$$),
  '{"code": "invalid_value", "field": "timezone"}', 'an unknown time zone names timezone');
select is(test.error_detail($$select test.schedule('{"missed_policy": "catch_up_all"}')$$),
  '{"code": "invalid_value", "field": "missed_policy"}', 'missed_policy is skip or catch_up_one');
select is(test.error_detail($$select test.schedule('{"enabled": "yes"}')$$),
  '{"code": "invalid_type", "field": "enabled"}', 'enabled is a boolean');
select is(test.error_detail($$select test.schedule('{"every": "hour"}')$$),
  '{"code": "unknown_field", "field": "every"}', 'unknown fields are refused');
select is(test.error_detail($$select test.schedule('{"name": "a b"}')$$),
  '{"code": "invalid_value", "field": "name"}', 'names are like project names');
select is(test.error_detail($$select test.schedule('{"template": "make"}')$$),
  '{"code": "invalid_type", "field": "template"}', 'the template is an object');
select is(test.error_detail(
    $$select test.schedule('{"template": {"project":"web","method":"script","params":{"script":"x"},"spec":{"cpu":0}}}')$$),
  '{"code": "invalid_value", "field": "template.spec.cpu"}', 'the template is checked like a build: spec.cpu');
select is(test.error_of($$select test.schedule('{"template": {"project":"nope","method":"script","params":{"script":"x"}}}')$$)
          -> 'detail', '{"code": "project_not_found", "field": "template.project"}',
  'an unknown project names template.project');
select is(test.error_of($$select test.schedule('{"template": {"project":"nope","method":"script","params":{"script":"x"}}}')$$)
          ->> 'sqlstate', 'QC422', 'with the 422 submit_build gives');
select is(test.error_of($$select test.schedule('{"template": {"project":"web","method":"script","params":{"script":"x"},
                                                 "infrastructure_type":"kubernetes","force_infrastructure":true}}')$$)
          ->> 'sqlstate', 'QC403',
  'a developer cannot schedule what needs infrastructure:manage (checked with the creator''s permissions)');
select is(test.builds(), 0::bigint, 'no trial submit left a build behind');

------------------------------------------------------------------------------------------
-- Created; fires on time, exactly once
------------------------------------------------------------------------------------------
select test.schedule('{}') ->> 'id' as s1 \gset
select results_eq(format($$select name, cron, timezone, enabled, missed_policy::text, next_run_at
                             from kiln.build_schedules where id = %L$$, :'s1'),
  $$values ('nightly', '0 * * * *', 'UTC', true, 'skip', '2026-01-01 10:00Z'::timestamptz)$$,
  'a schedule is stored with defaults (UTC, enabled, skip) and its first tick');
select is(test.error_of($$select test.schedule('{}')$$) ->> 'sqlstate', 'QC409', 'names are unique per tenant');
select is(jsonb_array_length(kiln_api.list_schedules() -> 'items'), 1, 'the tenant lists it');
reset role;

select is_empty($$select * from test.enqueue('2026-01-01 09:59:59Z') as t (a uuid, b timestamptz, c text, d uuid, e text)$$,
  'before its tick nothing fires');
create temp table fired as
  select * from test.enqueue('2026-01-01 10:00:05Z') as t (schedule_id uuid, tick_at timestamptz, kind text, build_id uuid, error text);
select results_eq($$select schedule_id, tick_at, kind, error from fired$$,
  format($$values (%L::uuid, '2026-01-01 10:00Z'::timestamptz, 'on_time', null::text)$$, :'s1'),
  'at its tick one on-time run');
select results_eq(format($$select b.status::text, b.tenant_id, b.created_by, b.queued_at, c.params ->> 'script'
                             from kiln.builds b join kiln.build_configs c on c.build_id = b.id
                            where b.id = (select build_id from fired)$$),
  format($$values ('queued', %L::uuid, %L::uuid, '2026-01-01 10:00:05Z'::timestamptz, 'make test')$$, :'acme', :'dev'),
  'its build is queued, in the schedule''s tenant, created by the schedule''s creator, from the template');
select is((select actor from kiln.build_events where build_id = (select build_id from fired) and to_status = 'queued'),
  'user:' || :'dev', 'its events name the creator as actor');
select results_eq(format($$select next_run_at, last_tick_at, last_build_id from kiln.build_schedules where id = %L$$, :'s1'),
  $$select '2026-01-01 11:00Z'::timestamptz, '2026-01-01 10:00Z'::timestamptz, build_id from fired$$,
  'the schedule moves to its next tick');
select is_empty($$select * from test.enqueue('2026-01-01 10:00:06Z') as t (a uuid, b timestamptz, c text, d uuid, e text)$$,
  'a second pass at the same time fires nothing');
update kiln.build_schedules set next_run_at = '2026-01-01 10:00Z' where id = :'s1';
select is_empty($$select * from test.enqueue('2026-01-01 10:00:07Z') as t (a uuid, b timestamptz, c text, d uuid, e text)$$,
  'even with next_run_at put back, the (schedule, tick) key refuses a second run of that tick');
select is(test.builds(), 1::bigint, 'one tick, one build');

------------------------------------------------------------------------------------------
-- Downtime: missed ticks per policy
------------------------------------------------------------------------------------------
delete from kiln.build_schedules;
set local role kiln_web;
select test.act_as(:'dev');
select test.schedule('{"name": "skipper"}') ->> 'id' as skip_id \gset
select test.schedule('{"name": "catcher", "missed_policy": "catch_up_one"}') ->> 'id' as catch_id \gset
reset role;
-- Dispatchers are down from 09:30 until 15:20; ticks 10:00 … 15:00 are due; 15:00 is more
-- than schedule_missed_after_seconds (300) old.
create temp table late as
  select * from test.enqueue('2026-01-01 15:20Z') as t (schedule_id uuid, tick_at timestamptz, kind text, build_id uuid, error text);
select results_eq(format($$select kind, tick_at, build_id is not null, (select missed_ticks from kiln.build_schedule_runs r
                                where r.schedule_id = late.schedule_id and r.tick_at = late.tick_at)
                             from late where schedule_id = %L$$, :'skip_id'),
  $$values ('skipped', '2026-01-01 10:00Z'::timestamptz, false, 6)$$,
  'policy skip: the six missed ticks are recorded as skipped and build nothing');
select results_eq(format($$select kind, tick_at, build_id is not null from late where schedule_id = %L$$, :'catch_id'),
  $$values ('catch_up', '2026-01-01 10:00Z'::timestamptz, true)$$,
  'policy catch_up_one: one build stands for the six missed ticks');
select is((select count(*)::int from kiln.builds b join late on late.build_id = b.id), 1, 'one build in all');
select results_eq($$select name, next_run_at, missed_ticks_count from kiln.build_schedules order by name$$,
  $$values ('catcher', '2026-01-01 16:00Z'::timestamptz, 6::bigint), ('skipper', '2026-01-01 16:00Z'::timestamptz, 6::bigint)$$,
  'both go on from the next tick after now and count what they missed');
create temp table on_time as
  select * from test.enqueue('2026-01-01 16:02Z') as t (schedule_id uuid, tick_at timestamptz, kind text, build_id uuid, error text);
select is((select count(*)::int from on_time where kind = 'on_time' and build_id is not null), 2,
  'back to normal: both fire on time');

-- Down again from 16:02 to 19:03: the latest due tick (19:00) is within the grace period.
create temp table back as
  select * from test.enqueue('2026-01-01 19:03Z') as t (schedule_id uuid, tick_at timestamptz, kind text, build_id uuid, error text);
select results_eq($$select kind, tick_at, build_id is not null from back order by kind$$,
  $$values ('on_time', '2026-01-01 19:00Z'::timestamptz, true), ('on_time', '2026-01-01 19:00Z'::timestamptz, true)$$,
  'when the latest due tick is still on time, it fires for both policies (and no extra catch-up)');
select is((select sum(missed_ticks)::int from kiln.build_schedule_runs where tick_at = '2026-01-01 19:00Z'), 4,
  'its run records the two earlier ticks each schedule missed');

------------------------------------------------------------------------------------------
-- Disabled schedules; enabling starts from now
------------------------------------------------------------------------------------------
set local role kiln_web;
select test.act_as(:'dev');
select is(kiln_api.set_schedule_enabled(:'skip_id', false, '2026-01-01 19:10Z') ->> 'next_run_at', null,
  'a disabled schedule has no next tick');
reset role;
select is((select count(*)::int from test.enqueue('2026-01-02 03:00Z') as t (a uuid, b timestamptz, c text, d uuid, e text)
            where a = :'skip_id'), 0, 'and never fires');
set local role kiln_web;
select test.act_as(:'dev');
select is((kiln_api.set_schedule_enabled(:'skip_id', true, '2026-01-02 03:30Z') ->> 'next_run_at')::timestamptz,
  '2026-01-02 04:00Z'::timestamptz, 'enabled again, it starts from the next tick after now: no catch-up of the disabled time');
select is((select count(*)::int from kiln.audit_log where action in ('schedule.enable', 'schedule.disable')), 2,
  'enable and disable are audited');

------------------------------------------------------------------------------------------
-- A template that stops working
------------------------------------------------------------------------------------------
select kiln_api.create_schedule('{"name":"docs","cron":"*/5 * * * *",
  "template":{"project":"docs","method":"script","params":{"script":"make docs"}}}', '2026-01-02 03:31Z') ->> 'id' as docs_id \gset
reset role;
delete from kiln.projects where id = :'docs';
create temp table broken as
  select * from test.enqueue('2026-01-02 03:35:01Z') as t (schedule_id uuid, tick_at timestamptz, kind text, build_id uuid, error text);
select results_eq(format($$select build_id, error from broken where schedule_id = %L$$, :'docs_id'),
  $$values (null::uuid, 'project docs does not exist; create it with POST /api/v1/projects')$$,
  'a template whose project was deleted records the error on the run');
select is((select last_error from kiln.build_schedules where id = :'docs_id'),
  'project docs does not exist; create it with POST /api/v1/projects', 'and on the schedule');
select is((select next_run_at from kiln.build_schedules where id = :'docs_id'), '2026-01-02 03:40Z'::timestamptz,
  'the tick is not retried; the schedule goes on');

------------------------------------------------------------------------------------------
-- Tenants
------------------------------------------------------------------------------------------
set local role kiln_web;
select test.act_as(:'bob');
select is(kiln_api.list_schedules() -> 'items', '[]'::jsonb, 'another tenant lists none of acme''s schedules');
select is(test.error_of(format('select kiln_api.get_schedule(%L)', :'catch_id')) ->> 'sqlstate', 'QC404',
  'nor gets one');
select is(test.error_of(format('select kiln_api.delete_schedule(%L)', :'catch_id')) ->> 'sqlstate', 'QC404',
  'nor deletes one');
select test.act_as(:'dev');
select is(jsonb_array_length(kiln_api.get_schedule(:'catch_id') -> 'runs'), 4,
  'a schedule shows its recent runs');
select is(kiln_api.delete_schedule(:'catch_id') ->> 'deleted', 'true', 'its tenant deletes it');
select is(test.error_of($$select * from kiln_api.enqueue_due_schedules('x')$$) ->> 'sqlstate', '42501',
  'the API role cannot run the dispatcher''s enqueue');
reset role;
select is((select count(*)::int from kiln.build_schedule_runs where schedule_id = :'catch_id'), 0,
  'deleting a schedule deletes its runs');

select * from finish();
rollback;
