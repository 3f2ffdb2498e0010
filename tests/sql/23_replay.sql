-- Every placement can be explained and replayed: plan_execution stores the decision and
-- every input it read on the execution (infrastructure_type, infrastructure_reason,
-- selected_at, infrastructure_metadata); replay_infrastructure_decision re-runs the
-- decision on the stored inputs and gets the same answer, whatever changed since.
begin;
select plan(15);

select test.make_tenant('acme') as acme \gset
select test.make_project(:'acme', 'web', p_language => 'go') as web \gset
select test.make_provider('EKS Prod', 'eks') as eks \gset
select test.make_node_pool(:'eks', 'general', '{amd64}', p_cost_per_cpu_hour => 0.02) as general \gset
select test.make_node_pool(:'eks', 'gpu-p4', '{gpu}', '{"cpu": 8, "memory_gb": 61}') as gpu \gset
select test.make_provider('DC Cluster', 'kubernetes', p_capabilities => '{"airgapped": true}', p_health => 'unhealthy') as dc \gset
select test.make_node_pool(:'dc', 'dc-general');
select test.make_node('bn-1', '{"arch": "amd64"}', '{"airgapped": true}');
-- an offline s390x node: submit accepts s390x builds only when something registered offers them
select test.make_node('s390x-1', '{"arch": "s390x"}', '{}', false);
select test.make_usage(:'acme', 'web', true, 'docker', 'kubernetes', p_node_pool_id => :'general') from generate_series(1, 4);
select test.make_usage(:'acme', 'web', false, 'docker', 'kubernetes', p_node_pool_id => :'general');
select test.make_usage(:'acme', 'web', true, p_cpu_seconds => 90, p_duration_seconds => 60,
                       p_peak_memory_bytes => 536870912) from generate_series(1, 6);

-- Eight builds across the decision tree, claimed in one batch and planned by the dispatcher.
create temp table submitted (body jsonb);
insert into submitted values
  ('{"method": "docker", "params": {"git_url": "https://git.example/web.git", "image": "web:1"}}'),
  ('{"method": "nix", "params": {"flake_uri": "github:acme/web"}, "requirements": {"gpu": true}}'),
  ('{"method": "packer", "params": {"git_url": "https://git.example/img.git", "template": "t.pkr.hcl"}, "requirements": {"airgapped": true}}'),
  ('{"params": {"script": "make"}, "spec": {"cpu": 0.5, "memory_gb": 1}}'),
  ('{"params": {"script": "make"}, "requirements": {"arch": ["s390x"]}}'),
  ('{"params": {"script": "make"}, "infrastructure_type": "kubernetes"}'),
  ('{"params": {"script": "make"}, "infrastructure_type": "build_nodes", "force_infrastructure": true}'),
  ('{"method": "buildx", "params": {"git_url": "https://git.example/web.git", "image": "web:1"}, "infrastructure_type": "kubernetes", "force_infrastructure": true, "requirements": {"arch": ["arm64"]}}');
select test.make_queued_build(:'acme', 'web', p_queued_at => '2000-01-01', p_body => s.body) from submitted s;
select is((select count(*)::int from kiln_api.claim_builds('dispatcher-1', 100, 60)), 8, 'eight builds claimed');
create temp table plans as
  select e.id as execution_id, e.epoch, kiln_api.plan_execution(e.id) as plan
    from kiln.build_executions e where e.status = 'dispatching';
select is((select count(*)::int from plans where plan ? 'error'), 0, 'every build could be planned');
select kiln_api.offer_execution(p.execution_id, p.epoch, p.plan, '{"script": "make"}', '2030-01-01 00:00+00') from plans p;

------------------------------------------------------------------------------------------
-- The decision record on the execution
------------------------------------------------------------------------------------------
select is_empty($$select e.id from kiln.build_executions e join plans p on p.execution_id = e.id
                   where e.infrastructure_type::text is distinct from p.plan ->> 'infrastructure_type'
                      or e.infrastructure_reason is distinct from p.plan ->> 'reason'
                      or e.selected_at is distinct from '2030-01-01 00:00+00'
                      or e.size is distinct from p.plan -> 'size'
                      or e.infrastructure_metadata is distinct from p.plan -> 'metadata'$$,
  'each execution carries the planner''s type, reason, selection time, size and decision record');
select set_eq($$select infrastructure_reason from kiln.build_executions where status = 'dispatching'$$,
  array['docker builds prefer Kubernetes (always prefer K8s, runs with Kaniko): EKS Prod, node pool general (best of 2 matching node pools)',
        'needs a GPU: EKS Prod, node pool gpu-p4',
        'air-gapped builds run on build nodes',
        'script build without special requirements prefers Kubernetes (K8s when available, runs with shell): EKS Prod, node pool general (best of 2 matching node pools)',
        'needs s390x nodes, which no healthy Kubernetes node pool has (node pool general has no s390x nodes); build nodes are the fallback; no online build node can run it yet',
        'Kubernetes requested: EKS Prod, node pool general (best of 2 matching node pools)',
        'Admin override', 'Admin override'],
  'the reasons are the selection function''s');
