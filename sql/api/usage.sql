-- usage_report: usage and cost per period (hour, day, week — ISO, from Monday — or month;
-- UTC) and per tenant, project and infrastructure type, read from the roll-ups
-- (kiln.usage_rollup_hourly for hours, kiln.usage_rollup_daily otherwise), so a month over
-- millions of usage rows reads a few thousand roll-up rows. The API role sees its own tenant only (row-level security); a DBA session
-- sees every tenant unless kiln.tenant_id is set.
--   p_from / p_to   RFC 3339 or a date; default: the last 48 hours / 31 days / 12 weeks /
--                   12 months up to the end of the current period. p_from is rounded down to
--                   its period. The span is bounded per period (hour: 93 days, day: 3 years).
--   p_tenant, p_project  names (a name that is not visible gives no rows);
--   p_type          kubernetes or build_nodes.
-- Returns {"period","from","to","items":[…],"totals":{…}}.
-- Caller: GET /api/v1/admin/infrastructure/usage. Errors: QC400 naming period, from, to or type.
create function kiln_api.usage_report(p_period text, p_from text default null, p_to text default null,
                                      p_tenant text default null, p_project text default null,
                                      p_type text default null, p_now timestamptz default null)
  returns jsonb language plpgsql stable as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_step interval;
  v_default interval;
  v_max interval;
  v_from timestamptz;
  v_to timestamptz;
  v_items jsonb;
begin
  case p_period
    when 'hour' then v_step := interval '1 hour'; v_default := interval '48 hours'; v_max := interval '93 days';
    when 'day' then v_step := interval '1 day'; v_default := interval '31 days'; v_max := interval '3 years';
    when 'week' then v_step := interval '1 week'; v_default := interval '12 weeks'; v_max := interval '10 years';
    when 'month' then v_step := interval '1 month'; v_default := interval '12 months'; v_max := interval '20 years';
    else
      perform kiln_api.raise_error(400, 'invalid_value',
        format('period %s is not one of hour, day, week, month', coalesce(p_period, '(missing)')), 'period');
  end case;
  if p_type is not null and p_type not in ('kubernetes', 'build_nodes') then
    perform kiln_api.raise_error(400, 'invalid_value',
      format('type %s is not one of kubernetes, build_nodes', p_type), 'type');
  end if;
  v_to := kiln_api.usage_time_param(p_to, 'to');
  v_from := kiln_api.usage_time_param(p_from, 'from');
  v_to := coalesce(v_to, date_trunc(p_period, v_now, 'UTC') + v_step);
  v_from := date_trunc(p_period, coalesce(v_from, v_to - v_default), 'UTC');
  if v_from >= v_to then
    perform kiln_api.raise_error(400, 'invalid_value', 'from must be before to', 'from');
  end if;
  if v_to - v_from > v_max then
    perform kiln_api.raise_error(400, 'invalid_value',
      format('from..to spans more than %s; narrow it or use a longer period', v_max), 'from');
  end if;

  -- Hours come from the hourly roll-up, longer periods from the daily one. Aggregated by
  -- ids first (a hash on uuids), names joined to the few result rows afterwards.
  select coalesce(jsonb_agg(jsonb_build_object('period_start', x.period_start, 'tenant', t.name, 'project', p.name,
             'infrastructure_type', x.infrastructure_type, 'executions', x.executions, 'succeeded', x.succeeded,
             'failed', x.failed, 'cost_cents', x.cost_cents, 'cpu_seconds', x.cpu_seconds,
             'run_seconds', x.run_seconds, 'gib_hours', x.gib_hours)
           order by x.period_start, t.name, p.name, x.infrastructure_type), '[]')
    into v_items
    from (select date_trunc(p_period, r.bucket at time zone 'UTC') at time zone 'UTC' as period_start,
                 r.tenant_id, r.project_id,
                 r.infrastructure_type, sum(r.executions)::bigint as executions,
                 sum(r.succeeded)::bigint as succeeded, sum(r.failed)::bigint as failed,
                 sum(r.cost_cents)::bigint as cost_cents, round(sum(r.cpu_seconds), 3) as cpu_seconds,
                 round(sum(r.run_seconds), 3) as run_seconds, round(sum(r.gib_hours), 6) as gib_hours
            from (select h.hour as bucket, h.tenant_id, h.project_id, h.infrastructure_type, h.executions,
                         h.succeeded, h.failed, h.cost_cents, h.cpu_seconds, h.run_seconds, h.gib_hours
                    from kiln.usage_rollup_hourly h
                   where p_period = 'hour' and h.hour >= v_from and h.hour < v_to
                  union all
                  select d.day, d.tenant_id, d.project_id, d.infrastructure_type, d.executions,
                         d.succeeded, d.failed, d.cost_cents, d.cpu_seconds, d.run_seconds, d.gib_hours
                    from kiln.usage_rollup_daily d
                   where p_period <> 'hour' and d.day >= v_from and d.day < v_to) r
           where kiln_api.in_session_tenant(r.tenant_id)
             and (p_tenant is null or r.tenant_id in (select t.id from kiln.tenants t where t.name = p_tenant))
             and (p_project is null or r.project_id in (select p.id from kiln.projects p where p.name = p_project))
             and (p_type is null or r.infrastructure_type = p_type)
           group by 1, 2, 3, 4) x
    join kiln.tenants t on t.id = x.tenant_id
    join kiln.projects p on p.id = x.project_id;

  return jsonb_build_object('period', p_period, 'from', v_from, 'to', v_to, 'items', v_items,
    'totals', (select jsonb_build_object(
                 'executions', coalesce(sum((i ->> 'executions')::bigint), 0),
                 'succeeded', coalesce(sum((i ->> 'succeeded')::bigint), 0),
                 'failed', coalesce(sum((i ->> 'failed')::bigint), 0),
                 'cost_cents', coalesce(sum((i ->> 'cost_cents')::bigint), 0),
                 'cpu_seconds', coalesce(sum((i ->> 'cpu_seconds')::numeric), 0),
                 'run_seconds', coalesce(sum((i ->> 'run_seconds')::numeric), 0))
                 from jsonb_array_elements(v_items) i));
