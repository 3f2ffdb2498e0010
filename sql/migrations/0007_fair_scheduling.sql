-- 0007: fair scheduling. Hard caps per tenant and per project (running builds, and
-- optionally cpu and memory in flight), a share per tenant for the fair-share order of
-- kiln_api.claim_builds, aging of queued builds' priority, and builds that may not run
-- before a given time. docs/scheduling.md explains the rules.

-- One row per tenant that has a share or a cap; no row means share 1 and no caps. The
-- claim locks the row of a capped tenant, so claims of that tenant serialize and its caps
-- hold under any number of dispatchers. A cap of 0 holds the tenant's builds until an
-- admin raises it.
create table kiln.tenant_scheduling (
  tenant_id     uuid primary key references kiln.tenants (id) on delete cascade,
  share         numeric(10, 3) not null default 1 check (share > 0 and share <= 1000),
  max_running   integer check (max_running between 0 and 100000),
  max_cpu       numeric(12, 3) check (max_cpu >= 0),
  max_memory_gb numeric(14, 3) check (max_memory_gb >= 0),
  updated_at    timestamptz not null default now(),
  updated_by    uuid references kiln.users (id) on delete set null
);

create table kiln.project_scheduling (
  project_id    uuid primary key references kiln.projects (id) on delete cascade,
  tenant_id     uuid not null references kiln.tenants (id) on delete cascade,
  max_running   integer check (max_running between 0 and 100000),
  max_cpu       numeric(12, 3) check (max_cpu >= 0),
  max_memory_gb numeric(14, 3) check (max_memory_gb >= 0),
  updated_at    timestamptz not null default now(),
  updated_by    uuid references kiln.users (id) on delete set null
);
create index project_scheduling_tenant on kiln.project_scheduling (tenant_id);

alter table kiln.tenant_scheduling enable row level security;
alter table kiln.tenant_scheduling force row level security;
alter table kiln.project_scheduling enable row level security;
alter table kiln.project_scheduling force row level security;
create policy tenant_isolation on kiln.tenant_scheduling to kiln_web
  using (tenant_id = kiln.current_tenant_id()) with check (tenant_id = kiln.current_tenant_id());
create policy tenant_isolation on kiln.project_scheduling to kiln_web
  using (tenant_id = kiln.current_tenant_id()) with check (tenant_id = kiln.current_tenant_id());
create policy system_access on kiln.tenant_scheduling to kiln_system using (true) with check (true);
create policy system_access on kiln.project_scheduling to kiln_system using (true) with check (true);
grant select, insert, update, delete on kiln.tenant_scheduling, kiln.project_scheduling
  to kiln_web, kiln_system;

-- Fair-share state: each tenant's virtual time, advanced by 1/share per claimed build;
-- the claim serves the tenants with queued work least-served first. One row per tenant
-- (kept by the trigger below), written only by claims.
create table kiln.tenant_fair_state (
  tenant_id uuid primary key references kiln.tenants (id) on delete cascade,
  vtime     numeric not null default 0
);
insert into kiln.tenant_fair_state (tenant_id) select id from kiln.tenants;
create function kiln.tg_tenants__fair_state() returns trigger
  language plpgsql security definer set search_path = pg_catalog, kiln as $$
begin
  insert into kiln.tenant_fair_state (tenant_id) values (new.id) on conflict do nothing;
  return null;
end $$;
create trigger _500_fair_state after insert on kiln.tenants
  for each row execute function kiln.tg_tenants__fair_state();
alter table kiln.tenant_fair_state enable row level security;
alter table kiln.tenant_fair_state force row level security;
create policy tenant_isolation on kiln.tenant_fair_state to kiln_web
  using (tenant_id = kiln.current_tenant_id()) with check (tenant_id = kiln.current_tenant_id());
create policy system_access on kiln.tenant_fair_state to kiln_system using (true) with check (true);
grant select, insert, update on kiln.tenant_fair_state to kiln_system;

-- effective_priority: the priority the claim orders by, raised by one every
-- priority_aging_seconds a build waits (kiln_api.age_queued_builds), so no build waits
-- forever behind a stream of higher-priority ones. not_before: a build queued for later.
alter table kiln.builds
  add column effective_priority integer not null default 0,
  add column not_before timestamptz;
update kiln.builds set effective_priority = priority;
-- A build starts at its own priority; kiln_api.transition_build resets it on every requeue.
create function kiln.tg_builds__effective_priority() returns trigger language plpgsql as $$
begin
  new.effective_priority := new.priority;
  return new;
end $$;
create trigger _050_effective_priority before insert on kiln.builds
  for each row execute function kiln.tg_builds__effective_priority();

-- What the claim reserved for a capped tenant or project: {cpu, memory_gb}, the size the
-- plan computes (kiln_api.compute_size); the cpu/memory in flight counts the planned size
-- once there is one, else this.
alter table kiln.build_executions add column reserved jsonb not null default '{}';

drop index kiln.builds_queue;
create index builds_queue on kiln.builds (effective_priority desc, queued_at, id) where status = 'queued';
create index builds_queue_tenant on kiln.builds (tenant_id, effective_priority desc, queued_at, id)
  where status = 'queued';
create index build_executions_active_tenant on kiln.build_executions (tenant_id)
  where status in ('dispatching', 'running');

insert into kiln.permissions (name, description) values
  ('scheduling:tenant', 'Operator: set a tenant''s fair share and caps');
insert into kiln.roles (name, description) values
  ('operator', 'Platform operator: sets tenants'' shares and caps');
insert into kiln.role_permissions (role_name, permission) values ('operator', 'scheduling:tenant');

insert into kiln.settings (key, value, description) values
  ('priority_aging_seconds', 60, 'a queued build''s effective priority rises by one per this many seconds of waiting'),
  ('fair_share_burst', 5, 'a tenant back from idle may claim this many builds ahead of the others before they alternate'),
  ('eta_window_minutes', 60, 'the ETA of a queued build uses the claims of this many recent minutes');
