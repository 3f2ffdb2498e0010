-- list_builds: the current tenant's builds, newest first, with keyset pagination.
-- p_status: one status or a comma-separated list; p_project: a project name;
-- p_cursor: the next_cursor of the previous page (opaque). Served by the
-- builds_tenant_recent / builds_tenant_status_recent indexes.
-- Caller: GET /api/v1/builds. Errors: QC400 naming status, limit or cursor.
create function kiln_api.list_builds(p_status text, p_project text, p_limit integer,
                                     p_cursor text)
  returns jsonb language plpgsql stable as $$
declare
  v_statuses kiln.build_status[];
  v_bad text;
  v_tenant uuid := kiln.current_tenant_id();
  v_project_ids uuid[];
  v_after_ts timestamptz;
  v_after_id uuid;
  v_limit integer := coalesce(p_limit, 50);
  v_items jsonb;
  v_count integer;
  v_last record;
begin
  if v_limit not between 1 and 200 then
    perform kiln_api.raise_error(400, 'invalid_value', 'limit must be between 1 and 200', 'limit');
  end if;
  if p_status is not null then
    select s into v_bad from unnest(string_to_array(p_status, ',')) s
     where s <> all (enum_range(null::kiln.build_status)::text[]) limit 1;
    if found then
      perform kiln_api.raise_error(400, 'invalid_value',
        format('status %s is not one of %s', v_bad,
               array_to_string(enum_range(null::kiln.build_status)::text[], ', ')), 'status');
    end if;
    v_statuses := string_to_array(p_status, ',')::kiln.build_status[];
  end if;
  if p_project is not null then
    v_project_ids := array(select id from kiln.projects
                            where name = p_project and kiln_api.in_session_tenant(tenant_id));
    if cardinality(v_project_ids) = 0 then
      return jsonb_build_object('items', '[]'::jsonb, 'next_cursor', null);
    end if;
  end if;
  if p_cursor is not null then
    begin
      select to_timestamp(split_part(c, '/', 1)::numeric / 1000000), split_part(c, '/', 2)::uuid
        into strict v_after_ts, v_after_id
        from convert_from(decode(translate(p_cursor, '-_', '+/'), 'base64'), 'UTF8') c;
    exception when others then
      perform kiln_api.raise_error(400, 'invalid_value',
        'cursor is not a next_cursor returned by this endpoint', 'cursor');
    end;
  end if;

  with page as (
    select b.id, b.status, b.priority, b.attempt, b.created_at, b.updated_at, b.queued_at,
           b.started_at, b.finished_at, b.failure_reason, b.project_id
      from kiln.builds b
     where (v_tenant is null or b.tenant_id = v_tenant)
       and (v_statuses is null or b.status = any (v_statuses))
       and (v_project_ids is null or b.project_id = any (v_project_ids))
       and (v_after_ts is null or (b.created_at, b.id) < (v_after_ts, v_after_id))
     order by b.created_at desc, b.id desc
     limit v_limit + 1)
  select jsonb_agg(jsonb_build_object(
           'id', page.id, 'project', p.name, 'status', page.status, 'method', c.method,
           'priority', page.priority, 'attempt', page.attempt,
           'infrastructure_type', c.infrastructure_type,
           'created_at', page.created_at, 'updated_at', page.updated_at,
           'queued_at', page.queued_at, 'started_at', page.started_at,
           'finished_at', page.finished_at, 'failure_reason', page.failure_reason)
         order by page.created_at desc, page.id desc),
         count(*)
    into v_items, v_count
    from page
    join kiln.projects p on p.id = page.project_id
    join kiln.build_configs c on c.build_id = page.id;

  if v_count > v_limit then
    v_items := v_items - v_limit;  -- drop the look-ahead row
    select (v_items -> (v_limit - 1) ->> 'created_at')::timestamptz as ts,
           (v_items -> (v_limit - 1) ->> 'id')::uuid as id into v_last;
    return jsonb_build_object('items', v_items, 'next_cursor',
      translate(encode(convert_to(
        (extract(epoch from v_last.ts) * 1000000)::bigint::text || '/' || v_last.id, 'UTF8'),
        'base64'), '+/', '-_'));
  end if;
  return jsonb_build_object('items', coalesce(v_items, '[]'::jsonb), 'next_cursor', null);
end $$;
