-- Two real sessions enqueue due schedules at once (dblink opens the second): every tick of
-- every schedule fires exactly once. A pass holding due schedules makes the other skip
-- them without waiting; a rolled-back pass leaves its ticks to the next one; racing passes
-- round after round never fire a tick twice. Fixtures are committed (statements outside a
-- transaction block autocommit) so the second session sees them; the database is a clone.
create extension if not exists dblink;
select plan(13);

select test.make_tenant('acme') as acme \gset
select test.make_user(:'acme', 'ann', 'admin') as ann \gset
select test.make_project(:'acme', 'web') as web \gset
create function test.make_schedule(p_tenant uuid, p_user uuid, p_name text, p_now timestamptz)
  returns uuid language plpgsql security definer as $$
begin
  perform set_config('kiln.tenant_id', p_tenant::text, true);
  perform set_config('kiln.user_id', p_user::text, true);
  return (kiln_api.create_schedule(jsonb_build_object('name', p_name, 'cron', '* * * * *',
    'template', '{"project":"web","method":"script","params":{"script":"make"}}'::jsonb), p_now) ->> 'id')::uuid;
end $$;
-- 20 schedules firing every minute from 2030-01-01 00:01.
create table test.schedules as
  select test.make_schedule(:'acme', :'ann', 'every-minute-' || n, '2030-01-01 00:00:30Z') as id
    from generate_series(1, 20) n;

select test.self_connstr() as connstr \gset
select is(dblink_connect('s2', :'connstr'), 'OK', 'a second session is open');
select dblink_exec('s2', 'set statement_timeout = ''20s''');

------------------------------------------------------------------------------------------
-- Session 2 enqueues and holds its transaction open; session 1 runs meanwhile
------------------------------------------------------------------------------------------
select dblink_exec('s2', 'begin');
select is((select n from dblink('s2', $$select count(*)::int from kiln_api.enqueue_due_schedules('s2', '2030-01-01 00:01:01Z')$$)
             as t (n int)), 20, 'session 2 fires the 20 due ticks (uncommitted)');
set lock_timeout = '2s';  -- a wait on session 2's row locks fails the next test
create temp table s1_first (schedule_id uuid);
select lives_ok($$insert into s1_first select schedule_id from kiln_api.enqueue_due_schedules('s1', '2030-01-01 00:01:01Z')$$,
  'session 1 passes at once while session 2 holds them (no wait, no timeout)');
reset lock_timeout;
select is((select count(*)::int from s1_first), 0, 'and fires none of them: they are locked by session 2');

------------------------------------------------------------------------------------------
-- A rolled-back pass fires nothing; the next pass fires its ticks
------------------------------------------------------------------------------------------
select dblink_exec('s2', 'rollback');
select is((select count(*)::int from kiln.build_schedule_runs), 0, 'session 2 rolled back: no run, no build');
create temp table s1_second as select * from kiln_api.enqueue_due_schedules('s1', '2030-01-01 00:01:02Z');
select is((select count(*)::int from s1_second where kind = 'on_time' and build_id is not null), 20,
  'session 1''s next pass fires all 20 ticks itself');
select is((select count(*)::int from test.schedules s
            where (select next_run_at from kiln.build_schedules where id = s.id) = '2030-01-01 00:02Z'), 20,
  'every schedule moved to 00:02');

------------------------------------------------------------------------------------------
-- A race: both sessions pass at the same moment, round after round
------------------------------------------------------------------------------------------
create table test.race_runs (session text, round int, schedule_id uuid, tick_at timestamptz, build_id uuid);
create procedure test.race(p_rounds integer) language plpgsql as $$
declare
  v_now timestamptz;
begin
  for i in 1 .. p_rounds loop
    v_now := '2030-01-01 00:02:01Z'::timestamptz + (i - 1) * interval '1 minute';
    -- session 2's pass runs while session 1 runs its own
    perform dblink_send_query('s2', format(
      'select schedule_id, tick_at, build_id from kiln_api.enqueue_due_schedules(''s2'', %L)', v_now));
    insert into test.race_runs
      select 's1', i, e.schedule_id, e.tick_at, e.build_id from kiln_api.enqueue_due_schedules('s1', v_now) e;
    insert into test.race_runs
      select 's2', i, t.schedule_id, t.tick_at, t.build_id
        from dblink_get_result('s2') as t (schedule_id uuid, tick_at timestamptz, build_id uuid);
    perform * from dblink_get_result('s2') as t (schedule_id uuid, tick_at timestamptz, build_id uuid);
    commit;
  end loop;
end $$;
call test.race(15);

select is((select count(*)::int from test.race_runs), 300, 'the racing passes fired 20 schedules × 15 ticks');
select is_empty($$select schedule_id, tick_at from kiln.build_schedule_runs group by 1, 2 having count(*) > 1$$,
  'no tick of any schedule has two runs');
select is_empty($$select schedule_id, tick_at from test.race_runs group by 1, 2 having count(*) > 1$$,
  'no tick was reported fired by both sessions');
select is((select count(*)::int from kiln.builds), (select count(*)::int from kiln.build_schedule_runs),
  'one build per run: 320 in all');
select ok((select count(distinct session) from test.race_runs) = 2,
  'both sessions fired ticks in the race');
select is_empty($$select s.id from test.schedules s join kiln.build_schedules b on b.id = s.id
                   where b.next_run_at <> '2030-01-01 00:17Z'$$,
  'every schedule ends at its next tick, 00:17');

select dblink_disconnect('s2');
select * from finish();
