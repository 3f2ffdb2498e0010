-- Automatic fallback (replan_unhealthy_offers, run by every reap): an execution offered to
-- build nodes that no online node can run any more goes back to the queue (its attempt
-- not counted), when its plan would now pick another infrastructure; the next claim plans
-- it there, and the event says why. Without a usable fallback it keeps waiting.
begin;
select plan(10);

select test.make_tenant('acme') as acme \gset
select test.make_project(:'acme', 'web') \gset
select test.make_provider('EKS', 'eks', 'unhealthy') as eks \gset
select test.make_node_pool(:'eks', 'general') \gset
select test.make_node('bn-1') as bn1 \gset

-- A script build planned while Kubernetes is unhealthy: it goes to the build node.
select test.make_queued_build(:'acme', 'web', 0, now() - interval '1 minute') as build \gset
create temp table claimed as select * from kiln_api.claim_builds('d1', 1, 60);
create temp table planned as select c.execution_id, c.epoch, kiln_api.plan_execution(c.execution_id) as plan from claimed c;
select is((select plan ->> 'infrastructure_type' from planned), 'build_nodes',
  'with the cluster unhealthy the plan picks build nodes');
select kiln_api.offer_execution(p.execution_id, p.epoch, p.plan, '{"script": "make"}') from planned p;

-- The node goes silent while no fallback is usable: nothing moves.
update kiln.build_nodes set last_heartbeat_at = now() - interval '1 hour' where id = :'bn1';
select is_empty($$select * from kiln_api.replan_unhealthy_offers()$$,
  'no online node, but no usable fallback either: the offer keeps waiting (no churn)');
select is((select status::text from kiln.build_executions where id = (select execution_id from planned)), 'dispatching',
  'the offer is still open');

-- The cluster recovers: the next pass moves the build over.
update kiln.providers set health = 'healthy' where id = :'eks';
create temp table reaped as select * from kiln_api.reap_expired_leases();
select results_eq($$select build_id, new_status::text from reaped$$,
  format($$values (%L::uuid, 'queued')$$, :'build'), 'the reaper''s pass requeues it');
select results_eq(format($$select status::text, failure_reason from kiln.build_executions where id = %L$$,
                         (select execution_id from planned)),
  $$values ('lost', 'no online build node can run it any more; re-planned for kubernetes (script build without special requirements prefers Kubernetes (K8s when available, runs with shell): EKS, node pool general)')$$,
  'the old execution is closed with the reason');
select results_eq(format($$select attempt, max_attempts from kiln.builds where id = %L$$, :'build'),
  $$values (2, 4)$$, 'as a new attempt that does not count against max_attempts');
select is((select message from kiln.build_events where build_id = :'build' order by id desc limit 1),
  'no online build node can run it any more; re-planned for kubernetes (script build without special requirements prefers Kubernetes (K8s when available, runs with shell): EKS, node pool general)',
  'the build''s events record why it moved');
select is((select (kiln_api.plan_execution(c.execution_id)) ->> 'infrastructure_type'
             from kiln_api.claim_builds('d1', 1, 60) c), 'kubernetes',
  'the next claim in the same pass plans it on Kubernetes');

-- A build forced onto build nodes is never moved.
select test.make_queued_build(:'acme', 'web', 0, now(),
  '{"infrastructure_type": "build_nodes", "force_infrastructure": true}') as forced \gset
create temp table forced_claim as select * from kiln_api.claim_builds('d1', 1, 60);
select kiln_api.offer_execution(c.execution_id, c.epoch, kiln_api.plan_execution(c.execution_id), '{"script": "make"}')
  from forced_claim c;
select is_empty($$select * from kiln_api.replan_unhealthy_offers()$$, 'a forced build stays where the admin put it');
select is((select status::text from kiln.builds where id = :'forced'), 'dispatching', 'still offered to build nodes');

select * from finish();
rollback;
