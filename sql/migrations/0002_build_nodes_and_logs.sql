-- 0002: running builds on build nodes: offers and node assignment on executions, measured
-- usage, build logs in chunks, tunable settings and size defaults.

-- Settings an operator may change with plain UPDATEs; read by the functions that need them.
create table kiln.settings (
  key         text primary key,
  value       numeric not null,
  description text not null
);
insert into kiln.settings (key, value, description) values
  ('agent_lease_seconds', 30, 'lease an agent holds on an execution; it renews every third of it'),
  ('dispatch_lease_seconds', 60, 'lease a dispatcher holds between claim and hand-off'),
  ('offer_ttl_seconds', 900, 'how long an execution waits for a build node before it is requeued'),
  ('node_offline_after_seconds', 60, 'a node without a heartbeat for this long is offline'),
  ('time_budget_grace_seconds', 120, 'past its time budget plus this, the server times a run out itself'),
  ('log_max_bytes', 67108864, 'log bytes kept per build; the rest is dropped with a notice');

-- Defaults for builds that declare no size (adr-039 tier 3): per method and language; the
-- language '*' row is the method's default.
create table kiln.size_defaults (
  method          kiln.build_method not null,
  language        text not null default '*',
  cpu             numeric not null check (cpu > 0),
  memory_gb       numeric not null check (memory_gb > 0),
  disk_gb         numeric not null check (disk_gb > 0),
  time_budget_min integer not null check (time_budget_min > 0),
  primary key (method, language)
);
insert into kiln.size_defaults (method, language, cpu, memory_gb, disk_gb, time_budget_min) values
  ('docker', '*', 2, 4, 20, 60), ('buildx', '*', 4, 8, 40, 90), ('packer', '*', 2, 4, 40, 120),
  ('nix', '*', 4, 8, 40, 120), ('paketo', '*', 2, 4, 20, 60), ('script', '*', 1, 2, 10, 30),
  ('script', 'rust', 4, 8, 20, 60), ('script', 'go', 2, 4, 10, 30),
  ('script', 'node', 2, 4, 10, 30), ('script', 'java', 2, 4, 10, 45);

alter table kiln.build_executions
  add column build_node_id     uuid references kiln.build_nodes (id) on delete set null,
  -- what the back-end runs: for build nodes {"script": …}
  add column payload           jsonb not null default '{}',
  -- what a node must have: {"arch": [...], "capabilities": {...}, "labels": {...}}
  add column node_requirements jsonb not null default '{}',
  add column offered_at        timestamptz,
  add column cpu_seconds       numeric,
  add column peak_memory_bytes bigint,
  add column log_bytes         bigint not null default 0;
-- Executions waiting for a build node, oldest first.
create index build_executions_offered on kiln.build_executions (offered_at)
  where status = 'dispatching' and build_node_id is null and offered_at is not null;
create index build_executions_node_active on kiln.build_executions (build_node_id)
  where status in ('dispatching', 'running');

alter table kiln.builds
  add column log_bytes bigint not null default 0,
  add column log_truncated boolean not null default false;  -- log_max_bytes reached

-- A build's log: the output of all its executions in the order it arrived, plus a header
-- line per attempt. build_offset is the byte offset of data in the whole build log.
create table kiln.build_log_chunks (
  build_id     uuid not null references kiln.builds (id) on delete cascade,
  build_offset bigint not null,
  tenant_id    uuid not null references kiln.tenants (id) on delete cascade,
  execution_id uuid references kiln.build_executions (id) on delete cascade,
  data         text not null,
  created_at   timestamptz not null default now(),
  primary key (build_id, build_offset)
);
alter table kiln.build_log_chunks enable row level security;
alter table kiln.build_log_chunks force row level security;
create policy tenant_isolation on kiln.build_log_chunks to kiln_web
  using (tenant_id = kiln.current_tenant_id()) with check (tenant_id = kiln.current_tenant_id());
create policy system_access on kiln.build_log_chunks to kiln_system using (true) with check (true);
grant select on kiln.build_log_chunks to kiln_web;
grant select, insert, update, delete on kiln.build_log_chunks, kiln.settings, kiln.size_defaults
  to kiln_system;
grant select on kiln.settings, kiln.size_defaults to kiln_web;

alter table kiln.build_nodes
  add column agent_version text,
  add column updated_at timestamptz not null default now();
