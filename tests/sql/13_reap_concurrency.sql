-- The reaper against other sessions (dblink opens the second). Every function that
-- touches an execution locks its build first, then the execution (lease.sql); the reaper
-- must do the same, and skip builds another transaction holds, or a worker renewing at
-- the moment its lease runs out deadlocks with it. Two reapers never reap the same
-- execution. Fixtures are committed; the database is a throwaway clone.
create extension if not exists dblink;
select plan(9);

select test.make_tenant('acme') as acme \gset
select test.make_project(:'acme', 'web') as web \gset
select id as exec1, build_id as build1, epoch as epoch1
  from test.make_claimed_build(:'acme', 'web', 'w1', 60) \gset

select test.self_connstr() as connstr \gset
select is(dblink_connect('s2', :'connstr'), 'OK', 'a second session is open');
select dblink_exec('s2', 'set statement_timeout = ''10s''');

------------------------------------------------------------------------------------------
-- A worker renewing just as its lease runs out, against the reaper
------------------------------------------------------------------------------------------
-- Session 2 is the worker inside renew_lease: it holds the build row (lock_execution's
-- first lock) and is about to lock the execution.
select dblink_exec('s2', 'begin');
select * from dblink('s2', format('select id from kiln.builds where id = %L for update', :'build1'))
  as t (id uuid);

create temp table reaped (build_id uuid, execution_id uuid, new_status kiln.build_status);
set lock_timeout = '2s';
select lives_ok(
  $$insert into reaped select * from kiln_api.reap_expired_leases(now() + interval '1 hour')$$,
  'the reaper does not wait for a build another transaction holds');
reset lock_timeout;
select is_empty('select * from reaped', 'it leaves that build for a later pass');

select now() + interval '59 minutes' as renew_at \gset
select is((select t.expires from dblink('s2', format(
             'select kiln_api.renew_lease(%L, %s, 60, %L) is not null',
             :'exec1', :'epoch1', :'renew_at')) as t (expires boolean)), true,
  'the worker''s renewal then takes the execution lock without a deadlock');
select dblink_exec('s2', 'commit');
select is((select lease_expires_at from kiln.build_executions where id = :'exec1'),
  :'renew_at'::timestamptz + interval '1 minute', 'the renewal was kept');

------------------------------------------------------------------------------------------
-- Two reapers at once
------------------------------------------------------------------------------------------
select dblink_exec('s2', 'begin');
select is((select count(*)::int from dblink('s2',
             format('select * from kiln_api.reap_expired_leases(%L)',
                    :'renew_at'::timestamptz + interval '2 hours'))
             as t (build_id uuid, execution_id uuid, new_status text)), 1,
  'session 2 reaps the expired execution and holds its transaction open');
set lock_timeout = '2s';
select lives_ok(
  format('insert into reaped select * from kiln_api.reap_expired_leases(%L)',
         :'renew_at'::timestamptz + interval '2 hours'),
  'a second reaper does not wait for the first');
reset lock_timeout;
select is_empty('select * from reaped', 'and reaps nothing the first one holds');
select dblink_exec('s2', 'commit');
select results_eq(
  format($$select b.status::text, b.attempt, e.status::text
             from kiln.builds b join kiln.build_executions e on e.build_id = b.id
            where b.id = %L$$, :'build1'),
  $$values ('queued', 2, 'lost')$$,
  'the execution was reaped exactly once: lost, and the build queued as attempt 2');

select dblink_disconnect('s2');
select * from finish();
