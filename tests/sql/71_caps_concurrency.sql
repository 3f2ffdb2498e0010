-- Hard caps under races: four real sessions (dblink) claim at the same moment, round after
-- round, from three tenants: one capped at 3 running builds, one whose project is capped
-- at 2 running builds and whose tenant is capped at 3 cpu in flight, one without caps.
-- After every round (nothing completes during a round, so that is the peak) no cap is
-- exceeded; between rounds everything completes. The fixtures are committed (each
-- statement outside a transaction block autocommits) so the other sessions see them; the
-- database is a throwaway clone.
create extension if not exists dblink;
select plan(10);

select test.make_tenant('capped') as capped \gset
select test.make_tenant('projcap') as projcap \gset
select test.make_tenant('free') as free \gset
select test.make_project(:'capped', 'web') \gset
select test.make_project(:'projcap', 'web') as projcap_web \gset
select test.make_project(:'projcap', 'docs') \gset
select test.make_project(:'free', 'web') \gset
insert into kiln.tenant_scheduling (tenant_id, max_running) values (:'capped', 3);
insert into kiln.tenant_scheduling (tenant_id, max_cpu) values (:'projcap', 3);
insert into kiln.project_scheduling (project_id, tenant_id, max_running) values (:'projcap_web', :'projcap', 2);
select test.make_queued_build(:'capped', 'web') from generate_series(1, 650);
select test.make_queued_build(:'projcap', case when i % 2 = 0 then 'web' else 'docs' end, 0, null,
                              '{"spec":{"cpu":1,"memory_gb":1}}') from generate_series(1, 650) i;
select test.make_queued_build(:'free', 'web') from generate_series(1, 1500);

select test.self_connstr() as connstr \gset
select dblink_connect('c' || i, :'connstr') from generate_series(1, 4) i;

create table test.cap_rounds (round int, capped int, projcap_web int, projcap_cpu numeric, free int, claimed int);
create procedure test.race(p_rounds integer) language plpgsql as $$
declare
  v_claimed integer;
begin
  for r in 1 .. p_rounds loop
    for i in 1 .. 4 loop
      perform dblink_send_query('c' || i,
        'select count(*) from kiln_api.claim_builds(''c' || i || ''', 3, 600)');
    end loop;
    v_claimed := 0;
    for i in 1 .. 4 loop
      v_claimed := v_claimed + (select n from dblink_get_result('c' || i) as t (n bigint));
      perform * from dblink_get_result('c' || i) as t (n bigint);  -- the end of the result set
    end loop;
    insert into test.cap_rounds
      select r,
        (select count(*) from kiln.build_executions e join kiln.tenants t on t.id = e.tenant_id
          where t.name = 'capped' and e.status = 'dispatching'),
        (select count(*) from kiln.build_executions e join kiln.builds b on b.id = e.build_id
           join kiln.projects p on p.id = b.project_id join kiln.tenants t on t.id = p.tenant_id
          where t.name = 'projcap' and p.name = 'web' and e.status = 'dispatching'),
        (select coalesce(sum((e.reserved ->> 'cpu')::numeric), 0) from kiln.build_executions e
           join kiln.tenants t on t.id = e.tenant_id where t.name = 'projcap' and e.status = 'dispatching'),
        (select count(*) from kiln.build_executions e join kiln.tenants t on t.id = e.tenant_id
          where t.name = 'free' and e.status = 'dispatching'),
        v_claimed;
    -- everything completes between rounds
    update kiln.build_executions set status = 'succeeded', finished_at = now() where status = 'dispatching';
    update kiln.builds set status = 'succeeded', finished_at = now() where status = 'dispatching';
    commit;
  end loop;
end $$;
call test.race(200);

select cmp_ok((select sum(claimed)::int from test.cap_rounds), '>=', 2000,
  'thousands of builds were claimed by the four racing sessions');
select is((select count(*)::int from test.cap_rounds where capped > 3), 0,
  'the tenant capped at 3 running never had more than 3 in flight');
select is((select max(capped)::int from test.cap_rounds), 3, 'and it did reach its cap (the cap was contended)');
select is((select count(*)::int from test.cap_rounds where projcap_web > 2), 0,
  'the project capped at 2 running never had more than 2 in flight');
select is((select max(projcap_web)::int from test.cap_rounds), 2, 'and it reached its cap');
select is((select count(*)::int from test.cap_rounds where projcap_cpu > 3), 0,
  'the tenant capped at 3 cpu never had more than 3 cpu reserved in flight');
select is((select max(projcap_cpu)::numeric from test.cap_rounds), 3::numeric, 'and it used its 3 cpu');
select cmp_ok((select max(free)::int from test.cap_rounds), '>', 3,
  'the tenant without caps is not held back by the others'' caps');

-- The caps are counted after their rows are locked, which is exact only at READ COMMITTED.
select dblink_exec('c1', 'begin isolation level repeatable read');
select is((select msg from dblink('c1', $$select 'claimed ' || count(*) from kiln_api.claim_builds('c1', 1, 600)$$, false)
             as t (msg text)), null,
  'a claim inside a REPEATABLE READ transaction is refused (isolation_level)');
select ok(dblink_error_message('c1') like '%claim_builds must run at READ COMMITTED%',
  'with a message that says what to do: ' || dblink_error_message('c1'));
select dblink_exec('c1', 'rollback');

select dblink_disconnect('c' || i) from generate_series(1, 4) i;
select * from finish();
