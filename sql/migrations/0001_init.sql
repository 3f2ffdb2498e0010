-- 0001_init: the data schema `kiln`: tenants and auth, projects, builds and their
-- executions, events, pipeline templates, infrastructure, usage and the audit log.
--
-- Roles (cluster-wide, created once):
--   kiln_web       the API server. Subject to row-level security: sees one tenant per
--                  transaction, the one `kiln.tenant_id` names.
--   kiln_dispatch  dispatchers. Member of kiln_system.
--   kiln_system    NOLOGIN. Sees every tenant; owns the SECURITY DEFINER functions
--                  (token lookup, agent calls) whose own arguments scope what they touch.

do $$
begin
  if not exists (select from pg_roles where rolname = 'kiln_web') then
    create role kiln_web login;
  end if;
  if not exists (select from pg_roles where rolname = 'kiln_system') then
    create role kiln_system nologin;
  end if;
  if not exists (select from pg_roles where rolname = 'kiln_dispatch') then
    create role kiln_dispatch login in role kiln_system;
  end if;
end $$;

create schema kiln;
grant usage on schema kiln to kiln_web, kiln_system;

-- The tenant of the current transaction; null (no rows visible) when unset.
create function kiln.current_tenant_id() returns uuid
  language sql stable parallel safe
  as $$ select nullif(current_setting('kiln.tenant_id', true), '')::uuid $$;

