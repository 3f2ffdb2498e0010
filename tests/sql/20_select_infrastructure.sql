-- kiln_api.select_infrastructure: the seed's decision tree, capability table and method
-- table, one row per branch / capability / method, each asserting the type, the target
-- (provider and node pool, or the build-node requirements) and the reason; the rejected
-- alternatives; admin override and user picks.
begin;
select plan(53);

select test.make_tenant('acme') as acme \gset
select test.make_project(:'acme', 'web', p_language => 'go') as web \gset

-- Five clusters, enabled per case: EKS (general + GPU pool), GKE (multi-arch, high-memory
-- and custom-hardware pools), a standard air-gapped cluster, an OpenShift cluster for
-- legacy systems, and an unhealthy AKS. One build node per special need, all online.
select test.make_provider('EKS Prod', 'eks') as eks \gset
select test.make_node_pool(:'eks', 'general', '{amd64}', '{"cpu": 16, "memory_gb": 32}', p_cost_per_cpu_hour => 0.02);
select test.make_node_pool(:'eks', 'gpu-p4', '{gpu}', '{"cpu": 8, "memory_gb": 61}', p_cost_per_cpu_hour => 0.9);
select test.make_provider('GKE Arm', 'gke') as gke \gset
select test.make_node_pool(:'gke', 'multiarch', '{amd64,arm64}', p_cost_per_cpu_hour => 0.03);
select test.make_node_pool(:'gke', 'highmem', '{high_memory}', '{"cpu": 32, "memory_gb": 512}');
select test.make_node_pool(:'gke', 'asic', '{}', p_labels => '{"custom_hardware": "tpu-v4"}', p_cost_per_cpu_hour => 0.2);
select test.make_provider('DC Cluster', 'kubernetes', p_capabilities => '{"airgapped": true}') as dc \gset
select test.make_node_pool(:'dc', 'dc-general');
select test.make_provider('OpenShift Corp', 'openshift', p_capabilities => '{"legacy_system": true}') as ocp \gset
select test.make_node_pool(:'ocp', 'legacy-pool');
select test.make_provider('AKS Down', 'aks', 'unhealthy') as aks \gset
select test.make_node_pool(:'aks', 'aks-general');
select test.make_node('bn-edge', '{"arch": "amd64"}', '{"airgapped": true, "legacy_system": true}');
select test.make_node('bn-gpu', '{"arch": "amd64"}', '{"gpu": true, "high_memory": true}');
select test.make_node('bn-asic', '{"arch": "amd64", "custom_hardware": "tpu-v4"}');
select test.make_node('bn-arm', '{"arch": "arm64"}');

-- The decision for p_config with only the providers named (by display name) enabled.
create function pg_temp.decide(p_enabled text[], p_config jsonb) returns jsonb
  language plpgsql as $$
begin
  update kiln.providers set enabled = display_name = any (p_enabled);
  return kiln_api.select_infrastructure((select id from kiln.tenants where name = 'acme'),
                                        '{"project": "web"}' || p_config);
end $$;

-- What a case asserts: type, target (provider/pool or node requirements) and reason.
create function pg_temp.summary(p_decision jsonb) returns jsonb
  language sql as $$
  select jsonb_strip_nulls(jsonb_build_object(
    'type', p_decision ->> 'infrastructure_type', 'provider', p_decision -> 'target' ->> 'provider',
    'pool', p_decision -> 'target' ->> 'node_pool', 'nodes', p_decision -> 'target' -> 'node_requirements',
    'reason', p_decision ->> 'reason', 'error', p_decision ->> 'error'))
$$;

