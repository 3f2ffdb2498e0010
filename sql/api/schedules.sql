-- Scheduled builds: a build template (a POST /api/v1/builds body) submitted and started on a
-- cron schedule by the dispatcher (enqueue_due_schedules). A schedule does what its creator
-- could do by hand: the template is checked, with the creator's permissions, by a submit
-- that is rolled back. Callers: /api/v1/schedules routes (build:create to change,
-- build:read to list), kiln-dispatch. Every change writes an audit row.

-- schedule_json: a schedule as the API shows it, with its last runs when p_runs > 0.
create function kiln_api.schedule_json(s kiln.build_schedules, p_runs integer default 0)
  returns jsonb language sql stable as $$
  select jsonb_build_object(
    'id', s.id, 'name', s.name, 'cron', s.cron, 'timezone', s.timezone, 'template', s.template,
    'enabled', s.enabled, 'missed_policy', s.missed_policy, 'next_run_at', s.next_run_at,
    'last_tick_at', s.last_tick_at, 'last_build_id', s.last_build_id, 'last_error', s.last_error,
    'missed_ticks_count', s.missed_ticks_count, 'created_by', s.created_by,
    'created_at', s.created_at, 'updated_at', s.updated_at)
  || case when p_runs > 0 then jsonb_build_object('runs', coalesce((
       select jsonb_agg(jsonb_build_object('tick_at', r.tick_at, 'kind', r.kind, 'missed_ticks', r.missed_ticks,
                                           'build_id', r.build_id, 'error', r.error, 'created_at', r.created_at)
                        order by r.created_at desc)
         from (select * from kiln.build_schedule_runs r where r.schedule_id = s.id
                order by r.created_at desc limit p_runs) r), '[]')) else '{}' end
$$;

-- validate_schedule_template: submits the template in a subtransaction that is always
-- rolled back; its errors come back with the field under template. (template.spec.cpu).
create function kiln_api.validate_schedule_template(p_template jsonb) returns void
  language plpgsql as $$
declare
  v_state text;
  v_message text;
  v_detail jsonb;
begin
  perform kiln_api.expect_type(p_template, 'object', 'template');
  begin
    perform kiln_api.submit_build(p_template);
    -- undo the trial submit (not QC000: a code ending in 000 would catch the whole QC class)
    raise exception using errcode = 'QC001';
  exception when sqlstate 'QC001' then
    null;
  when others then
    get stacked diagnostics v_state = returned_sqlstate, v_message = message_text, v_detail = pg_exception_detail;
    if v_state !~ '^QC\d{3}$' then
      raise;
    end if;
    perform kiln_api.raise_error(substr(v_state, 3)::integer, coalesce(v_detail ->> 'code', 'invalid_value'),
      'template: ' || v_message, 'template' || coalesce('.' || nullif(v_detail ->> 'field', ''), ''));
  end;
end $$;

-- create_schedule: {"name","cron","timezone"?,"template","enabled"?,"missed_policy"?}.
-- Errors: QC400 naming the field, QC403/QC422 from the template, QC409 name taken.
create function kiln_api.create_schedule(p_body jsonb, p_now timestamptz default null) returns jsonb
  language plpgsql as $$
declare
  v_tenant uuid := kiln_api.require_tenant();
  v_tz text := 'UTC';
  v_key text;
  v_policy kiln.missed_tick_policy := 'skip';
  v_enabled boolean := true;
  v_parsed jsonb;
  v_schedule kiln.build_schedules;
begin
  perform kiln_api.expect_type(p_body, 'object', 'body');
  perform kiln_api.expect_keys(p_body, array['name', 'cron', 'timezone', 'template', 'enabled', 'missed_policy'], '');
  foreach v_key in array array['name', 'cron', 'template'] loop
    if not p_body ? v_key then
      perform kiln_api.raise_error(400, 'missing_field', format('%s is required', v_key), v_key);
    end if;
  end loop;
  perform kiln_api.expect_type(p_body -> 'name', 'string', 'name');
  if (p_body ->> 'name') !~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$' then
    perform kiln_api.raise_error(400, 'invalid_value',
      'name must be 1-100 characters of A-Z a-z 0-9 . _ - starting with a letter or digit', 'name');
  end if;
  perform kiln_api.expect_type(p_body -> 'cron', 'string', 'cron');
  if p_body ? 'timezone' then
    perform kiln_api.expect_type(p_body -> 'timezone', 'string', 'timezone');
    v_tz := p_body ->> 'timezone';
  end if;
  v_parsed := kiln_api.cron_validate(p_body ->> 'cron', v_tz);
  if p_body ? 'missed_policy' then
    perform kiln_api.expect_type(p_body -> 'missed_policy', 'string', 'missed_policy');
    if (p_body ->> 'missed_policy') not in ('skip', 'catch_up_one') then
      perform kiln_api.raise_error(400, 'invalid_value',
        format('missed_policy %s is not one of skip, catch_up_one', p_body ->> 'missed_policy'), 'missed_policy');
    end if;
    v_policy := (p_body ->> 'missed_policy')::kiln.missed_tick_policy;
  end if;
  if p_body ? 'enabled' then
    perform kiln_api.expect_type(p_body -> 'enabled', 'boolean', 'enabled');
    v_enabled := (p_body ->> 'enabled')::boolean;
  end if;
  perform kiln_api.validate_schedule_template(p_body -> 'template');
  begin
    insert into kiln.build_schedules (tenant_id, name, cron, timezone, template, enabled, missed_policy,
                                      next_run_at, created_by)
      values (v_tenant, p_body ->> 'name', btrim(p_body ->> 'cron'), v_tz, p_body -> 'template', v_enabled,
              v_policy, case when v_enabled then kiln_api.cron_next(v_parsed, v_tz, coalesce(p_now, now())) end,
              kiln_api.current_user_id())
      returning * into v_schedule;
  exception when unique_violation then
    perform kiln_api.raise_error(409, 'conflict',
      format('a schedule named %s already exists', p_body ->> 'name'), 'name');
  end;
  insert into kiln.audit_log (tenant_id, actor_user_id, action, object_type, object_id, detail)
    values (v_tenant, kiln_api.current_user_id(), 'schedule.create', 'schedule', v_schedule.id::text,
            jsonb_build_object('name', v_schedule.name, 'cron', v_schedule.cron, 'timezone', v_schedule.timezone));
  return kiln_api.schedule_json(v_schedule);
