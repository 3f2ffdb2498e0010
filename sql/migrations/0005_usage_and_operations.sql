-- 0005: usage and cost for DBAs (monthly partitions, an hourly roll-up kept current by
-- triggers, the read-only role kiln_reporting), scheduled builds, and alert webhooks with
-- their delivery log. docs/dba.md describes every table and column.
--
-- Ownership: kiln.infrastructure_usage and its partitions belong to kiln_system, so that
-- dispatchers (members of kiln_system) can attach next months' partitions and detach old
-- ones (kiln_api.maintain_usage_partitions); FORCE ROW LEVEL SECURITY still applies to
-- the owner, through its system_access policy.

do $$
begin
  if not exists (select from pg_roles where rolname = 'kiln_reporting') then
    -- NOLOGIN: grant it to the logins of DBAs and dashboards (docs/dba.md).
    create role kiln_reporting nologin;
  end if;
end $$;

insert into kiln.settings (key, value, description) values
  ('usage_partitions_ahead_months', 3,
   'monthly partitions of infrastructure_usage the dispatcher keeps created ahead of the current month'),
  ('usage_retention_months', 13,
   'whole months of raw usage rows kept attached; older monthly partitions are detached (roll-ups keep their totals); 0 keeps all'),
  ('schedule_missed_after_seconds', 300,
   'a schedule tick not enqueued within this many seconds of its time counts as missed (see missed_policy)'),
  ('webhook_timeout_seconds', 5, 'time limit of one webhook delivery attempt (connect + answer)'),
  ('webhook_max_attempts', 8, 'attempts before a webhook delivery is given up (status failed)'),
  ('webhook_backoff_base_seconds', 10,
   'retry delay after the n-th failed attempt: base × 2^(n-1) seconds, at most one hour'),
  ('alert_lookback_seconds', 900, 'how far back build failures are looked for when alerts are collected'),
  ('webhook_delivery_retention_days', 30, 'delivered and failed webhook deliveries are deleted after this many days');

------------------------------------------------------------------------------------------
-- Usage: dimensions, ownership, roll-ups
------------------------------------------------------------------------------------------

-- Where the execution ran, for roll-ups per provider and per node. Writers set them; a
-- trigger fills them from the execution (its build node, its provider) when both are null.
alter table kiln.infrastructure_usage
  add column provider_id   uuid,
  add column build_node_id uuid;

alter table kiln.infrastructure_usage owner to kiln_system;
alter table kiln.infrastructure_usage_default owner to kiln_system;
grant create on schema kiln to kiln_system;  -- new partitions; nothing else creates tables

-- Failures and claims/starts are looked up by time (alerts, latency metrics); a partial
-- index keeps the other transitions out of it.
create index build_events_recent_transitions on kiln.build_events (created_at)
  where to_status in ('dispatching', 'running', 'failed', 'timed_out');