create temp table cases (ord serial, label text, capability text, enabled text[], config jsonb, want jsonb);
insert into cases (label, capability, enabled, config, want) values
  -- decision tree: Docker/Kaniko/Buildx -> K8s available?
  ('docker with Kubernetes available goes to Kubernetes', null, '{EKS Prod}', '{"method": "docker"}',
   '{"type": "kubernetes", "provider": "EKS Prod", "pool": "general",
     "reason": "docker builds prefer Kubernetes (always prefer K8s, runs with Kaniko): EKS Prod, node pool general (best of 2 matching node pools)"}'),
  ('docker without any provider goes to build nodes', null, '{}', '{"method": "docker"}',
   '{"type": "build_nodes", "nodes": {},
     "reason": "Kubernetes unavailable: no Kubernetes provider is enabled; build nodes are the fallback for docker builds"}'),
  ('buildx with only an unhealthy provider goes to build nodes', null, '{AKS Down}', '{"method": "buildx"}',
   '{"type": "build_nodes", "nodes": {},
     "reason": "Kubernetes unavailable: no enabled Kubernetes provider is healthy (AKS Down: unhealthy); build nodes are the fallback for buildx builds"}'),
  -- Packer/Nix/Paketo -> special requirements?
  ('packer without special requirements goes to Kubernetes', null, '{EKS Prod}', '{"method": "packer"}',
   '{"type": "kubernetes", "provider": "EKS Prod", "pool": "general",
     "reason": "packer build without special requirements prefers Kubernetes (K8s for cloud integration, runs with Packer): EKS Prod, node pool general (best of 2 matching node pools)"}'),
  ('nix needing a GPU goes to the GPU node pool', 'gpu', '{EKS Prod,GKE Arm}', '{"method": "nix", "requirements": {"gpu": true}}',
   '{"type": "kubernetes", "provider": "EKS Prod", "pool": "gpu-p4", "reason": "needs a GPU: EKS Prod, node pool gpu-p4"}'),
  ('nix needing a GPU without a GPU pool goes to build nodes', null, '{GKE Arm}', '{"method": "nix", "requirements": {"gpu": true}}',
   '{"type": "build_nodes", "nodes": {"capabilities": {"gpu": true}},
     "reason": "needs a GPU, which no healthy Kubernetes node pool has (node pool multiarch has no GPU); build nodes are the fallback"}'),
  ('paketo needing high memory goes to the high-memory pool', 'high_memory', '{EKS Prod,GKE Arm}',
   '{"method": "paketo", "requirements": {"high_memory": true}}',
   '{"type": "kubernetes", "provider": "GKE Arm", "pool": "highmem", "reason": "needs high memory: GKE Arm, node pool highmem"}'),
  ('paketo needing high memory without such a pool goes to build nodes', null, '{EKS Prod}',
   '{"method": "paketo", "requirements": {"high_memory": true}}',
   '{"type": "build_nodes", "nodes": {"capabilities": {"high_memory": true}},
     "reason": "needs high memory, which no healthy Kubernetes node pool has (node pool general has no high-memory nodes); build nodes are the fallback"}'),
  ('a 128 GiB size needs high memory too', null, '{EKS Prod,GKE Arm}', '{"method": "script", "params": {"script": "x"}, "spec": {"memory_gb": 128}}',
   '{"type": "kubernetes", "provider": "GKE Arm", "pool": "highmem", "reason": "needs high memory: GKE Arm, node pool highmem"}'),
  ('air-gapped goes to build nodes', null, '{EKS Prod,GKE Arm}', '{"method": "packer", "requirements": {"airgapped": true}}',
   '{"type": "build_nodes", "nodes": {"capabilities": {"airgapped": true}}, "reason": "air-gapped builds run on build nodes"}'),
  ('air-gapped goes to a standard cluster declared air-gapped', 'airgapped', '{EKS Prod,DC Cluster}',
   '{"method": "packer", "requirements": {"airgapped": true}}',
   '{"type": "kubernetes", "provider": "DC Cluster", "pool": "dc-general",
     "reason": "air-gapped build: DC Cluster (kubernetes) supports air-gapped builds; node pool dc-general"}'),
  ('legacy systems go to build nodes', null, '{EKS Prod}', '{"method": "nix", "requirements": {"legacy_system": true}}',
   '{"type": "build_nodes", "nodes": {"capabilities": {"legacy_system": true}}, "reason": "builds for legacy systems run on build nodes"}'),
  ('legacy systems go to an OpenShift cluster that supports them', 'legacy_system', '{EKS Prod,OpenShift Corp}',
   '{"method": "nix", "requirements": {"legacy_system": true}}',
   '{"type": "kubernetes", "provider": "OpenShift Corp", "pool": "legacy-pool",
     "reason": "legacy system: OpenShift Corp (openshift) supports existing systems; node pool legacy-pool"}'),
  ('multi-arch goes to a pool with every architecture', 'multi_arch', '{EKS Prod,GKE Arm}',
   '{"method": "buildx", "requirements": {"arch": ["amd64", "arm64"]}}',
   '{"type": "kubernetes", "provider": "GKE Arm", "pool": "multiarch", "reason": "needs amd64 and arm64 nodes: GKE Arm, node pool multiarch"}'),
  ('multi-arch without such a pool goes to build nodes', null, '{EKS Prod}',
   '{"method": "buildx", "requirements": {"arch": ["amd64", "arm64"]}}',
   '{"type": "build_nodes", "nodes": {"arch": ["amd64", "arm64"]},
     "reason": "needs amd64 and arm64 nodes, which no healthy Kubernetes node pool has (node pool general has no arm64 nodes); build nodes are the fallback"}'),
  ('custom hardware goes to the pool labelled with it', 'custom_hardware', '{EKS Prod,GKE Arm}',
   '{"method": "script", "params": {"script": "x"}, "requirements": {"custom_hardware": "tpu-v4"}}',
   '{"type": "kubernetes", "provider": "GKE Arm", "pool": "asic", "reason": "needs tpu-v4 hardware: GKE Arm, node pool asic"}'),
  ('custom hardware without such a pool goes to build nodes', null, '{EKS Prod}',
   '{"method": "script", "params": {"script": "x"}, "requirements": {"custom_hardware": "tpu-v4"}}',
   '{"type": "build_nodes", "nodes": {"labels": {"custom_hardware": "tpu-v4"}},
     "reason": "needs tpu-v4 hardware, which only build nodes labelled custom_hardware=tpu-v4 have"}'),
  ('a size no node pool holds goes to build nodes', null, '{EKS Prod}', '{"method": "docker", "spec": {"cpu": 32}}',
   '{"type": "build_nodes", "nodes": {},
     "reason": "no healthy Kubernetes node pool can run it (node pool general nodes have 16 cpu, the build needs 32); build nodes are the fallback for docker builds"}'),
  ('no online build node that can run it is said', null, '{}', '{"method": "script", "params": {"script": "x"}, "requirements": {"arch": ["s390x"]}}',
   '{"type": "build_nodes", "nodes": {"arch": ["s390x"]},
     "reason": "Kubernetes unavailable: no Kubernetes provider is enabled; build nodes are the fallback for script builds; no online build node can run it yet"}'),
  -- override and picks
  ('an admin override is honoured whatever the health, with the reason Admin override', null, '{AKS Down}',
   '{"method": "docker", "infrastructure_type": "kubernetes", "force_infrastructure": true}',
   '{"type": "kubernetes", "provider": "AKS Down", "pool": "aks-general", "reason": "Admin override"}'),
  ('an admin may force build nodes over a healthy cluster', null, '{EKS Prod}',
   '{"method": "docker", "infrastructure_type": "build_nodes", "force_infrastructure": true}',
   '{"type": "build_nodes", "nodes": {}, "reason": "Admin override"}'),
  ('forcing Kubernetes with no enabled provider is an error', null, '{}',
   '{"method": "docker", "infrastructure_type": "kubernetes", "force_infrastructure": true}',
   '{"error": "Kubernetes was requested but no Kubernetes provider is configured; ask an admin to add one or submit with infrastructure_type auto"}'),
  ('a user may pick build nodes', null, '{EKS Prod}', '{"method": "docker", "infrastructure_type": "build_nodes"}',
   '{"type": "build_nodes", "nodes": {}, "reason": "build nodes requested"}'),
  ('a user may pick Kubernetes', null, '{EKS Prod}', '{"method": "script", "params": {"script": "x"}, "infrastructure_type": "kubernetes"}',
   '{"type": "kubernetes", "provider": "EKS Prod", "pool": "general",
     "reason": "Kubernetes requested: EKS Prod, node pool general (best of 2 matching node pools)"}'),
  ('picking Kubernetes when it is unavailable is an error', null, '{AKS Down}',
   '{"method": "script", "params": {"script": "x"}, "infrastructure_type": "kubernetes"}',
   '{"error": "Kubernetes was requested but is unavailable (no enabled Kubernetes provider is healthy (AKS Down: unhealthy)); submit with infrastructure_type auto"}'),
  ('picking Kubernetes for a build no pool can run is an error', null, '{EKS Prod}',
   '{"method": "script", "params": {"script": "x"}, "infrastructure_type": "kubernetes", "requirements": {"arch": ["s390x"]}}',
   '{"error": "Kubernetes was requested but no healthy node pool can run this build (node pool general has no s390x nodes); submit with infrastructure_type auto"}');

