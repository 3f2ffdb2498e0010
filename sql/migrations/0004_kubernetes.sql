-- 0004: Kubernetes providers with encrypted credentials, their node pools as tenants manage
-- them, versioned Tekton pipeline templates, and what the dispatcher tracks about the
-- PipelineRuns it created.

-- Providers: credentials_ciphertext is AES-256-GCM (see src/k8s/crypto.hpp) of the normalized
-- kubeconfig user and cluster, bound to the provider's id; only kiln-dispatch decrypts it.
-- credentials_kind says which mechanism it holds (token, client_certificate, exec, token_file).
-- Builds of tenant T run in namespace `namespace` when set (a tenant's own cluster), else in
-- namespace_prefix || T's name. check_* carries a test an admin asked for until a dispatcher
-- answers it into health / health_detail.
alter table kiln.providers
  add column description            text not null default '',
  add column kubeconfig_context     text,
  add column credentials_kind       text check (credentials_kind in ('token', 'token_file', 'client_certificate', 'exec')),
  add column credentials_updated_at timestamptz,
  add column namespace              text check (namespace ~ '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' and length(namespace) <= 63),
  add column namespace_prefix       text not null default 'kiln-'
    check (namespace_prefix ~ '^[a-z0-9][-a-z0-9]{0,30}$'),
  add column check_request_id       uuid,
  add column check_requested_at     timestamptz,
  add column created_by             uuid references kiln.users (id) on delete set null;

-- Node pools belong to a provider; a tenant sees the pools of the providers it sees and
-- writes those of its own providers.
alter table kiln.node_pools
  add column enabled    boolean not null default true,
  add column updated_at timestamptz not null default now();
alter table kiln.node_pools enable row level security;
alter table kiln.node_pools force row level security;
create policy tenant_read on kiln.node_pools for select to kiln_web
  using (exists (select from kiln.providers p where p.id = provider_id));
create policy tenant_write on kiln.node_pools for all to kiln_web
  using (exists (select from kiln.providers p where p.id = provider_id and p.tenant_id = kiln.current_tenant_id()))
  with check (exists (select from kiln.providers p where p.id = provider_id
                                                      and p.tenant_id = kiln.current_tenant_id()));
create policy system_access on kiln.node_pools to kiln_system using (true) with check (true);
grant insert, update, delete on kiln.node_pools to kiln_web;

-- Pipeline templates are platform-wide (one set per installation): `kiln migrate` seeds
-- pipelines/tekton/*.yaml (source 'seed'); admins add versions (source 'api').
alter table kiln.pipeline_templates
  add column description text not null default '',
  add column source      text not null default 'api' check (source in ('seed', 'api')),
  add column created_by  uuid references kiln.users (id) on delete set null;
grant insert, update on kiln.pipeline_templates to kiln_web;

-- The PipelineRun of an execution: external_ref is its name; provider_id and k8s_namespace
-- say where it lives. backend_state holds what the dispatcher already copied from the run
-- (log offsets per step); backend_done_at is set once nothing more will be read from it.
alter table kiln.build_executions
  add column provider_id     uuid references kiln.providers (id) on delete set null,
  add column k8s_namespace   text,
  add column backend_state   jsonb not null default '{}',
  add column backend_done_at timestamptz;
-- The sync's worklist: runs not yet done with, by cluster and namespace.
create index build_executions_k8s_open on kiln.build_executions (provider_id, k8s_namespace)
  where infrastructure_type = 'kubernetes' and external_ref is not null and backend_done_at is null;

insert into kiln.settings (key, value, description) values
  ('k8s_lease_seconds', 300,
   'lease of an execution running on Kubernetes; every dispatcher pass renews it (the run goes on without us, so a lapsed lease only means another dispatcher adopts it)'),
  ('k8s_log_max_bytes_per_step', 8388608, 'step log bytes copied into the build log per step');