end $$;

-- usage_time_param: a from/to query parameter as a timestamp (UTC when it names no zone);
-- null stays null; anything else is QC400 naming the parameter.
create function kiln_api.usage_time_param(p_value text, p_field text) returns timestamptz
  language plpgsql stable as $$
begin
  if p_value is null then
    return null;
  end if;
  if p_value !~ '^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$' then
    raise invalid_datetime_format;
  end if;
  if p_value ~ '\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$' then
    return p_value::timestamptz;  -- names its zone
  end if;
  return p_value::timestamp at time zone 'UTC';
exception when invalid_datetime_format or datetime_field_overflow or invalid_parameter_value then
  perform kiln_api.raise_error(400, 'invalid_value',
    format('%s must be a date or an RFC 3339 time (2026-01-31 or 2026-01-31T00:00:00Z), not %s', p_field, p_value),
    p_field);
end $$;

-- rebuild_usage_rollup: recomputes both roll-ups over the days [p_from, p_to) (rounded out
-- to whole UTC days) from the raw rows of the attached partitions; returns the number of
-- hourly rows written. For DBAs after a TRUNCATE, a restore or a write into a partition by
-- name (none of which the roll-up triggers see). Days of detached partitions are emptied:
-- run it only over attached months.
-- Caller: DBAs (kiln_system). Locks: SHARE on infrastructure_usage, so usage writes wait
-- until it commits.
create function kiln_api.rebuild_usage_rollup(p_from timestamptz, p_to timestamptz)
  returns bigint language plpgsql as $$
declare
  v_from timestamptz := date_trunc('day', p_from, 'UTC');
  v_to timestamptz := date_trunc('day', p_to - interval '1 microsecond', 'UTC') + interval '1 day';
  v_rows bigint;
begin
  lock table kiln.infrastructure_usage in share mode;
  delete from kiln.usage_rollup_hourly where hour >= v_from and hour < v_to;
  delete from kiln.usage_rollup_daily where day >= v_from and day < v_to;
  insert into kiln.usage_rollup_hourly (hour, tenant_id, project_id, infrastructure_type, provider_id,
      build_node_id, executions, succeeded, failed, cost_cents, cpu_seconds, run_seconds, gib_hours)
    select date_trunc('hour', r.start_time, 'UTC'), r.tenant_id, r.project_id, r.infrastructure_type,
           r.provider_id, r.build_node_id, count(*), count(*) filter (where r.success),
           count(*) filter (where not r.success), coalesce(sum(r.cost_cents), 0), sum(m.cpu_seconds),
           sum(m.run_seconds), sum(m.gib_hours)
      from kiln.infrastructure_usage r cross join lateral kiln.usage_measures(r) m
     where r.start_time >= v_from and r.start_time < v_to
     group by 1, 2, 3, 4, 5, 6;
  get diagnostics v_rows = row_count;
  insert into kiln.usage_rollup_daily (day, tenant_id, project_id, infrastructure_type, provider_id,
      build_node_id, executions, succeeded, failed, cost_cents, cpu_seconds, run_seconds, gib_hours)
    select date_trunc('day', hour, 'UTC'), tenant_id, project_id, infrastructure_type, provider_id,
           build_node_id, sum(executions), sum(succeeded), sum(failed), sum(cost_cents), sum(cpu_seconds),
           sum(run_seconds), sum(gib_hours)
      from kiln.usage_rollup_hourly where hour >= v_from and hour < v_to
     group by 1, 2, 3, 4, 5, 6;
  return v_rows;