select is(pg_temp.summary(pg_temp.decide(c.enabled, c.config)), c.want, c.label) from cases c order by c.ord;

select set_eq($$select capability from cases where capability is not null$$,
              $$select capability from kiln.infrastructure_capabilities$$,
  'every row of the capability table has a case that uses it');

------------------------------------------------------------------------------------------
-- The capability table's provider types: air-gapped only on standard Kubernetes
------------------------------------------------------------------------------------------
update kiln.providers set capabilities = '{"airgapped": true}' where id = :'eks';
select pg_temp.decide('{EKS Prod}', '{"method": "packer", "requirements": {"airgapped": true}}') as d \gset
select is(pg_temp.summary(:'d'),
  '{"type": "build_nodes", "nodes": {"capabilities": {"airgapped": true}}, "reason": "air-gapped builds run on build nodes"}'::jsonb,
  'an EKS cluster that calls itself air-gapped is not used: the capability table names standard Kubernetes');
select is((select jsonb_agg(a ->> 'why' order by a ->> 'node_pool') from jsonb_array_elements(:'d'::jsonb -> 'alternatives') a
            where a ->> 'provider' = 'EKS Prod'),
  '["EKS Prod (eks) does not support air-gapped builds", "EKS Prod (eks) does not support air-gapped builds"]'::jsonb,
  'and the alternatives say why');
