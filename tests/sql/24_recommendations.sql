-- The recommendation endpoint's function, the options view, the infrastructure checks of
-- submit_build (403 on a force without infrastructure:manage, 400 on a pick that is not
-- available), and recommendation accuracy: each recommendation recorded, linked to the
-- build it led to and settled with whether that build succeeded there. All as the API role.
begin;
select plan(37);

select test.make_tenant('acme') as acme \gset
select test.make_user(:'acme', 'ada', 'admin') as ada \gset
select test.make_user(:'acme', 'dev', 'developer') as dev \gset
select test.make_user(:'acme', 'vic', 'viewer') as vic \gset
insert into kiln.roles (name, description) values ('picker', 'may choose an infrastructure type but not select');
insert into kiln.role_permissions values ('picker', 'build:create'), ('picker', 'build:create:with-infra');
select test.make_user(:'acme', 'pia', 'picker') as pia \gset
select test.make_project(:'acme', 'web') as web \gset
select test.make_tenant('beta') as beta \gset
select test.make_user(:'beta', 'bob', 'admin') as bob \gset
select test.make_project(:'beta', 'web') as beta_web \gset
select test.make_node('bn-1', '{"arch": "amd64", "os": "debian-12"}');
select test.make_node('bn-2', '{"arch": "amd64", "os": "debian-12"}', p_online => false);
select test.make_node('bn-arm', '{"arch": "arm64"}', '{"gpu": true}');

set local role kiln_web;

------------------------------------------------------------------------------------------
-- Without Kubernetes: recommendations, picks, the 400 and the 403
------------------------------------------------------------------------------------------
select test.act_as(:'dev');
select kiln_api.recommend_infrastructure('{"project": "web", "method": "script", "params": {"script": "make"}}') as r1 \gset
select is(:'r1'::jsonb ->> 'infrastructure_type', 'build_nodes', 'without a provider the recommendation is build nodes');
select is(:'r1'::jsonb ->> 'reason',
  'Kubernetes unavailable: no Kubernetes provider is enabled; build nodes are the fallback for script builds',
  'saying Kubernetes is unavailable');
select ok((:'r1'::jsonb ->> 'confidence')::numeric between 0 and 1, 'with a confidence in [0, 1]');
select ok(:'r1'::jsonb ?& array['target', 'size', 'alternatives', 'inputs', 'recommendation_id', 'confidence_detail'],
  'the answer has the target, size, alternatives, inputs and the recommendation''s id');
select results_eq(format($$select source, requested_by, infrastructure_type::text, reason, confidence, build_id
                             from kiln.infrastructure_recommendations where id = %L$$, :'r1'::jsonb ->> 'recommendation_id'),
  format($$values ('api', %L::uuid, 'build_nodes', %L, %s::numeric, null::uuid)$$, :'dev', :'r1'::jsonb ->> 'reason',
         :'r1'::jsonb ->> 'confidence'),
  'it is recorded with who asked and what was recommended');

select throws_ok($$select kiln_api.recommend_infrastructure('{"project": "web", "method": "script",
                     "infrastructure_type": "kubernetes", "force_infrastructure": true}')$$,
  'QC403', 'force_infrastructure needs the infrastructure:manage permission',
  'a developer asking for a forced recommendation gets a 403');