select is_empty($$select id from kiln.build_executions e where status = 'dispatching'
                   and (e.infrastructure_metadata ->> 'confidence')::numeric not between 0 and 1$$,
  'every decision has a confidence in [0, 1]');
select ok((select bool_and(jsonb_typeof(infrastructure_metadata -> 'inputs' -> k) is not null)
             from kiln.build_executions, unnest(array['config', 'method', 'capabilities', 'settings', 'providers',
                  'pools', 'nodes', 'build_nodes_history', 'sizing']) k where status = 'dispatching'),
  'the record holds every input: config, method row, capability table, settings, providers, pools, nodes, history, sizing');
select is((select jsonb_path_query_first(infrastructure_metadata -> 'inputs' -> 'pools', '$[*] ? (@.node_pool == "general")') -> 'history'
             from kiln.build_executions e join kiln.build_configs c using (build_id)
            where c.method = 'docker' and e.status = 'dispatching'),
  '{"samples": 5, "successes": 4}'::jsonb, 'with the history figures of each candidate');
select is((select infrastructure_metadata -> 'target' ->> 'node_pool_id' from kiln.build_executions e
             join kiln.build_configs c using (build_id) where c.method = 'nix' and e.status = 'dispatching'),
  :'gpu'::text, 'and the chosen target');

------------------------------------------------------------------------------------------
-- Replays: the same answers, whatever changed since
------------------------------------------------------------------------------------------
select is((select count(*)::int from kiln.build_executions
             where status = 'dispatching' and infrastructure_metadata -> 'decision' ? 'reason'
               and kiln_api.replay_infrastructure_decision(infrastructure_metadata) = infrastructure_metadata -> 'decision'),
  8, 'replaying each of the eight stored records reproduces its decision exactly');
-- Change the world: providers off, nodes gone, bad history, other settings and defaults.
update kiln.providers set enabled = false, health = 'unhealthy';
delete from kiln.build_nodes;
select test.make_usage(:'acme', 'web', false, 'docker', 'kubernetes', p_node_pool_id => :'general') from generate_series(1, 20);
update kiln.settings set value = 50 where key = 'confidence_prior_weight';
update kiln.size_defaults set cpu = 8;
update kiln.size_ladder set memory_gb = memory_gb * 3;
select isnt(kiln_api.select_infrastructure(:'acme', '{"project": "web", "method": "nix", "requirements": {"gpu": true}}') ->> 'infrastructure_type',
  'kubernetes', 'today the same config would be decided differently');
select is((select count(*)::int from kiln.build_executions
             where status = 'dispatching' and infrastructure_metadata -> 'decision' ? 'reason'
               and kiln_api.replay_infrastructure_decision(infrastructure_metadata) = infrastructure_metadata -> 'decision'),
  8, 'yet every stored decision still replays to itself: the record alone decides');
select results_eq($$select count(*)::int, count(*) filter (where kiln_api.decide_infrastructure(inputs) = result)::int
                      from kiln.infrastructure_recommendations$$,
  $$values (8, 8)$$, 'every recorded recommendation replays from its inputs too');

-- An OOM retry's record replays to the size one rung up.
select e.id as oe, e.epoch as oep, e.build_id as ob from kiln.build_executions e join kiln.build_configs c using (build_id)
 where e.status = 'dispatching' and c.spec ->> 'cpu' = '0.5' \gset
update kiln.build_executions set offered_at = null where id = :'oe';
select kiln_api.start_execution(:'oe', :'oep', 'build_nodes', 'test');
select kiln_api.finish_execution(:'oe', :'oep', 'oom_killed', 137);
select id as re, epoch as rep from test.claim(:'ob') \gset
select kiln_api.offer_execution(:'re', :'rep', kiln_api.plan_execution(:'re'), '{}');
select is((select kiln_api.replay_infrastructure_decision(infrastructure_metadata) -> 'size' -> 'memory_gb'
             from kiln.build_executions where id = :'re'), '1.5',
  'the OOM retry''s record replays to its rung (today''s ladder: 1 GiB -> 1.5)');
select is((select size -> 'memory_gb' from kiln.build_executions where id = :'re'), '1.5',
  'as it was planned');

select throws_ok($$select kiln_api.replay_infrastructure_decision('{"planner": "fallback"}')$$, 'QC400',
  'the record holds no decision inputs', 'a record without inputs cannot be replayed');

select * from finish();
rollback;
