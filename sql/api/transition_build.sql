-- transition_build: moves a build (whose row the caller has locked) to a new status if
-- kiln.build_transitions allows it, stamps the lifecycle timestamps and records the event.
-- Raises QC409 illegal_transition otherwise. Caller: every function that changes status.
create function kiln_api.transition_build(p_build_id uuid, p_to kiln.build_status,
    p_actor text, p_message text, p_execution_id uuid default null,
    p_detail jsonb default '{}', p_now timestamptz default null)
  returns kiln.builds language plpgsql as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_from kiln.build_status;
  v_build kiln.builds;
begin
  select status into v_from from kiln.builds where id = p_build_id;
  if not exists (select from kiln.build_transitions where from_status = v_from and to_status = p_to) then
    perform kiln_api.raise_error(409, 'illegal_transition',
      format('build %s is %s and cannot become %s', p_build_id, v_from, p_to), 'status');
  end if;
  update kiln.builds set
      status = p_to,
      queued_at = case when p_to = 'queued' then v_now else queued_at end,
      effective_priority = case when p_to = 'queued' then priority else effective_priority end,
      started_at = case when p_to = 'running' then coalesce(started_at, v_now) else started_at end,
      finished_at = case when p_to in ('succeeded', 'failed', 'cancelled', 'timed_out') then v_now end,
      failure_reason = case when p_to in ('failed', 'timed_out', 'cancelled') then p_message
                            when p_to = 'succeeded' then null else failure_reason end
    where id = p_build_id
    returning * into v_build;
  insert into kiln.build_events (build_id, tenant_id, execution_id, from_status, to_status,
                                 actor, message, detail, created_at)
    values (p_build_id, v_build.tenant_id, p_execution_id, v_from, p_to, p_actor, p_message,
            p_detail, v_now);
  return v_build;
end $$;

-- lock_build: locks a build of the session's tenant or raises QC404.
create function kiln_api.lock_build(p_build_id uuid) returns kiln.builds
  language plpgsql as $$
declare
  v_build kiln.builds;
begin
  select * into v_build from kiln.builds
   where id = p_build_id and kiln_api.in_session_tenant(tenant_id) for update;
  if not found then
    perform kiln_api.raise_error(404, 'not_found', format('build %s not found', p_build_id), 'id');
  end if;
  return v_build;
end $$;

-- actor: who is acting, for events ("user:<id>" from the API, else the database role).
create function kiln_api.actor() returns text language sql stable as $$
  select coalesce('user:' || kiln_api.current_user_id()::text, 'db:' || current_user)
$$;
