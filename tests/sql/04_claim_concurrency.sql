-- Two real sessions claim from one queue (dblink opens the second). SKIP LOCKED means a
-- claimer never waits for another and never gets a build the other holds; a rolled-back
-- claim puts its builds back in the queue. The fixtures are committed (each statement
-- outside a transaction block autocommits) so the second session can see them; the
-- database is a throwaway clone.
create extension if not exists dblink;
select plan(14);

select test.make_tenant('acme') as acme \gset
select test.make_project(:'acme', 'web') as web \gset
-- 20 queued builds; rank n is queued at n minutes, so the queue order is known.
create table test.queued_20 as
  select n, test.make_queued_build(:'acme', 'web', 0, '2030-01-01 00:00+00'::timestamptz
                                   + n * interval '1 minute') as build_id
    from generate_series(1, 20) n;

select test.self_connstr() as connstr \gset
select is(dblink_connect('s2', :'connstr'), 'OK', 'a second session is open');
select dblink_exec('s2', 'set statement_timeout = ''10s''');
select isnt((select pid from dblink('s2', 'select pg_backend_pid()') as t (pid int)), pg_backend_pid(),
  'the second session is another backend');

------------------------------------------------------------------------------------------
-- Session 2 claims and holds its transaction open; session 1 claims meanwhile
------------------------------------------------------------------------------------------
select dblink_exec('s2', 'begin');
create temp table s2_claim as
  select build_id from dblink('s2', $$select build_id from kiln_api.claim_builds('s2', 5, 60)$$)
    as t (build_id uuid);
select set_eq($$select build_id from s2_claim$$, $$select build_id from test.queued_20 where n <= 5$$,
  'session 2 claims the first five builds');

create temp table s1_claim (build_id uuid);
set lock_timeout = '2s';  -- a wait on session 2's row locks fails the next test
select lives_ok($$insert into s1_claim select build_id from kiln_api.claim_builds('s1', 5, 60)$$,
  'session 1 claims at once while session 2 holds its claim open (no wait, no timeout)');
reset lock_timeout;
select set_eq($$select build_id from s1_claim$$,
  $$select build_id from test.queued_20 where n between 6 and 10$$,
  'session 1 skips the locked builds and takes the next five');
select is_empty($$select build_id from s1_claim intersect select build_id from s2_claim$$,
  'the two claims are disjoint');
select results_eq(
  $$select count(*)::int from kiln.builds b join s2_claim on s2_claim.build_id = b.id
     where b.status = 'queued'$$,
  $$values (5)$$, 'session 2''s uncommitted claim is invisible to session 1: still queued');

------------------------------------------------------------------------------------------
-- Session 2 rolls back: its builds come back
------------------------------------------------------------------------------------------
select dblink_exec('s2', 'rollback');
select results_eq(
  $$select b.status::text, b.lease_epoch, count(e.id)::int
      from kiln.builds b join s2_claim c on c.build_id = b.id
      left join kiln.build_executions e on e.build_id = b.id
     group by b.id, b.status, b.lease_epoch$$,
  $$values ('queued', 0::bigint, 0), ('queued', 0::bigint, 0), ('queued', 0::bigint, 0),
           ('queued', 0::bigint, 0), ('queued', 0::bigint, 0)$$,
  'after the rollback those builds are queued again, with no execution and epoch 0');
create temp table s1_second as select build_id from kiln_api.claim_builds('s1', 5, 60);
select set_eq($$select build_id from s1_second$$, $$select build_id from s2_claim$$,
  'a rolled-back claim reappears: the next claim takes exactly those builds');

------------------------------------------------------------------------------------------
-- A race: both sessions claim at the same moment, round after round
------------------------------------------------------------------------------------------
insert into test.queued_20 (n, build_id)
  select 100 + i, test.make_queued_build(:'acme', 'web', i % 3) from generate_series(1, 200) i;
create table test.race_claims (session text, round int, build_id uuid);

create procedure test.race(p_rounds integer) language plpgsql as $$
begin
  for i in 1 .. p_rounds loop
    -- session 2's claim runs while session 1 runs its own
    perform dblink_send_query('s2', $q$select build_id from kiln_api.claim_builds('s2', 4, 60)$q$);
    insert into test.race_claims
      select 's1', i, c.build_id from kiln_api.claim_builds('s1', 4, 60) c;
    insert into test.race_claims
      select 's2', i, t.build_id from dblink_get_result('s2') as t (build_id uuid);
    perform * from dblink_get_result('s2') as t (build_id uuid);  -- end of the async query
    commit;
  end loop;
end $$;
call test.race(40);

select is((select count(*)::int from test.race_claims), 210,
  'the racing sessions claimed every queued build (200 new + 10 left)');
select is_empty($$select build_id from test.race_claims group by build_id having count(*) > 1$$,
  'no build was claimed twice');
select ok((select count(distinct session) from test.race_claims) = 2
          and (select min(n) from (select count(*) n from test.race_claims group by session) s) > 0,
  'both sessions won builds in the race');
select is_empty($$select build_id from kiln.build_executions where status in ('dispatching', 'running')
                   group by build_id having count(*) > 1$$,
  'no build has two active executions');
select is((select count(*)::int from kiln.builds where status = 'dispatching'),
          (select count(*)::int from kiln.build_executions where status = 'dispatching'),
  'every dispatching build has exactly one dispatching execution');

select dblink_disconnect('s2');
select * from finish();
