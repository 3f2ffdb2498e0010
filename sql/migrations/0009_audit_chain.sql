-- A tamper-evident audit log, and row-level security forced on every table with a tenant.
--
-- Every row of kiln.audit_log carries row_hash = sha256(prev_hash || canonical row), where
-- prev_hash is the row_hash of the previous row of the same chain. There is one chain per
-- tenant (chain_id = the tenant's id) and one for system rows (chain_id = the nil uuid), so
-- tenants never wait on each other. A BEFORE INSERT trigger computes the hash in the
-- inserting transaction; it takes the chain's head row in kiln.audit_chain_heads FOR UPDATE,
-- so concurrent inserts into one chain queue up and the order is chain_seq, without gaps or
-- forks. Rows are append-only: no role may update, delete or truncate them, and a trigger
-- refuses it as well. Rows keep the tenant and user ids they were written with, even after
-- the tenant or user is deleted (no foreign keys: the log outlives its subjects).
-- kiln_api.verify_audit_chain (sql/api/audit.sql) recomputes the chains.
-- Nothing here depends on schema kiln_api, which is dropped and reloaded on every migrate.

alter table kiln.audit_log drop constraint if exists audit_log_tenant_id_fkey;
alter table kiln.audit_log drop constraint if exists audit_log_actor_user_id_fkey;
alter table kiln.audit_log
  add column chain_id  uuid,
  add column chain_seq bigint,
  add column prev_hash bytea,
  add column row_hash  bytea;

create table kiln.audit_chain_heads (
  chain_id  uuid primary key,
  last_seq  bigint not null,
  last_hash bytea not null
);
revoke all on kiln.audit_chain_heads from public, kiln_web;
grant select on kiln.audit_chain_heads to kiln_web;
grant select, insert, update on kiln.audit_chain_heads to kiln_system;
-- A tenant may read its own chain's head (to verify it), nothing else.
alter table kiln.audit_chain_heads enable row level security;
alter table kiln.audit_chain_heads force row level security;
create policy tenant_read on kiln.audit_chain_heads for select to kiln_web
  using (chain_id = kiln.current_tenant_id());
create policy system_access on kiln.audit_chain_heads to kiln_system using (true) with check (true);

-- The text a row's hash covers: every column but the hashes, in a fixed order and format.
create function kiln.audit_row_text(p kiln.audit_log) returns text
  language sql immutable parallel safe
  as $$ select jsonb_build_array(p.id, p.chain_id, p.chain_seq, p.tenant_id, p.actor_user_id,
                                 p.action, p.object_type, p.object_id, p.detail,
                                 to_char(p.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))::text $$;

create function kiln.audit_row_hash(p_prev bytea, p kiln.audit_log) returns bytea
  language sql immutable parallel safe
  as $$ select sha256(p_prev || convert_to(kiln.audit_row_text(p), 'UTF8')) $$;

-- The genesis of every chain.
create function kiln.audit_genesis() returns bytea
  language sql immutable parallel safe
  as $$ select '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea $$;

-- Backfill: chain the rows written before this migration, in id order.
do $$
declare
  r kiln.audit_log;
  v_prev bytea;
  v_seq bigint;
  v_chain uuid;
begin
  for r in select * from kiln.audit_log order by id loop
    v_chain := coalesce(r.tenant_id, '00000000-0000-0000-0000-000000000000');
    select last_seq, last_hash into v_seq, v_prev from kiln.audit_chain_heads where chain_id = v_chain;
    if not found then
      v_seq := 0;
      v_prev := kiln.audit_genesis();
      insert into kiln.audit_chain_heads values (v_chain, 0, v_prev);
    end if;
    r.chain_id := v_chain;
    r.chain_seq := v_seq + 1;
    r.prev_hash := v_prev;
    r.row_hash := kiln.audit_row_hash(v_prev, r);
    update kiln.audit_log set chain_id = r.chain_id, chain_seq = r.chain_seq,
                              prev_hash = r.prev_hash, row_hash = r.row_hash
      where id = r.id;
    update kiln.audit_chain_heads set last_seq = r.chain_seq, last_hash = r.row_hash
      where chain_id = v_chain;
  end loop;
end $$;

alter table kiln.audit_log
  alter column chain_id set not null,
  alter column chain_seq set not null,
  alter column prev_hash set not null,
  alter column row_hash set not null,
  add constraint audit_log_chain_seq unique (chain_id, chain_seq);

-- Runs as kiln_system (the heads table is not the API role's), whoever inserts.
create function kiln.tg_audit_log__chain() returns trigger
  language plpgsql security definer set search_path = pg_catalog, kiln as $$
declare
  v_head kiln.audit_chain_heads;
begin
  new.chain_id := coalesce(new.tenant_id, '00000000-0000-0000-0000-000000000000');
  new.created_at := coalesce(new.created_at, now());
  insert into kiln.audit_chain_heads (chain_id, last_seq, last_hash)
    values (new.chain_id, 0, kiln.audit_genesis())
    on conflict (chain_id) do nothing;
  select * into strict v_head from kiln.audit_chain_heads where chain_id = new.chain_id for update;
  new.chain_seq := v_head.last_seq + 1;
  new.prev_hash := v_head.last_hash;
  new.row_hash := kiln.audit_row_hash(new.prev_hash, new);
  update kiln.audit_chain_heads set last_seq = new.chain_seq, last_hash = new.row_hash
    where chain_id = new.chain_id;
  return new;
end $$;
alter function kiln.tg_audit_log__chain() owner to kiln_system;
create trigger _100_chain before insert on kiln.audit_log
  for each row execute function kiln.tg_audit_log__chain();

create function kiln.tg_audit_log__append_only() returns trigger language plpgsql as $$
begin
  raise exception 'kiln.audit_log is append-only: % refused', tg_op using errcode = '42501';
end $$;
create trigger _100_append_only before update or delete on kiln.audit_log
  for each row execute function kiln.tg_audit_log__append_only();
create trigger _100_append_only_truncate before truncate on kiln.audit_log
  for each statement execute function kiln.tg_audit_log__append_only();

revoke update, delete, truncate on kiln.audit_log from public, kiln_web, kiln_system;
grant select, insert on kiln.audit_log to kiln_web, kiln_system;
create index audit_log_chain_id on kiln.audit_log (chain_id, chain_seq);

-- Row-level security forced on every table of schema kiln with a tenant_id column.
do $$
declare
  t record;
begin
  for t in
    select c.relname from pg_class c
      join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
     where c.relnamespace = 'kiln'::regnamespace and c.relkind in ('r', 'p')
       and not (c.relrowsecurity and c.relforcerowsecurity)
  loop
    execute format('alter table kiln.%I enable row level security', t.relname);
    execute format('alter table kiln.%I force row level security', t.relname);
    if not exists (select from pg_policy where polrelid = format('kiln.%I', t.relname)::regclass) then
      execute format('create policy tenant_isolation on kiln.%I to kiln_web '
                     'using (tenant_id = kiln.current_tenant_id()) '
                     'with check (tenant_id = kiln.current_tenant_id())', t.relname);
      execute format('create policy system_access on kiln.%I to kiln_system using (true) with check (true)',
                     t.relname);
    end if;
  end loop;
end $$;
