-- Why a queued build waits (queue_state.sql): every reason in a mixed scenario, its
-- position in its tenant's queue and overall, the ETA from recent comparable claims; and
-- submit refusing, with 422 naming the requirement, a build nothing registered could run.
begin;
select plan(32);

select test.make_tenant('acme') as acme \gset
select test.make_tenant('beta') as beta \gset
select test.make_user(:'acme', 'ada', 'admin') as ada \gset
select test.make_project(:'acme', 'web') as web \gset
select test.make_project(:'acme', 'api') as api \gset
select test.make_project(:'beta', 'web') \gset

-- A build of the tenant's project in flight (dispatching with one execution), made
-- directly: a claim would take the queued builds under test first.
create function test.in_flight(p_tenant uuid, p_project uuid) returns uuid language sql as $$
  with b as (insert into kiln.builds (tenant_id, project_id, status, queued_at)
               values (p_tenant, p_project, 'dispatching', now()) returning id, tenant_id),
       c as (insert into kiln.build_configs (build_id, tenant_id, method, params)
               select id, tenant_id, 'script', '{"script": "x"}' from b)
  insert into kiln.build_executions (build_id, tenant_id, attempt, epoch, status)
    select id, tenant_id, 1, 1, 'dispatching' from b returning id
$$;
-- queue_state as the build's tenant sees it (the request's tenant decides what counts).
create function test.qs(p_build uuid) returns jsonb language plpgsql as $$
declare
  v_saved text := current_setting('kiln.tenant_id', true);
  v_state jsonb;
begin
  perform set_config('kiln.tenant_id', (select tenant_id::text from kiln.builds where id = p_build), true);
  v_state := kiln_api.queue_state(p_build);
  perform set_config('kiln.tenant_id', coalesce(v_saved, ''), true);
  return v_state;
end $$;
create function test.reason(p_build uuid) returns text language sql as $$
  select test.qs(p_build) -> 'blocked_reason' ->> 'code'
$$;

------------------------------------------------------------------------------------------
-- Infrastructure: nothing, offline, busy, free, Kubernetes
------------------------------------------------------------------------------------------
select test.make_queued_build(:'acme', 'web', 0, now() - interval '3 minutes') as b1 \gset
select is(test.reason(:'b1'), 'no_capable_infrastructure', 'nothing registered: no capable infrastructure');
select test.make_node('n1', p_online => false) as n1 \gset
select is(test.reason(:'b1'), 'no_capable_infrastructure', 'an offline node does not help');
select is((test.qs(:'b1') -> 'blocked_reason' -> 'detail' -> 'build_nodes'),
  '{"registered": 1, "online": 0, "free_slots": 0}'::jsonb, 'the detail counts the capable nodes: registered, online, free');
update kiln.build_nodes set last_heartbeat_at = now() where id = :'n1';
select is(test.reason(:'b1'), 'waiting_for_dispatcher', 'an online node with a free slot: nothing holds it');
select test.in_flight(:'beta', (select id from kiln.projects where tenant_id = :'beta')) as busy_exec \gset
update kiln.build_executions set build_node_id = :'n1' where id = :'busy_exec';
select is(test.reason(:'b1'), 'capacity_busy',
  'the only capable node is busy (with another tenant''s build, which the count sees without showing it)');
select test.make_node('gpu-1', '{"arch": "amd64"}', '{"gpu": true}', false) \gset
select is(test.reason(:'b1'), 'capacity_busy', 'an offline node adds no free slot');
select test.make_provider('EKS', 'eks', 'unhealthy') as eks \gset
select test.make_node_pool(:'eks', 'general') \gset
select is(test.reason(:'b1'), 'capacity_busy', 'an unhealthy provider adds no capacity');
update kiln.providers set health = 'healthy' where id = :'eks';
select is(test.reason(:'b1'), 'waiting_for_dispatcher', 'a healthy capable node pool: nothing holds it');

------------------------------------------------------------------------------------------
-- Caps, holds and later
------------------------------------------------------------------------------------------
select test.in_flight(:'acme', :'web') \gset
insert into kiln.tenant_scheduling (tenant_id, max_running) values (:'acme', 1);
select is(test.reason(:'b1'), 'tenant_cap_reached', 'the tenant has 1 in flight and a cap of 1');
select is((test.qs(:'b1') -> 'blocked_reason' -> 'detail' ->> 'max_running')::int, 1,
  'the detail gives the cap');
select is((test.qs(:'b1') -> 'blocked_reason' -> 'detail' -> 'in_flight' ->> 'running')::int, 1,
  'and what is in flight');
update kiln.tenant_scheduling set max_running = 0 where tenant_id = :'acme';
select is(test.reason(:'b1'), 'waiting_for_admin', 'a cap of 0 holds the tenant until an admin raises it');
select is(test.qs(:'b1') -> 'eta_seconds', 'null'::jsonb, 'a held build has no ETA');
delete from kiln.tenant_scheduling;
insert into kiln.project_scheduling (project_id, tenant_id, max_running) values (:'web', :'acme', 1);
select is(test.reason(:'b1'), 'project_cap_reached', 'the project has 1 in flight and a cap of 1');
select test.make_queued_build(:'acme', 'api', 0, now() - interval '2 minutes') as b_api \gset
select is(test.reason(:'b_api'), 'waiting_for_dispatcher', 'another project of the tenant is not held by it');
update kiln.project_scheduling set max_running = 0;
select is(test.qs(:'b1') -> 'blocked_reason' -> 'detail' ->> 'scope', 'project',
  'a project cap of 0 holds the project''s builds (waiting for an admin)');
