-- list_build_events: a build's events in order, after an event id (for polling).
-- Caller: GET /api/v1/builds/{id}/events. Errors: QC404.
create function kiln_api.list_build_events(p_build_id uuid, p_after bigint default 0)
  returns jsonb language plpgsql stable as $$
begin
  if not exists (select from kiln.builds where id = p_build_id and kiln_api.in_session_tenant(tenant_id)) then
    perform kiln_api.raise_error(404, 'not_found', format('build %s not found', p_build_id), 'id');
  end if;
  return jsonb_build_object('items', coalesce((
    select jsonb_agg(jsonb_build_object(
             'id', e.id, 'from_status', e.from_status, 'to_status', e.to_status,
             'execution_id', e.execution_id, 'actor', e.actor, 'message', e.message,
             'detail', e.detail, 'created_at', e.created_at) order by e.id)
      from kiln.build_events e
     where e.build_id = p_build_id and e.id > coalesce(p_after, 0)), '[]'::jsonb));
end $$;