update kiln.providers set capabilities = '{}' where id = :'eks';

------------------------------------------------------------------------------------------
-- The method table: every method, with Kubernetes available and without
------------------------------------------------------------------------------------------
create temp table methods (method text, config jsonb, k8s_reason text);
insert into methods values
  ('docker', '{"method": "docker"}', 'docker builds prefer Kubernetes (always prefer K8s, runs with Kaniko)'),
  ('buildx', '{"method": "buildx"}', 'buildx builds prefer Kubernetes (K8s for multi-arch, runs with Buildx)'),
  ('packer', '{"method": "packer"}', 'packer build without special requirements prefers Kubernetes (K8s for cloud integration, runs with Packer)'),
  ('nix', '{"method": "nix"}', 'nix build without special requirements prefers Kubernetes (K8s for caching, runs with Nix)'),
  ('paketo', '{"method": "paketo"}', 'paketo build without special requirements prefers Kubernetes (K8s for supply chain, runs with Paketo)'),
  ('script', '{"method": "script"}', 'script build without special requirements prefers Kubernetes (K8s when available, runs with shell)');
select set_eq($$select method from methods$$, $$select method::text from kiln.build_methods$$,
  'the method cases cover the method table');
select is(pg_temp.summary(pg_temp.decide('{GKE Arm}', m.config)),
  jsonb_build_object('type', 'kubernetes', 'provider', 'GKE Arm', 'pool', 'multiarch',
    'reason', m.k8s_reason || ': GKE Arm, node pool multiarch (best of 3 matching node pools)'),
  m.method || ': the primary infrastructure, Kubernetes, when a healthy pool exists')
  from methods m order by m.method;
select is(pg_temp.summary(pg_temp.decide('{}', m.config)),
  jsonb_build_object('type', 'build_nodes', 'nodes', '{}'::jsonb, 'reason', format(
    'Kubernetes unavailable: no Kubernetes provider is enabled; build nodes are the fallback for %s builds', m.method)),
  m.method || ': the fallback, build nodes, without Kubernetes')
  from methods m order by m.method;
update kiln.build_methods set primary_infra = 'build_nodes' where method = 'script';
select is(pg_temp.summary(pg_temp.decide('{GKE Arm}', '{"method": "script"}')),
  '{"type": "build_nodes", "nodes": {}, "reason": "the method table runs script builds on build nodes first"}'::jsonb,
  'a method whose primary an admin set to build nodes runs there');
update kiln.build_methods set primary_infra = 'kubernetes' where method = 'script';