end $$;

-- usage_cost_cents: the cost of measured usage at given rates (per cpu-hour, per
-- GiB-hour of peak memory, per GPU-hour), in cents, rounded: the one formula every usage
-- writer uses. Null measures count as 0.
create function kiln_api.usage_cost_cents(p_cpu_seconds numeric, p_peak_memory_bytes numeric,
                                          p_gpus numeric, p_run_seconds numeric, p_cost_per_cpu_hour numeric,
                                          p_cost_per_gib_hour numeric, p_cost_per_gpu_hour numeric)
  returns integer language sql immutable parallel safe as $$
  select round(100 * (coalesce(p_cpu_seconds, 0) / 3600 * coalesce(p_cost_per_cpu_hour, 0)
                      + coalesce(p_peak_memory_bytes, 0) / 1073741824.0 * coalesce(p_run_seconds, 0) / 3600
                        * coalesce(p_cost_per_gib_hour, 0)
                      + coalesce(p_gpus, 0) * coalesce(p_run_seconds, 0) / 3600 * coalesce(p_cost_per_gpu_hour, 0)))::integer
$$;

-- record_execution_usage: writes the infrastructure_usage row of a finished execution
-- that ran anywhere, priced at the rates of where it ran: its build node, else the node
-- pool its infrastructure_metadata names (node_pool_id, or target.node_pool_id). p_usage:
-- {"cpu_seconds", "peak_memory_bytes", "gpus", …} (kept as resource_usage). Returns the
-- cost in cents. For back-ends other than the build-node agent (agent_finish writes its
-- own rows with the same formula). Caller: kiln-dispatch.
create function kiln_api.record_execution_usage(p_execution_id uuid, p_start timestamptz, p_end timestamptz,
                                                p_usage jsonb, p_success boolean, p_error text default null)
  returns integer language plpgsql as $$
declare
  v_exec kiln.build_executions;
  v_rates record;
  v_seconds numeric := greatest(extract(epoch from p_end - p_start), 0);
  v_cost integer;
begin
  select * into strict v_exec from kiln.build_executions where id = p_execution_id;
  select n.cost_per_cpu_hour as cpu, n.cost_per_gib_hour as gib, n.cost_per_gpu_hour as gpu into v_rates
    from kiln.build_nodes n where n.id = v_exec.build_node_id;
  if not found then
    select np.cost_per_cpu_hour as cpu, np.cost_per_gib_hour as gib, np.cost_per_gpu_hour as gpu into v_rates
      from kiln.node_pools np
     where np.id = coalesce(kiln.jsonb_uuid(v_exec.infrastructure_metadata -> 'node_pool_id'),
                            kiln.jsonb_uuid(v_exec.infrastructure_metadata -> 'target' -> 'node_pool_id'));
  end if;
  v_cost := kiln_api.usage_cost_cents(kiln.jsonb_number(p_usage -> 'cpu_seconds'),
    kiln.jsonb_number(p_usage -> 'peak_memory_bytes'), kiln.jsonb_number(p_usage -> 'gpus'), v_seconds,
    v_rates.cpu, v_rates.gib, v_rates.gpu);
  insert into kiln.infrastructure_usage (build_execution_id, tenant_id, project_id, infrastructure_type,
      start_time, end_time, resource_usage, cost_cents, success, error_message)
    select v_exec.id, v_exec.tenant_id, b.project_id, v_exec.infrastructure_type::text, p_start, p_end,
           coalesce(p_usage, '{}') || jsonb_build_object('duration_seconds', v_seconds), v_cost, p_success, p_error
      from kiln.builds b where b.id = v_exec.build_id;
  return v_cost;
end $$;

grant execute on function
  kiln_api.usage_cost_cents(numeric, numeric, numeric, numeric, numeric, numeric, numeric),
  kiln_api.usage_report(text, text, text, text, text, text, timestamptz),
  kiln_api.usage_time_param(text, text)
  to kiln_web;
