-- Cron expressions for build schedules, parsed and evaluated in SQL so that validation
-- (the API's 400s) and firing (the dispatcher) share one implementation.
--
-- Syntax: five fields, minute hour day-of-month month day-of-week, each `*`, a number, a
-- range `a-b`, a step `*/n`, `a-b/n` or `a/n` (a to the end, every n), or a comma list of
-- those. Months JAN–DEC and weekdays SUN–SAT may be named (any case); weekday 7 is
-- Sunday. Macros: @yearly (@annually), @monthly, @weekly, @daily (@midnight), @hourly.
-- As in Vixie cron, when both day fields are restricted (neither starts with `*`) a day
-- matches if EITHER matches; otherwise both must.
-- Errors: QC400 invalid_value naming `cron`.

-- cron_field: the sorted values one field allows. p_names: names of p_min, p_min+1, ….
create function kiln_api.cron_field(p_text text, p_min integer, p_max integer, p_names text[], p_what text)
  returns integer[] language plpgsql immutable as $$
declare
  v_part text;
  v_range text;
  v_step integer;
  v_lo integer;
  v_hi integer;
  v_out integer[] := '{}';
begin
  foreach v_part in array string_to_array(p_text, ',') loop
    v_step := 1;
    v_range := v_part;
    if v_part like '%/%' then
      if split_part(v_part, '/', 2) !~ '^\d{1,3}$' or split_part(v_part, '/', 2)::integer = 0
         or split_part(v_part, '/', 3) <> '' then
        perform kiln_api.raise_error(400, 'invalid_value',
          format('cron %s field %s: the step after / must be a positive number', p_what, v_part), 'cron');
      end if;
      v_step := split_part(v_part, '/', 2)::integer;
      v_range := split_part(v_part, '/', 1);
    end if;
    if v_range = '*' then
      v_lo := p_min;
      v_hi := p_max;
    elsif v_range like '%-%' then
      v_lo := kiln_api.cron_value(split_part(v_range, '-', 1), p_min, p_max, p_names, p_what);
      v_hi := kiln_api.cron_value(split_part(v_range, '-', 2), p_min, p_max, p_names, p_what);
      if split_part(v_range, '-', 3) <> '' or v_lo > v_hi then
        perform kiln_api.raise_error(400, 'invalid_value',
          format('cron %s field %s: a range must be low-high', p_what, v_part), 'cron');
      end if;
    else
      v_lo := kiln_api.cron_value(v_range, p_min, p_max, p_names, p_what);
      v_hi := case when v_part like '%/%' then p_max else v_lo end;
    end if;
    v_out := v_out || array(select generate_series(v_lo, v_hi, v_step));
  end loop;
  return array(select distinct v from unnest(v_out) v order by 1);
end $$;

-- cron_value: one number or name of a field, within its bounds.
create function kiln_api.cron_value(p_token text, p_min integer, p_max integer, p_names text[], p_what text)
  returns integer language plpgsql immutable as $$
declare
  v_index integer;
begin
  if p_token ~ '^\d{1,2}$' and p_token::integer between p_min and p_max then
    return p_token::integer;
  end if;
  v_index := array_position(p_names, upper(p_token));
  if v_index is not null then
    return p_min + v_index - 1;
  end if;
  perform kiln_api.raise_error(400, 'invalid_value',
    format('cron %s field: %s is not a value between %s and %s%s', p_what, coalesce(nullif(p_token, ''), '(empty)'),
           p_min, p_max, case when p_names is not null then ' or a name ' || array_to_string(p_names, ' ') else '' end),
    'cron');
end $$;

-- cron_parse: {"minutes","hours","days","months","weekdays","days_restricted",
-- "weekdays_restricted"} of an expression (weekdays 0–6, Sunday 0).
create function kiln_api.cron_parse(p_expr text) returns jsonb
  language plpgsql immutable as $$
declare
  v_expr text := btrim(coalesce(p_expr, ''));
  v_fields text[];
  v_weekdays integer[];
begin
  v_expr := case lower(v_expr)
    when '@yearly' then '0 0 1 1 *' when '@annually' then '0 0 1 1 *' when '@monthly' then '0 0 1 * *'
    when '@weekly' then '0 0 * * 0' when '@daily' then '0 0 * * *' when '@midnight' then '0 0 * * *'
    when '@hourly' then '0 * * * *' else v_expr end;
  v_fields := regexp_split_to_array(v_expr, '\s+');
  if v_expr = '' or cardinality(v_fields) <> 5 then
    perform kiln_api.raise_error(400, 'invalid_value',
      format('cron must have five fields (minute hour day-of-month month day-of-week) or be a macro such as @daily, not %s',
             coalesce(nullif(v_expr, ''), '(empty)')), 'cron');
  end if;
  v_weekdays := kiln_api.cron_field(v_fields[5], 0, 7, array['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'], 'day-of-week');
  return jsonb_build_object(
    'minutes', kiln_api.cron_field(v_fields[1], 0, 59, null, 'minute'),
    'hours', kiln_api.cron_field(v_fields[2], 0, 23, null, 'hour'),
    'days', kiln_api.cron_field(v_fields[3], 1, 31, null, 'day-of-month'),
    'months', kiln_api.cron_field(v_fields[4], 1, 12,
      array['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'], 'month'),
    'weekdays', array(select distinct w % 7 from unnest(v_weekdays) w order by 1),
    'days_restricted', left(v_fields[3], 1) <> '*',
    'weekdays_restricted', left(v_fields[5], 1) <> '*');
end $$;

-- cron_next: the first tick strictly after p_after, in time zone p_tz (wall-clock: each
-- local time fires at most once; a time skipped by a DST change fires at the shifted
-- instant PostgreSQL gives it). Null when the expression never fires within 5 years
-- (such as 0 0 31 2 *). Walks months, days, hours, then minutes: a few hundred steps at most.
create function kiln_api.cron_next(p_cron jsonb, p_tz text, p_after timestamptz)
  returns timestamptz language plpgsql stable as $$
declare
  v_local timestamp := date_trunc('minute', p_after at time zone p_tz) + interval '1 minute';
  v_limit timestamp := v_local + interval '5 years';
  v_minutes integer[] := array(select jsonb_array_elements_text(p_cron -> 'minutes')::integer);
  v_hours integer[] := array(select jsonb_array_elements_text(p_cron -> 'hours')::integer);
  v_days integer[] := array(select jsonb_array_elements_text(p_cron -> 'days')::integer);
  v_months integer[] := array(select jsonb_array_elements_text(p_cron -> 'months')::integer);
  v_weekdays integer[] := array(select jsonb_array_elements_text(p_cron -> 'weekdays')::integer);
  v_dom_r boolean := (p_cron ->> 'days_restricted')::boolean;
  v_dow_r boolean := (p_cron ->> 'weekdays_restricted')::boolean;
  v_day_ok boolean;
  v_minute integer;
  v_result timestamptz;
begin
  while v_local < v_limit loop
    if not extract(month from v_local)::integer = any (v_months) then
      v_local := date_trunc('month', v_local) + interval '1 month';
      continue;
    end if;
    v_day_ok := case when v_dom_r and v_dow_r
                     then extract(day from v_local)::integer = any (v_days)
                          or extract(dow from v_local)::integer = any (v_weekdays)
                     else extract(day from v_local)::integer = any (v_days)
                          and extract(dow from v_local)::integer = any (v_weekdays) end;
    if not v_day_ok then
      v_local := date_trunc('day', v_local) + interval '1 day';
      continue;
    end if;
    if not extract(hour from v_local)::integer = any (v_hours) then
      v_local := date_trunc('hour', v_local) + interval '1 hour';
      continue;
    end if;
    select min(m) into v_minute from unnest(v_minutes) m where m >= extract(minute from v_local)::integer;
    if v_minute is null then
      v_local := date_trunc('hour', v_local) + interval '1 hour';
      continue;
    end if;
    v_local := date_trunc('hour', v_local) + make_interval(mins => v_minute);
    v_result := v_local at time zone p_tz;
    if v_result > p_after then
      return v_result;
    end if;
    v_local := v_local + interval '1 minute';  -- a repeated wall-clock time (DST ends)
  end loop;
  return null;
end $$;

-- cron_validate: the parsed expression, checked to fire at least once in 5 years; and the
-- time zone checked (QC400 naming timezone).
create function kiln_api.cron_validate(p_expr text, p_tz text) returns jsonb
  language plpgsql stable as $$
declare
  v_parsed jsonb := kiln_api.cron_parse(p_expr);
begin
  begin
    perform now() at time zone p_tz;
  exception when invalid_parameter_value then
    perform kiln_api.raise_error(400, 'invalid_value',
      format('timezone %s is not a known time zone (use an IANA name such as Europe/Berlin or UTC)', p_tz),
      'timezone');
  end;
  if kiln_api.cron_next(v_parsed, p_tz, now()) is null then
    perform kiln_api.raise_error(400, 'invalid_value', format('cron %s never fires', p_expr), 'cron');
  end if;
  return v_parsed;
end $$;

grant execute on function
  kiln_api.cron_field(text, integer, integer, text[], text),
  kiln_api.cron_value(text, integer, integer, text[], text),
  kiln_api.cron_parse(text),
  kiln_api.cron_next(jsonb, text, timestamptz),
  kiln_api.cron_validate(text, text)
  to kiln_web;