-- A JSON number as numeric, null for anything else (roll-ups must never fail an insert).
create function kiln.jsonb_number(p_value jsonb) returns numeric
  language sql immutable parallel safe as $$
  select case when jsonb_typeof(p_value) = 'number' then (p_value #>> '{}')::numeric end
$$;

-- A JSON string that is a UUID, else null.
create function kiln.jsonb_uuid(p_value jsonb) returns uuid
  language sql immutable parallel safe as $$
  select case when jsonb_typeof(p_value) = 'string'
               and (p_value #>> '{}') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
              then (p_value #>> '{}')::uuid end
$$;

-- What one usage row measures, as the roll-ups add it up: run_seconds = end_time -
-- start_time (else resource_usage.duration_seconds), cpu_seconds from resource_usage,
-- gib_hours = peak memory in GiB × run hours (to 9 decimals).
create function kiln.usage_measures(p_row kiln.infrastructure_usage, out run_seconds numeric,
                                    out cpu_seconds numeric, out gib_hours numeric)
  language sql immutable parallel safe as $$
  select r.s, coalesce(kiln.jsonb_number(p_row.resource_usage -> 'cpu_seconds'), 0),
         -- rounded per row, so that sums are exact whatever the grouping
         round(coalesce(kiln.jsonb_number(p_row.resource_usage -> 'peak_memory_bytes') / 1073741824.0 * r.s / 3600, 0), 9)
    from (select coalesce(greatest(extract(epoch from p_row.end_time - p_row.start_time), 0),
                          kiln.jsonb_number(p_row.resource_usage -> 'duration_seconds'), 0)::numeric as s) r
$$;

-- Usage per hour and per day (UTC, by start_time) and per tenant, project, infrastructure
-- type, provider and build node. Maintained by the triggers below in the transaction that
-- writes the usage rows, so they always equal a recomputation from the attached raw rows
-- (kiln_api.rebuild_usage_rollup repairs them after a TRUNCATE or a direct partition
-- write). Rows of detached partitions stay counted: roll-ups outlive raw-row retention.
-- No foreign keys (they doubled the cost of a bulk load): deleting a tenant or project
-- deletes its usage rows, whose trigger empties its roll-ups; roll-up rows of detached
-- months of a deleted tenant are left behind, and the views (inner joins) ignore them.
create table kiln.usage_rollup_hourly (
  hour                timestamptz not null,
  tenant_id           uuid not null,
  project_id          uuid not null,
  infrastructure_type varchar(20) not null,
  provider_id         uuid,
  build_node_id       uuid,
  executions          bigint not null default 0,
  succeeded           bigint not null default 0,
  failed              bigint not null default 0,
  cost_cents          bigint not null default 0,
  cpu_seconds         numeric not null default 0,
  run_seconds         numeric not null default 0,
  gib_hours           numeric not null default 0,
  updated_at          timestamptz not null default now(),
  constraint usage_rollup_hourly_key unique nulls not distinct
    (hour, tenant_id, project_id, infrastructure_type, provider_id, build_node_id)
);
create index usage_rollup_hourly_tenant on kiln.usage_rollup_hourly (tenant_id, hour);

-- The same per day; weeks and months are read from it.
create table kiln.usage_rollup_daily (like kiln.usage_rollup_hourly including defaults);
alter table kiln.usage_rollup_daily rename column hour to day;
alter table kiln.usage_rollup_daily
  add constraint usage_rollup_daily_key unique nulls not distinct
    (day, tenant_id, project_id, infrastructure_type, provider_id, build_node_id);
create index usage_rollup_daily_tenant on kiln.usage_rollup_daily (tenant_id, day);
-- The month of a day, as kiln_api.usage_monthly and cost_per_build compute it.
create index usage_rollup_daily_month
  on kiln.usage_rollup_daily ((date_trunc('month', day at time zone 'UTC') at time zone 'UTC'));

create function kiln.tg_infrastructure_usage__dimensions() returns trigger
  language plpgsql security definer set search_path = pg_catalog, kiln as $$
begin
  if new.provider_id is null and new.build_node_id is null then
    -- to_jsonb: build_executions.provider_id comes with the Kubernetes migration
    select e.build_node_id,
           coalesce(kiln.jsonb_uuid(to_jsonb(e) -> 'provider_id'),
                    kiln.jsonb_uuid(e.infrastructure_metadata -> 'provider_id'),
                    kiln.jsonb_uuid(e.infrastructure_metadata -> 'target' -> 'provider_id'))
      into new.build_node_id, new.provider_id
      from kiln.build_executions e where e.id = new.build_execution_id;
  end if;
  return new;
end $$;
alter function kiln.tg_infrastructure_usage__dimensions() owner to kiln_system;
create trigger _100_fill_dimensions before insert on kiln.infrastructure_usage
  for each row execute function kiln.tg_infrastructure_usage__dimensions();

-- Adds one statement's new rows to both roll-ups and subtracts its old rows, aggregated
-- per key, with kiln.usage_measures' expressions written out (a function call per row
-- made bulk loads several times slower). Transition tables are only visible inside the trigger function, hence the
-- dynamic SQL over (table, bucket, rows, sign). Subtracting only updates existing rows
-- and then drops rows that reached zero.
create function kiln.tg_infrastructure_usage__rollup() returns trigger
  language plpgsql security definer set search_path = pg_catalog, kiln as $$
declare
  v_target record;
  v_source record;
  v_deltas text;
begin
  for v_source in
    select * from (values ('old_rows', -1), ('new_rows', 1)) v (rows, sign)
     where (v.sign < 0 and tg_op in ('DELETE', 'UPDATE')) or (v.sign > 0 and tg_op in ('INSERT', 'UPDATE'))
  loop
    for v_target in select * from (values ('usage_rollup_hourly', 'hour'), ('usage_rollup_daily', 'day')) t (tab, unit)
    loop
      v_deltas := format(
        'select date_trunc(%L, r.start_time, ''UTC'') as bucket, r.tenant_id, r.project_id, r.infrastructure_type,'
        '       r.provider_id, r.build_node_id, count(*) as executions,'
        '       count(*) filter (where r.success) as succeeded, count(*) filter (where not r.success) as failed,'
        '       coalesce(sum(r.cost_cents), 0) as cost_cents,'
        '       coalesce(sum(kiln.jsonb_number(r.resource_usage -> ''cpu_seconds'')), 0) as cpu_seconds,'
        '       sum(m.s) as run_seconds,'
        '       sum(round(coalesce(kiln.jsonb_number(r.resource_usage -> ''peak_memory_bytes'') / 1073741824.0'
        '                          * m.s / 3600, 0), 9)) as gib_hours'
        '  from %I r cross join lateral'
        '       (select coalesce(greatest(extract(epoch from r.end_time - r.start_time), 0),'
        '                        kiln.jsonb_number(r.resource_usage -> ''duration_seconds''), 0)::numeric as s) m'
        ' group by 1, 2, 3, 4, 5, 6', v_target.unit, v_source.rows);
      if v_source.sign > 0 then
        execute format(
          'insert into kiln.%1$I as u (%2$I, tenant_id, project_id, infrastructure_type, provider_id, build_node_id,'
          '    executions, succeeded, failed, cost_cents, cpu_seconds, run_seconds, gib_hours) %3$s'
          ' on conflict on constraint %4$I do update set'
          '    executions = u.executions + excluded.executions, succeeded = u.succeeded + excluded.succeeded,'
          '    failed = u.failed + excluded.failed, cost_cents = u.cost_cents + excluded.cost_cents,'
          '    cpu_seconds = u.cpu_seconds + excluded.cpu_seconds, run_seconds = u.run_seconds + excluded.run_seconds,'
          '    gib_hours = u.gib_hours + excluded.gib_hours, updated_at = now()',
          v_target.tab, v_target.unit, v_deltas, v_target.tab || '_key');
      else
        execute format(
          'update kiln.%1$I u set executions = u.executions - g.executions, succeeded = u.succeeded - g.succeeded,'
          '    failed = u.failed - g.failed, cost_cents = u.cost_cents - g.cost_cents,'
          '    cpu_seconds = u.cpu_seconds - g.cpu_seconds, run_seconds = u.run_seconds - g.run_seconds,'
          '    gib_hours = u.gib_hours - g.gib_hours, updated_at = now()'
          '  from (%3$s) g'
          ' where u.%2$I = g.bucket and u.tenant_id = g.tenant_id and u.project_id = g.project_id'
          '   and u.infrastructure_type = g.infrastructure_type and u.provider_id is not distinct from g.provider_id'
          '   and u.build_node_id is not distinct from g.build_node_id',
          v_target.tab, v_target.unit, v_deltas);
        -- a second statement: one statement cannot both update and delete a row
        execute format(
          'delete from kiln.%1$I u where u.executions <= 0'
          '   and (u.tenant_id, u.%2$I) in (select r.tenant_id, date_trunc(%2$L, r.start_time, ''UTC'') from old_rows r)',
          v_target.tab, v_target.unit);
      end if;
    end loop;
  end loop;
  return null;
end $$;
alter function kiln.tg_infrastructure_usage__rollup() owner to kiln_system;
-- Statement-level with transition tables: a bulk load is one aggregate per statement.
-- They fire for statements on the parent table (every writer goes through it).
create trigger _500_rollup_insert after insert on kiln.infrastructure_usage
  referencing new table as new_rows
  for each statement execute function kiln.tg_infrastructure_usage__rollup();
create trigger _500_rollup_update after update on kiln.infrastructure_usage
  referencing old table as old_rows new table as new_rows
  for each statement execute function kiln.tg_infrastructure_usage__rollup();
create trigger _500_rollup_delete after delete on kiln.infrastructure_usage
  referencing old table as old_rows
  for each statement execute function kiln.tg_infrastructure_usage__rollup();

-- Rows written before this migration.
insert into kiln.usage_rollup_hourly (hour, tenant_id, project_id, infrastructure_type, provider_id,
    build_node_id, executions, succeeded, failed, cost_cents, cpu_seconds, run_seconds, gib_hours)
  select date_trunc('hour', r.start_time, 'UTC'), r.tenant_id, r.project_id, r.infrastructure_type,
         r.provider_id, r.build_node_id, count(*), count(*) filter (where r.success),
         count(*) filter (where not r.success), coalesce(sum(r.cost_cents), 0), sum(m.cpu_seconds),
         sum(m.run_seconds), sum(m.gib_hours)
    from kiln.infrastructure_usage r cross join lateral kiln.usage_measures(r) m
   group by 1, 2, 3, 4, 5, 6;
insert into kiln.usage_rollup_daily (day, tenant_id, project_id, infrastructure_type, provider_id,
    build_node_id, executions, succeeded, failed, cost_cents, cpu_seconds, run_seconds, gib_hours)
  select date_trunc('day', hour, 'UTC'), tenant_id, project_id, infrastructure_type, provider_id, build_node_id,
         sum(executions), sum(succeeded), sum(failed), sum(cost_cents), sum(cpu_seconds), sum(run_seconds),
         sum(gib_hours)
    from kiln.usage_rollup_hourly group by 1, 2, 3, 4, 5, 6;

------------------------------------------------------------------------------------------
-- Scheduled builds
------------------------------------------------------------------------------------------

create type kiln.missed_tick_policy as enum ('skip', 'catch_up_one');

-- A build template (a POST /api/v1/builds body) submitted and started on a cron schedule.
-- next_run_at is the next tick to fire (null while disabled); ticks are computed in the
-- schedule's time zone by kiln_api.cron_next.
create table kiln.build_schedules (
  id                 uuid primary key default gen_random_uuid(),
  tenant_id          uuid not null references kiln.tenants (id) on delete cascade,
  name               text not null check (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$'),
  cron               text not null,
  timezone           text not null default 'UTC',
  template           jsonb not null check (jsonb_typeof(template) = 'object'),
  enabled            boolean not null default true,
  missed_policy      kiln.missed_tick_policy not null default 'skip',
  next_run_at        timestamptz,
  last_tick_at       timestamptz,
  last_build_id      uuid references kiln.builds (id) on delete set null,
  last_error         text,
  missed_ticks_count bigint not null default 0,
  created_by         uuid references kiln.users (id) on delete set null,
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now(),
  unique (tenant_id, name)
);
create index build_schedules_due on kiln.build_schedules (next_run_at) where enabled;

-- One row per schedule and tick: the primary key is what makes a tick fire at most once,
-- whatever number of dispatchers run. kind: on_time, catch_up (one build standing for the
-- missed ticks) or skipped (missed ticks dropped, policy skip).
create table kiln.build_schedule_runs (
  schedule_id  uuid not null references kiln.build_schedules (id) on delete cascade,
  tick_at      timestamptz not null,
  tenant_id    uuid not null references kiln.tenants (id) on delete cascade,
  kind         text not null check (kind in ('on_time', 'catch_up', 'skipped')),
  missed_ticks integer not null default 0,
  build_id     uuid references kiln.builds (id) on delete set null,
  error        text,
  worker       text,
  created_at   timestamptz not null default now(),
  primary key (schedule_id, tick_at)
);
create index build_schedule_runs_recent on kiln.build_schedule_runs (schedule_id, created_at desc);

------------------------------------------------------------------------------------------
-- Alert webhooks
------------------------------------------------------------------------------------------

-- secret is the HMAC-SHA256 key of the signatures; shown once at creation, readable only
-- by kiln_system (the API role has no SELECT on the column).
create table kiln.webhooks (
  id                           uuid primary key default gen_random_uuid(),
  tenant_id                    uuid not null references kiln.tenants (id) on delete cascade,
  name                         text not null check (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$'),
  url                          text not null check (url ~ '^https?://' and length(url) <= 2048),
  secret                       text not null check (length(secret) >= 16),
  events                       text[] not null check (cardinality(events) > 0 and events <@ array[
                                 'build.failed', 'node.offline', 'provider.unhealthy', 'queue.wait_exceeded']),
  queue_wait_threshold_seconds integer not null default 600 check (queue_wait_threshold_seconds > 0),
  enabled                      boolean not null default true,
  created_by                   uuid references kiln.users (id) on delete set null,
  created_at                   timestamptz not null default now(),
  updated_at                   timestamptz not null default now(),
  unique (tenant_id, name)
);

-- What is (or was) to be sent. event_key names the occurrence (a failed build's event, an
-- offline episode of a node…); unique per webhook, so collecting twice sends once.
create table kiln.webhook_deliveries (
  id               bigint generated always as identity primary key,
  webhook_id       uuid not null references kiln.webhooks (id) on delete cascade,
  tenant_id        uuid not null references kiln.tenants (id) on delete cascade,
  event            text not null,
  event_key        text not null,
  payload          jsonb not null,
  status           text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
  attempts         integer not null default 0,
  next_attempt_at  timestamptz not null default now(),
  claimed_by       text,
  claim_expires_at timestamptz,
  last_attempt_at  timestamptz,
  last_status_code integer,
  last_error       text,
  delivered_at     timestamptz,
  created_at       timestamptz not null default now(),
  unique (webhook_id, event_key)
);
create index webhook_deliveries_due on kiln.webhook_deliveries (next_attempt_at) where status = 'pending';
create index webhook_deliveries_webhook on kiln.webhook_deliveries (webhook_id, id desc);
create index webhook_deliveries_finished on kiln.webhook_deliveries (created_at) where status <> 'pending';

-- Every attempt: the delivery log.
create table kiln.webhook_delivery_attempts (
  delivery_id bigint not null references kiln.webhook_deliveries (id) on delete cascade,
  attempt     integer not null,
  tenant_id   uuid not null references kiln.tenants (id) on delete cascade,
  worker      text,
  started_at  timestamptz not null,
  duration_ms integer,
  status_code integer,
  error       text,
  primary key (delivery_id, attempt)
);

-- Conditions that are firing now (a node offline, a provider unhealthy, a queue wait over
-- a webhook's threshold) and since when; a condition that clears is deleted, so the next
-- episode alerts again. tenant_id null: shared infrastructure.
create table kiln.alert_states (
  alert     text not null,
  subject   text not null,
  tenant_id uuid references kiln.tenants (id) on delete cascade,
  since     timestamptz not null,
  detail    jsonb not null default '{}',
  primary key (alert, subject)
);

------------------------------------------------------------------------------------------
-- Row-level security and grants
------------------------------------------------------------------------------------------

do $$
declare
  t text;
begin
  foreach t in array array['usage_rollup_hourly', 'usage_rollup_daily', 'build_schedules', 'build_schedule_runs', 'webhooks',
      'webhook_deliveries', 'webhook_delivery_attempts', 'alert_states']
  loop
    execute format('alter table kiln.%I enable row level security', t);
    execute format('alter table kiln.%I force row level security', t);
    execute format('create policy tenant_isolation on kiln.%I to kiln_web '
                   'using (tenant_id = kiln.current_tenant_id()) '
                   'with check (tenant_id = kiln.current_tenant_id())', t);
    execute format('create policy system_access on kiln.%I to kiln_system using (true) with check (true)', t);
  end loop;
end $$;

grant select, insert, update, delete on kiln.usage_rollup_hourly, kiln.usage_rollup_daily, kiln.build_schedules,
  kiln.build_schedule_runs, kiln.webhooks, kiln.webhook_deliveries, kiln.webhook_delivery_attempts,
  kiln.alert_states to kiln_system;
grant select on kiln.usage_rollup_hourly, kiln.usage_rollup_daily, kiln.build_schedule_runs, kiln.webhook_deliveries,
  kiln.webhook_delivery_attempts to kiln_web;
grant select, insert, update, delete on kiln.build_schedules to kiln_web;
grant insert on kiln.webhook_deliveries to kiln_web;  -- the test ping
grant select (id, tenant_id, name, url, events, queue_wait_threshold_seconds, enabled, created_by,
              created_at, updated_at),
      insert, delete,
      update (name, url, events, queue_wait_threshold_seconds, enabled, updated_at)
  on kiln.webhooks to kiln_web;