select is(test.error_detail($$select kiln_api.submit_build('{"project": "web", "method": "script",
            "params": {"script": "x"}, "infrastructure_type": "kubernetes", "force_infrastructure": true}')$$),
  '{"code": "forbidden", "field": "force_infrastructure"}'::jsonb, 'so does a forced submit, naming force_infrastructure');
select throws_ok($$select kiln_api.submit_build('{"project": "web", "method": "script", "params": {"script": "x"},
                     "infrastructure_type": "kubernetes"}')$$, 'QC400',
  'infrastructure_type kubernetes is not available: no enabled, healthy Kubernetes provider with a node pool; pick one of the available options (GET /api/v1/infrastructure/options) or auto',
  'picking Kubernetes when the options do not offer it is a 400');
select is(test.error_detail($$select kiln_api.submit_build('{"project": "web", "method": "script", "params": {"script": "x"},
            "infrastructure_type": "kubernetes"}')$$),
  '{"code": "invalid_value", "field": "infrastructure_type"}'::jsonb, 'naming infrastructure_type');
select is(test.error_detail($$select kiln_api.recommend_infrastructure('{"project": "web", "method": "script",
            "infrastructure_type": "kubernetes"}')$$),
  '{"code": "invalid_value", "field": "infrastructure_type"}'::jsonb, 'the recommendation answers the same 400');
select is(kiln_api.submit_build('{"project": "web", "method": "script", "params": {"script": "x"},
            "infrastructure_type": "build_nodes"}') ->> 'infrastructure_type', 'build_nodes',
  'build nodes are always an option');
select test.act_as(:'pia');
select is(test.error_of($$select kiln_api.submit_build('{"project": "web", "method": "script", "params": {"script": "x"},
            "infrastructure_type": "build_nodes"}')$$) - 'sqlstate',
  '{"message": "picking an infrastructure_type needs the infrastructure:select permission",
    "detail": {"code": "forbidden", "field": "infrastructure_type"}}'::jsonb,
  'picking needs infrastructure:select');
select test.act_as(:'ada');
select is(kiln_api.recommend_infrastructure('{"project": "web", "method": "script",
            "infrastructure_type": "kubernetes", "force_infrastructure": true}') ->> 'error',
  'Kubernetes was requested but no Kubernetes provider is configured; ask an admin to add one or submit with infrastructure_type auto',
  'an admin may ask what forcing would do, and is told it cannot run');
select test.act_as(:'vic');
select is(kiln_api.recommend_infrastructure('{"project": "web", "method": "nix"}') ->> 'infrastructure_type', 'build_nodes',
  'a viewer may ask for a recommendation (the route checks infrastructure:view)');
select test.act_as(:'ada');
select is(test.error_detail($$select kiln_api.recommend_infrastructure('{"project": "nope", "method": "script"}')$$),
  '{"code": "project_not_found", "field": "project"}'::jsonb, 'an unknown project is a 422');
select is(test.error_detail($$select kiln_api.recommend_infrastructure('{"project": "web"}')$$),
  '{"code": "missing_field", "field": "method"}'::jsonb, 'a missing method is a 400');
select is(test.error_detail($$select kiln_api.recommend_infrastructure('{"project": "web", "method": "script", "colour": 1}')$$),
  '{"code": "unknown_field", "field": "colour"}'::jsonb, 'an unknown field is a 400');
select is(test.error_detail($$select kiln_api.recommend_infrastructure('{"project": "web", "method": "docker", "params": {"image": "x"}}')$$),
  '{"code": "missing_field", "field": "params.git_url"}'::jsonb, 'params, when given, are checked as on submit');

------------------------------------------------------------------------------------------
-- With Kubernetes: the options view
------------------------------------------------------------------------------------------
reset role;
select test.make_provider('GKE Shared', 'gke', p_capabilities => '{"multi_arch": true, "endpoint": "https://x"}') as gke \gset
select test.make_node_pool(:'gke', 'general', '{amd64,arm64,gpu}', p_labels => '{"custom_hardware": "tpu-v4", "token": "abc"}');
select test.make_node_pool(test.make_provider('Old Cluster', 'eks', p_enabled => false), 'old');
select test.make_node_pool(test.make_provider('AKS Down', 'aks', 'unhealthy'), 'aks-general');
select test.make_node_pool(test.make_provider('Beta Private', 'eks', p_tenant => :'beta'), 'private');
set local role kiln_web;
select test.act_as(:'dev');
select kiln_api.infrastructure_options() as opts \gset
select is(:'opts'::jsonb -> 'types',
  '[{"type": "auto", "name": "Auto", "available": true, "description": "Kiln picks from the build''s method and requirements (recommended)"},
    {"type": "kubernetes", "name": "Kubernetes", "available": true, "description": "Tekton pipelines on a Kubernetes cluster an admin configured"},
    {"type": "build_nodes", "name": "Build nodes", "available": true, "online_nodes": 2,
     "description": "self-hosted build nodes, for air-gapped, legacy and special-hardware builds"}]'::jsonb,
  'the types a user may pick, Kubernetes now available');
select is((select jsonb_agg(p - 'id' - 'health_checked_at' order by p ->> 'display_name') from jsonb_array_elements(:'opts'::jsonb -> 'providers') p),
  '[{"display_name": "AKS Down", "provider_type": "aks", "shared": true, "health": "unhealthy", "capabilities": {},
     "node_pools": [{"name": "aks-general", "capabilities": [], "arch": ["amd64"], "custom_hardware": null}]},
    {"display_name": "GKE Shared", "provider_type": "gke", "shared": true, "health": "healthy", "capabilities": {"multi_arch": true},
     "node_pools": [{"name": "general", "capabilities": ["gpu"], "arch": ["amd64", "arm64"], "custom_hardware": "tpu-v4"}]}]'::jsonb,
  'enabled providers of the tenant by display name, with health, capabilities and node pools; no disabled or other tenant''s one');
select is(:'opts'::jsonb -> 'build_nodes',
  '[{"labels": {"arch": "arm64"}, "capabilities": {"gpu": true}, "nodes": 1, "online": 1},
    {"labels": {"arch": "amd64", "os": "debian-12"}, "capabilities": {}, "nodes": 2, "online": 1}]'::jsonb,
  'build nodes as label sets with how many are online, no names');
select is(:'opts'::jsonb - 'types' - 'providers' - 'build_nodes', '{"can_select": true, "can_force": false}'::jsonb,
  'a developer may select but not force');
select test.act_as(:'ada');
select is(kiln_api.infrastructure_options() - 'types' - 'providers' - 'build_nodes', '{"can_select": true, "can_force": true}'::jsonb,
  'an admin may force');
select ok(not :'opts'::text ~* 'secret|fingerprint|api_server|api-server|deadbeef|eyJ|token|https?://|key-1',
  'the options hold no endpoint, credential, token or health detail');

