-- Page queries for builds, build nodes and the audit log: each page is one call.
-- Callers: GET /admin/builds, /admin/builds/{id}, /admin/build-nodes, /admin/audit
-- (route permissions build:read, build:read, infrastructure:monitor, admin).
-- Take no locks. Errors: those of list_builds (QC400 status/limit/cursor), QC404 for an
-- unknown build, QC400 for a bad audit page, QC403 for the audit log without `admin`.

-- page_builds: a page of list_builds plus what the filter form offers.
create function kiln_api.page_builds(p_status text, p_project text, p_limit integer, p_cursor text)
  returns jsonb language plpgsql stable as $$
begin
  return kiln_api.list_builds(p_status, p_project, p_limit, p_cursor) || jsonb_build_object(
    'projects', coalesce((select jsonb_agg(p.name order by p.name) from kiln.projects p), '[]'),
    'statuses', to_jsonb(enum_range(null::kiln.build_status)::text[]));
end $$;

-- page_build: one build (get_build's JSON) with its events and the first p_log_limit bytes
-- of its log.
create function kiln_api.page_build(p_build_id uuid, p_log_limit integer)
  returns jsonb language plpgsql stable as $$
declare
  v_log record;
begin
  select * into v_log from kiln_api.get_build_log(p_build_id, 0, p_log_limit);  -- QC404 first
  return kiln_api.get_build(p_build_id) || jsonb_build_object(
    'events', kiln_api.list_build_events(p_build_id, 0) -> 'items',
    'log', jsonb_build_object('text', v_log.data, 'next_offset', v_log.next_offset,
                              'complete', v_log.complete));
end $$;

-- page_build_nodes: list_build_nodes with each node's state from its heartbeat age and the
-- builds it is running now.
create function kiln_api.page_build_nodes(p_now timestamptz default null)
  returns jsonb language sql stable as $$
  select jsonb_build_object('items', coalesce(jsonb_agg(
      kiln_api.build_node_json(n, p_now) || jsonb_build_object(
        'state', case when n.last_heartbeat_at is null then 'never seen'
                      when n.last_heartbeat_at > coalesce(p_now, now())
                           - make_interval(secs => kiln_api.setting('node_offline_after_seconds')::double precision)
                      then 'online' else 'offline' end,
        'heartbeat_age_seconds', extract(epoch from coalesce(p_now, now()) - n.last_heartbeat_at),
        'running_builds', coalesce((select jsonb_agg(e.build_id order by e.created_at)
                                      from kiln.build_executions e
                                     where e.build_node_id = n.id and e.status in ('dispatching', 'running')), '[]'))
      order by n.name), '[]'))
    from kiln.build_nodes n where kiln_api.in_session_tenant(n.tenant_id) or n.tenant_id is null
$$;

-- page_audit_log: the tenant's audit rows newest first, p_limit per page, before the id
-- p_before (the previous page's next_before), optionally one action; with the actions
-- that occur, for the filter.
create function kiln_api.page_audit_log(p_action text, p_before bigint, p_limit integer)
  returns jsonb language plpgsql stable as $$
declare
  v_items jsonb;
  v_count integer;
begin
  if not kiln_api.has_permission('admin') then
    perform kiln_api.raise_error(403, 'forbidden', 'the audit log needs the admin permission');
  end if;
  if p_limit is null or p_limit not between 1 and 200 then
    perform kiln_api.raise_error(400, 'invalid_value', 'limit must be between 1 and 200', 'limit');
  end if;
  select jsonb_agg(jsonb_build_object(
           'id', a.id, 'action', a.action, 'object_type', a.object_type, 'object_id', a.object_id,
           'actor', coalesce(u.name, 'system'), 'detail', a.detail, 'created_at', a.created_at)
         order by a.id desc), count(*)
    into v_items, v_count
    from (select * from kiln.audit_log l
           where (p_action is null or l.action = p_action) and (p_before is null or l.id < p_before)
           order by l.id desc limit p_limit + 1) a
    left join kiln.users u on u.id = a.actor_user_id;
  if v_count > p_limit then
    v_items := v_items - p_limit;
  end if;
  return jsonb_build_object(
    'items', coalesce(v_items, '[]'),
    'next_before', case when v_count > p_limit then (v_items -> (p_limit - 1) ->> 'id')::bigint end,
    'actions', coalesce((select jsonb_agg(distinct l.action) from kiln.audit_log l), '[]'));
end $$;

grant execute on function
  kiln_api.page_builds(text, text, integer, text),
  kiln_api.page_build(uuid, integer),
  kiln_api.page_build_nodes(timestamptz),
  kiln_api.page_audit_log(text, bigint, integer)
  to kiln_web;
