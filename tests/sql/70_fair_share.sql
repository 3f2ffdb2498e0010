-- Fair share (scheduling.sql): claims alternate between tenants by deficit round robin
-- weighted by share; a tenant alone gets every slot; priority holds inside a tenant; a
-- tenant back from idle catches up by fair_share_burst at most; aging ends starvation;
-- and with tenant A flooding 90% of submissions, tenant B's p95 wait stays within 1.5× of
-- its wait alone (a simulation with synthetic completions).
begin;
select plan(15);

select test.make_tenant('a') as a \gset
select test.make_tenant('b') as b \gset
select test.make_project(:'a', 'a-web') as a_web \gset
select test.make_project(:'b', 'b-web') as b_web \gset

create function test.claimed_by(p_worker text, p_batch integer, p_now timestamptz default null)
  returns table (tenant_id uuid, build_id uuid) language sql as $$
  select c.tenant_id, c.build_id from kiln_api.claim_builds(p_worker, p_batch, 600, p_now) c
$$;
-- Synthetic completion of every execution in flight (the claims then see free capacity).
create function test.finish_all(p_now timestamptz default now()) returns void language sql as $$
  update kiln.build_executions set status = 'succeeded', finished_at = p_now
   where status in ('dispatching', 'running');
  update kiln.builds set status = 'succeeded', finished_at = p_now where status in ('dispatching', 'running');
$$;
create function test.drain_queue() returns void language sql as $$
  update kiln.builds set status = 'cancelled', finished_at = now() where status = 'queued';
$$;

------------------------------------------------------------------------------------------
-- A tenant alone gets every slot
------------------------------------------------------------------------------------------
select test.make_queued_build(:'a', 'a-web', 0, '2030-01-01'::timestamptz + i * interval '1 s')
  from generate_series(1, 12) i;
select is((select count(*)::int from test.claimed_by('w', 10) where tenant_id = :'a'), 10,
  'a tenant alone gets the whole batch');
select test.finish_all();
select test.drain_queue();

------------------------------------------------------------------------------------------
-- Equal shares alternate claim by claim, even with no build in flight
------------------------------------------------------------------------------------------
select test.make_queued_build(:'a', 'a-web', 0, '2030-01-02'::timestamptz + i * interval '1 s')
  from generate_series(1, 10) i;
select test.make_queued_build(:'b', 'b-web', 0, '2030-01-03'::timestamptz + i * interval '1 s')
  from generate_series(1, 10) i;
create temp table seq (n serial, tenant_id uuid);
do $$ begin
  for i in 1 .. 8 loop
    insert into seq (tenant_id) select tenant_id from test.claimed_by('w', 1);
    perform test.finish_all();  -- nothing stays in flight: the alternation is the vtime's
  end loop;
end $$;
select is((select count(*)::int from seq s1 join seq s2 on s2.n = s1.n + 1 where s1.tenant_id = s2.tenant_id), 0,
  'eight claims of one build alternate between the two tenants (no tenant twice in a row)');
select is((select count(*)::int from seq where tenant_id = :'b'), 4,
  'B gets half although all its builds were queued after all of A''s');
select test.drain_queue();

------------------------------------------------------------------------------------------
-- Shares weight the split: share 2 gets two builds for one
------------------------------------------------------------------------------------------
update kiln.tenant_fair_state set vtime = 0 where tenant_id in (:'a', :'b');
insert into kiln.tenant_scheduling (tenant_id, share) values (:'a', 2);
select test.make_queued_build(:'a', 'a-web', 0, '2030-01-04'::timestamptz + i * interval '1 s')
  from generate_series(1, 40) i;
select test.make_queued_build(:'b', 'b-web', 0, '2030-01-04'::timestamptz + i * interval '1 s')
  from generate_series(1, 40) i;
create temp table weighted as select * from test.claimed_by('w', 30);
select results_eq($$select (select count(*)::int from weighted where tenant_id = '$$ || :'a' || $$'),
                           (select count(*)::int from weighted where tenant_id = '$$ || :'b' || $$')$$,
  $$values (20, 10)$$, 'a batch of 30 splits 20:10 for shares 2:1');
select test.finish_all();
create temp table weighted_single (tenant_id uuid);
do $$ begin
  for i in 1 .. 9 loop
    insert into weighted_single select tenant_id from test.claimed_by('w', 1);
  end loop;
end $$;
select results_eq($$select (select count(*)::int from weighted_single where tenant_id = '$$ || :'a' || $$'),
                           (select count(*)::int from weighted_single where tenant_id = '$$ || :'b' || $$')$$,
  $$values (6, 3)$$, 'nine single claims split 6:3 as well');
select test.finish_all();
select test.drain_queue();
delete from kiln.tenant_scheduling;