delete from kiln.project_scheduling;
select test.make_build(:'acme', 'web', jsonb_build_object('not_before', now() + interval '1 hour')) as later \gset
select kiln_api.start_build(:'later') \gset
select is(test.reason(:'later'), 'scheduled_for_later', 'not_before in the future: scheduled for later');
select cmp_ok((test.qs(:'later') ->> 'eta_seconds')::numeric, '>=', 3590::numeric,
  'its ETA is at least the time until not_before');
select ok(:'later'::uuid not in (select build_id from kiln_api.claim_builds('w', 100, 60)),
  'and no claim takes it before then');
select is((select status::text from kiln.builds where id = :'later'), 'queued', 'it stays queued');

------------------------------------------------------------------------------------------
-- Position and ETA
------------------------------------------------------------------------------------------
update kiln.builds set status = 'cancelled' where status = 'queued' and id <> :'later';
update kiln.build_executions set created_at = now() - interval '2 hours';  -- out of the ETA window
select test.make_queued_build(:'acme', 'web', 0, now() - interval '10 minutes') as p1 \gset
select test.make_queued_build(:'acme', 'web', 5, now() - interval '1 minute') as p0 \gset
select test.make_queued_build(:'acme', 'web', 0, now() - interval '5 minutes') as p2 \gset
select test.make_queued_build(:'beta', 'web', 10, now()) as beta_first \gset
select results_eq(
  format($$select (test.qs(id) -> 'position' ->> 'tenant')::int,
                  (test.qs(id) -> 'position' ->> 'overall')::int
             from unnest(array[%L, %L, %L]::uuid[]) with ordinality u (id, n) order by n$$, :'p0', :'p1', :'p2'),
  $$values (1, 2), (2, 3), (3, 4)$$,
  'positions: by priority then age inside the tenant; overall also counts the other tenant''s higher-priority build');
select is(test.qs(:'p2') -> 'eta_seconds', 'null'::jsonb,
  'no comparable claims in the last hour: no ETA rather than a guess');
-- 12 comparable (script) claims of acme in the last hour: one per 5 minutes
insert into kiln.builds (tenant_id, project_id, status, queued_at)
  select :'acme', :'web', 'succeeded', now() - interval '1 hour' from generate_series(1, 12);
insert into kiln.build_configs (build_id, tenant_id, method, params)
  select b.id, b.tenant_id, 'script', '{"script": "x"}' from kiln.builds b
   where b.status = 'succeeded' and b.tenant_id = :'acme' and not exists (select from kiln.build_configs c where c.build_id = b.id);
insert into kiln.build_executions (build_id, tenant_id, attempt, epoch, status, created_at)
  select b.id, b.tenant_id, 1, 1, 'succeeded', now() - interval '20 minutes' from kiln.builds b
   where b.status = 'succeeded' and b.tenant_id = :'acme';
select is((test.qs(:'p2') -> 'eta_basis' ->> 'comparable_claims')::int, 12,
  'the ETA counts the tenant''s claims of the same method in the window');
select is((test.qs(:'p2') ->> 'eta_seconds')::numeric, 900::numeric,
  'third in line at 12 claims an hour: 15 minutes');

------------------------------------------------------------------------------------------
-- Through the API role: get_build carries it for queued builds only
------------------------------------------------------------------------------------------
select test.act_as(:'ada');
set local role kiln_web;
select is(kiln_api.get_build(:'p2') -> 'queue' -> 'blocked_reason' ->> 'code', 'waiting_for_dispatcher',
  'GET /api/v1/builds/{id} shows the blocked reason (as kiln_web, under row-level security)');
select is((kiln_api.get_build(:'p2') -> 'queue' -> 'position' ->> 'overall')::int, 4,
  'and the overall position, which counts other tenants'' builds it cannot read');
reset role;
select test.make_build(:'acme', 'web') as pending \gset
select ok(not kiln_api.get_build(:'pending') ? 'queue', 'a pending build has no queue state');

------------------------------------------------------------------------------------------
-- Submit refuses what nothing registered could ever run
------------------------------------------------------------------------------------------
select count(*) as builds_before from kiln.builds \gset
select is(test.error_detail($$select test.make_build((select id from kiln.tenants where name = 'acme'), 'web',
                                '{"requirements": {"arch": ["riscv64"]}}')$$),
  '{"code": "unsatisfiable_requirements", "field": "requirements"}'::jsonb,
  'no riscv64 node or pool: 422 unsatisfiable_requirements on the requirements field');
select throws_ok($$select test.make_build((select id from kiln.tenants where name = 'acme'), 'web',
                    '{"requirements": {"arch": ["riscv64"], "custom_hardware": "fpga"}}')$$, 'QC422',
  'no build node or Kubernetes node pool registered for this tenant offers arch riscv64, custom hardware fpga; ask an admin to add one (or to force an infrastructure), or change the requirements',
  'the message names every requirement nothing offers and what to do');
select throws_like($$select test.make_build((select id from kiln.tenants where name = 'acme'), 'web',
                     '{"requirements": {"airgapped": true}, "infrastructure_type": "kubernetes"}')$$,
  '%no Kubernetes node pool registered for this tenant offers airgapped%',
  'asking for Kubernetes names Kubernetes node pools (EKS does not do air-gapped)');
select is((select count(*) from kiln.builds), :'builds_before'::bigint, 'refused submits changed nothing');
select isnt(test.make_build(:'acme', 'web', '{"requirements": {"gpu": true}}'), null,
  'a GPU build is accepted: a GPU node is registered (offline, but it exists)');

select * from finish();
rollback;
