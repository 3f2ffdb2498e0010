-- 0003: infrastructure selection and sizing (hybrid-infrastructure-strategy seed, adr-039):
-- the method table's selection criteria, the provider capability table, the size ladder an
-- OOM retry climbs, the settings the selection reads, the recommendations it made (and how
-- the builds they led to ended), and indexes for the history it reads.

-- The seed's method table: what each method runs with on Kubernetes and why it prefers it.
alter table kiln.build_methods
  add column engine             text not null default '',
  add column selection_criteria text not null default '';
update kiln.build_methods m set engine = v.engine, selection_criteria = v.criteria
  from (values ('docker', 'Kaniko', 'always prefer K8s'), ('buildx', 'Buildx', 'K8s for multi-arch'),
               ('packer', 'Packer', 'K8s for cloud integration'), ('nix', 'Nix', 'K8s for caching'),
               ('paketo', 'Paketo', 'K8s for supply chain'), ('script', 'shell', 'K8s when available'))
       v (method, engine, criteria)
 where m.method = v.method::kiln.build_method;

-- The seed's provider capability matching, one row per capability a build may need. Where
-- a Kubernetes cluster offers it:
--   scope node_pool  the node pool lists it in node_pools.capabilities (arch: the pool's
--                    arch capabilities or kubernetes.io/arch label; custom_hardware: the
--                    pool's custom_hardware label; high_memory: also nodes of at least
--                    the high_memory_gb setting)
--   scope provider   providers.capabilities has it set to true (a property of the cluster:
--                    its network, its enterprise integration)
-- and only on providers of provider_types when that is not null. Without a cluster that
-- offers it, the build goes to build nodes (every row's fallback).
create table kiln.infrastructure_capabilities (
  capability     text primary key,
  requirement    text not null,
  scope          text not null check (scope in ('node_pool', 'provider')),
  provider_types kiln.provider_type[],
  seed_providers text not null,
  description    text not null
);
insert into kiln.infrastructure_capabilities
  (capability, requirement, scope, provider_types, seed_providers, description) values
  ('gpu', 'gpu', 'node_pool', null, 'AWS EKS (P3/P4), GCP GKE (A100/V100), Azure AKS (NC/ND)',
   'GPU builds need a node pool with GPUs, else build nodes with a GPU'),
  ('high_memory', 'high_memory', 'node_pool', null, 'all providers, if a node pool has the memory',
   'high-memory builds need a high-memory node pool, else build nodes'),
  ('multi_arch', 'arch', 'node_pool', null, 'AWS EKS (Graviton), GCP GKE (Arm), Azure AKS (Ampere)',
   'builds for an architecture need a node pool of every architecture they name, else build nodes'),
  ('airgapped', 'airgapped', 'provider', '{kubernetes}', 'standard Kubernetes with custom networking',
   'air-gapped builds run on build nodes unless a standard cluster is declared air-gapped'),
  ('legacy_system', 'legacy_system', 'provider', '{openshift,rancher}', 'OpenShift/Rancher in enterprise environments',
   'builds for existing (legacy) systems run on build nodes unless an OpenShift or Rancher cluster supports them'),
  ('custom_hardware', 'custom_hardware', 'node_pool', null, 'custom ASICs, proprietary accelerators',
   'custom hardware needs a node pool labelled custom_hardware=<value>, else build nodes with that label');

-- The ordered sizes an OOM retry climbs (adr-039: "one size up"). A retry takes the rung
-- above the highest rung whose memory the failed size reached; memory doubles per rung.
create table kiln.size_ladder (
  rung      integer primary key check (rung >= 1),
  name      text not null unique,
  cpu       numeric not null check (cpu > 0),
  memory_gb numeric not null unique check (memory_gb > 0)
);
insert into kiln.size_ladder (rung, name, cpu, memory_gb) values
  (1, 'pico', 0.25, 0.125), (2, 'nano', 0.25, 0.25), (3, 'micro', 0.5, 0.5), (4, 'mini', 1, 1),
  (5, 'xsmall', 1, 2), (6, 'small', 2, 4), (7, 'medium', 4, 8), (8, 'large', 8, 16),
  (9, 'xlarge', 16, 32), (10, '2xlarge', 32, 64), (11, '4xlarge', 64, 128),
  (12, '8xlarge', 64, 256), (13, '16xlarge', 64, 512);

insert into kiln.settings (key, value, description) values
  ('confidence_prior_weight', 5,
   'confidence = (successes + weight × rule clarity) / (samples + weight): how many builds of history outweigh the rules'),
  ('confidence_history_days', 90, 'how far back comparable builds count towards a recommendation''s confidence'),
  ('confidence_history_samples', 200, 'at most this many of the most recent comparable builds count towards it'),
  ('high_memory_gb', 64, 'a size of at least this many GiB needs high memory; node pools with nodes this big offer it'),
  ('sizing_min_samples', 3, 'successful runs of a project needed before its p95 usage sizes its builds'),
  ('sizing_history_samples', 100, 'the most recent successful runs of a project whose usage its p95 is taken over'),
  ('recommendation_link_seconds', 86400,
   'a recommendation is linked to a build with the same config submitted by the same user within this time');

-- Every recommendation the selection made: from the API (source api), or the dispatcher's
-- placement of an execution (source dispatch). build_id/execution_id link it to the build it
-- led to; succeeded/settled_at record, once that build ended, whether it succeeded on the
-- recommended infrastructure (kiln_api.recommendation_outcomes computes it live).
create table kiln.infrastructure_recommendations (
  id                  uuid primary key default gen_random_uuid(),
  tenant_id           uuid not null references kiln.tenants (id) on delete cascade,
  project_id          uuid references kiln.projects (id) on delete set null,
  source              text not null check (source in ('api', 'dispatch')),
  requested_by        uuid references kiln.users (id) on delete set null,
  config_sha          text not null,
  inputs              jsonb not null,
  result              jsonb not null,
  infrastructure_type kiln.infrastructure_type,
  reason              text,
  confidence          numeric check (confidence between 0 and 1),
  build_id            uuid references kiln.builds (id) on delete set null,
  execution_id        uuid references kiln.build_executions (id) on delete set null,
  linked_at           timestamptz,
  succeeded           boolean,
  settled_at          timestamptz,
  created_at          timestamptz not null default now()
);
-- API recommendations waiting for the build they lead to.
create index infrastructure_recommendations_unlinked
  on kiln.infrastructure_recommendations (tenant_id, config_sha, created_at desc)
  where build_id is null and source = 'api';
create index infrastructure_recommendations_build on kiln.infrastructure_recommendations (build_id);
create index infrastructure_recommendations_unsettled on kiln.infrastructure_recommendations (created_at)
  where settled_at is null and build_id is not null;
create index infrastructure_recommendations_tenant_time
  on kiln.infrastructure_recommendations (tenant_id, created_at desc);

alter table kiln.infrastructure_recommendations enable row level security;
alter table kiln.infrastructure_recommendations force row level security;
create policy tenant_isolation on kiln.infrastructure_recommendations to kiln_web
  using (tenant_id = kiln.current_tenant_id()) with check (tenant_id = kiln.current_tenant_id());
create policy system_access on kiln.infrastructure_recommendations to kiln_system using (true) with check (true);

-- History the selection reads: a project's recent usage (sizing p95) and a tenant's recent
-- usage (confidence).
create index infrastructure_usage_project_time on kiln.infrastructure_usage (project_id, start_time desc);
create index infrastructure_usage_tenant_time on kiln.infrastructure_usage (tenant_id, start_time);

grant select on kiln.infrastructure_capabilities, kiln.size_ladder to kiln_web;
grant select, insert on kiln.infrastructure_recommendations to kiln_web;
grant select, insert, update, delete on kiln.infrastructure_capabilities, kiln.size_ladder,
  kiln.infrastructure_recommendations to kiln_system;