------------------------------------------------------------------------------------------
-- Priority inside a tenant; a tenant back from idle catches up only by the burst
------------------------------------------------------------------------------------------
update kiln.tenant_fair_state set vtime = 1000 where tenant_id = :'a';
update kiln.tenant_fair_state set vtime = 0 where tenant_id = :'b';
select test.make_queued_build(:'a', 'a-web', 0, '2030-01-05'::timestamptz + i * interval '1 s')
  from generate_series(1, 20) i;
select test.make_queued_build(:'b', 'b-web', 0, '2030-01-05'::timestamptz + i * interval '1 s')
  from generate_series(1, 19) i;
select test.make_queued_build(:'b', 'b-web', 50, '2030-01-06') as b_urgent \gset
create temp table back_from_idle as select * from test.claimed_by('w', 10);
select results_eq($$select (select count(*)::int from back_from_idle where tenant_id = '$$ || :'a' || $$'),
                           (select count(*)::int from back_from_idle where tenant_id = '$$ || :'b' || $$')$$,
  $$values (2, 8)$$,
  'B, idle while A claimed 1000 builds, gets 5 builds of catch-up (fair_share_burst) and then alternates: 8 to 2, not 10 to 0');
select ok(:'b_urgent'::uuid in (select build_id from back_from_idle),
  'B''s priority-50 build, queued last, is among B''s first claims: priority holds inside a tenant');
select test.finish_all();
select test.drain_queue();

------------------------------------------------------------------------------------------
-- Aging: a long-waiting low-priority build overtakes a stream of priority 100
------------------------------------------------------------------------------------------
select test.make_queued_build(:'a', 'a-web', -100, now() - interval '5 hours') as old_low \gset
select test.make_queued_build(:'a', 'a-web', 100, now() - i * interval '1 minute' - interval '1 s') from generate_series(1, 3) i;
select is((select effective_priority from kiln.builds where id = :'old_low'), -100,
  'a build starts at its own priority');
select is(kiln_api.age_queued_builds(now()), 4, 'aging raises every build queued longer than priority_aging_seconds');
select is((select effective_priority from kiln.builds where id = :'old_low'), 200,
  '-100 + 300 minutes of waiting at one per 60 s: 200, above any priority');
select is((select build_id from test.claimed_by('w', 1)), :'old_low'::uuid,
  'so the five-hour-old build goes before the fresh priority-100 ones');
select is(kiln_api.age_queued_builds(now()), 0, 'aging again changes nothing');
select test.finish_all();
select test.drain_queue();

------------------------------------------------------------------------------------------
-- A floods 90% of submissions: B's p95 wait stays within 1.5× of its wait alone.
-- Every 10 s the dispatcher claims two builds (the capacity) and they complete at once;
-- the submissions of the last 10 s arrive before the claims: B one, A nine when it
-- floods, so A alone would wait without end, and B behind A's queue in plain priority
-- order would too.
------------------------------------------------------------------------------------------
create function test.simulate(p_a uuid, p_b uuid, p_flood boolean, p_t0 timestamptz) returns numeric
  language plpgsql as $$
declare
  v_now timestamptz;
begin
  for step in 1 .. 40 loop
    v_now := p_t0 + step * interval '10 s';
    perform test.make_queued_build(p_b, 'b-web', 0, v_now - interval '7 s');
    if p_flood then
      perform test.make_queued_build(p_a, 'a-web', 0, v_now - interval '9 s' + i * interval '100 ms')
         from generate_series(1, 9) i;
    end if;
    perform kiln_api.claim_builds('sim', 1, 3600, v_now);
    perform kiln_api.claim_builds('sim', 1, 3600, v_now);
    update kiln.build_executions set status = 'succeeded', finished_at = v_now + interval '1 s'
     where status = 'dispatching' and tenant_id in (p_a, p_b);
    update kiln.builds set status = 'succeeded', finished_at = v_now + interval '1 s'
     where status = 'dispatching' and tenant_id in (p_a, p_b);
  end loop;
  return (select percentile_cont(0.95) within group (order by extract(epoch from e.created_at - b.queued_at))
            from kiln.build_executions e join kiln.builds b on b.id = e.build_id where b.tenant_id = p_b);
end $$;
select test.make_tenant('a2') as a2 \gset
select test.make_tenant('b2') as b2 \gset
select test.make_project(:'a2', 'a-web') \gset
select test.make_project(:'b2', 'b-web') \gset
select test.simulate(:'a', :'b', false, '2031-01-01') as alone \gset
select test.simulate(:'a2', :'b2', true, '2031-02-01') as flooded \gset
select cmp_ok(:'alone'::numeric, '>', 0::numeric, 'B alone waits a little (the claims run every 10 s): ' || :'alone' || ' s');
select ok(:'flooded'::numeric <= 1.5 * :'alone'::numeric,
  format('with A flooding, B''s p95 wait is %s s against %s s alone (at most 1.5×)', :'flooded', :'alone'));
select cmp_ok((select count(*)::int from kiln.builds where tenant_id = :'a2' and status = 'queued'), '>', 100,
  'A''s flood really is beyond capacity: over 100 of its builds still wait');

select * from finish();
rollback;