end $$;

create function kiln_api.list_schedules() returns jsonb
  language sql stable as $$
  select jsonb_build_object('items', coalesce(jsonb_agg(kiln_api.schedule_json(s) order by s.name), '[]'))
    from kiln.build_schedules s where kiln_api.in_session_tenant(s.tenant_id)
$$;

-- lock_schedule: a schedule of the session's tenant, locked, or QC404.
create function kiln_api.lock_schedule(p_id uuid) returns kiln.build_schedules
  language plpgsql as $$
declare
  v_schedule kiln.build_schedules;
begin
  select * into v_schedule from kiln.build_schedules
   where id = p_id and kiln_api.in_session_tenant(tenant_id) for update;
  if not found then
    perform kiln_api.raise_error(404, 'not_found', format('schedule %s not found', p_id), 'id');
  end if;
  return v_schedule;
end $$;

create function kiln_api.get_schedule(p_id uuid) returns jsonb
  language plpgsql stable as $$
declare
  v_schedule kiln.build_schedules;
begin
  select * into v_schedule from kiln.build_schedules where id = p_id and kiln_api.in_session_tenant(tenant_id);
  if not found then
    perform kiln_api.raise_error(404, 'not_found', format('schedule %s not found', p_id), 'id');
  end if;
  return kiln_api.schedule_json(v_schedule, 20);
end $$;

-- set_schedule_enabled: enabling starts from the next tick after now (ticks while disabled
-- are not caught up). Errors: QC404.
create function kiln_api.set_schedule_enabled(p_id uuid, p_enabled boolean, p_now timestamptz default null)
  returns jsonb language plpgsql as $$
declare
  v_schedule kiln.build_schedules := kiln_api.lock_schedule(p_id);
begin
  update kiln.build_schedules set
      enabled = p_enabled, updated_at = coalesce(p_now, now()),
      next_run_at = case when not p_enabled then null
                         when enabled then next_run_at
                         else kiln_api.cron_next(kiln_api.cron_parse(cron), timezone, coalesce(p_now, now())) end
   where id = p_id returning * into v_schedule;
  insert into kiln.audit_log (tenant_id, actor_user_id, action, object_type, object_id, detail)
    values (v_schedule.tenant_id, kiln_api.current_user_id(),
            case when p_enabled then 'schedule.enable' else 'schedule.disable' end, 'schedule', p_id::text,
            jsonb_build_object('name', v_schedule.name));
  return kiln_api.schedule_json(v_schedule);
end $$;

create function kiln_api.delete_schedule(p_id uuid) returns jsonb
  language plpgsql as $$
declare
  v_schedule kiln.build_schedules := kiln_api.lock_schedule(p_id);
begin
  delete from kiln.build_schedules where id = p_id;
  insert into kiln.audit_log (tenant_id, actor_user_id, action, object_type, object_id, detail)
    values (v_schedule.tenant_id, kiln_api.current_user_id(), 'schedule.delete', 'schedule', p_id::text,
            jsonb_build_object('name', v_schedule.name));
  return jsonb_build_object('id', p_id, 'deleted', true);
end $$;

grant execute on function
  kiln_api.schedule_json(kiln.build_schedules, integer),
  kiln_api.validate_schedule_template(jsonb),
  kiln_api.create_schedule(jsonb, timestamptz),
  kiln_api.list_schedules(),
  kiln_api.lock_schedule(uuid),
  kiln_api.get_schedule(uuid),
  kiln_api.set_schedule_enabled(uuid, boolean, timestamptz),
  kiln_api.delete_schedule(uuid)
  to kiln_web;
