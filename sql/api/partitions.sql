-- maintain_usage_partitions: keeps kiln.infrastructure_usage partitioned by month (UTC).
--   1. creates the partitions of the current month and the next
--      usage_partitions_ahead_months months, and of every month that has rows in the
--      default partition (those rows are moved into it, bypassing the roll-up triggers,
--      which already counted them);
--   2. detaches the partitions that end before the first of the last
--      usage_retention_months months (0: never). A detached partition stays in schema kiln
--      as a plain table (RLS, policies and data intact) for the DBA to archive or drop; the
--      hourly roll-ups keep counting its rows.
-- Each new partition gets row-level security enabled and forced with the same
-- tenant_isolation / system_access policies as the parent, and no grant to kiln_web (it
-- reads usage through the parent). Every create and detach is written to the audit log.
-- Returns one row per action.
-- Caller: kiln-dispatch (housekeeping) and DBAs. SECURITY DEFINER (kiln_system owns the
-- table) so that new partitions have the same owner whoever calls. Locks: a transaction
-- advisory lock (a concurrent caller returns at once with nothing done), then SHARE UPDATE
-- EXCLUSIVE on the parent per attach and ACCESS EXCLUSIVE per detach, each waiting at most
-- lock_timeout = 2s (then the pass moves on and the next one retries).
create function kiln_api.maintain_usage_partitions(p_now timestamptz default null)
  returns table (action text, partition_name text, range_from timestamptz, range_to timestamptz, moved_rows bigint)
  language plpgsql security definer set search_path = pg_catalog, kiln as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_this_month timestamptz := date_trunc('month', v_now, 'UTC');
  v_ahead integer := coalesce(kiln_api.setting('usage_partitions_ahead_months'), 3)::integer;
  v_keep integer := coalesce(kiln_api.setting('usage_retention_months'), 0)::integer;
  v_month timestamptz;
  v_part record;
begin
  if not pg_try_advisory_xact_lock(hashtext('kiln.maintain_usage_partitions')) then
    return;
  end if;
  perform set_config('lock_timeout', '2s', true);
  for v_month in
    select m from generate_series(v_this_month, v_this_month + make_interval(months => greatest(v_ahead, 0)),
                                  interval '1 month') m
    union
    select distinct date_trunc('month', d.start_time, 'UTC') from kiln.infrastructure_usage_default d
    order by 1
  loop
    select * into v_part from kiln_api.create_usage_partition(v_month);
    if v_part.created then
      action := 'created'; partition_name := v_part.name; range_from := v_month;
      range_to := v_month + interval '1 month'; moved_rows := v_part.moved;
      return next;
    end if;
  end loop;
  if v_keep > 0 then
    for v_part in
      select c.oid::regclass as rel, c.relname::text as name,
             kiln_api.partition_upper_bound(c.oid) as upper_bound
        from pg_inherits i join pg_class c on c.oid = i.inhrelid
       where i.inhparent = 'kiln.infrastructure_usage'::regclass
       order by 3
    loop
      continue when v_part.upper_bound is null  -- the default partition
                 or v_part.upper_bound > v_this_month - make_interval(months => v_keep - 1);
      begin
        execute format('alter table kiln.infrastructure_usage detach partition %s', v_part.rel);
      exception when lock_not_available then
        continue;  -- a long query holds the table; the next pass retries
      end;
      insert into kiln.audit_log (action, object_type, object_id, detail)
        values ('usage_partition.detach', 'table', 'kiln.' || v_part.name,
                jsonb_build_object('retention_months', v_keep, 'upper_bound', v_part.upper_bound));
      action := 'detached'; partition_name := v_part.name; range_from := v_part.upper_bound - interval '1 month';
      range_to := v_part.upper_bound; moved_rows := 0;
      return next;
    end loop;
  end if;
end $$;
alter function kiln_api.maintain_usage_partitions(timestamptz) owner to kiln_system;

-- partition_upper_bound: the exclusive upper bound of a range partition of
-- infrastructure_usage, null for the default partition.
create function kiln_api.partition_upper_bound(p_relid oid) returns timestamptz
  language sql stable as $$
  select (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz
    from pg_class c where c.oid = p_relid
$$;

-- create_usage_partition: the partition of the month starting at p_month (UTC), unless it
-- exists. Built as a plain table, filled with the month's rows from the default partition,
-- then attached: the attach scans only the default partition, and the parent is never
-- locked exclusively. Caller: maintain_usage_partitions (runs as kiln_system).
create function kiln_api.create_usage_partition(p_month timestamptz,
                                                out created boolean, out name text, out moved bigint)
  language plpgsql as $$
declare
  v_from timestamptz := date_trunc('month', p_month, 'UTC');
  v_to timestamptz := date_trunc('month', p_month, 'UTC') + interval '1 month';
  v_rel text;
  v_columns text;
begin
  name := 'infrastructure_usage_p' || to_char(v_from at time zone 'UTC', 'YYYYMM');
  v_rel := format('kiln.%I', name);
  created := false;
  moved := 0;
  if to_regclass(v_rel) is not null then
    return;
  end if;
  execute format('create table %s (like kiln.infrastructure_usage including defaults including constraints)', v_rel);
  execute format('alter table %s enable row level security', v_rel);
  execute format('alter table %s force row level security', v_rel);
  execute format('create policy tenant_isolation on %s to kiln_web using (tenant_id = kiln.current_tenant_id()) '
                 'with check (tenant_id = kiln.current_tenant_id())', v_rel);
  execute format('create policy system_access on %s to kiln_system using (true) with check (true)', v_rel);
  -- The rows of that month waiting in the default partition; written to the partitions
  -- directly, so the roll-up triggers (on the parent) do not count them twice.
  select string_agg(quote_ident(a.attname), ', ' order by a.attnum) into v_columns
    from pg_attribute a
   where a.attrelid = 'kiln.infrastructure_usage'::regclass and a.attnum > 0 and not a.attisdropped;
  execute format('with gone as (delete from kiln.infrastructure_usage_default d '
                 'where d.start_time >= %L and d.start_time < %L returning %s) '
                 'insert into %s (%s) select %s from gone', v_from, v_to, v_columns, v_rel, v_columns, v_columns);
  get diagnostics moved = row_count;
  execute format('alter table kiln.infrastructure_usage attach partition %s for values from (%L) to (%L)',
                 v_rel, v_from, v_to);
  insert into kiln.audit_log (action, object_type, object_id, detail)
    values ('usage_partition.create', 'table', v_rel,
            jsonb_build_object('from', v_from, 'to', v_to, 'moved_rows', moved));
  created := true;
end $$;
