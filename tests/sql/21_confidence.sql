-- Confidence is computed from history, never a constant: (successes + w × clarity) /
-- (samples + w) over comparable builds (same tenant, same method, same target, within
-- confidence_history_days) in infrastructure_usage, w = confidence_prior_weight (5). It
-- rises with good history and falls with failures; node pools with a better record score
-- higher.
begin;
select plan(19);

select test.make_tenant('acme') as acme \gset
select test.make_project(:'acme', 'web') as web \gset
select test.make_tenant('beta') as beta \gset
select test.make_project(:'beta', 'web') as beta_web \gset
select test.make_node('bn-1');

create function pg_temp.decide(p_config jsonb) returns jsonb language sql as $$
  select kiln_api.select_infrastructure((select id from kiln.tenants where name = 'acme'),
                                        '{"project": "web"}' || p_config)
$$;
create function pg_temp.confidence(p_config jsonb) returns numeric language sql as $$
  select (pg_temp.decide(p_config) ->> 'confidence')::numeric
$$;

------------------------------------------------------------------------------------------
-- Build nodes (no Kubernetes): clarity 0.7
------------------------------------------------------------------------------------------
select is(pg_temp.confidence('{"method": "script"}'), 0.700,
  'without history the confidence is the rule''s clarity (Kubernetes unavailable: 0.7)');
select is(pg_temp.decide('{"method": "script"}') -> 'confidence_detail',
  '{"clarity": 0.7, "samples": 0, "successes": 0, "prior_weight": 5}'::jsonb,
  'and the detail says so');
select test.make_usage(:'acme', 'web', true) from generate_series(1, 10);
select is(pg_temp.confidence('{"method": "script"}'), 0.900,
  'ten successful script builds on build nodes raise it to (10 + 3.5) / 15');
select is(pg_temp.decide('{"method": "script"}') -> 'confidence_detail',
  '{"clarity": 0.7, "samples": 10, "successes": 10, "prior_weight": 5}'::jsonb,
  'the detail counts the comparable builds');
select is(pg_temp.confidence('{"method": "nix"}'), 0.700, 'builds of another method are not comparable');
select test.make_usage(:'acme', 'web', false, 'nix') from generate_series(1, 10);
select is(pg_temp.confidence('{"method": "nix"}'), 0.233,
  'ten failed nix builds lower nix''s to 3.5 / 15');
select test.make_usage(:'beta', 'web', false) from generate_series(1, 30);
select is(pg_temp.confidence('{"method": "script"}'), 0.900, 'another tenant''s failures do not count');
select test.make_usage(:'acme', 'web', false, p_start_time => now() - interval '100 days') from generate_series(1, 30);
select is(pg_temp.confidence('{"method": "script"}'), 0.900,
  'failures older than confidence_history_days (90) do not count');
select test.make_usage(:'acme', 'web', false) from generate_series(1, 5);
select is(pg_temp.confidence('{"method": "script"}'), 0.675, 'recent failures do: (10 + 3.5) / 20');
select is(pg_temp.confidence('{"method": "script", "requirements": {"arch": ["s390x"]}}'), 0.579,
  'no online node able to run it cuts the clarity: (10 + 5 × 0.315) / 20');
update kiln.settings set value = 20 where key = 'confidence_prior_weight';
select is(pg_temp.confidence('{"method": "script"}'), 0.686,
  'a larger prior weight leans on the rules longer: (10 + 14) / 35');
update kiln.settings set value = 5 where key = 'confidence_prior_weight';

------------------------------------------------------------------------------------------
-- A Kubernetes node pool: clarity 0.85 for a docker build
------------------------------------------------------------------------------------------
select test.make_provider('EKS Prod', 'eks') as eks \gset
select test.make_node_pool(:'eks', 'general', '{amd64}', p_cost_per_cpu_hour => 0.02) as general \gset
select test.make_node_pool(:'eks', 'spare', '{amd64}', p_cost_per_cpu_hour => 0.05) as spare \gset
select is(pg_temp.decide('{"method": "docker"}') -> 'target' ->> 'node_pool', 'general',
  'with no history the cheaper of two equal pools is chosen');
select is(pg_temp.confidence('{"method": "docker"}'), 0.850, 'with the rule''s clarity, 0.85');
select test.make_usage(:'acme', 'web', true, 'docker', 'kubernetes', p_node_pool_id => :'general')
  from generate_series(1, 20);
select is(pg_temp.confidence('{"method": "docker"}'), 0.970,
  'twenty successes on that pool raise it to (20 + 4.25) / 25');
select is(pg_temp.confidence('{"method": "script", "infrastructure_type": "build_nodes"}'), 0.725,
  'a build-node pick is judged by build-node history: (10 + 5 × 0.9) / 20');
select test.make_usage(:'acme', 'web', false, 'docker', 'kubernetes', p_node_pool_id => :'spare')
  from generate_series(1, 30);
select is(pg_temp.confidence('{"method": "docker"}'), 0.970, 'failures on another pool do not count');
select test.make_usage(:'acme', 'web', false, 'docker', 'kubernetes', p_node_pool_id => :'general')
  from generate_series(1, 40);
select is(pg_temp.confidence('{"method": "docker"}'), 0.373,
  'forty failures on the chosen pool lower it to (20 + 4.25) / 65');
select test.make_node_pool(:'eks', 'fresh', '{amd64}', p_cost_per_cpu_hour => 0.09) as fresh \gset
select is(pg_temp.decide('{"method": "docker"}') -> 'target' ->> 'node_pool', 'fresh',
  'a pool without failures now scores higher than the one with a poor record');
select is((select jsonb_object_agg(a ->> 'node_pool', a -> 'score')
             from jsonb_array_elements(pg_temp.decide('{"method": "docker"}') -> 'alternatives') a
            where a ->> 'infrastructure_type' = 'kubernetes'),
  '{"general": 0.3387, "spare": 0.0313}'::jsonb,
  'scores are the smoothed success rates (21 / 62, 1 / 32)');

select * from finish();
rollback;