------------------------------------------------------------------------------------------
-- Alternatives, scores, needs
------------------------------------------------------------------------------------------
select pg_temp.decide('{EKS Prod,GKE Arm,AKS Down}', '{"method": "nix", "requirements": {"gpu": true}}') as d \gset
select is((select jsonb_agg(jsonb_build_object('type', a ->> 'infrastructure_type', 'pool', a ->> 'node_pool', 'why', a ->> 'why')
                            order by a ->> 'infrastructure_type', a ->> 'node_pool')
             from jsonb_array_elements(:'d'::jsonb -> 'alternatives') a),
  '[{"type": "build_nodes", "pool": null, "why": "the fallback for nix builds; Kubernetes can run it (1 online build nodes could)"},
    {"type": "kubernetes", "pool": "aks-general", "why": "provider AKS Down is unhealthy"},
    {"type": "kubernetes", "pool": "asic", "why": "node pool asic has no GPU"},
    {"type": "kubernetes", "pool": "dc-general", "why": "provider DC Cluster is disabled"},
    {"type": "kubernetes", "pool": "general", "why": "node pool general has no GPU"},
    {"type": "kubernetes", "pool": "highmem", "why": "node pool highmem has no GPU"},
    {"type": "kubernetes", "pool": "legacy-pool", "why": "provider OpenShift Corp is disabled"},
    {"type": "kubernetes", "pool": "multiarch", "why": "node pool multiarch has no GPU"}]'::jsonb,
  'every option not chosen is listed with why');
select is(:'d'::jsonb -> 'needs' -> 'hardware', '["a GPU"]', 'the needs are listed readably');
select pg_temp.decide('{EKS Prod}', '{"method": "docker"}') as d \gset
select is((select jsonb_agg(a ->> 'why') from jsonb_array_elements(:'d'::jsonb -> 'alternatives') a
            where a ->> 'node_pool' = 'gpu-p4'),
  '["scored 0.3500, below 0.5000 of node pool general"]'::jsonb,
  'a GPU pool scores lower for a build that needs no GPU, and says so');
select is((:'d'::jsonb -> 'target' ->> 'score')::numeric, 0.5, 'the chosen pool''s score is in the target');
select ok(not (:'d'::jsonb -> 'inputs')::text ~ 'secret|fingerprint|api_server|deadbeef',
  'the decision inputs hold no endpoint or credential');

------------------------------------------------------------------------------------------
-- Offline build nodes, a tenant's own provider, bad configs
------------------------------------------------------------------------------------------
update kiln.build_nodes set last_heartbeat_at = now() - interval '61 seconds' where name = 'bn-gpu';
select is(pg_temp.summary(pg_temp.decide('{}', '{"method": "nix", "requirements": {"gpu": true}}')) ->> 'reason',
  'Kubernetes unavailable: no Kubernetes provider is enabled; build nodes are the fallback for nix builds; no online build node can run it yet',
  'a node without a heartbeat for node_offline_after_seconds is offline');
select test.make_tenant('beta') as beta \gset
select test.make_node_pool(test.make_provider('Beta Private', 'gke', p_tenant => :'beta'), 'private');
select is(pg_temp.decide('{Beta Private}', '{"method": "docker"}') ->> 'infrastructure_type', 'build_nodes',
  'another tenant''s provider is never chosen');
select throws_ok($$select kiln_api.select_infrastructure((select id from kiln.tenants where name = 'acme'),
                     '{"project": "nope", "method": "docker"}')$$, 'QC422',
  'project nope does not exist; create it with POST /api/v1/projects', 'an unknown project is QC422');
select throws_ok($$select kiln_api.select_infrastructure((select id from kiln.tenants where name = 'acme'),
                     '{"project": "web", "method": "make"}')$$, 'QC400',
  'method make is not one of docker, buildx, packer, nix, paketo, script', 'an unknown method is QC400');
select is(test.error_detail($$select kiln_api.select_infrastructure((select id from kiln.tenants where name = 'acme'),
                     '{"project": "web", "method": "docker", "spec": {"cpu": 0}}')$$),
  '{"code": "invalid_value", "field": "spec.cpu"}'::jsonb, 'an invalid spec is QC400 naming the field');

select * from finish();
rollback;