create type kiln.build_status as enum
  ('pending', 'queued', 'dispatching', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out');
create type kiln.execution_status as enum
  ('dispatching', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out', 'oom_killed', 'lost');
create type kiln.build_method as enum ('docker', 'buildx', 'packer', 'nix', 'paketo', 'script');
create type kiln.infrastructure_type as enum ('auto', 'kubernetes', 'build_nodes');
create type kiln.provider_type as enum
  ('eks', 'gke', 'aks', 'oke', 'vks', 'openshift', 'rancher', 'kubernetes');
create type kiln.health_status as enum ('unknown', 'healthy', 'unhealthy');
create type kiln.node_status as enum ('active', 'draining', 'deprecated');

create table kiln.schema_migrations (
  version    text primary key,
  checksum   text not null,
  applied_at timestamptz not null default now()
);

------------------------------------------------------------------------------------------
-- Tenants, users, permissions, tokens
------------------------------------------------------------------------------------------

create table kiln.tenants (
  id         uuid primary key default gen_random_uuid(),
  name       text not null unique check (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  created_at timestamptz not null default now()
);

create table kiln.users (
  id         uuid primary key default gen_random_uuid(),
  tenant_id  uuid not null references kiln.tenants (id) on delete cascade,
  name       text not null check (length(name) between 1 and 200),
  email      text,
  created_at timestamptz not null default now(),
  unique (tenant_id, name)
);

-- The seed's six infrastructure permissions plus build and admin permissions.
create table kiln.permissions (
  name        text primary key,
  description text not null
);

create table kiln.roles (
  name        text primary key,
  description text not null
);

create table kiln.role_permissions (
  role_name  text not null references kiln.roles (name) on delete cascade,
  permission text not null references kiln.permissions (name) on delete cascade,
  primary key (role_name, permission)
);

create table kiln.user_roles (
  user_id   uuid not null references kiln.users (id) on delete cascade,
  role_name text not null references kiln.roles (name) on delete cascade,
  tenant_id uuid not null references kiln.tenants (id) on delete cascade,
  primary key (user_id, role_name)
);

-- Tokens are 32 random bytes shown once; only their SHA-256 is stored.
create table kiln.api_tokens (
  id           uuid primary key default gen_random_uuid(),
  tenant_id    uuid not null references kiln.tenants (id) on delete cascade,
  user_id      uuid not null references kiln.users (id) on delete cascade,
  name         text not null,
  token_sha256 bytea not null unique check (length(token_sha256) = 32),
  created_at   timestamptz not null default now(),
  expires_at   timestamptz,
  revoked_at   timestamptz,
  last_used_at timestamptz
);
create index api_tokens_user on kiln.api_tokens (user_id);

------------------------------------------------------------------------------------------
-- Projects and builds
------------------------------------------------------------------------------------------

create table kiln.projects (
  id           uuid primary key default gen_random_uuid(),
  tenant_id    uuid not null references kiln.tenants (id) on delete cascade,
  name         text not null check (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$'),
  language     text,
  requires_gpu boolean not null default false,
  -- The project's own build requirements (same keys as a build's), merged into each build's.
  requirements jsonb not null default '{}' check (jsonb_typeof(requirements) = 'object'),
  created_at   timestamptz not null default now(),
  unique (tenant_id, name)
);

-- The method table of the hybrid-infrastructure seed: what each method needs and where it
-- prefers to run.
create table kiln.build_methods (
  method          kiln.build_method primary key,
  description     text not null,
  required_params text[] not null,
  optional_params text[] not null,
  primary_infra   kiln.infrastructure_type not null,
  fallback_infra  kiln.infrastructure_type not null
);

create table kiln.builds (
  id             uuid primary key default gen_random_uuid(),
  tenant_id      uuid not null references kiln.tenants (id) on delete cascade,
  project_id     uuid not null references kiln.projects (id) on delete cascade,
  status         kiln.build_status not null default 'pending',
  priority       integer not null default 0 check (priority between -100 and 100),
  -- The attempt the next (or current) execution runs as; bounded by max_attempts.
  attempt        integer not null default 1 check (attempt >= 1),
  max_attempts   integer not null default 3 check (max_attempts >= 1),
  -- Fencing token: bumped by every claim. A worker holding an older epoch is a zombie.
  lease_epoch    bigint not null default 0,
  oom_retries    integer not null default 0,
  created_by     uuid references kiln.users (id) on delete set null,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now(),
  queued_at      timestamptz,
  started_at     timestamptz,
  finished_at    timestamptz,
  failure_reason text
);
-- The claim reads only this index: queued rows by priority then age.
create index builds_queue on kiln.builds (priority desc, queued_at, id) where status = 'queued';
create index builds_tenant_recent on kiln.builds (tenant_id, created_at desc, id desc);
create index builds_tenant_status_recent on kiln.builds (tenant_id, status, created_at desc, id desc);
create index builds_project_recent on kiln.builds (project_id, created_at desc, id desc);

-- One per build: what was asked for (the seed's BuildConfig).
create table kiln.build_configs (
  build_id              uuid primary key references kiln.builds (id) on delete cascade,
  tenant_id             uuid not null references kiln.tenants (id) on delete cascade,
  method                kiln.build_method not null,
  params                jsonb not null default '{}',
  spec                  jsonb not null default '{}',
  requirements          jsonb not null default '{}',
  infrastructure_type   kiln.infrastructure_type not null default 'auto',
  infrastructure_reason text,
  force_infrastructure  boolean not null default false,
  created_at            timestamptz not null default now()
);

-- One row per attempt. The seed's infrastructure columns are here.
create table kiln.build_executions (
  id                      uuid primary key default gen_random_uuid(),
  build_id                uuid not null references kiln.builds (id) on delete cascade,
  tenant_id               uuid not null references kiln.tenants (id) on delete cascade,
  attempt                 integer not null,
  epoch                   bigint not null,
  status                  kiln.execution_status not null default 'dispatching',
  infrastructure_type     kiln.infrastructure_type not null default 'auto',
  infrastructure_reason   text,
  selected_at             timestamptz default now(),
  infrastructure_metadata jsonb not null default '{}',
  size                    jsonb not null default '{}',
  lease_owner             text,
  lease_expires_at        timestamptz,
  external_ref            text,
  exit_code               integer,
  failure_reason          text,
  created_at              timestamptz not null default now(),
  started_at              timestamptz,
  finished_at             timestamptz,
  unique (build_id, attempt)
);
-- At most one active execution per build, whatever any worker does.
create unique index build_executions_one_active on kiln.build_executions (build_id)
  where status in ('dispatching', 'running');
create index idx_build_executions_infrastructure
  on kiln.build_executions (infrastructure_type, created_at);
create index build_executions_lease on kiln.build_executions (lease_expires_at)
  where status in ('dispatching', 'running');

-- Every status transition, in order; inserts are pushed with pg_notify.
create table kiln.build_events (
  id           bigint generated always as identity primary key,
  build_id     uuid not null references kiln.builds (id) on delete cascade,
  tenant_id    uuid not null references kiln.tenants (id) on delete cascade,
  execution_id uuid references kiln.build_executions (id) on delete cascade,
  from_status  kiln.build_status,
  to_status    kiln.build_status not null,
  actor        text not null,
  message      text not null,
  detail       jsonb not null default '{}',
  created_at   timestamptz not null default now()
);
create index build_events_build on kiln.build_events (build_id, id);

-- Which status may follow which. Enforced by kiln_api.transition_build.
create table kiln.build_transitions (
  from_status kiln.build_status not null,
  to_status   kiln.build_status not null,
  primary key (from_status, to_status)
);

------------------------------------------------------------------------------------------
-- Pipeline templates and infrastructure
------------------------------------------------------------------------------------------

create table kiln.pipeline_templates (
  id            uuid primary key default gen_random_uuid(),
  name          varchar(100) not null,
  build_method  kiln.build_method not null,
  template_yaml text not null,
  version       varchar(20) not null default '1.0.0',
  is_default    boolean not null default false,
  parameters    jsonb not null default '[]' check (jsonb_typeof(parameters) = 'array'),
  created_at    timestamptz not null default now(),
  unique (name, version)
);
create unique index pipeline_templates_one_default on kiln.pipeline_templates (build_method)
  where is_default;

-- Kubernetes clusters. tenant_id null = shared by every tenant (each in its own namespace).
create table kiln.providers (
  id                      uuid primary key default gen_random_uuid(),
  tenant_id               uuid references kiln.tenants (id) on delete cascade,
  name                    text not null,
  display_name            text not null,
  provider_type           kiln.provider_type not null,
  api_server              text not null,
  capabilities            jsonb not null default '{}',
  credentials_ciphertext  bytea,
  credentials_key_id      text,
  credentials_fingerprint text,
  health                  kiln.health_status not null default 'unknown',
  health_detail           jsonb not null default '{}',
  health_checked_at       timestamptz,
  enabled                 boolean not null default true,
  created_at              timestamptz not null default now(),
  updated_at              timestamptz not null default now(),
  unique (name)
);

create table kiln.node_pools (
  id                    uuid primary key default gen_random_uuid(),
  provider_id           uuid not null references kiln.providers (id) on delete cascade,
  name                  text not null,
  labels                jsonb not null default '{}',
  taints                jsonb not null default '[]',
  capacity              jsonb not null default '{}',
  capabilities          text[] not null default '{}',
  cost_per_cpu_hour     numeric(12, 6) not null default 0,
  cost_per_gib_hour     numeric(12, 6) not null default 0,
  cost_per_gpu_hour     numeric(12, 6) not null default 0,
  created_at            timestamptz not null default now(),
  unique (provider_id, name)
);

-- Self-hosted build nodes. tenant_id null = shared.
create table kiln.build_nodes (
  id                uuid primary key default gen_random_uuid(),
  tenant_id         uuid references kiln.tenants (id) on delete cascade,
  name              text not null unique,
  labels            jsonb not null default '{}',
  capabilities      jsonb not null default '{}',
  capacity          jsonb not null default '{}',
  concurrency       integer not null default 1 check (concurrency >= 1),
  token_sha256      bytea unique check (length(token_sha256) = 32),
  status            kiln.node_status not null default 'active',
  deprecated_at     timestamptz,
  last_heartbeat_at timestamptz,
  cost_per_cpu_hour numeric(12, 6) not null default 0,
  cost_per_gib_hour numeric(12, 6) not null default 0,
  cost_per_gpu_hour numeric(12, 6) not null default 0,
  created_at        timestamptz not null default now()
);

-- The seed's infrastructure_usage, with tenant/project for roll-ups. Partitioned by
-- start_time so old months can be detached; the default partition catches everything
-- until monthly partitions are created.
create table kiln.infrastructure_usage (
  id                  uuid not null default gen_random_uuid(),
  build_execution_id  uuid not null references kiln.build_executions (id) on delete cascade,
  tenant_id           uuid not null references kiln.tenants (id) on delete cascade,
  project_id          uuid not null references kiln.projects (id) on delete cascade,
  infrastructure_type varchar(20) not null,
  start_time          timestamptz not null,
  end_time            timestamptz,
  resource_usage      jsonb not null default '{}',
  cost_cents          integer,
  success             boolean,
  error_message       text,
  created_at          timestamptz not null default now(),
  primary key (id, start_time)
) partition by range (start_time);
create table kiln.infrastructure_usage_default partition of kiln.infrastructure_usage default;
create index idx_infrastructure_usage_type_time on kiln.infrastructure_usage (infrastructure_type, start_time);
create index idx_infrastructure_usage_build on kiln.infrastructure_usage (build_execution_id);

create table kiln.audit_log (
  id            bigint generated always as identity primary key,
  tenant_id     uuid references kiln.tenants (id) on delete set null,
  actor_user_id uuid references kiln.users (id) on delete set null,
  action        text not null,
  object_type   text not null,
  object_id     text,
  detail        jsonb not null default '{}',
  created_at    timestamptz not null default now()
);
create index audit_log_tenant_time on kiln.audit_log (tenant_id, created_at desc);

------------------------------------------------------------------------------------------
-- Triggers: timestamps and notifications only
------------------------------------------------------------------------------------------

create function kiln.tg_builds__touch_updated_at() returns trigger language plpgsql as $$
begin
  new.updated_at := now();
  return new;
end $$;
create trigger _100_touch_updated_at before update on kiln.builds
  for each row execute function kiln.tg_builds__touch_updated_at();

-- Channel kiln_build_events carries every transition (live views); kiln_queue wakes
-- dispatchers when a build becomes claimable.
create function kiln.tg_build_events__notify() returns trigger language plpgsql as $$
begin
  perform pg_notify('kiln_build_events', json_build_object(
    'build_id', new.build_id, 'tenant_id', new.tenant_id, 'event_id', new.id,
    'status', new.to_status)::text);
  if new.to_status = 'queued' then
    perform pg_notify('kiln_queue', new.build_id::text);
  end if;
  return null;
end $$;
create trigger _900_notify after insert on kiln.build_events
  for each row execute function kiln.tg_build_events__notify();

------------------------------------------------------------------------------------------
-- Row-level security: every table that carries a tenant
------------------------------------------------------------------------------------------

do $$
declare
  t text;
begin
  -- Partitions too: RLS on a partition applies when it is queried by its own name.
  foreach t in array array['users', 'user_roles', 'api_tokens', 'projects', 'builds',
      'build_configs', 'build_executions', 'build_events', 'infrastructure_usage',
      'infrastructure_usage_default', 'audit_log']
  loop
    execute format('alter table kiln.%I enable row level security', t);
    execute format('alter table kiln.%I force row level security', t);
    execute format('create policy tenant_isolation on kiln.%I to kiln_web '
                   'using (tenant_id = kiln.current_tenant_id()) '
                   'with check (tenant_id = kiln.current_tenant_id())', t);
    execute format('create policy system_access on kiln.%I to kiln_system using (true) with check (true)', t);
  end loop;
  -- Shared infrastructure (tenant_id null) is visible to every tenant, never writable by one.
  foreach t in array array['providers', 'build_nodes'] loop
    execute format('alter table kiln.%I enable row level security', t);
    execute format('alter table kiln.%I force row level security', t);
    execute format('create policy tenant_read on kiln.%I for select to kiln_web '
                   'using (tenant_id is null or tenant_id = kiln.current_tenant_id())', t);
    execute format('create policy tenant_write on kiln.%I for all to kiln_web '
                   'using (tenant_id = kiln.current_tenant_id()) '
                   'with check (tenant_id = kiln.current_tenant_id())', t);
    execute format('create policy system_access on kiln.%I to kiln_system using (true) with check (true)', t);
  end loop;
end $$;
alter table kiln.tenants enable row level security;
alter table kiln.tenants force row level security;
create policy tenant_self on kiln.tenants to kiln_web using (id = kiln.current_tenant_id());
create policy system_access on kiln.tenants to kiln_system using (true) with check (true);

grant select on kiln.tenants, kiln.permissions, kiln.roles, kiln.role_permissions,
  kiln.build_methods, kiln.build_transitions, kiln.pipeline_templates, kiln.node_pools
  to kiln_web;
grant select, insert, update, delete on kiln.users, kiln.user_roles, kiln.api_tokens,
  kiln.projects, kiln.builds, kiln.build_configs, kiln.build_executions, kiln.providers,
  kiln.build_nodes to kiln_web;
grant select, insert on kiln.build_events, kiln.audit_log, kiln.infrastructure_usage to kiln_web;
grant select, insert, update, delete on all tables in schema kiln to kiln_system;

------------------------------------------------------------------------------------------
-- Reference data
------------------------------------------------------------------------------------------

insert into kiln.permissions (name, description) values
  ('infrastructure:configure', 'Admin: configure infrastructure providers'),
  ('infrastructure:manage', 'Admin: update or delete providers, force an infrastructure'),
  ('infrastructure:monitor', 'Admin: view infrastructure metrics and health'),
  ('infrastructure:select', 'User: select from the available infrastructure options'),
  ('infrastructure:view', 'User: view infrastructure recommendations'),
  ('build:create:with-infra', 'User: create builds with an infrastructure selection'),
  ('build:read', 'Read builds, their executions, events and logs'),
  ('build:create', 'Create and start builds, create projects'),
  ('build:cancel', 'Cancel builds'),
  ('admin', 'Administer the tenant: users, tokens, audit log');

insert into kiln.roles (name, description) values
  ('admin', 'Tenant administrator: every permission'),
  ('developer', 'Submits, starts and cancels builds; may pick infrastructure'),
  ('viewer', 'Reads builds and recommendations');

insert into kiln.role_permissions (role_name, permission)
  select 'admin', name from kiln.permissions
  union all
  select 'developer', unnest(array['build:read', 'build:create', 'build:cancel',
    'build:create:with-infra', 'infrastructure:select', 'infrastructure:view'])
  union all
  select 'viewer', unnest(array['build:read', 'infrastructure:view']);

insert into kiln.build_transitions (from_status, to_status) values
  ('pending', 'queued'), ('pending', 'cancelled'),
  ('queued', 'dispatching'), ('queued', 'cancelled'), ('queued', 'failed'),
  ('dispatching', 'running'), ('dispatching', 'queued'), ('dispatching', 'failed'),
  ('dispatching', 'cancelled'),
  ('running', 'succeeded'), ('running', 'failed'), ('running', 'timed_out'),
  ('running', 'cancelled'), ('running', 'queued');

insert into kiln.build_methods
  (method, description, required_params, optional_params, primary_infra, fallback_infra) values
  ('docker', 'Container image with Kaniko', '{git_url,image}',
   '{git_revision,dockerfile,context}', 'kubernetes', 'build_nodes'),
  ('buildx', 'Multi-arch container image with Buildx', '{git_url,image}',
   '{git_revision,dockerfile,context,platforms}', 'kubernetes', 'build_nodes'),
  ('packer', 'Machine image with Packer', '{git_url,template}',
   '{git_revision,vars}', 'kubernetes', 'build_nodes'),
  ('nix', 'Nix flake build', '{flake_uri}',
   '{attributes,git_url,git_revision}', 'kubernetes', 'build_nodes'),
  ('paketo', 'Cloud Native Buildpacks with Paketo', '{git_url,image}',
   '{git_revision,builder}', 'kubernetes', 'build_nodes'),
  ('script', 'Custom build script', '{script}',
   '{git_url,git_revision,image,workdir}', 'kubernetes', 'build_nodes');