select test.act_as(:'dev');
select is(kiln_api.submit_build('{"project": "web", "method": "script", "params": {"script": "x"},
            "infrastructure_type": "kubernetes"}') ->> 'infrastructure_type', 'kubernetes',
  'with a healthy provider a developer may pick Kubernetes');
select kiln_api.recommend_infrastructure('{"project": "web", "method": "docker",
          "params": {"git_url": "https://g/x.git", "image": "x:1"}}') as r2 \gset
select is(:'r2'::jsonb -> 'target' ->> 'provider', 'GKE Shared', 'the recommendation names the provider by display name');
select ok(not :'r2'::text ~* 'secret|fingerprint|api_server|api-server|deadbeef|eyJ|key-1',
  'and holds no endpoint or credential, inputs included');

------------------------------------------------------------------------------------------
-- Accuracy: link, settle, measure
------------------------------------------------------------------------------------------
select kiln_api.recommend_infrastructure('{"project": "web", "method": "script", "params": {"script": "ok"}, "spec": {"cpu": 1}}') as r3 \gset
select kiln_api.submit_build('{"project": "web", "method": "script", "params": {"script": "a different script"}, "spec": {"cpu": 1}}') ->> 'id' as b3 \gset
select kiln_api.start_build(:'b3', '2000-01-01 00:00:01+00');
select kiln_api.recommend_infrastructure('{"project": "web", "method": "script", "params": {"script": "x"}, "spec": {"cpu": 2}}') as r4 \gset
select kiln_api.submit_build('{"project": "web", "method": "script", "params": {"script": "x"}, "spec": {"cpu": 2}}') ->> 'id' as b4 \gset
select kiln_api.start_build(:'b4', '2000-01-01 00:00:02+00');
select test.act_as(:'ada');
select kiln_api.submit_build('{"project": "web", "method": "script", "params": {"script": "x"}, "spec": {"cpu": 1}}') ->> 'id' as b5 \gset
select kiln_api.start_build(:'b5', '2000-01-01 00:00:03+00');
reset role;
-- The dispatcher places them; b3 and b5 succeed, b4 fails.
select id as e3, epoch as ep3 from test.claim(:'b3') \gset
select kiln_api.plan_execution(:'e3') -> 'metadata' ->> 'recommendation_id' as d3 \gset
select id as e4, epoch as ep4 from test.claim(:'b4') \gset
select kiln_api.plan_execution(:'e4') -> 'metadata' ->> 'recommendation_id' as d4 \gset
select id as e5, epoch as ep5 from test.claim(:'b5') \gset
select kiln_api.plan_execution(:'e5');
select is((select build_id from kiln.infrastructure_recommendations where id = (:'r3'::jsonb ->> 'recommendation_id')::uuid),
  :'b3'::uuid, 'an API recommendation is linked to the build its asker submitted with the same config (params aside)');
select is((select build_id from kiln.infrastructure_recommendations where id = (:'r4'::jsonb ->> 'recommendation_id')::uuid),
  :'b4'::uuid, 'each to its own build');
select is((select count(*)::int from kiln.infrastructure_recommendations where build_id = :'b5' and source = 'api'), 0,
  'another user''s build with that config is not linked to it');
select kiln_api.start_execution(:'e3', :'ep3', 'kubernetes', 'test');
select kiln_api.finish_execution(:'e3', :'ep3', 'succeeded', 0);
select kiln_api.start_execution(:'e4', :'ep4', 'kubernetes', 'test');
select kiln_api.finish_execution(:'e4', :'ep4', 'failed', 1);
select results_eq(format($$select source, recommended::text, ran_on::text, settled, followed, succeeded
                             from kiln_api.recommendation_outcomes where id in (%L, %L, %L) order by source, succeeded$$,
                         :'r3'::jsonb ->> 'recommendation_id', :'d3', :'d4'),
  $$values ('api', 'kubernetes', 'kubernetes', true, true, true),
           ('dispatch', 'kubernetes', 'kubernetes', true, true, false),
           ('dispatch', 'kubernetes', 'kubernetes', true, true, true)$$,
  'the outcomes say whether each led to a success on the recommended infrastructure');
select is(kiln_api.settle_recommendations(), 4, 'settling records the four that ended (two API, two dispatch)');
select results_eq(format($$select succeeded, settled_at is not null from kiln.infrastructure_recommendations
                             where id in (%L, %L) order by succeeded$$, :'d3', :'d4'),
  $$values (false, true), (true, true)$$, 'as succeeded and settled_at');
select is(kiln_api.settle_recommendations(), 0, 'once');
set local role kiln_web;
select test.act_as(:'ada');
select is(kiln_api.recommendation_accuracy() - 'by_source' - 'by_type',
  '{"recommendations": 9, "settled": 4, "followed": 4, "succeeded": 2, "accuracy": 0.500, "mean_confidence": 0.850}'::jsonb,
  'accuracy: of four followed and settled, two succeeded where recommended');
select is(kiln_api.recommendation_accuracy() -> 'by_source' -> 'api' ->> 'accuracy', '0.500', 'per source too');
select test.act_as(:'bob');
select is(kiln_api.recommendation_accuracy() ->> 'recommendations', '0', 'another tenant sees none of them');

select * from finish();
rollback;
